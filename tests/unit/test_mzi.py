"""The Mach-Zehnder mesh substrate: mesh physics, non-idealities, programming, twin and state."""

from __future__ import annotations

import math

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.physics.mzi import MZIConfig, MZIMesh
from tests.fixtures.substrates import assert_twin_exact_when_quiet_and_close_when_noisy

QUIET = {"phase_noise": 0.0, "detector_noise": 0.0, "adc_bits": 0}
LOSSLESS = {**QUIET, "crosstalk": 0.0, "loss_db_per_mzi": 0.0, "reference_amplitude": 0.0}


def mesh(n_in: int, n_out: int, seed: int = 0, **overrides: float) -> MZIMesh:
    return MZIMesh(n_in, n_out, seed=seed, config=MZIConfig(**overrides))


def transfer_matrix(m: MZIMesh) -> torch.Tensor:
    """``U[out, in]`` from identity input fields, in float64."""
    eye = torch.eye(m.n_modes, dtype=torch.float64)
    return m.propagate(eye, m.effective_phases(m.phases.double())).T


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8])
def test_clements_mesh_has_n_choose_2_mzis_and_is_unitary_without_loss(n):
    m = mesh(n, n, seed=n, **LOSSLESS)
    assert m.n_modes == n
    assert m.parameter_shape() == (2, n * (n - 1) // 2)
    assert sum(count for _, count, _ in m._columns) == n * (n - 1) // 2
    u = transfer_matrix(m)
    torch.testing.assert_close(u.conj().T @ u, torch.eye(n, dtype=u.dtype), atol=1e-12, rtol=0)
    assert (u.abs() > 1e-3).sum() > n  # a random mesh mixes the modes


def test_single_mzi_cross_and_bar_states():
    m = mesh(2, 2, **LOSSLESS)
    m.phases = torch.tensor([[0.0], [0.0]])  # theta = 0: cross state
    u = transfer_matrix(m)
    torch.testing.assert_close(u.abs(), torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64))
    m.phases = torch.tensor([[math.pi], [0.0]])  # theta = pi: bar state
    u = transfer_matrix(m)
    torch.testing.assert_close(u.abs(), torch.eye(2, dtype=torch.float64), atol=1e-7, rtol=0)


@pytest.mark.parametrize("power", [0, 1, 2])
def test_total_power_is_conserved_and_rescaled_by_the_input_scale(power):
    m = mesh(6, 6, seed=3, **LOSSLESS, rescale_power=power)
    x = torch.randn(16, 6)
    s = x.abs().amax(dim=1)
    detected = m.measure(x).sum(dim=1) / m.gain
    torch.testing.assert_close(
        detected, x.square().sum(dim=1) / s ** (2 - power), rtol=1e-5, atol=1e-5
    )
    big = mesh(32, 64, seed=1, rescale_power=2)
    out = big.measure(torch.randn(256, 32))
    assert 0.7 < float(out.mean()) < 1.5  # |U x|^2 of standardised inputs: mean about 1


def test_default_output_scales_like_the_input():
    m = mesh(6, 6, seed=3, **LOSSLESS)
    x = torch.randn(16, 6)
    torch.testing.assert_close(m.measure(3 * x), 3 * m.measure(x), rtol=1e-5, atol=1e-5)


def test_insertion_loss_reduces_power_by_the_expected_factor():
    loss_db = 0.5
    one = mesh(2, 2, seed=4, **{**LOSSLESS, "loss_db_per_mzi": loss_db})
    u = transfer_matrix(one)
    torch.testing.assert_close(
        u.conj().T @ u, 10 ** (-loss_db / 10) * torch.eye(2, dtype=u.dtype), atol=1e-12, rtol=0
    )
    n = 6  # even: every mode crosses an MZI in every even column, at most one per column
    lossy = mesh(n, n, seed=4, **{**LOSSLESS, "loss_db_per_mzi": loss_db})
    x = torch.randn(64, n, dtype=torch.float64)
    out = lossy.propagate(x, lossy.phases.double())
    ratio = out.abs().square().sum(dim=1) / x.square().sum(dim=1)
    assert float(ratio.min()) >= 10 ** (-loss_db * n / 10) - 1e-12
    assert float(ratio.max()) <= 10 ** (-loss_db * (n / 2) / 10) + 1e-12
    assert float(ratio.max() - ratio.min()) > 1e-3  # loss depends on the path


