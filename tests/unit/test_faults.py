"""Fault models (pnnkit.faults) and the substrates' fault hooks; the spec language and the
schedule are tested in test_fault_schedule.py."""

from __future__ import annotations

import math

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.faults import (
    DeadCamera,
    DeadCols,
    DeadRows,
    DeadSLM,
    Drift,
    HotCamera,
    PhaseDrift,
    ReadBursts,
    Stuck,
    Unresponsive,
)
from pnnkit.physics.crossbar import Crossbar
from pnnkit.physics.mzi import MZIMesh
from pnnkit.physics.scattering import ScatteringConfig, ScatteringMedium
from tests.fixtures.substrates import inputs, quiet_crossbar

# --- crossbar faults ------------------------------------------------------------------------------


def test_stuck_uniform_count_split_and_ignores_programming() -> None:
    xb = Crossbar(60, 40, seed=0)
    n = xb.conductance.numel()
    new = Stuck(rate=0.1, high=0.25).apply(xb, seed=7)
    stuck = xb.stuck_min | xb.stuck_max
    assert new == int(stuck.sum()) == round(0.1 * n)
    assert int(xb.stuck_max.sum()) == round(0.25 * new)
    assert torch.equal(xb.conductance[xb.stuck_min], xb.g_lo[xb.stuck_min])
    assert torch.equal(xb.conductance[xb.stuck_max], xb.g_hi[xb.stuck_max])
    before = xb.conductance.clone()
    xb.program(0.3 * torch.ones(xb.parameter_shape()))
    assert torch.equal(xb.conductance[stuck], before[stuck])
    assert not torch.equal(xb.conductance[~stuck], before[~stuck])


def _neighbour_share(xb: Crossbar) -> float:
    """Share of stuck devices with a stuck neighbour on the physical layout (rows x 2 out)."""
    mask = (xb.stuck_min | xb.stuck_max).permute(2, 1, 0).reshape(xb.in_features + 1, -1)
    m = mask.float()
    near = torch.zeros_like(m)
    near[1:] += m[:-1]
    near[:-1] += m[1:]
    near[:, 1:] += m[:, :-1]
    near[:, :-1] += m[:, 1:]
    return float(((near > 0) & mask).sum() / mask.sum())


def test_stuck_clustered_is_exact_in_count_and_spatially_clustered() -> None:
    uniform, clustered = Crossbar(60, 40, seed=0), Crossbar(60, 40, seed=0)
    Stuck(rate=0.05).apply(uniform, seed=1)
    Stuck(rate=0.05, pattern="clustered", clusters=3, radius=2.0).apply(clustered, seed=1)
    assert int((clustered.stuck_min | clustered.stuck_max).sum()) == round(0.05 * 2 * 40 * 61)
    assert _neighbour_share(clustered) > 0.8 > 0.3 > _neighbour_share(uniform)


def test_dead_cols_read_zero_and_dead_rows_contribute_nothing() -> None:
    xb = quiet_crossbar(read_noise=0.0)
    DeadCols(rate=0.3).apply(xb, seed=2)
    DeadRows(rate=0.25).apply(xb, seed=2)
    cols, rows = xb.dead_cols, xb.dead_rows
    assert int(cols.sum()) == 3 and int(rows.sum()) == round(0.25 * 21)
    x = inputs(8, 20)
    x[:, 0] = 10.0  # the abs-max input: changing the others keeps the DAC scale
    out = xb.measure(x)
    assert torch.equal(out[:, cols], torch.zeros_like(out[:, cols]))
    dead_inputs = rows[:20].clone()
    dead_inputs[0] = False
    x2 = x.clone()
    x2[:, dead_inputs] = -x2[:, dead_inputs]
    assert torch.allclose(xb.measure(x2), out, atol=1e-6)
    live = (~rows[:20]).nonzero()[1]
    x3 = x.clone()
    x3[:, live] += 1.0
    assert not torch.allclose(xb.measure(x3)[:, ~cols], out[:, ~cols], atol=1e-3)
    params = xb.read_parameters()
    assert (params[cols] == 0).all() and (params[:, rows] == 0).all()


def test_unresponsive_devices_ignore_programming() -> None:
    xb = Crossbar(30, 20, seed=0)
    assert Unresponsive(rate=0.2).apply(xb, seed=4) == round(0.2 * xb.conductance.numel())
    before = xb.conductance.clone()
    xb.program(0.2 * torch.ones(xb.parameter_shape()))
    frozen = xb.unresponsive
    assert torch.equal(xb.conductance[frozen], before[frozen])
    assert (xb.conductance[~frozen] != before[~frozen]).float().mean() > 0.9


