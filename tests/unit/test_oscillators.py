"""The coupled Duffing oscillator substrate: dynamics, integrator, programming, twin and state."""

from __future__ import annotations

import math

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.physics.oscillators import OscillatorConfig, OscillatorNetwork, rk4_step
from tests.fixtures.substrates import assert_twin_exact_when_quiet_and_close_when_noisy

QUIET = {"drive_noise": 0.0, "readout_noise": 0.0}


def network(n_in: int, n_out: int, seed: int = 0, **overrides: float) -> OscillatorNetwork:
    return OscillatorNetwork(n_in, n_out, seed=seed, config=OscillatorConfig(**overrides))


@pytest.mark.parametrize("detuning", [0.0, 0.2])
def test_linear_oscillator_reaches_the_closed_form_steady_state_amplitude(detuning):
    # 64 steps per period of Omega = 1; the last quarter (5 periods) is averaged.
    cfg = {**QUIET, "duffing": 0.0, "coupling": 0.0, "dt": 2 * math.pi / 64, "steps": 1280}
    osc = network(1, 1, seed=3, average_fraction=0.25, **cfg)
    delta = torch.zeros(2, 1)
    delta[1, 0] = detuning
    osc.program(delta)
    b, d = osc.read_parameters()[:, 0].tolist()
    assert d == pytest.approx(detuning, abs=1e-3)
    force = osc.config().drive_amplitude * (float(osc.input_coupling[0, 0]) + b)
    big_omega, omega, gamma = 1.0 + d, float(osc.omega[0]), osc.config().damping
    expected = abs(force) / math.sqrt((omega**2 - big_omega**2) ** 2 + (gamma * big_omega) ** 2)
    power = float(osc.measure(torch.ones(1, 1))) * osc.reference_power
    assert math.sqrt(2 * power) == pytest.approx(expected, rel=0.01)


def test_duffing_term_makes_the_response_nonlinear_in_the_drive():
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))

    def power(duffing: float, amplitude: float) -> torch.Tensor:
        osc = network(3, 6, seed=2, duffing=duffing, drive_amplitude=amplitude, **QUIET)
        return osc.measure(x) * osc.reference_power

    linear = power(0.0, 0.8) / power(0.0, 0.4)
    torch.testing.assert_close(linear, torch.full_like(linear, 4.0), rtol=1e-3, atol=0)
    duffing = power(1.0, 0.8) / power(1.0, 0.4)
    assert float((duffing - 4.0).abs().max()) > 0.5


def test_inputs_are_scaled_per_sample_so_only_their_pattern_matters():
    osc = network(5, 4, seed=4, **QUIET)
    x = torch.randn(6, 5)
    torch.testing.assert_close(osc.measure(3 * x), osc.measure(x), rtol=1e-5, atol=1e-6)
    assert float((osc.measure(x) - osc.measure(-x)).abs().max()) > 1e-3  # offsets break symmetry


def test_rk4_global_error_shrinks_sixteen_fold_when_dt_halves():
    def run(dt: float, total: float, accel) -> float:
        steps = round(total / dt)
        q, v = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
        for k in range(steps):
            t = k * dt
            drives = tuple(torch.tensor([math.cos(s)]) for s in (t, t + dt / 2, t + dt))
            q, v = rk4_step(q, v, dt, accel, drives)
        return float(q)

    harmonic = lambda q, v, d: -q  # noqa: E731  (q = cos t)
    errors = [abs(run(dt, 4.0, harmonic) - math.cos(4.0)) for dt in (0.2, 0.1)]
    assert 13 < errors[0] / errors[1] < 19
    duffing = lambda q, v, d: 0.5 * d - 0.1 * v - q - q**3  # noqa: E731
    reference = run(0.2 / 32, 4.0, duffing)
    errors = [abs(run(dt, 4.0, duffing) - reference) for dt in (0.2, 0.1)]
    assert 13 < errors[0] / errors[1] < 19


def test_measure_equals_twin_without_noise_and_is_close_with_noise():
    assert_twin_exact_when_quiet_and_close_when_noisy(
        network(4, 5, seed=5, **QUIET), network(4, 5, seed=5), torch.randn(7, 4)
    )


def test_twin_gradients_are_finite_and_match_finite_differences():
    osc = network(3, 4, seed=6, steps=30)
    model = osc.twin()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    params = osc.read_parameters().double().requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x, params))
    full = network(8, 16, seed=6)
    x = torch.randn(5, 8, requires_grad=True)
    params = full.read_parameters().requires_grad_(True)
    full.twin()(x, params).sum().backward()
    for grad in (x.grad, params.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_program_clips_quantises_and_counts_writes():
    osc = network(2, 3, seed=7)
    cfg = osc.config()
    before = osc.read_parameters()
    delta = torch.zeros(2, 3)
    delta[0, 0] = 10.0  # beyond the offset range: clipped
    delta[1, 1] = -10.0  # beyond the detuning range: clipped
    delta[1, 2] = 1e-6  # below half a DAC step: does not land
    osc.program(delta)
    after = osc.read_parameters()
    assert float(after[0, 0]) == pytest.approx(cfg.offset_limit)
    assert float(after[1, 1]) == pytest.approx(-cfg.detuning_limit)
    assert float(after[1, 2]) == float(before[1, 2])
    grid = cfg.offset_limit / (2 ** (cfg.param_bits - 1) - 1)
    torch.testing.assert_close(after[0] / grid, torch.round(after[0] / grid), atol=1e-3, rtol=0)
    assert osc.counters.device_writes == 2
    assert osc.counters.programming_pulses == 2


def test_state_round_trip_continues_exactly():
    a = network(3, 5, seed=8)
    x = torch.randn(4, 3)
    a.measure(x)
    a.program(torch.full(a.parameter_shape(), 0.05))
    b = network(3, 5, seed=99)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.read_parameters(), a.read_parameters())
    torch.testing.assert_close(b.measure(x), a.measure(x), rtol=0, atol=0)
    assert b.counters == a.counters


def test_outputs_are_order_one_for_standardised_and_relu_inputs():
    osc = network(16, 32, seed=9)
    x = torch.randn(64, 16)
    for inputs in (x, torch.relu(x)):
        out = osc.measure(inputs)
        assert out.shape == (64, 32)
        assert 0.1 < float(out.mean()) < 3.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("damping", 0.0), ("steps", 0), ("average_fraction", 1.5), ("detuning_limit", 1.0)],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"OscillatorConfig\.{field} = "):
        OscillatorNetwork(2, 2, config=OscillatorConfig(**{field: value}))
    with pytest.raises(ConfigError, match=field):
        OscillatorConfig.from_dict({field: value})
