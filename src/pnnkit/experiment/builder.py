"""Everything a training run is made of, built from its :class:`TrainConfig` in one place.

The build is deterministic (the global torch generator is seeded first, and every part draws
from its own seeded generator), so a resumed run rebuilds exactly what the run it continues
started from, then loads the state of its checkpoint over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from pnnkit.data import Dataset, load_dataset
from pnnkit.experiment.config import TrainConfig
from pnnkit.faults import FaultSchedule
from pnnkit.info import BottleneckEstimator
from pnnkit.learning import LearningRule, PIBConfig
from pnnkit.learning.multiview import MultiViewConfig
from pnnkit.network import PhysicalNetwork
from pnnkit.tasks import task_class
from pnnkit.tasks.base import Task


@dataclass
class RunParts:
    """Data, network, fault schedule, task, rule and the information-plane estimator of one
    run, and what the fault schedule injected before training (``fault_log``)."""

    data: Dataset
    network: PhysicalNetwork
    faults: FaultSchedule
    task: Task
    rule: LearningRule
    estimator: BottleneckEstimator
    fault_log: list[dict[str, Any]] = field(default_factory=list)


def build_run(config: TrainConfig, *, new: bool = True) -> RunParts:
    """The parts of the run ``config`` describes. A ``new`` run also gets the faults present
    from the start injected before the conditioning is calibrated, as they would be on the
    bench (the calibration's queries are a cost of training); a resumed run (``new=False``)
    loads both from its checkpoint instead."""
    torch.manual_seed(config.seed)
    data = load_dataset(
        config.dataset,
        test_size=config.test_size,
        seed=config.seed,
        label_column=config.label_column,
        val_fraction=config.validation_fraction(),
    )
    network = config.build_network(data.num_features, data.num_classes)
    faults = FaultSchedule(config.faults or None, seed=config.seed)
    faults.check(network)
    fault_log: list[dict[str, Any]] = []
    if new:
        fault_log.extend(faults.apply(network, 1, config.epochs))
        network.calibrate(data.x_train[: config.calibration_samples])
    rule_config = config.rule_config()
    steps_per_epoch = max(1, math.ceil(len(data.y_train) / config.batch_size))
    task = task_class(config.task)(config, data)
    rule = task.make_rule(network, rule_config, config.epochs * steps_per_epoch)
    estimator = (
        rule_config.estimator
        if isinstance(rule_config, PIBConfig | MultiViewConfig)
        else BottleneckEstimator()
    )
    return RunParts(data, network, faults, task, rule, estimator, fault_log)
