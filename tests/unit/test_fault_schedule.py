"""The fault spec language and the training-time schedule (pnnkit.faults.spec, .schedule)."""

from __future__ import annotations

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.faults import (
    DeadCols,
)
from pnnkit.faults.schedule import FaultSchedule
from pnnkit.faults.spec import fault_dicts, format_faults, parse_faults
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics.crossbar import Crossbar
from pnnkit.physics.ideal import IdealLinear
from pnnkit.physics.mzi import MZIMesh
from pnnkit.physics.scattering import ScatteringMedium
from tests.fixtures.substrates import inputs


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
    x = inputs(6, 8)
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
