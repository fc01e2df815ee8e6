"""A supervised training run from a :class:`TrainConfig` to a filled run folder."""

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
from pnnkit.experiment.config import TrainConfig, substrate_spec
from pnnkit.experiment.folder import RunFolder
from pnnkit.experiment.plots import plot_information_plane, plot_learning_curves
from pnnkit.learning import (
    BottleneckEstimator,
    LearningRule,
    PIBConfig,
    make_rule,
    rule_config,
)
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
        calibration = self.data.x_train[: config.calibration_samples]
        self.network.calibrate(calibration)  # its queries are a cost of training
        self.rule_config = rule_config(config.method, config.rule_options)
        steps_per_epoch = max(1, math.ceil(len(self.data.y_train) / config.batch_size))
        self.rule = make_rule(
            config.method, self.network, self.rule_config, config.epochs * steps_per_epoch
        )
        self.estimator = (
            self.rule_config.estimator
            if isinstance(self.rule_config, PIBConfig)
            else BottleneckEstimator()
        )
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.eval_counters = Counters()
        #: wall time of the training steps (and deployments), evaluation excluded
        self.train_seconds = 0.0
        self.history: list[dict[str, Any]] = []
        self.folder.create(overwrite=overwrite)
        self.folder.write_json(self.folder.config, config.resolved())

    def train(self, *, progress: bool = True) -> dict[str, Any]:
        """Run all epochs; returns the summary (also written to ``summary.json``)."""
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
            costs = self.network.counters()
            record = {
                "epoch": epoch,
                "loss": sums["loss"],
                "readout_loss": sums["readout_loss"],
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "info_i_xt": i_xt,
                "info_i_ty": i_ty,
                "physical_queries": costs.physical_queries,
                "device_writes": costs.device_writes,
                "train_seconds": self.train_seconds,
                "wall_seconds": time.perf_counter() - start,
            }
            self.history.append(record)
            self.folder.append_metrics(record)
            self.folder.save_checkpoint(self.checkpoint_state(epoch))
            bar.set_postfix(train=f"{train_acc:.3f}", test=f"{test_acc:.3f}")
        bar.close()
        wall = time.perf_counter() - start
        return self.finish(wall)

    def checkpoint_state(self, epoch: int) -> dict[str, Any]:
        return {
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

    def finish(self, wall_seconds: float) -> dict[str, Any]:
        cfg, last = self.config, self.history[-1]
        title = f"{cfg.method} on {cfg.substrate}, {cfg.dataset}, seed {cfg.seed}"
        plot_learning_curves(self.history, self.folder.learning_curves, title)
        plot_information_plane(self.history, self.folder.information_plane, title)
        costs = self.network.counters()
        summary = {
            "method": cfg.method,
            "substrate": cfg.substrate,
            "stage": self._stage_name(),
            "dataset": cfg.dataset,
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "hidden": cfg.hidden,
            "test_accuracy": last["test_accuracy"],
            "train_accuracy": last["train_accuracy"],
            "physical_queries": costs.physical_queries,
            "passes": costs.passes,
            "device_writes": costs.device_writes,
            "programming_pulses": costs.programming_pulses,
            "evaluation_queries": self.eval_counters.physical_queries,
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
        self.folder.write_json(self.folder.summary, summary)
        return summary


def train(config: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train according to ``config`` and return the run summary."""
    return Trainer(config, overwrite=overwrite).train(progress=progress)
