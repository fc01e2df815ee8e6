"""Reinforcement learning runs: the run folder, query accounting, evaluation, solving, and the
``rl`` verb (the parts are tested in tests/unit/test_rl.py)."""

from __future__ import annotations

import argparse
import json

import pytest

from pnnkit.cli.rl import add_rl_parser
from pnnkit.errors import ConfigError, PnnkitError
from pnnkit.results.folder import RunFolder
from pnnkit.rl.config import RLConfig
from pnnkit.tasks.rl import RLRunner, run_rl


def tiny(tmp_path, **overrides) -> RLConfig:
    """A run of a few short CartPole episodes on a small crossbar network."""
    values = {
        "episodes": 8,
        "episodes_per_iteration": 4,
        "hidden": [8, 8],
        "batch_size": 32,
        "eval_episodes": 3,
        "eval_every": 4,
        "out": str(tmp_path / "run"),
        **overrides,
    }
    return RLConfig.from_dict(values)


# --- runs --------------------------------------------------------------------------------------


def test_a_short_run_fills_the_run_folder(tmp_path):
    summary = run_rl(tiny(tmp_path), progress=False)
    folder = RunFolder(tmp_path / "run")
    for path in (folder.config, folder.metrics, folder.summary, folder.checkpoint):
        assert path.exists()
    assert (tmp_path / "run" / "returns.png").stat().st_size > 0
    for key in (
        "mean_return",
        "episodes_used",
        "episodes_to_solve",
        "physical_queries",
        "evaluation_queries",
        "policy_samples",
        "solved",
    ):
        assert key in summary
    assert summary["episodes_used"] == 8 and summary["eval_episodes"] == 3
    metrics = folder.read_metrics()
    assert [m["episodes"] for m in metrics] == [4, 8]
    assert all("eval_mean_return" in m for m in metrics)
    state = folder.load_checkpoint()  # loads with weights_only=True
    assert state["episodes"] == 8 and state["network"] is not None
    assert json.loads(folder.summary.read_text())["mean_return"] == summary["mean_return"]
    with pytest.raises(ConfigError, match="already holds a run"):
        run_rl(tiny(tmp_path), progress=False)


def test_queries_are_the_policy_samples_times_the_substrates(tmp_path):
    """Acting costs one query per observation and substrate; a unit step measures its
    minibatch and the readout's features measure the training pairs once more."""
    runner = RLRunner(tiny(tmp_path, readout_steps=3))
    summary = runner.train(progress=False)
    metrics = runner.history
    substrates = len(runner.network.substrates())
    assert substrates == 2
    updates = sum(min(int(m["pairs"]), 32) + int(m["pairs"]) for m in metrics)
    assert summary["policy_samples"] == summary["env_steps"] + updates
    assert summary["physical_queries"] == substrates * summary["policy_samples"]
    assert summary["evaluation_queries"] == substrates * summary["evaluation_samples"]
    assert summary["evaluation_samples"] >= 3 * 3 * 8  # 3 evaluations of 3 episodes of >= 8 steps


def test_acting_alone_costs_one_query_per_environment_step_and_substrate(tmp_path):
    config = tiny(tmp_path, unit_steps=0, readout_steps=0, hidden=[8])
    summary = run_rl(config, progress=False)
    assert summary["policy_samples"] == summary["env_steps"]
    assert summary["physical_queries"] == summary["env_steps"]
    assert summary["device_writes"] == 0


def test_evaluating_more_often_does_not_change_training(tmp_path):
    a = RLRunner(tiny(tmp_path / "a", eval_every=8, episodes=12))
    b = RLRunner(tiny(tmp_path / "b", eval_every=4, episodes=12))
    a.train(progress=False)
    b.train(progress=False)
    assert a.train_returns == b.train_returns
    assert a.network.counters() == b.network.counters()


def test_reinforce_baseline_spends_no_physical_queries(tmp_path):
    summary = run_rl(tiny(tmp_path, method="reinforce"), progress=False)
    assert summary["substrate"] == "digital MLP" and summary["physical_queries"] == 0
    assert summary["policy_samples"] == 2 * summary["env_steps"]  # acting + one update each


def test_solved_runs_stop_and_report_the_episode_count(tmp_path):
    summary = run_rl(tiny(tmp_path, solve_threshold=1.0), progress=False)
    assert summary["solved"] and summary["episodes_to_solve"] == 4
    assert summary["episodes_used"] == 4
    assert summary["queries_to_solve"] == summary["physical_queries"] > 0
    assert summary["policy_samples_to_solve"] == summary["policy_samples"]


def test_a_run_that_goes_on_after_solving_reports_the_costs_at_the_solve(tmp_path):
    runner = RLRunner(tiny(tmp_path, solve_threshold=1.0, stop_when_solved=False))
    summary = runner.train(progress=False)
    assert summary["episodes_to_solve"] == 4 and summary["episodes_used"] == 8
    assert summary["queries_to_solve"] == runner.history[0]["physical_queries"]
    assert summary["queries_to_solve"] < summary["physical_queries"]


# --- command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="pnnkit")
    add_rl_parser(root.add_subparsers(dest="verb", required=True))
    return root


def test_rl_verb_prints_a_json_summary(tmp_path, capsys):
    args = parser().parse_args(
        [
            "rl",
            "--episodes",
            "4",
            "--hidden",
            "8",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "cli"),
            "--set",
            "eval_episodes=2",
            "--set",
            "episodes_per_iteration=4",
            "--json",
            "--quiet",
        ]
    )
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["env"] == "CartPole-v1" and summary["seed"] == 1
    assert summary["episodes_used"] == 4 and summary["hidden"] == [8]


def test_rl_verb_prints_a_readable_summary(tmp_path, capsys):
    out = str(tmp_path / "r")
    args = parser().parse_args(
        ["rl", "--method", "reinforce", "--episodes", "4", "--out", out, "--set", "eval_episodes=2"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "mean return" in out and "physical queries" in out and "training episodes" in out


def test_rl_verb_errors_are_project_errors(tmp_path):
    for extra in (["--env", "NoSuchEnv-v0"], ["--set", "rule.lr=0"], ["--hidden", ","]):
        args = parser().parse_args(["rl", "--out", str(tmp_path / "x"), "--quiet", *extra])
        with pytest.raises(PnnkitError):
            args.func(args)
