"""The unsupervised task: multi-view PIB (:mod:`pnnkit.learning.multiview`) learns a
representation without labels; the labels only judge it.

Before training, and after every epoch, the representation (the last unit's measured output,
unit-normalised) is scored by a linear probe and k-means NMI
(:mod:`pnnkit.experiment.evaluation`) against three baselines: the raw (standardised) input,
PCA of the input to the representation's width (at most the input dimension; fitted on the
training split), and the same physical network before training. Only the last unit is used,
so that every baseline has the width of the representation a user of the trained hardware
gets. The labels are used here only, never in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pnnkit.data import Dataset, load_dataset
from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.evaluation import (
    Representation,
    embedding_2d,
    pca_representation,
    raw_representation,
    scores,
)
from pnnkit.learning import LearningRule, RuleConfig, StepStats
from pnnkit.learning.multiview import ImageLayout, MultiViewConfig, MultiViewPIB, image_shape
from pnnkit.network import PhysicalNetwork
from pnnkit.results.plots import plot_embedding, plot_unsupervised_curves
from pnnkit.tasks.base import Measure, Task, TaskResults

#: the representations every unsupervised run compares
REPRESENTATIONS = ("learned", "untrained", "raw", "pca")


def standardisation(x_raw_train: Tensor) -> tuple[Tensor, Tensor]:
    """``(mean, scale)`` per feature as the data loader standardises (training split,
    population std; a constant feature is only centred, scale 1), so that
    ``x = (raw - mean) / scale`` can be undone."""
    x = x_raw_train.double()
    constant = (x == x[:1]).all(dim=0)
    mean = torch.where(constant, x[0], x.mean(dim=0))
    scale = torch.where(constant, torch.ones_like(mean), x.std(dim=0, unbiased=False))
    return mean.float(), scale.float()


class Unsupervised(Task):
    """Learn a representation without labels; judged by probe and NMI (module docstring)."""

    name = "unsupervised"
    losses = ("loss",)
    shown = (("probe_accuracy", "probe"), ("kmeans_nmi", "nmi"))
    prefix = "unsupervised "

    def __init__(self, config: TrainConfig, data: Dataset) -> None:
        super().__init__(config, data)
        #: the baseline representations' scores, measured before training
        self.baselines: dict[str, dict[str, float]] = {}
        #: 2-D embeddings of the test split before and after training
        self.untrained_embedding: np.ndarray | None = None
        self.learned_embedding: np.ndarray | None = None

    def make_rule(
        self, network: PhysicalNetwork, rule_config: RuleConfig, total_steps: int
    ) -> LearningRule:
        """Multi-view PIB, with the image layout its shift views need."""
        assert isinstance(rule_config, MultiViewConfig)  # what TrainConfig builds for the task
        image = self.image_layout(rule_config)
        return MultiViewPIB(network, rule_config, total_steps, image=image, seed=self.config.seed)

    def image_layout(self, rule_config: MultiViewConfig) -> ImageLayout | None:
        """Image shape and the loader's standardisation, for shift views (None when the data
        are not a pixel grid or the views do not shift)."""
        shape = image_shape(self.data.feature_names)
        if shape is None or rule_config.augment not in ("auto", "shift"):
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
        mean, scale = standardisation(raw.x_train)
        return ImageLayout(shape, mean, scale)

    def train_step(self, rule: LearningRule, index: Tensor) -> StepStats:
        """A step on the batch alone: the labels never enter training."""
        assert isinstance(rule, MultiViewPIB)  # what make_rule builds for this task
        return rule.train_step(self.data.x_train[index])

    def _scores(self, rep: Representation) -> dict[str, float]:
        data = self.data
        return scores(rep, data.y_train, data.y_test, data.num_classes, seed=self.config.seed)

    def _representation(self, measure: Measure, what: str) -> Representation:
        return measure.evaluator.representation(self.data.x_train, self.data.x_test, what)

    def before_training(self, measure: Measure) -> None:
        """Probe and NMI of the raw input, of PCA to the representation's width and of the
        network before training (its queries count as evaluation, not training)."""
        data = self.data
        width = measure.evaluator.network.units[-1].out_features
        with measure.apart():
            untrained = self._representation(measure, "untrained representation")
        self.untrained_embedding = embedding_2d(untrained.test)
        self.baselines = {
            "untrained": self._scores(untrained),
            "raw": self._scores(raw_representation(data.x_train, data.x_test)),
            "pca": self._scores(
                pca_representation(data.x_train, data.x_test, width, seed=self.config.seed)
            ),
        }

    def evaluate(
        self, measure: Measure, losses: dict[str, float | None]
    ) -> tuple[dict[str, float | None], tuple[list[float], list[float]]]:
        """The learned representation's probe accuracy and NMI, and the information plane."""
        with measure.apart():
            rep = self._representation(measure, "learned representation")
            info = measure.information_plane()
        learned = self._scores(rep)
        self.learned_embedding = embedding_2d(rep.test)
        results: dict[str, float | None] = {
            **losses,
            "probe_accuracy": learned["probe"],
            "kmeans_nmi": learned["nmi"],
        }
        return results, info

    def results(self, history: list[dict[str, Any]], folder: Path, title: str) -> TaskResults:
        """The four representations' scores, the embedding plot and the learning curves."""
        last = history[-1]
        learned = {"probe": last["probe_accuracy"], "nmi": last["kmeans_nmi"]}
        table = {"learned": learned, **self.baselines}
        embedding = folder / "embedding.png"
        assert self.untrained_embedding is not None and self.learned_embedding is not None
        plot_embedding(
            {
                "untrained network": self.untrained_embedding,
                "trained network": self.learned_embedding,
            },
            self.data.y_test.numpy(),
            embedding,
            f"{title}: test split, first two principal components",
        )
        plot_unsupervised_curves(history, self.baselines, folder / "learning_curves.png", title)
        width = self.config.hidden[-1]
        section = {
            "probe": {k: table[k]["probe"] for k in REPRESENTATIONS},
            "nmi": {k: table[k]["nmi"] for k in REPRESENTATIONS},
            "representation": "last unit's measured output, unit-normalised",
            "width": width,
            "pca_width": min(width, self.data.num_features, len(self.data.y_train)),
            "embedding": str(embedding),
        }
        return TaskResults(sections={"unsupervised": section}, plots=[str(embedding)])

    def state_dict(self) -> dict[str, Any]:
        """The baselines' scores and the two embeddings."""

        def embedding(values: np.ndarray | None) -> Tensor | None:
            return None if values is None else torch.from_numpy(np.ascontiguousarray(values))

        return {
            "baselines": self.baselines,
            "untrained_embedding": embedding(self.untrained_embedding),
            "learned_embedding": embedding(self.learned_embedding),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s values."""
        self.baselines = state["baselines"]
        for name in ("untrained_embedding", "learned_embedding"):
            values = state[name]
            setattr(self, name, None if values is None else values.numpy())
