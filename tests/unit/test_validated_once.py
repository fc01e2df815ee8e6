"""A setting is checked once, when its config is built: not again by the run that uses it."""

from __future__ import annotations

import dataclasses

import pytest

from pnnkit.cli import build_parser
from pnnkit.cli.resolve import train_config
from pnnkit.config import Validated
from pnnkit.experiment.builder import build_run
from pnnkit.info import BottleneckEstimator
from pnnkit.physics import CrossbarConfig


def _count_checks(monkeypatch, cls, field, value):
    """Count the ``validate`` calls of ``cls`` instances whose ``field`` is ``value``."""
    calls = []
    original = cls.validate

    def counted(self):
        if getattr(self, field) == value:
            calls.append(1)
        original(self)

    monkeypatch.setattr(cls, "validate", counted)
    return calls


def test_a_set_value_is_validated_once_from_the_command_line_to_the_built_run(
    monkeypatch, tmp_path
):
    alpha = _count_checks(monkeypatch, BottleneckEstimator, "alpha", 1.5)
    levels = _count_checks(monkeypatch, CrossbarConfig, "levels", 32)
    argv = ["train", "--dataset", "iris", "--hidden", "8,8", "--out", str(tmp_path / "run")]
    argv += ["--set", "rule.estimator.alpha=1.5", "--set", "substrate.levels=32"]
    config = train_config(build_parser().parse_args(argv))
    run = build_run(config)
    assert run.rule.config.estimator.alpha == 1.5
    assert all(unit.stage.config().levels == 32 for unit in run.network.units)
    assert len(alpha) == 1 and len(levels) == 1


def test_a_config_built_by_hand_is_validated_as_it_is_constructed():
    from pnnkit.errors import ConfigError
    from pnnkit.experiment import TrainConfig

    with pytest.raises(ConfigError, match="epochs = 0 is invalid"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="alpha"):
        BottleneckEstimator(alpha=-1.0)
    config = TrainConfig(epochs=2)
    with pytest.raises(ConfigError, match="batch_size"):
        dataclasses.replace(config, batch_size=1)
    assert all(
        issubclass(cls, Validated) for cls in (TrainConfig, BottleneckEstimator, CrossbarConfig)
    )
