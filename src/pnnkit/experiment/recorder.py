"""What a run writes as it goes: the metrics log, the notes log, TensorBoard, the summary.

One :class:`Recorder` per run, shared by every kind of run (the training loop, the RL runner,
the distributed driver), so that every run folder (:class:`~pnnkit.results.folder.RunFolder`)
is written the same way:

* ``metrics.jsonl``: one JSON object per record (an epoch, an RL iteration), appended as it is
  made; :attr:`Recorder.history` holds the same records in memory. A resumed run rewrites the
  file to its checkpoint's history (dropping what an interrupted session appended after it).
* ``guard.log``: one line per note (a bad measurement skipped or measured again, a resume), also
  shown on the console under the progress bar when the run shows one.
* ``tensorboard/``: with ``tensorboard = true``, every number of every record as a scalar
  (per-unit lists as ``key/unitK``); a resumed run purges the events after its checkpoint.
* ``config.json`` and ``summary.json``, written atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from pnnkit.errors import ConfigError
from pnnkit.results.folder import RunFolder


def summary_writer_class() -> type:
    """TensorBoard's ``SummaryWriter``; a :class:`ConfigError` when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "tensorboard = true needs the tensorboard package: pip install pnnkit[tensorboard]"
        ) from None
    return SummaryWriter


class Recorder:
    """The writer of one run folder's logs (module docstring). ``step_key``: the record field
    that numbers TensorBoard's steps (``epoch``, ``iteration``)."""

    def __init__(
        self, folder: RunFolder, *, tensorboard: bool = False, step_key: str = "epoch"
    ) -> None:
        if tensorboard:
            summary_writer_class()  # fail before any work when the package is missing
        self.folder = folder
        self.tensorboard = tensorboard
        self.step_key = step_key
        #: every record so far, as in ``metrics.jsonl``
        self.history: list[dict[str, Any]] = []
        #: whether notes also go to the console (set while a progress bar is shown)
        self.show_progress = False
        self._writer: Any = None

    def record(self, record: dict[str, Any]) -> None:
        """Add one record to the history, ``metrics.jsonl`` and TensorBoard."""
        self.history.append(record)
        self.folder.append_metrics(record)
        self._log_tensorboard(record)

    def restore(self, history: list[dict[str, Any]], note: str) -> None:
        """Continue from a checkpoint's ``history``: rewrite ``metrics.jsonl`` to it, remove a
        summary that no longer describes the run, and add ``note`` to an existing guard log."""
        self.history = list(history)
        self.folder.write_metrics(self.history)
        self.folder.summary.unlink(missing_ok=True)
        if self.folder.guard_log.exists():
            self.folder.log_guard(note)

    def note(self, line: str) -> None:
        """A line in ``guard.log`` (and on the console under the progress bar)."""
        self.folder.log_guard(line)
        if self.show_progress:
            tqdm.write(f"pnnkit: {line}", file=sys.stderr)

    def write_config(self, values: dict[str, Any]) -> None:
        """``config.json``: the resolved config of the run."""
        self.folder.write_json(self.folder.config, values)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """``summary.json``: the run's results and costs."""
        self.folder.write_json(self.folder.summary, summary)

    @contextmanager
    def session(self, *, progress: bool, purge_step: int | None = None) -> Iterator[None]:
        """One working session of the run: notes shown on the console when ``progress``, and
        the TensorBoard writer open when the run asks for one (``purge_step``: a resumed run's
        first step, whose events and later ones are purged)."""
        self.show_progress = progress
        if not self.tensorboard:
            yield
            return
        writer_class = summary_writer_class()
        self._writer = writer_class(log_dir=str(self.folder.tensorboard), purge_step=purge_step)
        try:
            yield
        finally:
            self._writer.close()
            self._writer = None

    def _log_tensorboard(self, record: dict[str, Any]) -> None:
        """Every number of a record as a scalar (per-unit lists as ``key/unitK``)."""
        if self._writer is None:
            return
        step = record[self.step_key]
        for key, value in record.items():
            if key == self.step_key:
                continue
            if key == "faults":
                self._writer.add_scalar("faults_injected", len(value), step)
            elif isinstance(value, list):
                for k, item in enumerate(value, start=1):
                    self._writer.add_scalar(f"{key}/unit{k}", item, step)
            elif isinstance(value, int | float):
                self._writer.add_scalar(key, value, step)
        self._writer.flush()
