"""The training loop: from a :class:`TrainConfig` to a filled run folder, for every task of
:mod:`pnnkit.tasks` (supervised, unsupervised).

The run is built by :func:`pnnkit.experiment.builder.build_run`; each epoch trains on a
shuffled batch order, then the task evaluates (:mod:`pnnkit.tasks.base`) apart from training
(:mod:`pnnkit.experiment.evaluation`), and the :class:`~pnnkit.experiment.recorder.Recorder`
logs the epoch; the whole state is checkpointed (:mod:`pnnkit.experiment.checkpoint`).

**Ctrl-C.** During :meth:`Trainer.train` the first Ctrl-C (SIGINT, in the main thread) does not
cut a training step in half (:mod:`pnnkit.experiment.interrupt`): training stops at the next
batch boundary, the checkpoint then records the epoch's batch order and how far it got, and
:class:`TrainingInterrupted` (a ``KeyboardInterrupt``) is raised; its message is the line to
show the user. A second Ctrl-C, or a ``KeyboardInterrupt`` raised from inside a step,
interrupts at once; the checkpoint on disk is then the last one written (the end of the
previous epoch), which resumes exactly too but repeats the work since, and the message says so.

**Bad measurements.** A :class:`~pnnkit.errors.BadMeasurementError` (NaN, Inf or an
out-of-range value: a transient glitch) raised by a training step skips that batch: the rule
guarantees that a failed step changes neither the hardware nor its own state, so nothing is
updated. The batch is counted (``bad_batches`` per epoch in ``metrics.jsonl``,
``bad_batches_total`` in the summary) and logged with its reason in ``RUN/guard.log``. A bad
evaluation pass is measured again (:class:`~pnnkit.experiment.evaluation.Evaluator`; retries
are counted as ``bad_evaluations``). After ``max_bad_batches`` bad training batches in a row,
or as many bad attempts of one evaluation pass, the run stops with
:class:`TooManyBadMeasurementsError`; the checkpoint then holds the last good state. Any other
:class:`~pnnkit.errors.MeasurementError` (a wrong shape, a driver failure) is not transient and
stops the run at once.
"""

from __future__ import annotations

import math
import shlex
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from pnnkit.errors import BadMeasurementError, TooManyBadMeasurementsError, TrainingInterrupted
from pnnkit.experiment import checkpoint as checkpoints
from pnnkit.experiment.builder import build_run
from pnnkit.experiment.checkpoint import EpochProgress
from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.evaluation import Evaluator, evaluation_apart, information_plane
from pnnkit.experiment.interrupt import CtrlC, interrupted, saved_where
from pnnkit.experiment.recorder import Recorder, epoch_record, run_summary
from pnnkit.physics import Counters
from pnnkit.results.folder import TRAIN, RunFolder
from pnnkit.tasks.base import Measure


