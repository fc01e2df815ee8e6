"""A training run from a :class:`TrainConfig` to a filled run folder (supervised, or
unsupervised with multi-view PIB: see :mod:`pnnkit.experiment.unsupervised`)."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from pnnkit.data import Dataset, load_dataset
from pnnkit.experiment import unsupervised
from pnnkit.experiment.config import TrainConfig, substrate_spec
from pnnkit.experiment.folder import RunFolder
from pnnkit.experiment.plots import (
    plot_embedding,
    plot_information_plane,
    plot_learning_curves,
    plot_unsupervised_curves,
)
from pnnkit.faults import FaultSchedule
from pnnkit.learning import BottleneckEstimator, LearningRule, PIBConfig, make_rule
from pnnkit.learning.multiview import ImageLayout, MultiViewConfig, MultiViewPIB, image_shape
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import SUBSTRATES, Counters


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


def accuracy(rule: LearningRule, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` the trained system classifies as ``y`` (the rule's own inference)."""
    return float((rule.predict(x) == y).float().mean())


def information_plane(
    network: PhysicalNetwork, estimator: BottleneckEstimator, x: Tensor, y: Tensor
) -> tuple[list[float], list[float]]:
    """``I(X;T_k)`` and ``I(T_k;Y)`` of every unit on one batch, measured through the hardware."""
    x_gram = estimator.input_gram(x)
    y_gram = estimator.label_gram(y, network.readout.out_features)
    with torch.no_grad():
        terms = [estimator.terms(x_gram, t, y_gram) for t in network.forward(x)]
    return [float(a) for a, _ in terms], [float(b) for _, b in terms]


