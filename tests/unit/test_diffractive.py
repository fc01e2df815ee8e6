"""The diffractive-stack substrate: angular-spectrum propagation, phase masks, detectors."""

from __future__ import annotations

import math

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.physics.diffractive import (
    DiffractiveConfig,
    DiffractiveStack,
    propagate,
    transfer_function,
)

QUIET = DiffractiveConfig(phase_noise=0.0, detector_noise=0.0, input_bits=24)
TINY = DiffractiveConfig(grid=6, layers=2, phase_noise=0.0, detector_noise=0.0)
LAMBDA, PITCH = 0.75e-3, 0.4e-3
WIDE_PITCH = 0.6e-3  # > lambda / sqrt(2): every sampled spatial frequency propagates


def _field(size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.complex(
        torch.randn(2, size, size, generator=g, dtype=torch.float64),
        torch.randn(2, size, size, generator=g, dtype=torch.float64),
    )


def _power(field: torch.Tensor) -> torch.Tensor:
    return field.abs().pow(2).sum(dim=(-2, -1))


def test_propagation_conserves_power_of_propagating_fields():
    size = 32
    h = transfer_function(size, PITCH, LAMBDA, 5e-3, band_limit=False)
    # Keep only propagating components of a random field (default pitch has evanescent corners).
    propagating = transfer_function(size, PITCH, LAMBDA, 0.0, band_limit=False).abs()
    assert 0 < float(propagating.mean()) < 1
    field = torch.fft.ifft2(torch.fft.fft2(_field(size)) * propagating)
    out = propagate(field, h)
    torch.testing.assert_close(_power(out), _power(field), rtol=1e-10, atol=0)
    assert not torch.allclose(out, field, atol=1e-3)
    # A field with evanescent content loses exactly that part.
    raw = _field(size, 1)
    assert bool((_power(propagate(raw, h)) < _power(raw) * 0.999).all())


def test_propagation_over_zero_distance_is_identity():
    field = _field(16)
    for band_limit in (False, True):
        h = transfer_function(16, WIDE_PITCH, LAMBDA, 0.0, band_limit=band_limit)
        torch.testing.assert_close(propagate(field, h), field)


def test_two_propagations_compose():
    field = _field(24, 2)
    d1, d2 = 3e-3, 7e-3

    def h(d: float) -> torch.Tensor:
        return transfer_function(24, PITCH, LAMBDA, d, band_limit=False)

    twice = propagate(propagate(field, h(d1)), h(d2))
    torch.testing.assert_close(twice, propagate(field, h(d1 + d2)))
    assert not torch.allclose(twice, propagate(field, h(d1 + 2 * d2)), atol=1e-3)


def test_band_limit_removes_only_high_frequencies():
    size = 56
    free = transfer_function(size, PITCH, LAMBDA, 30e-3, band_limit=False).abs()
    limited = transfer_function(size, PITCH, LAMBDA, 30e-3).abs()
    assert float(limited.sum()) < float(free.sum())
    assert float(limited[0, 0]) == 1.0  # the plane wave always passes
    assert bool((limited <= free).all())


def test_mean_output_is_about_one_and_shapes():
    stack = DiffractiveStack(64, 256, seed=0)
    out = stack.measure(torch.randn(100, 64))
    assert out.shape == (100, 256) and out.dtype == torch.float32
    assert 0.5 < float(out.mean()) < 2.0
    assert stack.parameter_shape() == (2, 28, 28)
    phases = stack.read_parameters()
    assert float(phases.min()) >= 0 and float(phases.max()) < 2 * math.pi
    assert float(phases.std()) > 1.0  # spread over the circle, not constant


def test_noise_free_measurement_equals_the_twin():
    stack = DiffractiveStack(16, 9, seed=1, config=QUIET)
    x = torch.randn(20, 16) * 4
    expected = stack.twin()(x, stack.read_parameters())
    torch.testing.assert_close(stack.measure(x), expected, rtol=1e-4, atol=1e-5)


def test_noise_is_present_by_default_and_small():
    stack = DiffractiveStack(16, 9, seed=1)
    x = torch.randn(1, 16).repeat(200, 1)
    out = stack.measure(x)
    clean = stack.twin()(x[:1], stack.read_parameters())
    spread = out.std(dim=0)
    assert float(spread.min()) > 0.005  # detector noise floor 1% of the mean level
    assert float((out.mean(dim=0) - clean[0]).abs().max()) < 0.05


def test_program_wraps_quantises_and_counts_writes():
    stack = DiffractiveStack(4, 4, seed=0, config=TINY)
    before = stack.read_parameters()
    stack.program(torch.zeros(stack.parameter_shape()))
    assert stack.counters.device_writes == 0
    torch.testing.assert_close(stack.read_parameters(), before, rtol=0, atol=0)
    delta = torch.zeros(stack.parameter_shape())
    delta[0, 1, 2] = 7.0
    delta[1, 3, 3] = -before[1, 3, 3] - 0.5
    stack.program(delta)
    after = stack.read_parameters()
    assert stack.counters.device_writes == 2
    assert stack.counters.programming_pulses == 2
    assert float(after.min()) >= 0 and float(after.max()) < 2 * math.pi
    step = 2 * math.pi / 256
    expected = math.remainder(float(before[0, 1, 2]) + 7.0, 2 * math.pi) % (2 * math.pi)
    assert float(after[0, 1, 2]) == pytest.approx(expected, abs=step / 2 + 1e-6)
    assert float(after[1, 3, 3]) == pytest.approx(2 * math.pi - 0.5, abs=step / 2 + 1e-6)
    levels = after / step
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)
    # A request smaller than half a level changes nothing and writes nothing.
    stack.program(torch.full(stack.parameter_shape(), step / 4))
    torch.testing.assert_close(stack.read_parameters(), after, rtol=0, atol=0)
    assert stack.counters.device_writes == 2


