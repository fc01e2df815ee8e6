"""Runs with a trainable pre-stage in front of a recorded 20-port system: training on data of
other widths, checkpoint and resume, the config's TOML round trip and the CLI's errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from pnnkit.cli import main
from pnnkit.data.recordings import make_synthetic_recording
from pnnkit.experiment import TrainConfig, Trainer
from tests.fixtures.configs import tiny_config


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("rec") / "rec20.npz"
    make_synthetic_recording(path, 600, 20, 20, noise=0.01, seed=0)
    return str(path)


def blobs_csv(path: Path, features: int, n: int = 240) -> str:
    """Three separated Gaussian classes with ``features`` columns and a ``label`` column."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (3, features))
    y = np.arange(n) % 3
    x = centres[y] + 0.5 * rng.normal(size=(n, features))
    header = ",".join([f"f{i}" for i in range(features)] + ["label"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="")
    return f"csv:{path}"


@pytest.mark.parametrize(("features", "least"), [(12, 0.8), (64, 0.5)])
def test_a_20_port_recording_trains_behind_a_pre_stage(tmp_path, recording, features, least):
    dataset = blobs_csv(tmp_path / "blobs.csv", 12) if features == 12 else "digits"
    config = TrainConfig(
        dataset=dataset,
        substrate=f"measured:{recording}",
        pre_stage="ideal",
        hidden=[32],
        epochs=8,
        batch_size=64,
        rule_options={"lr": 3e-3},
        out=str(tmp_path / "run"),
    )
    trainer = Trainer(config)
    assert trainer.network.units[0].pre.ports == (features, 20)
    summary = trainer.train(progress=False)
    assert summary["test_accuracy"] >= least
    assert "unit1.measured" in summary["substrate_reports"]  # the fit report, as without one


def test_a_resumed_run_carries_the_pre_stage(tmp_path, recording):
    changes = {
        "substrate": f"measured:{recording}",
        "pre_stage": "crossbar",
        "hidden": [8],
        "rule_options": {"schedule": "constant"},
    }
    whole = Trainer(tiny_config(tmp_path / "whole", epochs=2, **changes))
    whole.train(progress=False)
    Trainer(tiny_config(tmp_path / "half", epochs=1, **changes)).train(progress=False)
    resumed = Trainer.resume(tmp_path / "half", overrides=["epochs=2"])
    resumed.train(progress=False)
    pre = [t.network.state_dict()["units"][0]["pre"] for t in (whole, resumed)]
    for key in ("describe", "physical", "generator"):  # counters include the timings
        assert same(pre[0][key], pre[1][key]), key
    rules = [t.rule.state_dict()["pre_stages"] for t in (whole, resumed)]
    assert same(rules[0], rules[1])
    assert rules[0]["updates"][0]["steps"] > 0


def same(a: object, b: object) -> bool:
    """Nested dicts, lists and tensors equal to the last bit."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_pre_stage_round_trips_through_a_config_file(tmp_path, capsys, recording):
    args = ["--substrate", f"measured:{recording}", "--pre-stage", "crossbar"]
    code, out, err = run_cli(capsys, "config", "--show", *args, "--set", "pre_stage.levels=32")
    assert code == 0, err
    document = tomllib.loads(out)
    assert document["pre_stage"]["name"] == "crossbar"
    assert document["pre_stage"]["levels"] == 32
    path = tmp_path / "run.toml"
    path.write_text(out, encoding="utf-8")
    code, again, err = run_cli(capsys, "config", "--show", "--config", str(path))
    assert code == 0, err
    assert tomllib.loads(again) == document


def test_the_cli_says_to_use_a_pre_stage(tmp_path, capsys, recording):
    args = ["--substrate", f"measured:{recording}", "--dataset", "iris", "--out", str(tmp_path)]
    code, _, err = run_cli(capsys, "train", "--quiet", *args)
    assert code == 2
    assert "20 input ports but the data has 4 features" in err and "--pre-stage" in err
