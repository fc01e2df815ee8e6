"""Device fitting: pulse recordings (format, errors), recovery of known parameters, the fitted
config file's round trip through ``pnnkit train --config``, and ``pnnkit device show``."""

from __future__ import annotations

import numpy as np
import pytest

from pnnkit.cli import main
from pnnkit.config import read_config_file
from pnnkit.data.pulses import PulseTrains, read_pulses, write_pulses
from pnnkit.errors import DataError
from pnnkit.experiment import TrainConfig
from pnnkit.physics import CrossbarConfig
from pnnkit.physics.device_fit import (
    FITTED,
    fit_device,
    generate_pulses,
    select_cycles,
    trajectory_rms,
)

TRUTH = {
    "g_min": 2.0,
    "g_max": 30.0,
    "levels": 32,
    "d2d_bounds": 0.08,
    "d2d_step": 0.25,
    "c2c_noise": 0.4,
    "step_asymmetry": 0.15,
    "read_noise": 0.015,
}


@pytest.fixture(scope="module")
def trains() -> PulseTrains:
    return generate_pulses(CrossbarConfig.from_dict(TRUTH), devices=48, cycles=3, pulses=96)


@pytest.fixture(scope="module")
def fit(trains):
    return fit_device(trains, bootstrap=20)


def test_the_fit_recovers_the_parameters_it_was_generated_with(fit):
    for name in ("g_min", "g_max", "levels", "c2c_noise", "read_noise"):
        assert fit.values[name] == pytest.approx(TRUTH[name], rel=0.1), name
    assert fit.values["step_asymmetry"] == pytest.approx(TRUTH["step_asymmetry"], abs=0.03)
    assert fit.values["d2d_bounds"] == pytest.approx(TRUTH["d2d_bounds"], abs=0.03)
    assert fit.values["d2d_step"] == pytest.approx(TRUTH["d2d_step"], abs=0.1)
    assert set(fit.errors) == set(FITTED) and all(e >= 0 for e in fit.errors.values())


def test_the_fitted_model_predicts_a_held_out_cycle_better_than_the_default(trains):
    fitted = fit_device(select_cycles(trains, slice(0, 2)), bootstrap=2).config()
    held_out = select_cycles(trains, slice(2, 3))
    assert trajectory_rms(fitted, held_out) < trajectory_rms(CrossbarConfig(), held_out)


def test_the_csv_round_trip_keeps_every_read(tmp_path, trains):
    write_pulses(tmp_path / "p.csv", trains)
    back = read_pulses(tmp_path / "p.csv")
    assert back.devices == trains.devices
    np.testing.assert_allclose(back.g, trains.g)


def test_fit_writes_a_config_that_train_accepts_with_the_fitted_values(tmp_path, trains):
    write_pulses(tmp_path / "p.csv", trains)
    out = tmp_path / "device.toml"
    assert main(["device", "fit", str(tmp_path / "p.csv"), "--out", str(out)]) == 0
    config = TrainConfig(**read_config_file(out, TrainConfig))
    name, substrate = config.substrate_config()
    assert name == "crossbar"
    expected = fit_device(trains, bootstrap=1).values
    assert {k: getattr(substrate, k) for k in FITTED} == expected
    run = tmp_path / "run"
    argv = ["train", "--config", str(out), "--dataset", "iris", "--epochs", "1"]
    assert main([*argv, "--hidden", "8", "--out", str(run)]) == 0
    assert (run / "summary.json").is_file()


def test_device_show_plots_a_preset_and_a_fitted_file(tmp_path, trains, capsys):
    png = tmp_path / "pcm.png"
    assert main(["device", "show", "pcm_nandakumar2020", "--out", str(png), "--devices", "8"]) == 0
    assert png.stat().st_size > 0
    assert "step_asymmetry = 0.9" in capsys.readouterr().out
    assert main(["device", "show", "nope"]) == 2
    assert "'nope' is neither a preset" in capsys.readouterr().err


HEADER = "device,cycle,direction,pulse,conductance_us\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("d0,0,sideways,0,1.0\n", "row 2: direction 'sideways' must be up or down"),
        ("d0,0,up,0,abc\n", "row 2, column conductance_us: 'abc' is not a finite number"),
        ("d0,x,up,0,1.0\n", "row 2, column cycle: 'x' is not an integer"),
        ("d0,0,up,0,1.0\nd0,0,up,0,1.1\n", r"row 3 repeats the read \(device d0, cycle 0, up"),
        ("d0,0,up,0,1\nd0,0,up,1,1\nd0,0,up,2,1\n", r"read\(s\) missing, first \(device d0"),
        ("d0,0,up\n", "row 2 has 3 fields, the header 5"),
    ],
)
def test_a_malformed_recording_is_refused_naming_the_row(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(DataError, match=message):
        read_pulses(path)


def test_a_missing_column_and_too_few_devices_are_refused(tmp_path, trains):
    path = tmp_path / "bad.csv"
    path.write_text("device,cycle,pulse,conductance_us\nd0,0,0,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['direction'\]"):
        read_pulses(path)
    two = PulseTrains(trains.g[:2], trains.devices[:2])
    with pytest.raises(DataError, match="at least 3 devices"):
        fit_device(two)
