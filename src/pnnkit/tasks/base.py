"""What a task is to the training loop: how a batch becomes a training step, what an epoch's
evaluation measures, what the summary reports and what the task keeps in a checkpoint.

The loop (:class:`pnnkit.experiment.trainer.Trainer`) is the same for every task: it draws the
batch order, calls :meth:`Task.labels` and the rule's ``train_step`` per batch, sums the
per-batch values named in :attr:`Task.losses`, and at the end of each epoch calls
:meth:`Task.evaluate` with a :class:`Measure` (every measurement in it is apart from training
and retried while bad, :mod:`pnnkit.experiment.evaluation`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor

from pnnkit.data import Dataset
from pnnkit.learning import LearningRule, RuleConfig, StepStats
from pnnkit.network import PhysicalNetwork

if TYPE_CHECKING:  # the run's pieces use tasks; tasks name them in annotations only
    from pnnkit.experiment.config import TrainConfig
    from pnnkit.experiment.evaluation import Evaluator


@dataclass
class Measure:
    """What an epoch's evaluation measures with: the rule (its predictions), the evaluator
    (each pass retried while bad), ``apart()`` (a context in which measurements cost
    evaluation, not training, and leave the hardware's random streams as they were) and
    ``information_plane()`` (``I(X;T_k)``, ``I(T_k;Y)`` per unit, retried)."""

    rule: LearningRule
    evaluator: Evaluator
    apart: Callable[[], AbstractContextManager[None]]
    information_plane: Callable[[], tuple[list[float], list[float]]]


@dataclass
class TaskResults:
    """A task's part of the summary: ``fields`` (after the run's description), ``sections``
    (at the end of the summary) and the ``plots`` it drew besides the information plane."""

    fields: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)


class Task:
    """One kind of training run (module docstring); a subclass defines every method that
    raises :class:`NotImplementedError` here."""

    #: the name ``--task`` takes
    name: ClassVar[str]
    #: per-batch values of the rule's ``StepStats`` averaged over an epoch, as ``StepStats``
    #: attributes
    losses: ClassVar[tuple[str, ...]]
    #: record fields shown on the progress bar, with their short names
    shown: ClassVar[tuple[tuple[str, str], ...]]
    #: the words in front of ``METHOD on SUBSTRATE`` in titles and on the progress bar
    prefix: ClassVar[str] = ""

    def __init__(self, config: TrainConfig, data: Dataset) -> None:
        self.config = config
        self.data = data

    def make_rule(
        self, network: PhysicalNetwork, rule_config: RuleConfig, total_steps: int
    ) -> LearningRule:
        """The rule this task trains ``network`` with (``rule_config``: the config's
        :meth:`~pnnkit.experiment.config.TrainConfig.rule_config`)."""
        raise NotImplementedError

    def train_step(self, rule: LearningRule, index: Tensor) -> StepStats:
        """One step of ``rule`` (the one :meth:`make_rule` built) on the training samples
        ``index``, with what this task gives it of their labels."""
        raise NotImplementedError

    def before_training(self, measure: Measure) -> None:
        """Measure what the task compares the trained network with (nothing by default)."""

    def evaluate(
        self, measure: Measure, losses: dict[str, float | None]
    ) -> tuple[dict[str, float | None], tuple[list[float], list[float]]]:
        """The epoch's results (its mean ``losses`` first) and the information plane."""
        raise NotImplementedError

    def results(self, history: list[dict[str, Any]], folder: Path, title: str) -> TaskResults:
        """The task's summary fields and plots, from the run's records (``folder``: where the
        plots go)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What the task keeps across a resume (checkpoint values); nothing by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s values."""
