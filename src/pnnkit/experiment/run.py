"""A training run from a :class:`TrainConfig` to a filled run folder (supervised, or
unsupervised with multi-view PIB: see :mod:`pnnkit.experiment.unsupervised`).

**Validation.** A supervised run holds out ``val_fraction`` of its training split for
validation (:func:`pnnkit.data.load_dataset`) and measures ``val_accuracy`` every epoch, after
the other evaluations and apart from training (so it changes neither the training trajectory
nor the other numbers). ``select = best-val`` makes the summary's ``test_accuracy`` that of the
earliest epoch with the highest validation accuracy (:meth:`Trainer.finish`).

**Checkpoints and resume.** After every epoch (and once before the first, after calibration)
the run's whole state goes to ``RUN/checkpoint.pt``, written atomically (temporary file, then
rename) and loaded with ``weights_only=True``: the resolved config, network and substrate state
(with their random generators and counters), the rule's state (optimisers, generators, fixed
random matrices), the shuffling and global torch generators, the fault schedule and its log,
the metrics history, costs and times. :meth:`Trainer.resume` rebuilds dataset, network and rule
from that config (all deterministic) and loads the state, so that a resumed run continues
exactly as the uninterrupted one would have: with the same seed it ends with the same metrics
and the same hardware state, to the last digit.

**Ctrl-C.** During :meth:`Trainer.train` the first Ctrl-C (SIGINT, in the main thread) does not
cut a training step in half: training stops at the next batch boundary, the checkpoint then
records the epoch's batch order and how far it got, and :class:`TrainingInterrupted` (a
``KeyboardInterrupt``) is raised; its message is the line to show the user. A second Ctrl-C,
or a ``KeyboardInterrupt`` raised from inside a step, interrupts at once; the checkpoint on
disk is then the last one written (the end of the previous epoch), which resumes exactly too
but repeats the work since, and the message says so.

**Bad measurements.** A :class:`~pnnkit.errors.BadMeasurementError` (NaN, Inf or an
out-of-range value: a transient glitch) raised by a training step skips that batch: the rule
guarantees that a failed step changes neither the hardware nor its own state, so nothing is
updated. The batch is counted (``bad_batches`` per epoch in ``metrics.jsonl``,
``bad_batches_total`` in the summary) and logged with its reason in ``RUN/guard.log`` (and on
the console when the progress bar is shown). An evaluation pass (one chunk of predictions, the
information-plane batch, one chunk of a representation) that is bad is measured again, with
fresh draws of the hardware's noise: inside :func:`evaluation_apart` the substrates' generators
move on between attempts and are restored only afterwards, so a retry never replays the same
bad draw and the training streams are untouched; retries are counted as ``bad_evaluations``.
After ``max_bad_batches`` bad training batches in a row, or as many bad attempts of one
evaluation pass, the run stops with :class:`TooManyBadMeasurementsError`; the checkpoint then
holds the last good state. Any other :class:`~pnnkit.errors.MeasurementError` (a wrong shape,
a driver failure) is not transient and stops the run at once.

**TensorBoard.** With ``tensorboard = true`` the scalars of every epoch's record also go to
``RUN/tensorboard/`` (a resumed run purges the events after its checkpoint).
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from pnnkit.data import Dataset, load_dataset
from pnnkit.errors import (
    BadMeasurementError,
    CheckpointError,
    ConfigError,
    PnnkitError,
    TooManyBadMeasurementsError,
    TrainingInterrupted,
)
from pnnkit.experiment import unsupervised
from pnnkit.experiment.config import TrainConfig, build_network, substrate_spec
from pnnkit.experiment.folder import RunFolder
from pnnkit.experiment.plots import (
    plot_embedding,
    plot_information_plane,
    plot_learning_curves,
    plot_unsupervised_curves,
)
from pnnkit.faults import FaultSchedule
from pnnkit.info import BottleneckEstimator, unit_normalize
from pnnkit.learning import LearningRule, PIBConfig, make_rule
from pnnkit.learning.multiview import ImageLayout, MultiViewConfig, MultiViewPIB, image_shape
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import SUBSTRATES, Counters

T = TypeVar("T")

#: evaluation passes measure this many samples at a time (as ``PhysicalNetwork.predict``
#: does), and a bad pass is measured again on its own
EVAL_CHUNK = 1024
#: what resuming may change: the run's length, its tolerance of bad measurements, its logging
RESUMABLE_FIELDS = ("epochs", "max_bad_batches", "tensorboard")
#: what a training checkpoint must hold to be resumed
CHECKPOINT_KEYS = (
    "config",
    "epoch",
    "position",
    "history",
    "fault_log",
    "faults",
    "network",
    "rule",
    "eval_counters",
    "train_seconds",
    "wall_seconds",
    "bad_in_a_row",
    "bad_evaluations",
    "rng",
    "unsupervised",
)


@contextmanager
def evaluation_apart(network: PhysicalNetwork, tally: Counters) -> Iterator[None]:
    """Evaluate without touching training: the costs go to ``tally`` instead of the training
    counters, and every substrate's random stream is restored afterwards, so how often and on
    how much one evaluates never changes the training trajectory."""
    hardware = network.substrates()
    saved = [(dataclasses.replace(s.counters), s.generator.get_state()) for s in hardware]
    try:
        yield
    finally:
        for substrate, (before, rng) in zip(hardware, saved, strict=True):
            spent = substrate.counters - before
            for name, value in spent.as_dict().items():
                setattr(tally, name, getattr(tally, name) + value)
            substrate.counters = before
            substrate.generator.set_state(rng)


def batches(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """A shuffled partition of ``range(n)`` into ``ceil(n / batch_size)`` near-equal batches
    (no runt batch: a Gram matrix of 3 samples says little)."""
    count = max(1, math.ceil(n / batch_size))
    return list(torch.randperm(n, generator=generator).tensor_split(count))


def information_plane(
    network: PhysicalNetwork, estimator: BottleneckEstimator, x: Tensor, y: Tensor
) -> tuple[list[float], list[float]]:
    """``I(X;T_k)`` and ``I(T_k;Y)`` of every unit on one batch, measured through the hardware."""
    x_gram = estimator.input_gram(x)
    y_gram = estimator.label_gram(y, network.readout.out_features)
    with torch.no_grad():
        terms = [estimator.terms(x_gram, t, y_gram) for t in network.forward(x)]
    return [float(a) for a, _ in terms], [float(b) for _, b in terms]


@dataclass
class EpochProgress:
    """Where training stands inside an epoch: its batch order, the batches done, the partial
    sums of the per-batch losses (each already divided by the number of batches, as the epoch
    mean is accumulated) and the bad batches skipped so far."""

    epoch: int
    order: list[Tensor]
    sums: dict[str, float]
    cursor: int = 0
    bad_batches: int = 0

    def mean(self, key: str) -> float | None:
        """The epoch's mean of ``key`` over the batches that trained (None when none did)."""
        if self.bad_batches == 0:
            return self.sums[key]
        good = len(self.order) - self.bad_batches
        return None if good == 0 else self.sums[key] * len(self.order) / good

    def state_dict(self) -> dict[str, Any]:
        """The progress as checkpoint values (tensors, numbers, lists, dicts)."""
        return {
            "epoch": self.epoch,
            "order": list(self.order),
            "sums": dict(self.sums),
            "cursor": self.cursor,
            "bad_batches": self.bad_batches,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpochProgress:
        """The progress saved by :meth:`state_dict`."""
        return cls(
            int(state["epoch"]),
            list(state["order"]),
            {k: float(v) for k, v in state["sums"].items()},
            int(state["cursor"]),
            int(state["bad_batches"]),
        )


class _CtrlC:
    """While active, the first SIGINT only sets :attr:`requested` (training stops at the next
    batch boundary, where the state is consistent); a second one raises at once. Installed
    only in the main thread and over Python's default handler: an application that handles
    SIGINT itself keeps its handler."""

    def __enter__(self) -> _CtrlC:
        self.requested = False
        self._previous: Any = None
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
            "pnnkit: interrupt received; stopping after this batch to save a checkpoint "
            "(Ctrl-C again stops at once)",
            file=sys.stderr,
        )

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def summary_writer_class() -> type:
    """TensorBoard's ``SummaryWriter``; a :class:`ConfigError` when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "tensorboard = true needs the tensorboard package: pip install pnnkit[tensorboard]"
        ) from None
    return SummaryWriter


class Trainer:
    """Builds dataset, network and rule from a config and trains them, filling the run folder.

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
        config.validate()
        self.config = config
        self.folder = RunFolder(config.out)
        if config.tensorboard:
            summary_writer_class()  # fail before any work when the package is missing
        torch.manual_seed(config.seed)
        self.data: Dataset = load_dataset(
            config.dataset,
            test_size=config.test_size,
            seed=config.seed,
            label_column=config.label_column,
            val_fraction=config.validation_fraction(),
        )
        self.network = build_network(config, self.data.num_features, self.data.num_classes)
        self.faults = FaultSchedule(config.faults or None, seed=config.seed)
        self.faults.check(self.network)
        #: what the fault schedule injected, epoch by epoch (also in metrics.jsonl)
        self.fault_log: list[dict[str, Any]] = []
        if checkpoint is None:
            # Faults present from the start are there before the conditioning is calibrated,
            # as they would be on the bench; the call for epoch 1 then finds nothing left to
            # inject. (A resumed run loads both from its checkpoint.)
            self.inject_faults(1)
            calibration = self.data.x_train[: config.calibration_samples]
            self.network.calibrate(calibration)  # its queries are a cost of training
        self.rule_config = config.rule_config()
        steps_per_epoch = max(1, math.ceil(len(self.data.y_train) / config.batch_size))
        total_steps = config.epochs * steps_per_epoch
        self.rule: LearningRule
        if isinstance(self.rule_config, MultiViewConfig):
            self.rule = MultiViewPIB(
                self.network,
                self.rule_config,
                total_steps,
                image=self._image_layout(),
                seed=config.seed,
            )
        else:
            self.rule = make_rule(config.method, self.network, self.rule_config, total_steps)
        self.estimator = (
            self.rule_config.estimator
            if isinstance(self.rule_config, PIBConfig | MultiViewConfig)
            else BottleneckEstimator()
        )
        #: unsupervised task: the baseline representations' scores, measured before training
        self.baselines: dict[str, dict[str, float]] = {}
        #: unsupervised task: 2-D embeddings of the test split before and after training
        self.untrained_embedding: np.ndarray | None = None
        self.learned_embedding: np.ndarray | None = None
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.eval_counters = Counters()
        #: wall time of the training steps (and deployments), evaluation excluded
        self.train_seconds = 0.0
        #: wall time of the run in earlier sessions (before a resume)
        self.earlier_wall_seconds = 0.0
        self.history: list[dict[str, Any]] = []
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
        self._show_progress = False
        self._writer: Any = None
        if checkpoint is None:
            self.folder.create(overwrite=overwrite)
        else:
            self.load_state(checkpoint)
        self.folder.write_json(self.folder.config, config.resolved())

    @classmethod
    def resume(cls, run_dir: str | Path, *, overrides: list[str] | None = None) -> Trainer:
        """The run in ``run_dir``, ready to continue from its checkpoint with :meth:`train`.

        ``overrides`` (``KEY=VALUE`` as for ``--set``) may change only
        :data:`RESUMABLE_FIELDS`: ``epochs=N`` extends (or shortens) the run to ``N`` epochs,
        at least those the checkpoint has started (a cosine learning-rate schedule and fault
        ramps then stretch to the new length from where the run stands); anything else would
        make a different run and is refused by name. A missing, damaged or foreign checkpoint
        raises :class:`CheckpointError` naming the file.
        """
        folder = RunFolder(run_dir)
        state = folder.load_checkpoint()
        missing = [key for key in CHECKPOINT_KEYS if key not in state]
        if state.get("kind") != "train" or missing:
            raise CheckpointError(
                f"{folder.checkpoint} is not the checkpoint of a training run that can be "
                f"resumed (written by `pnnkit train` of this version"
                + (f"; missing {', '.join(missing)})" if missing else ")")
            )
        values = {**state["config"], "out": str(folder.path)}
        # a checkpoint of a version before the validation split trained on the whole training
        # split: resume it so (the default of a new run would change its data)
        values.setdefault("val_fraction", 0.0)
        if values.get("method") == "pib" and values.get("task", "supervised") == "supervised":
            # ... and before PIB's relevance terms: they were off (their saved rule_options,
            # complete when written, lack the fields)
            rule = values.get("rule_options")
            if isinstance(rule, dict):
                rule.setdefault("head_weight", 0.0)
                rule.setdefault("similarity_weight", 0.0)
        try:
            saved = TrainConfig.from_dict(values)
        except ConfigError as error:
            raise CheckpointError(
                f"{folder.checkpoint} holds a config this pnnkit cannot use: {error}"
            ) from None
        config = saved.with_overrides(list(overrides or []))
        changed = _differences(saved.resolved(), config.resolved())
        refused = [key for key in changed if key.split(".")[0] not in RESUMABLE_FIELDS]
        if refused:
            raise ConfigError(
                f"resuming {folder.path} cannot change {', '.join(refused)}: that would be a "
                f"different run (only {', '.join(RESUMABLE_FIELDS)} may change); start a new "
                f"run instead"
            )
        started = int(state["epoch"]) + (1 if state["position"] is not None else 0)
        if config.epochs < started:
            raise ConfigError(
                f"epochs = {config.epochs} is invalid for resuming {folder.path}: its "
                f"checkpoint has reached epoch {started} (use epochs >= {started})"
            )
        return cls(config, checkpoint=state)

    def _image_layout(self) -> ImageLayout | None:
        """Image shape and the loader's standardisation, for shift views (None when the data
        are not a pixel grid or the views do not shift)."""
        shape = image_shape(self.data.feature_names)
        augment = getattr(self.rule_config, "augment", "none")
        if shape is None or augment not in ("auto", "shift"):
            return None
        cfg = self.config
        raw = load_dataset(
            cfg.dataset,
            test_size=cfg.test_size,
            seed=cfg.seed,
            label_column=cfg.label_column,
            standardize=False,
            val_fraction=cfg.validation_fraction(),
        )
        mean, scale = unsupervised.standardisation(raw.x_train)
        return ImageLayout(shape, mean, scale)

    # --- the run ----------------------------------------------------------------------------------

    def train(self, *, progress: bool = True) -> dict[str, Any]:
        """Run (or, after :meth:`resume`, continue) all epochs; returns the summary (also
        written to ``summary.json``). Raises :class:`TrainingInterrupted` on Ctrl-C and
        :class:`TooManyBadMeasurementsError` when the hardware keeps failing (module docstring)."""
        cfg = self.config
        self._session_start = time.perf_counter()
        self._show_progress = progress
        unsupervised_task = cfg.task == "unsupervised"
        bar = tqdm(
            total=cfg.epochs,
            initial=self.epoch,
            desc=f"{'unsupervised ' if unsupervised_task else ''}{cfg.method} on {cfg.substrate}",
            unit="epoch",
            disable=not progress,
            leave=True,
        )
        try:
            with _CtrlC() as ctrl_c, self._tensorboard():
                if self.saved_at is None:  # a new run: its state before any training
                    if unsupervised_task:
                        self.measure_baselines()
                    self.save()
                while self.epoch < cfg.epochs:
                    if ctrl_c.requested:
                        raise self._interrupted()
                    self.run_epoch(ctrl_c)
                    bar.update(1)
                    bar.set_postfix(self._postfix())
                bar.close()
                return self.finish(self._wall_seconds())
        except KeyboardInterrupt as interrupt:
            if isinstance(interrupt, TrainingInterrupted):
                raise
            raise self._interrupted() from None
        finally:
            bar.close()

    def run_epoch(self, ctrl_c: _CtrlC) -> None:
        """Train the next epoch (or the rest of the one in progress), evaluate, record it."""
        cfg, data = self.config, self.data
        unsupervised_task = cfg.task == "unsupervised"
        if self.progress is None:
            epoch = self.epoch + 1
            self.inject_faults(epoch)
            sums = {"loss": 0.0} if unsupervised_task else {"loss": 0.0, "readout_loss": 0.0}
            order = batches(len(data.y_train), cfg.batch_size, self.shuffle)
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
        n_info = min(cfg.info_samples, len(data.y_train))
        x_info, y_info = data.x_train[:n_info], data.y_train[:n_info]
        try:  # an evaluation that stays bad stops the run: keep the epoch's training
            if unsupervised_task:
                with evaluation_apart(self.network, self.eval_counters):
                    rep = self.representation("learned representation")
                    i_xt, i_ty = self.retried(
                        "information plane",
                        lambda: information_plane(self.network, self.estimator, x_info, y_info),
                    )
                learned = self._scores(rep)
                self.learned_embedding = unsupervised.embedding_2d(rep.test)
                results: dict[str, float | None] = {
                    "loss": progress.mean("loss"),
                    "probe_accuracy": learned["probe"],
                    "kmeans_nmi": learned["nmi"],
                }
            else:
                with evaluation_apart(self.network, self.eval_counters):
                    train_acc = self.accuracy(data.x_train, data.y_train, "training accuracy")
                    test_acc = self.accuracy(data.x_test, data.y_test, "test accuracy")
                    i_xt, i_ty = self.retried(
                        "information plane",
                        lambda: information_plane(self.network, self.estimator, x_info, y_info),
                    )
                    # last, so that the other numbers do not depend on whether it is measured
                    val_acc = (
                        self.accuracy(data.x_val, data.y_val, "validation accuracy")
                        if data.has_val
                        else None
                    )
                results = {
                    "loss": progress.mean("loss"),
                    "readout_loss": progress.mean("readout_loss"),
                    "train_accuracy": train_acc,
                    **({} if val_acc is None else {"val_accuracy": val_acc}),
                    "test_accuracy": test_acc,
                }
        except TooManyBadMeasurementsError as stop:
            self.save()
            raise TooManyBadMeasurementsError(f"{stop}; {self._checkpoint_clause()}") from None
        self.progress, self.epoch = None, progress.epoch
        self.record_epoch(progress.epoch, (i_xt, i_ty), progress.bad_batches, **results)
        if ctrl_c.requested:
            raise self._interrupted()

    def train_batch(self, progress: EpochProgress) -> None:
        """One training step on the batch at the cursor; a bad measurement skips it (the rule
        leaves hardware and state as they were) and is counted and logged."""
        index = progress.order[progress.cursor]
        x = self.data.x_train[index]
        y = None if self.config.task == "unsupervised" else self.data.y_train[index]
        try:
            stats = self.rule.train_step(x, y)  # type: ignore[arg-type]
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
        progress.sums["loss"] += stats.loss / n
        if "readout_loss" in progress.sums:
            progress.sums["readout_loss"] += stats.readout_loss / n

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
            f"{self.folder.checkpoint} holds the last good state ({self._saved_where()}); check "
            f"the hardware, then continue with: pnnkit train --resume "
            f"{shlex.quote(str(self.folder.path))}"
        )

    # --- evaluation ----------------------------------------------------------------------------

    def retried(self, what: str, measure: Callable[[], T]) -> T:
        """``measure()``, one evaluation pass, measured again while its measurement is bad (at
        most ``max_bad_batches`` attempts; inside :func:`evaluation_apart` each attempt draws
        fresh noise)."""
        attempts = self.config.max_bad_batches
        for attempt in range(1, attempts + 1):
            try:
                return measure()
            except BadMeasurementError as error:
                self.bad_evaluations += 1
                last = error
                self.note(
                    f"{self._evaluation_label()} {what}, attempt {attempt}/{attempts}: "
                    f"measuring again: {error}"
                )
        raise TooManyBadMeasurementsError(
            f"evaluation stopped: {what} ({self._evaluation_label()}) gave bad measurements "
            f"{attempts} times in a row (last: {last})"
        )

    def _evaluation_label(self) -> str:
        return "before training:" if self.progress is None else f"epoch {self.progress.epoch}:"

    def accuracy(self, x: Tensor, y: Tensor, what: str) -> float:
        """The rule's accuracy on ``(x, y)``, measured chunk by chunk (each chunk retried)."""
        predictions = [
            self.retried(what, lambda chunk=chunk: self.rule.predict(chunk))
            for chunk in x.split(EVAL_CHUNK)
        ]
        return float((torch.cat(predictions) == y).float().mean())

    def representation(self, what: str) -> unsupervised.Representation:
        """The last unit's measured output, unit-normalised, for both splits (as
        :func:`pnnkit.experiment.unsupervised.network_representation`, each chunk retried)."""

        def measure(x: Tensor) -> np.ndarray:
            with torch.no_grad():
                parts = [
                    self.retried(
                        what, lambda chunk=chunk: unit_normalize(self.network.forward(chunk)[-1])
                    )
                    for chunk in x.split(EVAL_CHUNK)
                ]
            return torch.cat(parts).double().numpy()

        return unsupervised.Representation(measure(self.data.x_train), measure(self.data.x_test))

    def _scores(self, rep: unsupervised.Representation) -> dict[str, float]:
        data = self.data
        return unsupervised.scores(
            rep, data.y_train, data.y_test, data.num_classes, seed=self.config.seed
        )

    def measure_baselines(self) -> None:
        """Probe and NMI of the raw input, of PCA to the representation's width and of the
        network before training (its queries count as evaluation, not training)."""
        data = self.data
        width = self.network.units[-1].out_features
        with evaluation_apart(self.network, self.eval_counters):
            untrained = self.representation("untrained representation")
        self.untrained_embedding = unsupervised.embedding_2d(untrained.test)
        self.baselines = {
            "untrained": self._scores(untrained),
            "raw": self._scores(unsupervised.raw_representation(data.x_train, data.x_test)),
            "pca": self._scores(
                unsupervised.pca_representation(
                    data.x_train, data.x_test, width, seed=self.config.seed
                )
            ),
        }

    # --- records, checkpoints, logs ----------------------------------------------------------

    def record_epoch(
        self,
        epoch: int,
        info: tuple[list[float], list[float]],
        bad_batches: int,
        **results: float | None,
    ) -> None:
        """Log one epoch (its ``results``, the information plane, costs, bad measurements,
        times and injected faults) to the history, ``metrics.jsonl`` and TensorBoard, and
        checkpoint the run."""
        costs = self.network.counters()
        record = {
            "epoch": epoch,
            **results,
            "info_i_xt": info[0],
            "info_i_ty": info[1],
            "physical_queries": costs.physical_queries,
            "device_writes": costs.device_writes,
            "bad_batches": bad_batches,
            "bad_evaluations": self.bad_evaluations,
            "train_seconds": self.train_seconds,
            "wall_seconds": self._wall_seconds(),
            "faults": [r for r in self.fault_log if r["epoch"] == epoch],
        }
        self.bad_evaluations = 0
        self.history.append(record)
        self.folder.append_metrics(record)
        self._log_tensorboard(record)
        self.save()

    def inject_faults(self, epoch: int) -> list[dict[str, Any]]:
        """Apply what the fault schedule has due at the start of ``epoch`` (nothing without
        ``--faults``); returns every record of faults injected for that epoch."""
        self.fault_log.extend(self.faults.apply(self.network, epoch, self.config.epochs))
        return [r for r in self.fault_log if r["epoch"] == epoch]

    def note(self, line: str) -> None:
        """A line in ``guard.log`` (and on the console under the progress bar)."""
        self.folder.log_guard(line)
        if self._show_progress:
            tqdm.write(f"pnnkit: {line}", file=sys.stderr)

    def save(self) -> None:
        """Write the checkpoint (atomically) and remember where it stands."""
        self.folder.save_checkpoint(self.checkpoint_state())
        self.saved_at = (self.epoch, 0 if self.progress is None else self.progress.cursor)

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly (module docstring)."""

        def embedding(values: np.ndarray | None) -> Tensor | None:
            return None if values is None else torch.from_numpy(np.ascontiguousarray(values))

        return {
            "kind": "train",
            "config": self.config.resolved(),
            "epoch": self.epoch,
            "position": None if self.progress is None else self.progress.state_dict(),
            "history": self.history,
            "fault_log": self.fault_log,
            "faults": self.faults.state_dict(),
            "network": self.network.state_dict(),
            "rule": self.rule.state_dict(),
            "eval_counters": self.eval_counters.as_dict(),
            "train_seconds": self.train_seconds,
            "wall_seconds": self._wall_seconds(),
            "bad_in_a_row": self.bad_in_a_row,
            "bad_evaluations": self.bad_evaluations,
            "rng": {"shuffle": self.shuffle.get_state(), "torch": torch.get_rng_state()},
            "unsupervised": {
                "baselines": self.baselines,
                "untrained_embedding": embedding(self.untrained_embedding),
                "learned_embedding": embedding(self.learned_embedding),
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint (:meth:`checkpoint_state`): load every state, rewrite
        ``metrics.jsonl`` to the checkpoint's history (dropping what an interrupted session
        appended after it) and remove a summary that no longer describes the run."""
        try:
            self.network.load_state_dict(state["network"])
            self.rule.load_state_dict(state["rule"])
            self.faults.load_state_dict(state["faults"])
            self.fault_log = list(state["fault_log"])
            self.eval_counters.load(state["eval_counters"])
            self.train_seconds = float(state["train_seconds"])
            self.earlier_wall_seconds = float(state["wall_seconds"])
            self.history = list(state["history"])
            self.epoch = int(state["epoch"])
            position = state["position"]
            self.progress = None if position is None else EpochProgress.from_state(position)
            self.bad_in_a_row = int(state["bad_in_a_row"])
            self.bad_evaluations = int(state["bad_evaluations"])
            self.shuffle.set_state(state["rng"]["shuffle"])
            torch.set_rng_state(state["rng"]["torch"])
            saved = state["unsupervised"]
            self.baselines = saved["baselines"]
            for name in ("untrained_embedding", "learned_embedding"):
                values = saved[name]
                setattr(self, name, None if values is None else values.numpy())
        except (PnnkitError, KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
            raise CheckpointError(
                f"checkpoint {self.folder.checkpoint} does not fit the run its config "
                f"describes ({type(error).__name__}: {error})"
            ) from None
        if len(self.history) != self.epoch:
            raise CheckpointError(
                f"checkpoint {self.folder.checkpoint} is inconsistent: {len(self.history)} "
                f"epochs of history for {self.epoch} finished epochs"
            )
        self.saved_at = (self.epoch, 0 if self.progress is None else self.progress.cursor)
        self.folder.write_metrics(self.history)
        self.folder.summary.unlink(missing_ok=True)
        if self.folder.guard_log.exists():
            self.folder.log_guard(f"resumed from the checkpoint ({self._saved_where()})")

    def _saved_where(self) -> str:
        """Where the checkpoint on disk stands, in words."""
        if self.saved_at is None:
            return "nothing saved yet"
        epoch, batch = self.saved_at
        if batch:
            return f"epoch {epoch + 1} after batch {batch}"
        return "before training" if epoch == 0 else f"the end of epoch {epoch}"

    def _interrupted(self) -> TrainingInterrupted:
        """The exception for a Ctrl-C now, naming where training stood and what the checkpoint
        on disk holds."""
        run = shlex.quote(str(self.folder.path))
        if self.progress is not None and self.progress.cursor > 0:
            where = (
                f"at epoch {self.progress.epoch} after batch "
                f"{self.progress.cursor}/{len(self.progress.order)}"
            )
        elif self.progress is not None:
            where = f"at the start of epoch {self.progress.epoch}"
        else:
            where = "before training" if self.epoch == 0 else f"after epoch {self.epoch}"
        epoch = self.epoch + 1 if self.progress is None else self.progress.epoch
        batch = 0 if self.progress is None else self.progress.cursor
        if self.saved_at is None:
            message = (
                f"interrupted {where}, before the first checkpoint: start the run again "
                f"(--overwrite)"
            )
        elif self.saved_at == (self.epoch, batch):
            message = f"interrupted {where}; resume with: pnnkit train --resume {run}"
        else:
            message = (
                f"interrupted {where}; the checkpoint holds {self._saved_where()}, resuming "
                f"repeats the work since: pnnkit train --resume {run}"
            )
        return TrainingInterrupted(message, run_dir=self.folder.path, epoch=epoch, batch=batch)

    def _postfix(self) -> dict[str, str]:
        """The last epoch's scores, for the progress bar."""
        last = self.history[-1]
        names = {
            "train_accuracy": "train",
            "val_accuracy": "val",
            "test_accuracy": "test",
            "probe_accuracy": "probe",
            "kmeans_nmi": "nmi",
        }
        return {short: f"{last[k]:.3f}" for k, short in names.items() if last.get(k) is not None}

    def _wall_seconds(self) -> float:
        return self.earlier_wall_seconds + time.perf_counter() - self._session_start

    @contextmanager
    def _tensorboard(self) -> Iterator[None]:
        """The TensorBoard writer for this session, when the config asks for one (a resumed
        run purges the events of epochs after its checkpoint)."""
        if not self.config.tensorboard:
            yield
            return
        writer_class = summary_writer_class()
        purge = self.epoch + 1 if self.saved_at is not None else None
        self._writer = writer_class(log_dir=str(self.folder.tensorboard), purge_step=purge)
        try:
            yield
        finally:
            self._writer.close()
            self._writer = None

    def _log_tensorboard(self, record: dict[str, Any]) -> None:
        """Every number of an epoch's record as a scalar (per-unit lists as ``key/unitK``)."""
        if self._writer is None:
            return
        epoch = record["epoch"]
        for key, value in record.items():
            if key == "epoch":
                continue
            if key == "faults":
                self._writer.add_scalar("faults_injected", len(value), epoch)
            elif isinstance(value, list):
                for k, item in enumerate(value, start=1):
                    self._writer.add_scalar(f"{key}/unit{k}", item, epoch)
            elif isinstance(value, int | float):
                self._writer.add_scalar(key, value, epoch)
        self._writer.flush()

    # --- the end -----------------------------------------------------------------------------

    def _stage_name(self) -> str | None:
        """The stage after the physics, or None when the substrate is its own unit."""
        kind = SUBSTRATES[substrate_spec(self.config.substrate, {})[0]]
        return None if kind.linear or kind.energy_based else self.config.stage

    def _unsupervised_results(self, title: str) -> dict[str, Any]:
        """The four representations' scores, and the embedding plot."""
        last = self.history[-1]
        learned = {"probe": last["probe_accuracy"], "nmi": last["kmeans_nmi"]}
        table = {"learned": learned, **self.baselines}
        embedding = self.folder.path / "embedding.png"
        plot_embedding(
            {
                "untrained network": self.untrained_embedding,
                "trained network": self.learned_embedding,
            },
            self.data.y_test.numpy(),
            embedding,
            f"{title}: test split, first two principal components",
        )
        width = self.network.units[-1].out_features
        return {
            "probe": {k: table[k]["probe"] for k in unsupervised.REPRESENTATIONS},
            "nmi": {k: table[k]["nmi"] for k in unsupervised.REPRESENTATIONS},
            "representation": "last unit's measured output, unit-normalised",
            "width": width,
            "pca_width": min(width, self.data.num_features, len(self.data.y_train)),
            "embedding": str(embedding),
        }

    def _selection(self) -> dict[str, Any]:
        """The supervised summary's accuracies: ``test_accuracy`` of the epoch ``select``
        chooses (the last, or the earliest with the highest validation accuracy),
        ``train_accuracy`` and ``val_accuracy`` of the last epoch, the best validation
        accuracy and its epoch (None without a validation split), ``selected_epoch`` and
        ``last_test_accuracy``."""
        history, last = self.history, self.history[-1]
        scored = [r for r in history if r.get("val_accuracy") is not None]
        best = max(scored, key=lambda r: r["val_accuracy"]) if scored else None  # earliest max
        chosen = best if self.config.select == "best-val" and best is not None else last
        return {
            "test_accuracy": chosen["test_accuracy"],
            "train_accuracy": last["train_accuracy"],
            "val_accuracy": last.get("val_accuracy"),
            "best_val_accuracy": None if best is None else best["val_accuracy"],
            "best_val_epoch": None if best is None else best["epoch"],
            "select": self.config.select,
            "selected_epoch": chosen["epoch"],
            "last_test_accuracy": last["test_accuracy"],
        }

    def finish(self, wall_seconds: float) -> dict[str, Any]:
        """Plot the curves, write ``summary.json`` (results, costs, bad measurements, faults,
        times) and return the summary. A supervised run's results are those of
        :meth:`_selection`: ``test_accuracy`` (of the selected epoch), ``train_accuracy``,
        ``val_accuracy``, ``best_val_accuracy``, ``best_val_epoch``, ``select``,
        ``selected_epoch`` and ``last_test_accuracy``."""
        cfg = self.config
        unsupervised_task = cfg.task == "unsupervised"
        title = f"{cfg.method} on {cfg.substrate}, {cfg.dataset}, seed {cfg.seed}"
        if unsupervised_task:
            title = f"unsupervised {title}"
            results = self._unsupervised_results(title)
            plot_unsupervised_curves(
                self.history, self.baselines, self.folder.learning_curves, title
            )
        else:
            plot_learning_curves(self.history, self.folder.learning_curves, title)
        plot_information_plane(self.history, self.folder.information_plane, title)
        costs = self.network.counters()
        summary: dict[str, Any] = {
            "task": cfg.task,
            "method": cfg.method,
            "substrate": cfg.substrate,
            "stage": self._stage_name(),
            "dataset": cfg.dataset,
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "hidden": cfg.hidden,
            **({} if unsupervised_task else self._selection()),
            "physical_queries": costs.physical_queries,
            "passes": costs.passes,
            "device_writes": costs.device_writes,
            "programming_pulses": costs.programming_pulses,
            "evaluation_queries": self.eval_counters.physical_queries,
            "bad_batches_total": sum(r["bad_batches"] for r in self.history),
            "bad_evaluations_total": sum(r["bad_evaluations"] for r in self.history),
            "faults": {"schedule": self.faults.describe(), "injected": self.fault_log},
            "train_seconds": self.train_seconds,
            "hardware_seconds": costs.hardware_seconds,
            # the rule's own work: training time not spent inside the (simulated) hardware
            "digital_seconds": max(self.train_seconds - costs.hardware_seconds, 0.0),
            "substrate_reports": {
                f"unit{k + 1}.{s.name}": s.fit_report
                for k, unit in enumerate(self.network.units)
                for s in unit.substrates
                if getattr(s, "fit_report", None) is not None
            },
            "wall_seconds": wall_seconds,
            "run_dir": str(self.folder.path),
            "plots": [str(self.folder.learning_curves), str(self.folder.information_plane)],
            "dataset_summary": {
                k: v for k, v in self.data.summary().items() if k != "feature_names"
            },
        }
        if unsupervised_task:
            summary["unsupervised"] = results
            summary["plots"].append(results["embedding"])
        self.folder.write_json(self.folder.summary, summary)
        return summary


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two nested config dicts."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed


def train(config: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train according to ``config`` and return the run summary."""
    return Trainer(config, overwrite=overwrite).train(progress=progress)


def resume(
    run_dir: str | Path, *, overrides: list[str] | None = None, progress: bool = True
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its checkpoint (:meth:`Trainer.resume`) and return
    the run summary."""
    return Trainer.resume(run_dir, overrides=overrides).train(progress=progress)