def test_drift_follows_the_power_law_and_restarts_on_programming() -> None:
    xb = Crossbar(30, 20, seed=0)
    g0 = xb.conductance.clone()
    fault = Drift(rate=0.05, spread=0.0)
    fault.apply(xb, seed=1)  # installed: t = t0, nothing moved yet
    assert torch.equal(xb.conductance, g0)
    fault.apply(xb, seed=1, before=0.0, after=9.0)  # 9 epochs later: t = 10 t0
    expected = torch.maximum(g0 * 10.0**-0.05, xb.g_lo)
    assert torch.allclose(xb.conductance, expected, rtol=1e-5)
    assert (xb.conductance < g0).float().mean() > 0.9
    # A programmed device's clock restarts; an idle one continues from t = 10.
    delta = torch.zeros(xb.parameter_shape())
    delta[0] = 0.5
    xb.program(delta)
    g1 = xb.conductance.clone()
    fault.apply(xb, seed=1, before=9.0, after=10.0)
    ratio = xb.conductance / g1
    fresh = xb.drift_age == 2.0
    assert fresh[:, 0].all() and not fresh[:, 1:].any()
    floor = g1 * 2.0**-0.05 < xb.g_lo
    assert torch.allclose(ratio[fresh & ~floor], torch.tensor(2.0**-0.05), rtol=1e-5)
    assert torch.allclose(ratio[~fresh & ~floor], torch.tensor((11 / 10) ** -0.05), rtol=1e-5)


def test_drift_exponents_vary_per_device() -> None:
    xb = Crossbar(30, 20, seed=0)
    Drift(rate=0.05, spread=0.4).apply(xb, seed=1)
    assert xb.drift_nu is not None
    assert abs(float(xb.drift_nu.mean()) - 0.05) < 0.003
    assert abs(float(xb.drift_nu.std()) - 0.02) < 0.003


def test_read_bursts_scale_the_read_noise_at_the_given_probability() -> None:
    clean = quiet_crossbar(read_noise=0.0)
    plain, bursty = quiet_crossbar(), quiet_crossbar()
    ReadBursts(rate=0.3, factor=10.0).apply(bursty, seed=5)
    x = inputs(4, 20)
    ratios = []
    for _ in range(400):
        z = clean.measure(x)
        ratios.append(float((bursty.measure(x) - z).norm() / (plain.measure(x) - z).norm()))
    r = torch.tensor(ratios)
    burst = (r - 10).abs() < 1e-2
    assert ((r - 1).abs() < 1e-3).logical_or(burst).all()
    assert int(burst.sum()) == bursty.burst_count
    assert abs(float(burst.float().mean()) - 0.3) < 3 * math.sqrt(0.3 * 0.7 / 400)


# --- optics ---------------------------------------------------------------------------------------


def test_dead_and_hot_camera_pixels_read_zero_and_full_scale() -> None:
    medium = ScatteringMedium(16, 50, seed=0)
    assert DeadCamera(rate=0.2).apply(medium, seed=1) == 10
    assert HotCamera(rate=0.1).apply(medium, seed=1) == 5
    assert not (medium.camera_dead & medium.camera_hot).any()
    out = medium.measure(inputs(6, 16))
    cfg = medium.config()
    assert (out[:, medium.camera_dead] == 0).all()
    assert torch.allclose(
        out[:, medium.camera_hot], torch.tensor(cfg.full_well / cfg.photons_per_pixel)
    )
    healthy = ~(medium.camera_dead | medium.camera_hot)
    assert (out[:, healthy] > 0).float().mean() > 0.9


@pytest.mark.parametrize("encoding", ["phase", "amplitude"])
def test_dead_slm_pixels_emit_no_field(encoding: str) -> None:
    def medium() -> ScatteringMedium:
        m = ScatteringMedium(32, 24, seed=0, config=ScatteringConfig(encoding=encoding))
        DeadSLM(rate=0.25).apply(m, seed=3)
        return m

    a, b = medium(), medium()
    dead = a.slm_dead
    assert int(dead.sum()) == 8
    x = inputs(5, 32)
    x[:, dead] = 0.0
    x2 = x.clone()
    x2[:, dead] = 0.5  # other values on the dead pixels (below the abs max)
    assert torch.equal(a.measure(x), b.measure(x2))
    healthy_a, healthy_b = (ScatteringMedium(32, 24, seed=0, config=a.config()) for _ in "ab")
    assert not torch.equal(healthy_a.measure(x), healthy_b.measure(x2))