class Trainer:
    """Builds dataset, network and rule from a config and trains them, filling the run folder."""

    def __init__(self, config: TrainConfig, *, overwrite: bool = False) -> None:
        config.validate()
        self.config = config
        self.folder = RunFolder(config.out)
        torch.manual_seed(config.seed)
        self.data: Dataset = load_dataset(
            config.dataset,
            test_size=config.test_size,
            seed=config.seed,
            label_column=config.label_column,
        )
        substrate, substrate_options = substrate_spec(config.substrate, config.substrate_options)
        self.network = PhysicalNetwork.build(
            substrate,
            self.data.num_features,
            config.hidden,
            self.data.num_classes,
            activation=config.activation,
            substrate_config=substrate_options,
            stage=config.stage,
            stage_config=config.stage_options,
            seed=config.seed,
        )
        self.faults = FaultSchedule(config.faults or None, seed=config.seed)
        self.faults.check(self.network)
        #: what the fault schedule injected, epoch by epoch (also in metrics.jsonl)
        self.fault_log: list[dict[str, Any]] = []
        # Faults present from the start are there before the conditioning is calibrated, as
        # they would be on the bench; the call for epoch 1 then finds nothing left to inject.
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
        #: unsupervised task: test-split representations before and after training (plots)
        self.untrained_test: Any = None
        self.learned_test: Any = None
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.eval_counters = Counters()
        #: wall time of the training steps (and deployments), evaluation excluded
        self.train_seconds = 0.0
        self.history: list[dict[str, Any]] = []
        self.folder.create(overwrite=overwrite)
        self.folder.write_json(self.folder.config, config.resolved())

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
        )
        mean, scale = unsupervised.standardisation(raw.x_train)
        return ImageLayout(shape, mean, scale)

    def train(self, *, progress: bool = True) -> dict[str, Any]:
        """Run all epochs; returns the summary (also written to ``summary.json``)."""
        if self.config.task == "unsupervised":
            return self.train_unsupervised(progress=progress)
        cfg, data = self.config, self.data
        n_info = min(cfg.info_samples, len(data.y_train))
        x_info, y_info = data.x_train[:n_info], data.y_train[:n_info]
        start = time.perf_counter()
        bar = tqdm(
            range(1, cfg.epochs + 1),
            desc=f"{cfg.method} on {cfg.substrate}",
            unit="epoch",
            disable=not progress,
            leave=True,
        )
        for epoch in bar:
            injected = self.inject_faults(epoch)
            sums = {"loss": 0.0, "readout_loss": 0.0}
            order = batches(len(data.y_train), cfg.batch_size, self.shuffle)
            step_start = time.perf_counter()
            for index in order:
                stats = self.rule.train_step(data.x_train[index], data.y_train[index])
                sums["loss"] += stats.loss / len(order)
                sums["readout_loss"] += stats.readout_loss / len(order)
            self.rule.before_evaluation()
            self.train_seconds += time.perf_counter() - step_start
            with evaluation_apart(self.network, self.eval_counters):
                train_acc = accuracy(self.rule, data.x_train, data.y_train)
                test_acc = accuracy(self.rule, data.x_test, data.y_test)
                i_xt, i_ty = information_plane(self.network, self.estimator, x_info, y_info)
            self.record_epoch(
                epoch,
                start,
                injected,
                (i_xt, i_ty),
                loss=sums["loss"],
                readout_loss=sums["readout_loss"],
                train_accuracy=train_acc,
                test_accuracy=test_acc,
            )
            bar.set_postfix(train=f"{train_acc:.3f}", test=f"{test_acc:.3f}")
        bar.close()
        wall = time.perf_counter() - start
        return self.finish(wall)

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
            untrained = unsupervised.network_representation(self.network, data.x_train, data.x_test)
        self.untrained_test = untrained.test
        self.baselines = {
            "untrained": self._scores(untrained),
            "raw": self._scores(unsupervised.raw_representation(data.x_train, data.x_test)),
            "pca": self._scores(
                unsupervised.pca_representation(
                    data.x_train, data.x_test, width, seed=self.config.seed
                )
            ),
        }

    def train_unsupervised(self, *, progress: bool = True) -> dict[str, Any]:
        """All epochs of multi-view PIB. The rule is handed no labels; after every epoch the
        learned representation is judged with the held-back labels (evaluation queries)."""
        cfg, data = self.config, self.data
        n_info = min(cfg.info_samples, len(data.y_train))
        x_info, y_info = data.x_train[:n_info], data.y_train[:n_info]
        start = time.perf_counter()
        self.measure_baselines()
        bar = tqdm(
            range(1, cfg.epochs + 1),
            desc=f"unsupervised {cfg.method} on {cfg.substrate}",
            unit="epoch",
            disable=not progress,
            leave=True,
        )
        for epoch in bar:
            injected = self.inject_faults(epoch)
            loss = 0.0
            order = batches(len(data.y_train), cfg.batch_size, self.shuffle)
            step_start = time.perf_counter()
            for index in order:
                loss += self.rule.train_step(data.x_train[index], None).loss / len(order)
            self.train_seconds += time.perf_counter() - step_start
            with evaluation_apart(self.network, self.eval_counters):
                rep = unsupervised.network_representation(self.network, data.x_train, data.x_test)
                i_xt, i_ty = information_plane(self.network, self.estimator, x_info, y_info)
            learned = self._scores(rep)
            self.record_epoch(
                epoch,
                start,
                injected,
                (i_xt, i_ty),
                loss=loss,
                probe_accuracy=learned["probe"],
                kmeans_nmi=learned["nmi"],
            )
            bar.set_postfix(probe=f"{learned['probe']:.3f}", nmi=f"{learned['nmi']:.3f}")
        bar.close()
        self.learned_test = rep.test
        return self.finish(time.perf_counter() - start)

    def record_epoch(
        self,
        epoch: int,
        start: float,
        injected: list[dict[str, Any]],
        info: tuple[list[float], list[float]],
        **results: float,
    ) -> None:
        """Log one epoch (its ``results``, the information plane, costs, times and injected
        faults) to the history and ``metrics.jsonl``, and checkpoint the run."""
        costs = self.network.counters()
        record = {
            "epoch": epoch,
            **results,
            "info_i_xt": info[0],
            "info_i_ty": info[1],
            "physical_queries": costs.physical_queries,
            "device_writes": costs.device_writes,
            "train_seconds": self.train_seconds,
            "wall_seconds": time.perf_counter() - start,
            "faults": injected,
        }
        self.history.append(record)
        self.folder.append_metrics(record)
        self.folder.save_checkpoint(self.checkpoint_state(epoch))

    def inject_faults(self, epoch: int) -> list[dict[str, Any]]:
        """Apply what the fault schedule has due at the start of ``epoch`` (nothing without
        ``--faults``); returns every record of faults injected for that epoch."""
        self.fault_log.extend(self.faults.apply(self.network, epoch, self.config.epochs))
        return [r for r in self.fault_log if r["epoch"] == epoch]

    def checkpoint_state(self, epoch: int) -> dict[str, Any]:
        return {
            "faults": self.faults.state_dict(),
            "config": self.config.resolved(),
            "epoch": epoch,
            "network": self.network.state_dict(),
            "rule": self.rule.state_dict(),
            "eval_counters": self.eval_counters.as_dict(),
            "train_seconds": self.train_seconds,
            "rng": {"shuffle": self.shuffle.get_state(), "torch": torch.get_rng_state()},
        }

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
                "untrained network": unsupervised.embedding_2d(self.untrained_test),
                "trained network": unsupervised.embedding_2d(self.learned_test),
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

    def finish(self, wall_seconds: float) -> dict[str, Any]:
        cfg, last = self.config, self.history[-1]
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
            **(
                {}
                if unsupervised_task
                else {
                    "test_accuracy": last["test_accuracy"],
                    "train_accuracy": last["train_accuracy"],
                }
            ),
            "physical_queries": costs.physical_queries,
            "passes": costs.passes,
            "device_writes": costs.device_writes,
            "programming_pulses": costs.programming_pulses,
            "evaluation_queries": self.eval_counters.physical_queries,
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


def train(config: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train according to ``config`` and return the run summary."""
    return Trainer(config, overwrite=overwrite).train(progress=progress)
