"""The scattering-medium substrate: SLM encoding, transmission matrix, camera noise."""

from __future__ import annotations

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.physics.scattering import ScatteringConfig, ScatteringMedium, slm_field

QUIET = ScatteringConfig(
    photons_per_pixel=1e10,
    read_noise_electrons=0.0,
    full_well=1e14,
    camera_bits=32,
    slm_bits=24,
)


def test_mean_output_is_about_one_on_random_inputs():
    medium = ScatteringMedium(32, 64, seed=0)
    out = medium.measure(torch.randn(200, 32))
    assert out.shape == (200, 64)
    assert out.dtype == torch.float32
    assert 0.9 < float(out.mean()) < 1.1
    assert float(out.min()) >= 0.0
    assert medium.counters.physical_queries == 200


def test_noise_free_measurement_equals_the_twin():
    medium = ScatteringMedium(16, 24, seed=3, config=QUIET)
    x = torch.randn(50, 16) * 3
    twin = medium.twin()(x, medium.read_parameters())
    torch.testing.assert_close(medium.measure(x), twin, rtol=1e-3, atol=1e-4)


def test_the_transform_is_fixed_and_seeded():
    x = torch.randn(20, 12)
    a = ScatteringMedium(12, 10, seed=0, config=QUIET)
    first, second = a.measure(x), a.measure(x)
    torch.testing.assert_close(first, second, rtol=1e-4, atol=1e-5)
    same = ScatteringMedium(12, 10, seed=0, config=QUIET).twin()(x, torch.zeros(0))
    other = ScatteringMedium(12, 10, seed=1, config=QUIET).twin()(x, torch.zeros(0))
    torch.testing.assert_close(same, a.twin()(x, torch.zeros(0)))
    assert not torch.allclose(same, other, rtol=0.1)


def test_shot_noise_is_poisson_at_low_photon_counts():
    photons = 20.0
    config = ScatteringConfig(
        photons_per_pixel=photons, read_noise_electrons=0.0, full_well=1e6, camera_bits=24
    )
    medium = ScatteringMedium(8, 16, seed=2, config=config)
    x = torch.randn(1, 8).repeat(4000, 1)
    counts = medium.measure(x).double() * photons
    mean, var = counts.mean(dim=0), counts.var(dim=0)
    expected = medium.twin()(x[:1], torch.zeros(0)).double()[0] * photons
    bright = expected > 5
    assert int(bright.sum()) >= 4
    torch.testing.assert_close(mean[bright], expected[bright], rtol=0.05, atol=0.0)
    ratio = var[bright] / mean[bright]
    assert 0.85 < float(ratio.mean()) < 1.15


def test_read_noise_adds_variance_in_electrons():
    config = ScatteringConfig(
        photons_per_pixel=1e9, read_noise_electrons=1e3, full_well=1e12, camera_bits=32
    )
    medium = ScatteringMedium(8, 8, seed=0, config=config)
    x = torch.randn(1, 8).repeat(3000, 1)
    electrons = medium.measure(x).double() * 1e9
    # Shot noise alone would be sqrt(1e9 * I) ~ 3e4 e-: much larger than 1e3, so check the total.
    expected = medium.twin()(x[:1], torch.zeros(0)).double()[0] * 1e9
    assert float((electrons.var(dim=0) / (expected + 1e6)).mean()) == pytest.approx(1.0, rel=0.15)


def test_saturation_clips_at_the_full_well():
    config = ScatteringConfig(photons_per_pixel=1000.0, full_well=2000.0)
    medium = ScatteringMedium(16, 64, seed=0, config=config)
    out = medium.measure(torch.randn(100, 16))
    assert float(out.max()) == pytest.approx(2.0)
    assert float((out == out.max()).float().mean()) > 0.05  # speckle: P(I > 2) = e^-2


def test_transmission_matrix_conserves_power_per_pixel_on_average():
    medium = ScatteringMedium(16, 4000, seed=4)
    t = medium._transmission
    assert t.shape == (4000, 16)
    field = torch.randn(3, 16, dtype=torch.complex128)
    per_pixel = (field @ t.T).abs().pow(2).mean(dim=1)
    expected = field.abs().pow(2).sum(dim=1) / 16
    torch.testing.assert_close(per_pixel, expected, rtol=0.06, atol=0.0)
    # Entries are CN(0, 1/in): variance 1/in, real and imaginary parts uncorrelated.
    assert float(t.abs().pow(2).mean()) == pytest.approx(1 / 16, rel=0.03)
    assert abs(float((t.real * t.imag).mean())) < 0.002


