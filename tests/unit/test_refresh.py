"""The weight refresh of local rules: write-and-verify towards the intended weights."""

from __future__ import annotations

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.experiment import TrainConfig
from pnnkit.faults import FaultSchedule
from pnnkit.learning import RULES, make_rule, rule_config
from pnnkit.learning.base import LocalStageConfig
from pnnkit.learning.refresh import WeightRefresh
from pnnkit.network import PhysicalNetwork
from pnnkit.physics.crossbar import Crossbar


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(64, 8, generator=gen), torch.randint(0, 3, (64,), generator=gen)


def network(substrate: str = "crossbar", seed: int = 0) -> PhysicalNetwork:
    return PhysicalNetwork.build(substrate, 8, [16, 16], 3, seed=seed)


def rms(t: torch.Tensor) -> float:
    return float(t.pow(2).mean().sqrt())


def weight_error(net: PhysicalNetwork, reference: list[torch.Tensor]) -> list[float]:
    """rms of (weights the devices hold - reference), per unit, without read noise."""
    return [
        rms(unit.stage.effective_weights() - ref)  # type: ignore[union-attr]
        for unit, ref in zip(net.units, reference, strict=True)
    ]


@pytest.mark.parametrize(
    "method", sorted(m for m, (_, c) in RULES.items() if issubclass(c, LocalStageConfig))
)
def test_off_by_default_it_reads_and_writes_nothing(method: str) -> None:
    net = network()
    rule = make_rule(method, net, rule_config(method), 10)
    x, y = batch()
    rule.train_step(x, y)
    assert rule.refresher.reference is None and not rule.refresher.active
    assert net.counters().parameter_reads == 0


def test_the_reference_tracks_every_requested_change_exactly_on_an_exact_stage() -> None:
    net = network("ideal")
    rule = make_rule("pib", net, rule_config("pib", {"refresh": {"every": 2}}), 10)
    for step in range(5):
        rule.train_step(*batch(step))
    # ideal programming lands exactly, so the reference is what the stage holds, and every
    # refresh found nothing to correct
    for unit, ref in zip(net.units, rule.refresher.reference, strict=True):
        torch.testing.assert_close(unit.stage.read_parameters(), ref, atol=1e-6, rtol=0)
    writes_without_refresh = network("ideal")
    plain = make_rule("pib", writes_without_refresh, rule_config("pib"), 10)
    for step in range(5):
        plain.train_step(*batch(step))
    assert net.counters().device_writes == writes_without_refresh.counters().device_writes


def test_a_refresh_programs_the_healthy_partners_of_stuck_devices() -> None:
    net = network()
    rule = make_rule("pib", net, rule_config("pib", {"refresh": {"every": 1}}), 10)
    x, y = batch()
    rule.train_step(x, y)  # reads the starting weights, trains one step
    FaultSchedule("stuck:0.3", seed=3).apply(net, 1, 10)
    intended = [t.clone() for t in rule.refresher.reference]
    broken = weight_error(net, intended)
    rule.refresher.refresh()
    repaired = weight_error(net, intended)
    assert all(b > 0.02 for b in broken)
    assert all(r < 0.75 * b for r, b in zip(repaired, broken, strict=True))  # 0.66 measured
    # what could not be repaired was rebased on what the devices hold
    held = rule.refresher.reference
    rebased = [not torch.equal(a, b) for a, b in zip(intended, held, strict=True)]
    assert any(rebased)


def test_without_faults_a_refresh_leaves_small_programming_errors_alone() -> None:
    net = network()
    rule = make_rule("pib", net, rule_config("pib", {"refresh": {"every": 3}}), 30)
    for step in range(3):
        rule.train_step(*batch(step))
    before = net.counters().device_writes
    rule.refresher.refresh()
    rewritten = net.counters().device_writes - before
    devices = sum(
        2 * unit.stage.parameter_shape()[0] * unit.stage.parameter_shape()[1] for unit in net.units
    )  # type: ignore[union-attr]
    assert rewritten < 0.05 * devices


def test_refresh_is_model_free_and_resumes_exactly(monkeypatch) -> None:
    monkeypatch.setattr(Crossbar, "twin", lambda self: pytest.fail("the refresh used a twin"))
    cfg = rule_config("pib", {"refresh": {"every": 2}})
    net_a, net_b = network(seed=1), network(seed=1)
    a, b = make_rule("pib", net_a, cfg, 10), make_rule("pib", net_b, cfg, 10)
    for step in range(3):
        a.train_step(*batch(step))
    b.load_state_dict(a.state_dict())
    net_b.load_state_dict(net_a.state_dict())
    for step in range(3, 6):
        a.train_step(*batch(step))
        b.train_step(*batch(step))
    for ra, rb in zip(a.refresher.reference, b.refresher.reference, strict=True):
        torch.testing.assert_close(ra, rb, atol=0, rtol=0)
    for ua, ub in zip(net_a.units, net_b.units, strict=True):
        torch.testing.assert_close(ua.stage.effective_weights(), ub.stage.effective_weights())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every": -1}, r"refresh\.every = -1"),
        ({"reads": 1}, r"refresh\.reads = 1"),
        ({"tolerance": -0.1}, r"refresh\.tolerance"),
    ],
)
def test_bad_refresh_settings_name_the_field(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WeightRefresh(**options).validate()
    with pytest.raises(ConfigError, match=message):
        TrainConfig().with_overrides([f"rule.refresh.{k}={v}" for k, v in options.items()])


def test_the_setting_reaches_the_rule_from_the_command_line_form() -> None:
    config = TrainConfig().with_overrides(["rule.refresh.every=6"])
    assert config.rule_config().refresh.every == 6  # type: ignore[attr-defined]
    assert config.resolved()["rule_options"]["refresh"]["every"] == 6


def test_a_step_skipped_after_its_refresh_does_not_refresh_again() -> None:
    from pnnkit.errors import BadMeasurementError

    net = network()
    rule = make_rule("pib", net, rule_config("pib", {"refresh": {"every": 1}}), 10)
    rule.train_step(*batch(0))
    FaultSchedule("stuck:0.3", seed=3).apply(net, 1, 10)
    stage = net.units[1].stage
    honest = stage._measure
    stage._measure = lambda x: honest(x) * float("nan")  # type: ignore[method-assign]
    reads = net.counters().parameter_reads
    with pytest.raises(BadMeasurementError):
        rule.train_step(*batch(1))
    assert net.counters().parameter_reads > reads  # the refresh ran before the measurements
    reads = net.counters().parameter_reads
    with pytest.raises(BadMeasurementError):
        rule.train_step(*batch(1))
    assert net.counters().parameter_reads == reads  # ... and does not run again on the retry
    stage._measure = honest  # type: ignore[method-assign]
    rule.train_step(*batch(1))
    assert rule.step_count == 2 and rule.refresher.refreshed_at == 1