def batches(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """A shuffled partition of ``range(n)`` into ``ceil(n / batch_size)`` near-equal batches
    (no runt batch: a Gram matrix of 3 samples says little)."""
    count = max(1, math.ceil(n / batch_size))
    return list(torch.randperm(n, generator=generator).tensor_split(count))


class Trainer:
    """Builds a run from a config and trains it, filling the run folder.

    ``checkpoint``: a loaded checkpoint to continue from instead of starting (use
    :meth:`resume`, which also checks the config against it).
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        overwrite: bool = False,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.folder = RunFolder(config.out, TRAIN)
        self.recorder = Recorder(self.folder, tensorboard=config.tensorboard)
        parts = build_run(config, new=checkpoint is None)
        self.data, self.network, self.faults = parts.data, parts.network, parts.faults
        self.task, self.rule = parts.task, parts.rule
        #: what the fault schedule injected, epoch by epoch (also in metrics.jsonl)
        self.fault_log = parts.fault_log
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.eval_counters = Counters()
        #: wall time of the training steps (and deployments), evaluation excluded
        self.train_seconds = 0.0
        #: wall time of the run in earlier sessions (before a resume)
        self.earlier_wall_seconds = 0.0
        #: epochs finished, and the epoch in progress (None between epochs)
        self.epoch = 0
        self.progress: EpochProgress | None = None
        #: bad training batches in a row, and evaluation passes measured again since the last
        #: record
        self.bad_in_a_row = 0
        self.bad_evaluations = 0
        #: the last bad training batch and why, in words
        self.last_bad = ""
        #: where the checkpoint on disk stands: (epochs finished, batches of the next done)
        self.saved_at: tuple[int, int] | None = None
        self._session_start = time.perf_counter()
        n_info = min(config.info_samples, len(self.data.y_train))
        x_info, y_info = self.data.x_train[:n_info], self.data.y_train[:n_info]
        evaluator = Evaluator(
            self.network,
            max_attempts=config.max_bad_batches,
            on_bad=self._bad_evaluation,
            where=self._evaluation_label,
        )
        self.measure = Measure(
            self.rule,
            evaluator,
            lambda: evaluation_apart(self.network, self.eval_counters),
            lambda: evaluator.retried(
                "information plane",
                lambda: information_plane(self.network, parts.estimator, x_info, y_info),
            ),
        )
        if checkpoint is None:
            self.folder.create(overwrite=overwrite)
        else:
            checkpoints.load_state(self, checkpoint)
        self.recorder.write_config(config.resolved())

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every epoch's record so far (as in ``metrics.jsonl``)."""
        return self.recorder.history

    @classmethod
    def resume(cls, run_dir: str | Path, *, overrides: list[str] | None = None) -> Trainer:
        """The run in ``run_dir``, ready to continue from its checkpoint with :meth:`train`.

        ``overrides`` (``KEY=VALUE`` as for ``--set``) may change only
        :data:`~pnnkit.experiment.checkpoint.RESUMABLE_FIELDS`: ``epochs=N`` extends (or
        shortens) the run to ``N`` epochs, at least those the checkpoint has started (a cosine
        learning-rate schedule and fault ramps then stretch to the new length from where the
        run stands); anything else would make a different run and is refused by name. A
        missing, damaged or foreign checkpoint raises :class:`CheckpointError` naming the file.
        """
        folder = RunFolder(run_dir)
        state = checkpoints.upgrade(folder.load_checkpoint())
        config = checkpoints.resumed_config(folder, state, list(overrides or []))
        return cls(config, checkpoint=state)

    # --- the run ----------------------------------------------------------------------------------

    def train(self, *, progress: bool = True) -> dict[str, Any]:
        """Run (or, after :meth:`resume`, continue) all epochs; returns the summary (also
        written to ``summary.json``). Raises :class:`TrainingInterrupted` on Ctrl-C and
        :class:`TooManyBadMeasurementsError` when the hardware keeps failing (module docstring)."""
        cfg = self.config
        self._session_start = time.perf_counter()
        bar = tqdm(
            total=cfg.epochs,
            initial=self.epoch,
            desc=f"{self.task.prefix}{cfg.method} on {cfg.substrate}",
            unit="epoch",
            disable=not progress,
            leave=True,
        )
        purge = self.epoch + 1 if self.saved_at is not None else None
        try:
            with (
                CtrlC(self._interrupted) as ctrl_c,
                self.recorder.session(progress=progress, purge_step=purge),
            ):
                if self.saved_at is None:  # a new run: its state before any training
                    self.task.before_training(self.measure)
                    self.save()
                while self.epoch < cfg.epochs:
                    ctrl_c.check()
                    self.run_epoch(ctrl_c)
                    bar.update(1)
                    bar.set_postfix(self._postfix())
                bar.close()
                return self.finish(self.wall_seconds())
        finally:
            bar.close()

    def run_epoch(self, ctrl_c: CtrlC) -> None:
        """Train the next epoch (or the rest of the one in progress), evaluate, record it."""
        cfg = self.config
        if self.progress is None:
            epoch = self.epoch + 1
            self.inject_faults(epoch)
            sums = dict.fromkeys(self.task.losses, 0.0)
            order = batches(len(self.data.y_train), cfg.batch_size, self.shuffle)
            self.progress = EpochProgress(epoch, order, sums)
        progress = self.progress
        clock = time.perf_counter()
        while progress.cursor < len(progress.order):
            self.train_batch(progress)
            progress.cursor += 1
            if self.bad_in_a_row >= cfg.max_bad_batches:
                self.train_seconds += time.perf_counter() - clock
                raise self._stop_for_bad_batches()
            if ctrl_c.requested:
                self.train_seconds += time.perf_counter() - clock
                self.save()
                raise self._interrupted()
        self.rule.before_evaluation()
        self.train_seconds += time.perf_counter() - clock
        losses = {key: progress.mean(key) for key in self.task.losses}
        try:  # an evaluation that stays bad stops the run: keep the epoch's training
            results, info = self.task.evaluate(self.measure, losses)
        except TooManyBadMeasurementsError as stop:
            self.save()
            raise TooManyBadMeasurementsError(f"{stop}; {self._checkpoint_clause()}") from None
        self.progress, self.epoch = None, progress.epoch
        self.record_epoch(progress.epoch, info, progress.bad_batches, **results)
        ctrl_c.check()

    def train_batch(self, progress: EpochProgress) -> None:
        """One training step on the batch at the cursor; a bad measurement skips it (the rule
        leaves hardware and state as they were) and is counted and logged."""
        try:
            stats = self.task.train_step(self.rule, progress.order[progress.cursor])
        except BadMeasurementError as error:
            progress.bad_batches += 1
            self.bad_in_a_row += 1
            self.last_bad = (
                f"epoch {progress.epoch} batch {progress.cursor + 1}/{len(progress.order)}: {error}"
            )
            self.note(f"skipped {self.last_bad}")
            return
        self.bad_in_a_row = 0
        n = len(progress.order)
        for key in progress.sums:
            progress.sums[key] += getattr(stats, key) / n

    def _stop_for_bad_batches(self) -> TooManyBadMeasurementsError:
        """Checkpoint the last good state (the failed steps changed nothing; the count starts
        again on resume) and the error that stops the run."""
        count, self.bad_in_a_row = self.bad_in_a_row, 0
        self.save()
        return TooManyBadMeasurementsError(
            f"training stopped: {count} batches in a row gave bad measurements (last: "
            f"{self.last_bad}); {self._checkpoint_clause()}"
        )

    def _checkpoint_clause(self) -> str:
        """What the checkpoint on disk holds, and how to continue from it."""
        return (
            f"{self.folder.checkpoint} holds the last good state ({self.saved_where()}); check "
            f"the hardware, then continue with: pnnkit train --resume "
            f"{shlex.quote(str(self.folder.path))}"
        )

    def _bad_evaluation(self, line: str) -> None:
        self.bad_evaluations += 1
        self.note(line)

    def _evaluation_label(self) -> str:
        return "before training:" if self.progress is None else f"epoch {self.progress.epoch}:"

    # --- records, checkpoints, logs ----------------------------------------------------------

    def record_epoch(
        self,
        epoch: int,
        info: tuple[list[float], list[float]],
        bad_batches: int,
        **results: float | None,
    ) -> None:
        """Log one epoch (its ``results``, the information plane, costs, bad measurements,
        times and injected faults) with the recorder, and checkpoint the run."""
        record = epoch_record(self, epoch, info, bad_batches, results)
        self.bad_evaluations = 0
        self.recorder.record(record)
        self.save()

    def inject_faults(self, epoch: int) -> list[dict[str, Any]]:
        """Apply what the fault schedule has due at the start of ``epoch`` (nothing without
        ``--faults``); returns every record of faults injected for that epoch."""
        self.fault_log.extend(self.faults.apply(self.network, epoch, self.config.epochs))
        return [r for r in self.fault_log if r["epoch"] == epoch]

    def note(self, line: str) -> None:
        """A line in ``guard.log`` (and on the console under the progress bar)."""
        self.recorder.note(line)

    def save(self) -> None:
        """Write the checkpoint (atomically) and remember where it stands."""
        self.folder.save_checkpoint(checkpoints.checkpoint_state(self))
        self.saved_at = (self.epoch, 0 if self.progress is None else self.progress.cursor)

    def saved_where(self) -> str:
        """Where the checkpoint on disk stands, in words."""
        return saved_where(self.saved_at)

    def _interrupted(self) -> TrainingInterrupted:
        """The exception for a Ctrl-C now (:func:`~pnnkit.experiment.interrupt.interrupted`)."""
        return interrupted(self.folder.path, self.epoch, self.progress, self.saved_at)

    def _postfix(self) -> dict[str, str]:
        """The last epoch's scores, for the progress bar."""
        last = self.history[-1]
        shown = self.task.shown
        return {short: f"{last[k]:.3f}" for k, short in shown if last.get(k) is not None}

    def wall_seconds(self) -> float:
        """Wall time of the run, earlier sessions included."""
        return self.earlier_wall_seconds + time.perf_counter() - self._session_start

    # --- the end -----------------------------------------------------------------------------

    def finish(self, wall_seconds: float) -> dict[str, Any]:
        """Plot the curves, write ``summary.json`` (the task's results, costs, bad
        measurements, faults, times) and return the summary."""
        summary = run_summary(self, wall_seconds)
        self.recorder.write_summary(summary)
        return summary


def train(config: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train according to ``config`` and return the run summary."""
    return Trainer(config, overwrite=overwrite).train(progress=progress)


def resume(
    run_dir: str | Path, *, overrides: list[str] | None = None, progress: bool = True
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its checkpoint (:meth:`Trainer.resume`) and return
    the run summary."""
    return Trainer.resume(run_dir, overrides=overrides).train(progress=progress)
