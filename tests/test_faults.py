"""Fault models, spec language and schedule (pnnkit.faults), and the substrates' fault hooks."""

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
from pnnkit.faults.schedule import FaultSchedule
from pnnkit.faults.spec import fault_dicts, format_faults, parse_faults
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics.crossbar import Crossbar, CrossbarConfig
from pnnkit.physics.ideal import IdealLinear
from pnnkit.physics.mzi import MZIMesh
from pnnkit.physics.scattering import ScatteringConfig, ScatteringMedium

torch.set_num_threads(1)


def _x(n: int, d: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _quiet_crossbar(in_f: int = 20, out_f: int = 10, **kw: float) -> Crossbar:
    """A crossbar with fine converters (quantisation out of the way of exact comparisons)."""
    return Crossbar(in_f, out_f, seed=3, config=CrossbarConfig(dac_bits=24, adc_bits=24, **kw))


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
    xb = _quiet_crossbar(read_noise=0.0)
    DeadCols(rate=0.3).apply(xb, seed=2)
    DeadRows(rate=0.25).apply(xb, seed=2)
    cols, rows = xb.dead_cols, xb.dead_rows
    assert int(cols.sum()) == 3 and int(rows.sum()) == round(0.25 * 21)
    x = _x(8, 20)
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
    clean = _quiet_crossbar(read_noise=0.0)
    plain, bursty = _quiet_crossbar(), _quiet_crossbar()
    ReadBursts(rate=0.3, factor=10.0).apply(bursty, seed=5)
    x = _x(4, 20)
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
    out = medium.measure(_x(6, 16))
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
    x = _x(5, 32)
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
    x = _x(8, 40)
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
    x = _x(8, 6)
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
    xb.measure(_x(3, 12))
    copy = Crossbar(12, 8, seed=0)
    copy.load_state_dict(xb.state_dict())
    for name in ("stuck_min", "unresponsive", "dead_rows", "dead_cols", "drift_nu", "drift_age"):
        assert torch.equal(getattr(copy, name), getattr(xb, name)), name
    x = _x(5, 12)
    for _ in range(5):
        assert torch.equal(copy.measure(x), xb.measure(x))
    assert copy.burst_count == xb.burst_count
    delta = 0.1 * _x(8, 13)
    copy.program(delta)
    xb.program(delta)
    assert torch.equal(copy.conductance, xb.conductance)

    medium = ScatteringMedium(10, 12, seed=0)
    for fault in (DeadSLM(rate=0.3), DeadCamera(rate=0.2), HotCamera(rate=0.2)):
        fault.apply(medium, seed=1)
    PhaseDrift(rate=0.1).apply(medium, seed=1, after=2.0)
    other = ScatteringMedium(10, 12, seed=0)
    other.load_state_dict(medium.state_dict())
    assert torch.equal(other.measure(_x(4, 10)), medium.measure(_x(4, 10)))

    mesh = MZIMesh(4, 4, seed=0)
    PhaseDrift(rate=0.1).apply(mesh, seed=1, after=2.0)
    twin = MZIMesh(4, 4, seed=0)
    twin.load_state_dict(mesh.state_dict())
    assert torch.equal(twin.measure(_x(4, 4)), mesh.measure(_x(4, 4)))


def test_fault_free_state_keeps_its_layout_and_loads_into_faulty_substrate() -> None:
    healthy = Crossbar(6, 4, seed=0)
    assert set(healthy.state_dict()["physical"]) == set(Crossbar._STATE)
    assert set(ScatteringMedium(4, 4).state_dict()["physical"]) == {"transmission", "norm"}
    assert set(MZIMesh(4, 4).state_dict()["physical"]) == {"phases"}
    faulty = Crossbar(6, 4, seed=0)
    DeadCols(rate=0.5).apply(faulty, seed=0)
    faulty.load_state_dict(healthy.state_dict())  # an old checkpoint: no fault after loading
    assert not faulty.dead_cols.any()
    assert torch.equal(faulty.measure(_x(3, 6)), healthy.measure(_x(3, 6)))


def _network(seed: int = 0) -> PhysicalNetwork:
    """Unit 1: scattering -> crossbar; unit 2: crossbar; unit 3: MZI -> ideal."""
    units = [
        Unit(Crossbar(12, 10, seed=seed + 1), physics=ScatteringMedium(8, 12, seed=seed)),
        Unit(Crossbar(10, 6, seed=seed + 2)),
        Unit(IdealLinear(6, 5, seed=seed + 4), physics=MZIMesh(6, 6, seed=seed + 3)),
    ]
    return PhysicalNetwork(units, 3, seed=seed)


def test_zero_rate_faults_and_empty_schedule_change_nothing() -> None:
    spec = "stuck:0;dead_rows:0;dead_cols:0;unresponsive:0;read_bursts:0;drift:0;dead_slm:0;"
    spec += "dead_camera:0;hot_camera:0;phase_drift:0"
    faulty, plain, reference = _network(), _network(), _network()
    schedule, empty = FaultSchedule(spec, seed=1), FaultSchedule(None)
    x = _x(6, 8)
    for epoch in (1, 2, 3):
        assert all(r["new"] == 0 for r in schedule.apply(faulty, epoch, 3))
        assert empty.apply(plain, epoch, 3) == []
        h = [x, x, x]
        for a, b, c in zip(
            faulty.substrates(), plain.substrates(), reference.substrates(), strict=True
        ):
            outs = [s.measure(v) for s, v in zip((a, b, c), h, strict=True)]
            assert torch.equal(outs[0], outs[2]) and torch.equal(outs[1], outs[2])
            h = [o.float() for o in outs]
        for s in faulty.substrates() + plain.substrates():
            if s.linear:
                s.program(0.01 * torch.ones(s.parameter_shape()))
        for s in reference.substrates():
            if s.linear:
                s.program(0.01 * torch.ones(s.parameter_shape()))
    for a, c in zip(faulty.substrates(), reference.substrates(), strict=True):
        assert torch.equal(a.generator.get_state(), c.generator.get_state())


# --- spec language --------------------------------------------------------------------------------


def test_spec_examples_parse() -> None:
    faults = parse_faults(
        "stuck:0.2@epoch=30; stuck:0.4,pattern=clustered,high=0.84 ;"
        "dead_camera:0.1;phase_drift:0.02/epoch;stuck:0.05->0.4,units=1,3-4;drift:0.05@start"
    )
    kinds = ["stuck", "stuck", "dead_camera", "phase_drift", "stuck", "drift"]
    assert [f.kind for f in faults] == kinds
    assert faults[0].epoch == 30 and faults[0].rate == 0.2
    assert faults[1].pattern == "clustered" and faults[1].high == 0.84
    assert faults[3].rate == 0.02 and faults[3].process
    assert faults[4].ramp_to == 0.4 and faults[4].units == (1, 3, 4)
    assert faults[5].epoch == 1
    assert parse_faults(format_faults(faults)) == faults
    assert parse_faults(fault_dicts(faults)) == faults
    assert parse_faults("") == [] and parse_faults(None) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("stuk:0.1", "unknown fault kind 'stuk'.*kinds: dead_camera"),
        ("stuck:0.1,colour=red", "unknown key 'colour'.*keys of stuck: \\['units', 'high'"),
        ("stuck:abc", "rate 'abc' in 'stuck:abc' is not a number"),
        ("stuck", "needs a rate"),
        ("stuck:1.5", "rate = 1.5 is invalid"),
        ("stuck:0.1/epoch", "not a rate per epoch"),
        ("drift:0.01->0.1", "ramps"),
        ("stuck:0.4->0.1", "faults do not heal"),
        ("stuck:0.1@tomorrow", "expected @start or @epoch=E"),
        ("stuck:0.1@epoch=0", "epoch = 0 is invalid"),
        ("stuck:0.1,pattern=spiral", "pattern = 'spiral' is invalid.*uniform"),
        ("stuck:0.1,clusters=2.5", "clusters = '2.5'.*not a int"),
        ("stuck:0.1,high=0.5,3", "'3' in .* is not KEY=VALUE"),
        ("stuck:0.1,units=a", "unit 'a'"),
    ],
)
def test_spec_errors_name_the_token(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_faults(spec)


def test_table_form_is_validated() -> None:
    with pytest.raises(ConfigError, match="unknown fault kind"):
        parse_faults([{"kind": "melt", "rate": 0.1}])
    with pytest.raises(ConfigError, match="unknown fault kind"):  # not hashable: no TypeError
        parse_faults([{"kind": ["stuck"], "rate": 0.1}])
    with pytest.raises(ConfigError, match="unknown key"):
        parse_faults([{"kind": "stuck", "rate": 0.1, "size": 3}])
    with pytest.raises(ConfigError, match="no rate"):
        parse_faults([{"kind": "stuck"}])
    with pytest.raises(ConfigError, match="is not a number"):
        parse_faults([{"kind": "stuck", "rate": "lots"}])
    with pytest.raises(ConfigError, match="must be a table"):
        parse_faults(["stuck:0.1"])
    faults = parse_faults([{"kind": "dead_cols", "rate": 0.1, "units": [2], "epoch": 3}])
    assert faults == [DeadCols(rate=0.1, units=(2,), epoch=3)]


# --- schedule -------------------------------------------------------------------------------------


def test_schedule_timing_from_start_and_at_epoch() -> None:
    net = _network()
    schedule = FaultSchedule("dead_cols:0.5,units=2;stuck:0.2@epoch=3", seed=0)
    first = schedule.apply(net, 1, 5)
    assert [(r["kind"], r["unit"], r["substrate"], r["new"]) for r in first] == [
        ("dead_cols", 2, 2, 3)
    ]
    assert schedule.apply(net, 1, 5) == []  # idempotent
    assert schedule.apply(net, 2, 5) == []
    third = schedule.apply(net, 3, 5)
    assert [(r["unit"], r["name"]) for r in third] == [(1, "crossbar"), (2, "crossbar")]
    xb = net.substrates()[1]
    assert third[0]["new"] == round(0.2 * xb.conductance.numel()) == third[0]["affected"]
    assert schedule.apply(net, 4, 5) == []


def test_schedule_ramp_increments_sum_to_the_final_rate() -> None:
    net = _network()
    schedule = FaultSchedule("stuck:0.05->0.4,units=1;dead_camera:0->0.5@epoch=2", seed=0)
    xb, medium = net.substrates()[1], net.substrates()[0]
    news, levels = [], []
    for epoch in range(1, 8):
        for r in schedule.apply(net, epoch, 7):
            if r["kind"] == "stuck":
                news.append(r["new"])
                levels.append(r["level"])
    assert levels == pytest.approx([0.05 + 0.35 * k / 6 for k in range(7)])
    assert news[0] == round(0.05 * xb.conductance.numel())
    assert (
        sum(news) == round(0.4 * xb.conductance.numel()) == int((xb.stuck_min | xb.stuck_max).sum())
    )
    assert int(medium.camera_dead.sum()) == 6


def test_schedule_drift_advances_one_epoch_per_call() -> None:
    net = _network()
    schedule = FaultSchedule("phase_drift:0.1/epoch,units=3;drift:0.05@epoch=2", seed=0)
    mesh = net.substrates()[3]
    records = [schedule.apply(net, e, 5) for e in range(1, 6)]
    assert [r["level"] for r in records[0]] == [0.0]
    assert [(r["kind"], r["level"]) for r in records[4]] == [
        ("phase_drift", 4.0),
        ("drift", 3.0),
        ("drift", 3.0),
    ]
    assert mesh.phase_drift is not None and float(mesh.phase_drift.abs().mean()) > 0.05
    assert net.substrates()[1].drift_age is not None
    assert float(net.substrates()[1].drift_age.max()) == 4.0


def test_schedule_composes_faults_on_one_substrate() -> None:
    net = _network()
    schedule = FaultSchedule(
        "stuck:0.1,units=2;unresponsive:0.1,units=2;dead_rows:0.2,units=2;read_bursts:0.5,"
        "factor=3,units=2;dead_slm:0.25;hot_camera:0.25",
        seed=4,
    )
    records = schedule.apply(net, 1, 2)
    assert {(r["kind"], r["substrate"]) for r in records} == {
        ("stuck", 2),
        ("unresponsive", 2),
        ("dead_rows", 2),
        ("read_bursts", 2),
        ("dead_slm", 0),
        ("hot_camera", 0),
    }
    xb = net.substrates()[2]
    assert xb.stuck_min.any() and xb.unresponsive.any() and xb.dead_rows.any()
    assert xb.burst_probability == 0.5 and xb.burst_factor == 3.0
    assert int(net.substrates()[0].slm_dead.sum()) == 2


def test_schedule_target_errors() -> None:
    ideal_only = PhysicalNetwork([Unit(IdealLinear(4, 3))], 2)
    with pytest.raises(ConfigError, match="applies to crossbar substrates; this network has"):
        FaultSchedule("stuck:0.1").check(ideal_only)
    with pytest.raises(ConfigError, match="unit 2 has no scattering substrate"):
        FaultSchedule("dead_slm:0.1,units=2").check(_network())
    with pytest.raises(ConfigError, match="unit 9 does not exist"):
        FaultSchedule("stuck:0.1,units=9").check(_network())
    with pytest.raises(ConfigError, match=r"outside 1\.\.total_epochs"):
        FaultSchedule("stuck:0.1").apply(_network(), 0, 3)


def test_schedule_resume_matches_an_uninterrupted_run() -> None:
    spec = "stuck:0.02->0.3,pattern=clustered;phase_drift:0.1/epoch;dead_cols:0.2@epoch=3"
    whole, first = _network(), _network()
    s_whole, s_first = FaultSchedule(spec, seed=9), FaultSchedule(spec, seed=9)
    for epoch in range(1, 6):
        s_whole.apply(whole, epoch, 5)
    for epoch in (1, 2):
        s_first.apply(first, epoch, 5)
    resumed, s_resumed = _network(), FaultSchedule(spec, seed=9)
    resumed.load_state_dict(first.state_dict())
    s_resumed.load_state_dict(s_first.state_dict())
    assert s_resumed.apply(resumed, 2, 5) == []
    for epoch in range(3, 6):
        s_resumed.apply(resumed, epoch, 5)
    for a, b in zip(whole.substrates(), resumed.substrates(), strict=True):
        sa, sb = a.state_dict()["physical"], b.state_dict()["physical"]
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(ConfigError, match="does not match"):
        FaultSchedule(spec, seed=8).load_state_dict(s_first.state_dict())
    described = s_whole.describe()
    assert FaultSchedule(described["faults"], seed=described["seed"]).faults == s_whole.faults
    assert parse_faults(described["spec"]) == s_whole.faults
