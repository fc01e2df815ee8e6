"""The substrate protocol, the ideal layer and the memristive crossbar."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch

from pnnkit.errors import ConfigError, MeasurementError, ShapeError
from pnnkit.physics import (
    SUBSTRATES,
    Crossbar,
    CrossbarConfig,
    IdealLinear,
    linear_twin,
    make_substrate,
)
from pnnkit.physics.protocol import all_finite

#: the registered linear stages (parameters ``(out, in + 1)``)
LINEAR_STAGES = sorted(name for name, cls in SUBSTRATES.items() if cls.linear)

QUIET = {"read_noise": 0.0, "c2c_noise": 0.0, "dac_bits": 24, "adc_bits": 24, "adc_range": 50.0}


def test_ideal_measure_is_the_exact_linear_map_and_counts_queries():
    layer = IdealLinear(5, 3, seed=1)
    x = torch.randn(7, 5)
    w = layer.read_parameters()
    expected = x @ w[:, :-1].T + w[:, -1]
    torch.testing.assert_close(layer.measure(x), expected)
    assert layer.counters.physical_queries == 7
    assert layer.counters.passes == 1
    layer.measure(x[:2])
    assert layer.counters.physical_queries == 9


def test_ideal_program_lands_exactly():
    layer = IdealLinear(4, 2)
    before = layer.read_parameters()
    delta = torch.randn(2, 5)
    layer.program(delta)
    torch.testing.assert_close(layer.read_parameters(), before + delta)
    target = torch.randn(2, 5)
    assert layer.program_to(target) == pytest.approx(0.0, abs=1e-6)
    torch.testing.assert_close(layer.read_parameters(), target)


@pytest.mark.parametrize("name", LINEAR_STAGES)
def test_measurement_never_carries_autograd(name):
    substrate = make_substrate(name, 6, 4)
    x = torch.randn(3, 6, requires_grad=True)
    out = substrate.measure(x)
    assert not out.requires_grad
    assert out.grad_fn is None


@pytest.mark.parametrize("name", LINEAR_STAGES)
def test_bad_inputs_get_named_errors(name):
    substrate = make_substrate(name, 6, 4)
    with pytest.raises(ShapeError, match=r"\(n, 6\).*\(3, 5\)"):
        substrate.measure(torch.randn(3, 5))
    with pytest.raises(MeasurementError, match="NaN"):
        substrate.measure(torch.full((2, 6), float("nan")))
    with pytest.raises(ShapeError, match=r"\(4, 7\)"):
        substrate.program(torch.zeros(4, 6))
    with pytest.raises(MeasurementError, match="NaN"):
        substrate.program(torch.full((4, 7), float("inf")))


def test_make_substrate_rejects_unknown_names_and_fields():
    with pytest.raises(ConfigError, match="unknown substrate 'laser'"):
        make_substrate("laser", 2, 2)
    with pytest.raises(ConfigError, match="unknown CrossbarConfig field"):
        make_substrate("crossbar", 2, 2, config={"colour": 1})
    with pytest.raises(ConfigError, match="levels"):
        make_substrate("crossbar", 2, 2, config={"levels": "many"})
    with pytest.raises(ConfigError, match=r"CrossbarConfig.g_max = 0.5 is invalid"):
        make_substrate("crossbar", 2, 2, config={"g_max": 0.5})
    # strings from a command line are coerced to the field's type
    xbar = make_substrate("crossbar", 2, 2, config={"levels": "128", "read_noise": "0"})
    assert xbar.config().levels == 128


def test_crossbar_config_round_trip():
    config = CrossbarConfig(levels=100, stuck_at_min_fraction=0.1)
    assert CrossbarConfig.from_dict(config.to_dict()) == config


def test_quiet_crossbar_measures_its_effective_weights():
    xbar = Crossbar(8, 5, seed=3, config=CrossbarConfig(**QUIET))
    x = torch.randn(10, 8)
    torch.testing.assert_close(
        xbar.measure(x), linear_twin(x, xbar.effective_weights()), rtol=1e-4, atol=1e-4
    )


def test_read_noise_has_the_device_level_statistics():
    """Output noise std = read_noise * gain * sqrt(sum_i v_i^2 (G+_i^2 + G-_i^2)) * input scale."""
    config = CrossbarConfig(**{**QUIET, "read_noise": 0.05})
    xbar = Crossbar(16, 3, seed=0, config=config)
    x = torch.rand(1, 16) * 0.5  # max |x| < 1: the bias line sets the abs-max scale to 1
    samples = torch.cat([xbar.measure(x) for _ in range(4000)])
    v = torch.cat([x, torch.ones(1, 1)], dim=1)
    g = xbar.conductance
    expected = 0.05 * xbar.gain * ((v**2) @ (g[0] ** 2 + g[1] ** 2).T).sqrt()
    torch.testing.assert_close(samples.std(dim=0), expected[0], rtol=0.08, atol=0)
    torch.testing.assert_close(
        samples.mean(dim=0), linear_twin(x, xbar.effective_weights())[0], rtol=0, atol=0.01
    )


def test_adc_clips_at_its_range():
    config = CrossbarConfig(**{**QUIET, "adc_range": 0.01})
    xbar = Crossbar(4, 3, seed=0, config=config)
    out = xbar.measure(torch.ones(5, 4))  # input scale is 1 here (max |v| = 1)
    limit = 0.01 * 5**0.5 * xbar.window * xbar.gain
    assert out.abs().max() <= limit * (1 + 1e-5)


def test_dac_quantises_inputs():
    config = CrossbarConfig(**{**QUIET, "dac_bits": 2})  # levels -1, 0, +1 of the abs-max
    xbar = Crossbar(1, 1, seed=0, config=config)
    w = xbar.effective_weights()
    out = xbar.measure(torch.tensor([[0.2], [0.7]]))  # scale 1 (bias line): 0.2 -> 0, 0.7 -> 1
    torch.testing.assert_close(out[:, 0], torch.stack([w[0, 1], w[0, 0] + w[0, 1]]))


def test_small_updates_land_on_average_through_stochastic_pulses():
    config = CrossbarConfig(d2d_step=0.0, d2d_bounds=0.0, init_spread=0.0)  # all at mid-window
    xbar = Crossbar(30, 20, seed=0, config=config)
    before = xbar.effective_weights()
    # a tenth of a pulse per device: only stochastic rounding can deliver it on average
    request = 0.1 * 2 * xbar.gain * xbar.window / config.levels
    xbar.program(torch.full((20, 31), request))
    landed = xbar.effective_weights() - before
    assert 0.06 < xbar.counters.device_writes / (2 * 20 * 31) < 0.14
    assert landed.mean() == pytest.approx(request, rel=0.15)
    assert not torch.allclose(landed, torch.full_like(landed, request))  # never the float write


def test_soft_bounds_saturate_and_conductance_stays_in_window():
    xbar = Crossbar(6, 4, seed=1)
    for _ in range(40):
        xbar.program(torch.full((4, 7), 10.0))  # far more than max_pulses each time
    g = xbar.conductance
    assert (g >= xbar.g_lo - 1e-6).all() and (g <= xbar.g_hi + 1e-6).all()
    # G+ driven up, G- down: both close to (but, soft-bounded, not beyond) their bounds
    assert ((xbar.g_hi[0] - g[0]) / (xbar.g_hi[0] - xbar.g_lo[0])).max() < 0.05
    assert ((g[1] - xbar.g_lo[1]) / (xbar.g_hi[1] - xbar.g_lo[1])).max() < 0.05
    # every pulse train was capped: 40 updates x 2 devices x 4 x 7 pairs x max_pulses
    assert xbar.counters.programming_pulses == 40 * 2 * 4 * 7 * xbar.config().max_pulses


def test_step_shrinks_towards_the_bound():
    config = CrossbarConfig(c2c_noise=0.0, d2d_step=0.0, d2d_bounds=0.0, init_spread=0.0)
    xbar = Crossbar(1, 1, seed=0, config=config)
    one_pulse = 2 * xbar.gain * xbar.window / config.levels
    steps = []
    for _ in range(30):
        before = xbar.effective_weights()[0, 0]
        xbar.program(torch.tensor([[one_pulse, 0.0]]))
        steps.append(float(xbar.effective_weights()[0, 0] - before))
    assert all(a > b > 0 for a, b in itertools.pairwise(steps))


def test_stuck_devices_never_move():
    config = CrossbarConfig(stuck_at_min_fraction=0.2, stuck_at_max_fraction=0.2)
    xbar = Crossbar(20, 10, seed=2, config=config)
    frac = (xbar.stuck_min | xbar.stuck_max).float().mean()
    assert 0.3 < frac < 0.5
    assert not (xbar.stuck_min & xbar.stuck_max).any()
    for _ in range(5):
        xbar.program(torch.randn(10, 21))
    torch.testing.assert_close(xbar.conductance[xbar.stuck_min], xbar.g_lo[xbar.stuck_min])
    torch.testing.assert_close(xbar.conductance[xbar.stuck_max], xbar.g_hi[xbar.stuck_max])
    xbar.inject_stuck_faults(0.1, 0.0)
    assert (xbar.stuck_min | xbar.stuck_max).float().mean() > frac


def test_write_verify_converges_towards_target():
    xbar = Crossbar(16, 8, seed=0)
    target = 0.3 * xbar.effective_weights().abs().max() * torch.randn(8, 17).clamp(-2, 2) / 2
    start = float((xbar.effective_weights() - target).pow(2).mean().sqrt())
    xbar.program_to(target, rounds=10)
    final = float((xbar.effective_weights() - target).pow(2).mean().sqrt())
    assert final < 0.25 * start


def test_state_round_trip_reproduces_the_future():
    a = Crossbar(5, 4, seed=7)
    a.program(torch.randn(4, 6) * 0.1)
    state = a.state_dict()
    b = Crossbar(5, 4, seed=99)
    b.load_state_dict(state)
    x = torch.randn(3, 5)
    torch.testing.assert_close(a.measure(x), b.measure(x))
    delta = torch.randn(4, 6) * 0.1
    a.program(delta)
    b.program(delta)
    torch.testing.assert_close(a.conductance, b.conductance)
    assert a.counters == b.counters
    with pytest.raises(ConfigError, match="does not match"):
        Crossbar(5, 3).load_state_dict(state)


def test_same_seed_same_hardware_different_seed_different_hardware():
    assert torch.equal(Crossbar(4, 4, seed=1).conductance, Crossbar(4, 4, seed=1).conductance)
    assert not torch.equal(Crossbar(4, 4, seed=1).conductance, Crossbar(4, 4, seed=2).conductance)


def test_step_asymmetry_makes_potentiation_and_depression_differ():
    base = {"c2c_noise": 0.0, "d2d_step": 0.0, "d2d_bounds": 0.0, "init_spread": 0.0}
    moved = {}
    for a in (0.0, 0.5):
        xbar = Crossbar(1, 1, seed=0, config=CrossbarConfig(**base, step_asymmetry=a))
        pulse = 2 * xbar.gain * xbar.window / xbar.config().levels
        g0 = xbar.conductance.clone()
        xbar.program(torch.tensor([[pulse, 0.0]]))  # G+ potentiated, G- depressed, one pulse each
        moved[a] = (xbar.conductance - g0)[:, 0, 0]
    up, down = moved[0.5]
    assert up == pytest.approx(1.5 * float(moved[0.0][0]), rel=1e-4)
    assert down == pytest.approx(0.5 * float(moved[0.0][1]), rel=1e-4)


def test_adc_quantises_outputs_to_its_levels():
    config = CrossbarConfig(**{**QUIET, "adc_bits": 3, "adc_range": 1.0})  # 7 levels
    xbar = Crossbar(6, 50, seed=0, config=config)
    x = torch.rand(40, 6) - 1
    x[:, 0] = -2.0  # abs-max input scale 2 in every row, so every row has the same levels
    step = 7**0.5 / 3 * xbar.window * xbar.gain * 2  # ADC limit / (2^(bits-1) - 1) * scale
    out = xbar.measure(x)
    levels = torch.unique(torch.round(out / step, decimals=4))
    assert len(levels) <= 7
    torch.testing.assert_close(levels, torch.round(levels))


def test_device_windows_only_shrink_by_the_configured_spread():
    xbar = Crossbar(40, 40, seed=0, config=CrossbarConfig(d2d_bounds=0.1))
    cfg = xbar.config()
    assert (xbar.g_lo >= cfg.g_min).all() and (xbar.g_hi <= cfg.g_max).all()
    shrink = 1 - ((xbar.g_hi - xbar.g_lo) / (cfg.g_max - cfg.g_min)).mean()
    assert 0.13 < float(shrink) < 0.19  # 2 * 0.1 * E|N(0,1)| = 0.16
    flat = Crossbar(4, 4, config=CrossbarConfig(d2d_bounds=0.0))
    assert torch.all(flat.g_lo == cfg.g_min) and torch.all(flat.g_hi == cfg.g_max)


def test_program_to_reports_the_error_of_its_final_read_back():
    xbar = Crossbar(8, 4, seed=0, config=CrossbarConfig(read_noise=0.0))
    target = torch.zeros(4, 9)
    error = xbar.program_to(target, rounds=1)
    assert error == pytest.approx(float(xbar.effective_weights().pow(2).mean().sqrt()), rel=1e-5)


def test_loading_state_from_other_physics_is_refused():
    state = Crossbar(3, 2, config=CrossbarConfig(levels=64)).state_dict()
    with pytest.raises(ConfigError, match=r"levels = 64 \(here 32\)"):
        Crossbar(3, 2, config=CrossbarConfig(levels=32)).load_state_dict(state)


def test_all_finite_finds_every_bad_value_and_survives_an_overflowing_sum():
    x = torch.randn(40, 30)
    assert all_finite(x) and all_finite(torch.empty(0, 3))
    for bad in (float("nan"), float("inf"), float("-inf")):
        y = x.clone()
        y[17, 4] = bad
        assert not all_finite(y)
    huge = torch.full((4, 4), 3e38)  # finite entries whose float32 sum overflows
    assert all_finite(huge)
    mixed = torch.tensor([float("inf"), float("-inf")])  # a sum of NaN from two infinities
    assert not all_finite(mixed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "requires_grad to a scalar" warning
        assert all_finite(x.clone().requires_grad_(True))