def test_crosstalk_adds_neighbour_phases_in_the_same_column_deterministically():
    xt = 0.05
    m = mesh(4, 4, **{**LOSSLESS, "crosstalk": xt})
    # N = 4: columns hold MZIs (0, 1), (2), (3, 4), (5).
    p = torch.arange(1.0, 13.0).reshape(2, 6) / 3
    eff = m.effective_phases(p)
    expected = p.clone()
    expected[:, 0] += xt * p[:, 1]
    expected[:, 1] += xt * p[:, 0]
    expected[:, 3] += xt * p[:, 4]
    expected[:, 4] += xt * p[:, 3]
    torch.testing.assert_close(eff, expected)
    plain = mesh(4, 4, **LOSSLESS)
    x = torch.randn(8, 4)
    first, second = m.measure(x), m.measure(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert float((first - plain.measure(x)).abs().max()) > 1e-3


def test_measure_equals_twin_without_noise_and_is_close_with_noise():
    assert_twin_exact_when_quiet_and_close_when_noisy(
        mesh(5, 7, seed=2, **QUIET), mesh(5, 7, seed=2), torch.randn(20, 5)
    )


def test_program_quantises_wraps_and_counts_writes():
    m = mesh(3, 3, seed=5, phase_bits=10)
    step = 2 * math.pi / 1024
    before = m.read_parameters()
    torch.testing.assert_close(before / step, torch.round(before / step), atol=1e-3, rtol=0)
    delta = torch.zeros(m.parameter_shape())
    delta[0, 0] = 2 * math.pi + 3.3 * step  # a full turn plus 3.3 steps: lands 3 steps on
    delta[1, 0] = 0.2 * step  # below half a step: does not land
    delta[0, 1] = -float(before[0, 1]) - step  # one step below zero wraps to 2 pi - step
    m.program(delta)
    after = m.read_parameters()
    expected_00 = (float(before[0, 0]) + 3 * step) % (2 * math.pi)
    assert float(after[0, 0]) == pytest.approx(expected_00, abs=1e-5)
    assert float(after[1, 0]) == float(before[1, 0])
    assert float(after[0, 1]) == pytest.approx(2 * math.pi - step, abs=1e-5)
    assert ((after >= 0) & (after < 2 * math.pi)).all()
    assert m.counters.device_writes == 2
    assert m.counters.programming_pulses == 2
    unchanged = after.clone()
    unchanged[0, 0], unchanged[0, 1] = before[0, 0], before[0, 1]
    torch.testing.assert_close(unchanged, before)


def test_twin_gradients_match_finite_differences():
    m = mesh(3, 4, seed=6)  # N = 4 modes with the reference
    assert m.n_modes == 4
    model = m.twin()
    gen = torch.Generator().manual_seed(0)
    params = 0.5 + torch.rand(m.parameter_shape(), generator=gen, dtype=torch.float64) * 5.0
    x = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    params.requires_grad_(True)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x, params))


def test_state_round_trip_continues_exactly():
    a = mesh(4, 6, seed=7)
    x = torch.randn(10, 4)
    a.measure(x)
    a.program(torch.full(a.parameter_shape(), 0.3))
    b = mesh(4, 6, seed=99)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.read_parameters(), a.read_parameters())
    torch.testing.assert_close(b.measure(x), a.measure(x), rtol=0, atol=0)
    assert b.counters == a.counters


def test_shapes_for_wide_and_narrow_layers():
    assert mesh(6, 3).measure(torch.randn(4, 6)).shape == (4, 3)
    assert mesh(6, 3).n_modes == 7
    assert mesh(2, 9).measure(torch.randn(4, 2)).shape == (4, 9)
    assert mesh(2, 9).n_modes == 9
    assert mesh(1, 1, reference_amplitude=0.0).parameter_shape() == (2, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("phase_bits", 30), ("crosstalk", 0.7), ("loss_db_per_mzi", -1.0), ("adc_range", 0.0)],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"MZIConfig\.{field} = "):
        MZIMesh(3, 3, config=MZIConfig(**{field: value}))
    with pytest.raises(ConfigError, match=field):
        MZIConfig.from_dict({field: value})
