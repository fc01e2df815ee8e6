"""Crossbar device presets: each builds, trains, shows its settings; explicit settings win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pnnkit.cli import main
from pnnkit.errors import ConfigError
from pnnkit.experiment import TrainConfig, train
from pnnkit.physics import Crossbar, CrossbarConfig
from pnnkit.physics.crossbar_presets import PRESETS, soft_bounds
from tests.fixtures.configs import tiny_config


def test_there_are_the_device_families_the_issue_asks_for():
    names = set(PRESETS)
    assert "default" in names
    assert {n.split("_")[0] for n in names} >= {"reram", "hfo2", "pcm", "ecram"}
    assert PRESETS["default"].values == {}
    for preset in PRESETS.values():
        assert preset.source and preset.notes


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_crossbar_and_trains_one_epoch(tmp_path, name):
    config = tiny_config(tmp_path / name, substrate_options={"preset": name}, hidden=[8], epochs=1)
    _, substrate = config.substrate_config()
    assert isinstance(substrate, CrossbarConfig)
    for field, value in PRESETS[name].values.items():
        assert getattr(substrate, field) == value
    summary = train(config, progress=False)
    assert summary["programming_pulses"] > 0
    assert 0 <= summary["test_accuracy"] <= 1
    saved = json.loads((tmp_path / name / "config.json").read_text())["substrate_options"]
    assert saved["preset"] == name and saved["levels"] == substrate.levels


def test_explicit_settings_override_the_preset_and_the_rest_comes_from_it():
    config = CrossbarConfig.from_dict({"preset": "ecram_tang2018", "levels": "77"})
    assert config.levels == 77
    assert config.max_pulses == PRESETS["ecram_tang2018"].values["max_pulses"]
    assert config.c2c_noise == PRESETS["ecram_tang2018"].values["c2c_noise"]
    assert CrossbarConfig.from_dict({}) == CrossbarConfig()


def test_a_resolved_config_loads_back_to_the_same_settings():
    config = CrossbarConfig.from_dict({"preset": "pcm_nandakumar2020"})
    assert CrossbarConfig.from_dict(config.to_dict()) == config


def test_an_unknown_preset_is_refused_listing_the_presets():
    with pytest.raises(ConfigError, match=r"preset = 'nope'.*pcm_nandakumar2020"):
        CrossbarConfig.from_dict({"preset": "nope"})
    with pytest.raises(ConfigError, match="preset"):
        TrainConfig(substrate_options={"preset": "nope"})


def test_config_show_prints_the_resolved_preset(capsys):
    assert main(["config", "--show", "--set", "substrate.preset=hfo2_gong2022"]) == 0
    text = capsys.readouterr().out
    assert 'preset = "hfo2_gong2022"' in text
    assert f"levels = {PRESETS['hfo2_gong2022'].values['levels']}\n" in text


def test_the_soft_bounds_mapping_keeps_the_slopes_of_the_source():
    # aihwkit: up slope dw_min (1 + ud) / w_max, down dw_min (1 - ud) / |w_min|;
    # ours: 2 s (1 +- a) / S
    dw_min, w_min, w_max, ud = 0.01, -0.5, 1.5, 0.1
    mapped = soft_bounds(dw_min, w_min, w_max, ud, dw_min_std=0.2)
    span = w_max - w_min
    step, a = span / mapped["levels"], mapped["step_asymmetry"]
    assert 2 * step * (1 + a) / span == pytest.approx(dw_min * (1 + ud) / w_max, rel=0.01)
    assert 2 * step * (1 - a) / span == pytest.approx(dw_min * (1 - ud) / abs(w_min), rel=0.01)
    assert mapped["c2c_noise"] == 0.2


def test_a_noisier_source_keeps_its_update_variance_per_unit_change():
    dw_min, sigma = 0.002, 3.0
    mapped = soft_bounds(dw_min, -1.0, 1.0, dw_min_std=sigma)
    step = 2.0 / mapped["levels"]
    assert mapped["c2c_noise"] == 1.0
    assert step == pytest.approx((sigma * dw_min) ** 2 / dw_min, rel=0.02)


def test_a_crossbar_state_saved_before_presets_existed_still_loads():
    bar = Crossbar(3, 2, seed=0)
    state = bar.state_dict()
    del state["describe"]["config"]["preset"]
    again = Crossbar(3, 2, seed=1)
    again.load_state_dict(state)
    assert torch.equal(again.conductance, bar.conductance)
    pcm = Crossbar(3, 2, seed=0, config=CrossbarConfig.from_dict({"preset": "pcm_nandakumar2020"}))
    with pytest.raises(ConfigError, match="preset"):
        pcm.load_state_dict(state)


def test_docs_devices_has_one_row_per_preset_with_its_values():
    lines = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| preset |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    assert set(rows) == set(PRESETS)
    for name, row in rows.items():
        config = CrossbarConfig.from_dict({"preset": name})
        for field in ("levels", "step_asymmetry", "c2c_noise", "d2d_step", "d2d_bounds"):
            assert float(row[field]) == getattr(config, field), (name, field)