def test_twin_gradients_match_finite_differences():
    stack = DiffractiveStack(4, 4, seed=3, config=DiffractiveConfig(grid=3, layers=1))
    twin = stack.twin()
    x = torch.tensor([[0.2, -1.0, 0.7, 0.4], [1.5, 0.3, -0.2, 0.9]], dtype=torch.float64)
    params = stack.read_parameters().double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: twin(x, p), (params,))
    xg = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: twin(v, params.detach()), (xg,))
    grad = torch.autograd.grad(twin(x, params).sum(), params)[0]
    assert torch.isfinite(grad).all() and float(grad.abs().max()) > 0


def test_state_round_trip_reproduces_the_next_measurement():
    a = DiffractiveStack(9, 4, seed=0, config=TINY)
    x = torch.randn(5, 9)
    a.measure(x)
    a.program(torch.full(a.parameter_shape(), 0.3))
    state = a.state_dict()
    expected = a.measure(x)
    b = DiffractiveStack(9, 4, seed=11, config=TINY)
    b.load_state_dict(state)
    torch.testing.assert_close(b.measure(x), expected, rtol=0, atol=0)
    torch.testing.assert_close(b.read_parameters(), a.read_parameters())


def test_detector_layout():
    many = DiffractiveStack(64, 256, seed=0)
    det = many._detectors
    assert det.shape == (256, 28 * 28)
    torch.testing.assert_close(det.sum(dim=1), torch.ones(256, dtype=det.dtype))
    assert float(det.sum(dim=0).max()) == 1.0  # disjoint
    few = DiffractiveStack(64, 10, seed=0)
    torch.testing.assert_close(few._detectors.sum(dim=1), torch.full((10,), 9.0, dtype=det.dtype))
    assert float(few._detectors.sum(dim=0).max()) == 1.0
    # Inputs fill a centred square: 5 values on the 3x3 square of a 6x6 grid, row-major.
    odd = DiffractiveStack(5, 4, config=TINY)
    assert odd._input_index.tolist() == [6 * 1 + 1, 6 * 1 + 2, 6 * 1 + 3, 6 * 2 + 1, 6 * 2 + 2]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grid", 1),
        ("layers", 0),
        ("wavelength", 0.0),
        ("pixel_pitch", -1e-3),
        ("distance", -1.0),
        ("padding", 0),
        ("phase_bits", 0),
        ("input_bits", 30),
        ("phase_noise", -0.1),
        ("detector_size", 0),
        ("detector_noise", -0.01),
    ],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"DiffractiveConfig.{field}"):
        DiffractiveConfig(**{field: value}).validate()


def test_too_many_features_for_the_grid():
    with pytest.raises(ConfigError, match=r"grid.*in_features = 50"):
        DiffractiveStack(50, 4, config=TINY)
    with pytest.raises(ConfigError, match=r"grid.*out_features = 37"):
        DiffractiveStack(4, 37, config=TINY)