def test_phase_and_amplitude_encodings():
    x = torch.tensor([[-2.0, 0.0, 1.0, 2.0]])
    phase = slm_field(x, "phase", 8)
    torch.testing.assert_close(phase.abs(), torch.ones(1, 4))
    angles = torch.remainder(phase.angle(), 2 * torch.pi)
    assert float(angles[0, 0]) == pytest.approx(0.0, abs=1e-6)  # x_s = -1
    assert float(angles[0, 1]) == pytest.approx(torch.pi, abs=1e-5)  # 127.5 rounds to level 128
    assert float(angles[0, 3]) == pytest.approx(2 * torch.pi * 255 / 256, abs=1e-5)  # distinct
    amplitude = slm_field(x, "amplitude", 8)
    assert float(amplitude.imag.abs().max()) == 0.0
    torch.testing.assert_close(amplitude.real, torch.tensor([[0.0, 128 / 255, 191 / 255, 1.0]]))
    xs = torch.randn(30, 10)
    a = ScatteringMedium(10, 20, seed=0).measure(xs)
    b = ScatteringMedium(10, 20, seed=0, config=ScatteringConfig(encoding="amplitude")).measure(xs)
    assert not torch.allclose(a, b, rtol=0.1)
    assert 0.7 < float(b.mean()) < 1.5


def test_abs_max_scaling_makes_the_output_scale_free():
    medium = ScatteringMedium(10, 12, seed=0, config=QUIET)
    twin = medium.twin()
    x = torch.randn(5, 10)
    torch.testing.assert_close(twin(x, torch.zeros(0)), twin(1000 * x, torch.zeros(0)))
    relu = medium.measure(torch.relu(x) * 50)
    zeros = medium.measure(torch.zeros(2, 10))
    assert torch.isfinite(relu).all() and torch.isfinite(zeros).all()


def test_state_round_trip_reproduces_the_next_measurement():
    a = ScatteringMedium(6, 9, seed=0)
    x = torch.randn(10, 6)
    a.measure(x)
    state = a.state_dict()
    expected = a.measure(x)
    b = ScatteringMedium(6, 9, seed=7)
    b.load_state_dict(state)
    torch.testing.assert_close(b.measure(x), expected, rtol=0, atol=0)
    assert b.counters.physical_queries == a.counters.physical_queries


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encoding", "polar"),
        ("slm_bits", 0),
        ("photons_per_pixel", 0.0),
        ("read_noise_electrons", -1.0),
        ("full_well", -5.0),
        ("camera_bits", 40),
    ],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"ScatteringConfig.{field}"):
        ScatteringConfig(**{field: value}).validate()
    with pytest.raises(ConfigError, match=field):
        ScatteringMedium(4, 4, config=ScatteringConfig(**{field: value}))


def test_config_from_strings():
    config = ScatteringConfig.from_dict({"encoding": "amplitude", "slm_bits": "6"})
    assert config.encoding == "amplitude" and config.slm_bits == 6


def test_nothing_to_program():
    medium = ScatteringMedium(5, 3)
    assert medium.parameter_shape() == (0,)
    assert medium.read_parameters().shape == (0,)
    before = medium.twin()(torch.ones(2, 5), torch.zeros(0))
    medium.program(torch.zeros(0))
    assert medium.counters.device_writes == 0
    assert medium.counters.programming_pulses == 0
    torch.testing.assert_close(medium.twin()(torch.ones(2, 5), torch.zeros(0)), before)


def test_measurement_carries_no_autograd():
    medium = ScatteringMedium(4, 3)
    out = medium.measure(torch.randn(2, 4, requires_grad=True))
    assert out.grad_fn is None and not out.requires_grad


@pytest.mark.parametrize("encoding", ["phase", "amplitude"])
def test_twin_gradcheck_in_float64(encoding):
    medium = ScatteringMedium(4, 3, seed=1, config=ScatteringConfig(encoding=encoding))
    twin = medium.twin()
    x = torch.tensor(
        [[0.3, -1.2, 0.5, 0.9], [2.0, 0.1, -0.4, 0.7]], dtype=torch.float64, requires_grad=True
    )
    assert twin(x, torch.zeros(0)).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda v: twin(v, torch.zeros(0)), (x,))