def test_scattering_phase_drift_changes_output_not_parameters_or_twin() -> None:
    drifted, healthy = ScatteringMedium(40, 30, seed=0), ScatteringMedium(40, 30, seed=0)
    fault = PhaseDrift(rate=0.1)
    fault.apply(drifted, seed=2)
    assert drifted.medium_phase is not None and (drifted.medium_phase == 0).all()
    fault.apply(drifted, seed=2, before=0.0, after=25.0)
    assert abs(float(drifted.medium_phase.std()) - 0.1 * 5) < 0.03
    x = inputs(8, 40)
    assert not torch.allclose(drifted.measure(x), healthy.measure(x), atol=0.05)
    assert torch.equal(drifted.read_parameters(), healthy.read_parameters())
    params = torch.zeros(0)
    assert torch.equal(drifted.twin()(x, params), healthy.twin()(x, params))


def test_mzi_phase_drift_changes_output_not_parameters() -> None:
    drifted, healthy = MZIMesh(6, 6, seed=0), MZIMesh(6, 6, seed=0)
    fault = PhaseDrift(rate=0.2)
    fault.apply(drifted, seed=2, before=None, after=16.0)
    assert drifted.phase_drift is not None
    assert abs(float(drifted.phase_drift.std()) - 0.8) < 0.3
    x = inputs(8, 6)
    assert not torch.allclose(drifted.measure(x), healthy.measure(x), atol=1e-2)
    assert torch.equal(drifted.read_parameters(), healthy.read_parameters())
    p = healthy.read_parameters()
    assert torch.equal(drifted.twin()(x, p), healthy.twin()(x, p))


def test_faults_refuse_the_wrong_substrate() -> None:
    with pytest.raises(ConfigError, match="applies to crossbar"):
        Stuck(rate=0.1).apply(ScatteringMedium(4, 4), seed=0)
    with pytest.raises(ConfigError, match="mzi or scattering"):
        PhaseDrift(rate=0.1).apply(Crossbar(4, 4), seed=0)
    assert DeadSLM(rate=0.1).supports(ScatteringMedium(4, 4))
    assert not DeadSLM(rate=0.1).supports(MZIMesh(4, 4))


# --- state and defaults ---------------------------------------------------------------------------


def test_fault_state_survives_substrate_state_dict() -> None:
    xb = Crossbar(12, 8, seed=0)
    for fault in (Stuck(rate=0.1), Unresponsive(rate=0.1), DeadRows(rate=0.2), DeadCols(rate=0.2)):
        fault.apply(xb, seed=1)
    Drift(rate=0.05).apply(xb, seed=1, after=3.0)
    ReadBursts(rate=0.5).apply(xb, seed=1)
    xb.measure(inputs(3, 12))
    copy = Crossbar(12, 8, seed=0)
    copy.load_state_dict(xb.state_dict())
    for name in ("stuck_min", "unresponsive", "dead_rows", "dead_cols", "drift_nu", "drift_age"):
        assert torch.equal(getattr(copy, name), getattr(xb, name)), name
    x = inputs(5, 12)
    for _ in range(5):
        assert torch.equal(copy.measure(x), xb.measure(x))
    assert copy.burst_count == xb.burst_count
    delta = 0.1 * inputs(8, 13)
    copy.program(delta)
    xb.program(delta)
    assert torch.equal(copy.conductance, xb.conductance)

    medium = ScatteringMedium(10, 12, seed=0)
    for fault in (DeadSLM(rate=0.3), DeadCamera(rate=0.2), HotCamera(rate=0.2)):
        fault.apply(medium, seed=1)
    PhaseDrift(rate=0.1).apply(medium, seed=1, after=2.0)
    other = ScatteringMedium(10, 12, seed=0)
    other.load_state_dict(medium.state_dict())
    assert torch.equal(other.measure(inputs(4, 10)), medium.measure(inputs(4, 10)))

    mesh = MZIMesh(4, 4, seed=0)
    PhaseDrift(rate=0.1).apply(mesh, seed=1, after=2.0)
    twin = MZIMesh(4, 4, seed=0)
    twin.load_state_dict(mesh.state_dict())
    assert torch.equal(twin.measure(inputs(4, 4)), mesh.measure(inputs(4, 4)))


def test_fault_free_state_keeps_its_layout_and_loads_into_faulty_substrate() -> None:
    healthy = Crossbar(6, 4, seed=0)
    assert set(healthy.state_dict()["physical"]) == set(Crossbar._STATE)
    assert set(ScatteringMedium(4, 4).state_dict()["physical"]) == {"transmission", "norm"}
    assert set(MZIMesh(4, 4).state_dict()["physical"]) == {"phases"}
    faulty = Crossbar(6, 4, seed=0)
    DeadCols(rate=0.5).apply(faulty, seed=0)
    faulty.load_state_dict(healthy.state_dict())  # an old checkpoint: no fault after loading
    assert not faulty.dead_cols.any()
    assert torch.equal(faulty.measure(inputs(3, 6)), healthy.measure(inputs(3, 6)))
