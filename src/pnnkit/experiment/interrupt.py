"""Ctrl-C during a run: the first SIGINT asks the loop to stop at its next consistent point (a
batch boundary, the end of an RL iteration), where the state can be checkpointed; a second one
interrupts at once.

The handler is installed only in the main thread and only over Python's default handler: an
application that handles SIGINT itself, or a process started with SIGINT ignored (a background
job, ``nohup``), keeps what it had.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pnnkit.errors import TrainingInterrupted
from pnnkit.experiment.checkpoint import EpochProgress


class CtrlC:
    """While active, the first SIGINT only sets :attr:`requested` (the loop calls
    :meth:`check` at its consistent points); a second one interrupts at once. Either way the
    run stops with ``stop()``, the :class:`TrainingInterrupted` that says where it stood.
    ``stopping`` is the line shown on the first SIGINT."""

    def __init__(
        self,
        stop: Callable[[], TrainingInterrupted],
        stopping: str = "stopping after this batch to save a checkpoint",
    ) -> None:
        self.stop = stop
        self.stopping = stopping
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        self.requested = False
        self._previous = None
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write(
            f"pnnkit: interrupt received; {self.stopping} (Ctrl-C again stops at once)",
            file=sys.stderr,
        )

    def check(self) -> None:
        """Stop here if a SIGINT has asked to."""
        if self.requested:
            raise self.stop()

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, TrainingInterrupted):
            raise self.stop() from None


def saved_where(saved_at: tuple[int, int] | None) -> str:
    """Where a training checkpoint stands (``(epochs finished, batches of the next done)``),
    in words."""
    if saved_at is None:
        return "nothing saved yet"
    epoch, batch = saved_at
    if batch:
        return f"epoch {epoch + 1} after batch {batch}"
    return "before training" if epoch == 0 else f"the end of epoch {epoch}"


def interrupted(
    run_dir: Path,
    epoch: int,
    progress: EpochProgress | None,
    saved_at: tuple[int, int] | None,
) -> TrainingInterrupted:
    """The exception for a Ctrl-C of a training run that has finished ``epoch`` epochs and
    stands at ``progress`` in the next, naming where training stood, what the checkpoint on
    disk (``saved_at``) holds and how to resume."""
    run = shlex.quote(str(run_dir))
    if progress is not None and progress.cursor > 0:
        where = f"at epoch {progress.epoch} after batch {progress.cursor}/{len(progress.order)}"
    elif progress is not None:
        where = f"at the start of epoch {progress.epoch}"
    else:
        where = "before training" if epoch == 0 else f"after epoch {epoch}"
    current = epoch + 1 if progress is None else progress.epoch
    batch = 0 if progress is None else progress.cursor
    if saved_at is None:
        message = (
            f"interrupted {where}, before the first checkpoint: start the run again (--overwrite)"
        )
    elif saved_at == (epoch, batch):
        message = f"interrupted {where}; resume with: pnnkit train --resume {run}"
    else:
        message = (
            f"interrupted {where}; the checkpoint holds {saved_where(saved_at)}, resuming "
            f"repeats the work since: pnnkit train --resume {run}"
        )
    return TrainingInterrupted(message, run_dir=run_dir, epoch=current, batch=batch)
