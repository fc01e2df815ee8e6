"""The supervised task: train on the labels, report accuracy.

Every epoch measures the training and test accuracy, the information plane and, when the run
holds out a validation split (:func:`pnnkit.data.load_dataset`), the validation accuracy, last,
so that the other numbers do not depend on whether it is measured. ``select = best-val`` makes
the summary's ``test_accuracy`` that of the earliest epoch with the highest validation accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from pnnkit.learning import LearningRule, RuleConfig, StepStats, make_rule
from pnnkit.network import PhysicalNetwork
from pnnkit.results.plots import plot_learning_curves
from pnnkit.tasks.base import Measure, Task, TaskResults


class Supervised(Task):
    """Learn from the labels; judged by accuracy (module docstring)."""

    name = "supervised"
    losses = ("loss", "readout_loss")
    shown = (("train_accuracy", "train"), ("val_accuracy", "val"), ("test_accuracy", "test"))

    def make_rule(
        self, network: PhysicalNetwork, rule_config: RuleConfig, total_steps: int
    ) -> LearningRule:
        """The rule the config's ``method`` names."""
        return make_rule(self.config.method, network, rule_config, total_steps)

    def train_step(self, rule: LearningRule, index: Tensor) -> StepStats:
        """A step on the batch and its labels."""
        return rule.train_step(self.data.x_train[index], self.data.y_train[index])

    def evaluate(
        self, measure: Measure, losses: dict[str, float | None]
    ) -> tuple[dict[str, float | None], tuple[list[float], list[float]]]:
        """Training and test accuracy, the information plane, then validation accuracy."""
        data, evaluator, predict = self.data, measure.evaluator, measure.rule.predict
        with measure.apart():
            train_acc = evaluator.accuracy(predict, data.x_train, data.y_train, "training accuracy")
            test_acc = evaluator.accuracy(predict, data.x_test, data.y_test, "test accuracy")
            info = measure.information_plane()
            # last, so that the other numbers do not depend on whether it is measured
            val_acc = (
                evaluator.accuracy(predict, data.x_val, data.y_val, "validation accuracy")
                if data.has_val and data.x_val is not None and data.y_val is not None
                else None
            )
        results: dict[str, float | None] = {
            **losses,
            "train_accuracy": train_acc,
            **({} if val_acc is None else {"val_accuracy": val_acc}),
            "test_accuracy": test_acc,
        }
        return results, info

    def results(self, history: list[dict[str, Any]], folder: Path, title: str) -> TaskResults:
        """The learning curves and :meth:`selection`."""
        plot_learning_curves(history, folder / "learning_curves.png", title)
        return TaskResults(fields=self.selection(history))

    def selection(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The summary's accuracies: ``test_accuracy`` of the epoch ``select`` chooses (the
        last, or the earliest with the highest validation accuracy), ``train_accuracy`` and
        ``val_accuracy`` of the last epoch, the best validation accuracy and its epoch (None
        without a validation split), ``selected_epoch`` and ``last_test_accuracy``."""
        last = history[-1]
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
