"""A training run's checkpoint: what it holds, how it is loaded, and what a resume may change.

After every epoch (and once before the first, after calibration) the run's whole state goes to
``RUN/checkpoint.pt``, written atomically (temporary file, then rename) and loaded with
``weights_only=True``: the resolved config, network and substrate state (with their random
generators and counters), the rule's state (optimisers, generators, fixed random matrices), the
shuffling and global torch generators, the fault schedule and its log, the metrics history,
costs and times, and the task's own state (an unsupervised run's baselines and embeddings).
:meth:`~pnnkit.experiment.trainer.Trainer.resume` rebuilds dataset, network and rule from that
config (all deterministic, :mod:`pnnkit.experiment.builder`) and loads the state, so that a
resumed run continues exactly as the uninterrupted one would have: with the same seed it ends
with the same metrics and the same hardware state, to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor

from pnnkit.errors import CheckpointError, ConfigError, PnnkitError
from pnnkit.experiment.config import TrainConfig
from pnnkit.results.folder import RunFolder

if TYPE_CHECKING:
    from pnnkit.data import Dataset
    from pnnkit.experiment.trainer import Trainer
    from pnnkit.faults import FaultSchedule
    from pnnkit.learning import LearningRule
    from pnnkit.network import PhysicalNetwork
    from pnnkit.physics import Counters
    from pnnkit.tasks.base import Task

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
    "task",
)


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


class RunState(Protocol):
    """The state of a training run that its checkpoint, its epoch records and its summary
    are made of: what :class:`~pnnkit.experiment.trainer.Trainer` holds, and what the
    distributed driver (:mod:`pnnkit.distributed.driver`) keeps for the run as a whole."""

    config: TrainConfig
    folder: RunFolder
    data: Dataset
    network: PhysicalNetwork
    faults: FaultSchedule
    task: Task
    rule: LearningRule
    #: what the fault schedule injected, epoch by epoch
    fault_log: list[dict[str, Any]]
    shuffle: torch.Generator
    eval_counters: Counters
    train_seconds: float
    #: epochs finished, and the epoch in progress (None between epochs)
    epoch: int
    progress: EpochProgress | None
    bad_in_a_row: int
    bad_evaluations: int

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every epoch's record so far."""
        ...

    def wall_seconds(self) -> float:
        """Wall time of the run, earlier sessions included."""
        ...


def checkpoint_state(trainer: RunState) -> dict[str, Any]:
    """Everything a resumed run needs to continue exactly (module docstring)."""
    return {
        "kind": "train",
        "config": trainer.config.resolved(),
        "epoch": trainer.epoch,
        "position": None if trainer.progress is None else trainer.progress.state_dict(),
        "history": trainer.history,
        "fault_log": trainer.fault_log,
        "faults": trainer.faults.state_dict(),
        "network": trainer.network.state_dict(),
        "rule": trainer.rule.state_dict(),
        "eval_counters": trainer.eval_counters.as_dict(),
        "train_seconds": trainer.train_seconds,
        "wall_seconds": trainer.wall_seconds(),
        "bad_in_a_row": trainer.bad_in_a_row,
        "bad_evaluations": trainer.bad_evaluations,
        "rng": {"shuffle": trainer.shuffle.get_state(), "torch": torch.get_rng_state()},
        "task": trainer.task.state_dict(),
    }


def load_state(trainer: Trainer, state: dict[str, Any]) -> None:
    """Load every state of :func:`checkpoint_state` into ``trainer`` (built from the
    checkpoint's config); a state that does not fit is a :class:`CheckpointError`."""
    checkpoint = trainer.folder.checkpoint
    try:
        trainer.network.load_state_dict(state["network"])
        trainer.rule.load_state_dict(state["rule"])
        trainer.faults.load_state_dict(state["faults"])
        trainer.fault_log = list(state["fault_log"])
        trainer.eval_counters.load(state["eval_counters"])
        trainer.train_seconds = float(state["train_seconds"])
        trainer.earlier_wall_seconds = float(state["wall_seconds"])
        history = list(state["history"])
        trainer.epoch = int(state["epoch"])
        position = state["position"]
        trainer.progress = None if position is None else EpochProgress.from_state(position)
        trainer.bad_in_a_row = int(state["bad_in_a_row"])
        trainer.bad_evaluations = int(state["bad_evaluations"])
        trainer.shuffle.set_state(state["rng"]["shuffle"])
        torch.set_rng_state(state["rng"]["torch"])
        trainer.task.load_state_dict(state["task"])
    except (PnnkitError, KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
        raise CheckpointError(
            f"checkpoint {checkpoint} does not fit the run its config describes "
            f"({type(error).__name__}: {error})"
        ) from None
    if len(history) != trainer.epoch:
        raise CheckpointError(
            f"checkpoint {checkpoint} is inconsistent: {len(history)} epochs of history for "
            f"{trainer.epoch} finished epochs"
        )
    trainer.saved_at = (trainer.epoch, 0 if trainer.progress is None else trainer.progress.cursor)
    trainer.recorder.restore(history, f"resumed from the checkpoint ({trainer.saved_where()})")


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of an earlier version in today's layout: the task's state was saved as
    ``unsupervised`` (baselines and embeddings, empty for a supervised run)."""
    if "task" not in state and "unsupervised" in state:
        config = state.get("config")
        task = config.get("task", "supervised") if isinstance(config, dict) else None
        state = {**state, "task": state["unsupervised"] if task == "unsupervised" else {}}
    return state


def resumed_config(folder: RunFolder, state: dict[str, Any], overrides: list[str]) -> TrainConfig:
    """The config to continue the checkpoint ``state`` of the run in ``folder`` with:
    the saved one, with ``overrides`` (``KEY=VALUE``) that may change only
    :data:`RESUMABLE_FIELDS` and never to fewer epochs than the checkpoint has started."""
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
    config = saved.with_overrides(overrides)
    changed = differences(saved.resolved(), config.resolved())
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
    return config


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two nested config dicts."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(differences(a, b, f"{prefix}{key}."))
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed
