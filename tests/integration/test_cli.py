"""The command line and the run folder, end to end at small size."""

from __future__ import annotations

import json

import pytest
import torch

from pnnkit.cli import main
from pnnkit.experiment import TrainConfig, Trainer
from pnnkit.learning import rule_config
from pnnkit.results import RunFolder

SMALL = [
    "--dataset",
    "iris",
    "--epochs",
    "3",
    "--hidden",
    "16,12",
    "--batch-size",
    "32",
    "--quiet",
    "--set",
    "calibration_samples=32",
]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_json_summary_and_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "train", *SMALL, "--out", str(out), "--json")
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    for key in (
        "method",
        "substrate",
        "dataset",
        "seed",
        "test_accuracy",
        "physical_queries",
        "device_writes",
        "wall_seconds",
    ):
        assert key in summary
    assert (summary["method"], summary["substrate"], summary["dataset"]) == (
        "pib",
        "crossbar",
        "iris",
    )
    # PIB: one query per sample per unit per epoch (iris at 25% test, 10% of the rest for
    # validation: 100 training samples)
    n_train = summary["dataset_summary"]["n_train"]
    assert n_train == 100 and summary["dataset_summary"]["n_val"] == 12
    assert summary["physical_queries"] == 3 * n_train * 2
    folder = RunFolder(out)
    config = json.loads(folder.config.read_text())
    assert config["substrate_options"]["levels"] == 64  # resolved defaults are saved
    assert config["rule_options"]["beta"] == 1.0
    assert config["rule_options"]["estimator"]["alpha"] == 2.0
    metrics = folder.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert len(metrics[0]["info_i_xt"]) == len(metrics[0]["info_i_ty"]) == 2
    assert json.loads(folder.summary.read_text())["test_accuracy"] == summary["test_accuracy"]
    for plot in (folder.learning_curves, folder.information_plane):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_holds_the_hardware_state_and_loads_weights_only(tmp_path):
    config = TrainConfig(
        dataset="iris",
        epochs=2,
        hidden=[8],
        batch_size=32,
        out=str(tmp_path / "run"),
        substrate_options={"stuck_at_min_fraction": 0.1},
    )
    trainer = Trainer(config)
    trainer.train(progress=False)
    state = torch.load(trainer.folder.checkpoint, weights_only=True)
    physical = state["network"]["units"][0]["stage"]["physical"]
    torch.testing.assert_close(physical["conductance"], trainer.network.units[0].stage.conductance)
    assert physical["stuck_min"].float().mean() > 0
    assert state["epoch"] == 2
    assert state["config"]["substrate_options"]["stuck_at_min_fraction"] == 0.1


def test_same_seed_gives_the_same_run(tmp_path, capsys):
    results = []
    for name in ("a", "b"):
        code, _stdout, _ = run_cli(
            capsys, "train", *SMALL, "--seed", "3", "--out", str(tmp_path / name), "--json"
        )
        assert code == 0
        results.append(RunFolder(tmp_path / name).read_metrics())
    assert [m["test_accuracy"] for m in results[0]] == [m["test_accuracy"] for m in results[1]]
    assert [m["loss"] for m in results[0]] == [m["loss"] for m in results[1]]


def test_backprop_on_ideal_spends_no_physical_queries(tmp_path, capsys):
    code, stdout, _ = run_cli(
        capsys,
        "train",
        *SMALL,
        "--method",
        "backprop",
        "--substrate",
        "ideal",
        "--out",
        str(tmp_path / "bp"),
        "--json",
    )
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["physical_queries"] == 0
    assert summary["test_accuracy"] > 0.6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "epochs = 0 is invalid"),
        (["--method", "magic"], "method = 'magic' is invalid"),
        (["--substrate", "laser"], "substrate = 'laser' is invalid"),
        (["--set", "rule.beta=-1"], "beta = -1"),
        (["--set", "substrate.levels=abc"], "levels"),
        (["--set", "substrate.colour=red"], "unknown CrossbarConfig field"),
        (["--set", "nonsense"], "KEY=VALUE"),
        (["--dataset", "csv:/no/such/file.csv"], "/no/such/file.csv"),
        (["--dataset", "mnist"], "mnist"),
        (["--method", "backprop"], "exact differentiable model"),
        (["--set", "rule.lr=abc"], "PIBConfig.lr = 'abc' is invalid"),
        (["--set", "rule.estimator=5"], "expects a table"),
        (["--set", "substrate.g_max=1e400"], "must be a finite number"),
        (["--seed", "99999999999999999999"], "seed"),
        (["--out", ""], "must name a run folder"),
    ],
)
def test_bad_input_gives_one_clear_line_not_a_traceback(tmp_path, capsys, args, message):
    code, _, stderr = run_cli(capsys, "train", *SMALL, "--out", str(tmp_path / "x"), *args)
    assert code == 2
    assert stderr.startswith("pnnkit: error:")
    assert message in stderr
    assert "Traceback" not in stderr


def test_an_existing_run_is_never_overwritten_silently(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert run_cli(capsys, "train", *SMALL, "--out", out)[0] == 0
    code, _, stderr = run_cli(capsys, "train", *SMALL, "--out", out)
    assert code == 2 and "already holds a run" in stderr
    assert run_cli(capsys, "train", *SMALL, "--out", out, "--overwrite")[0] == 0


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    folder = RunFolder(tmp_path)
    folder.checkpoint.write_bytes(b"not a checkpoint")
    from pnnkit.errors import CheckpointError

    with pytest.raises(CheckpointError, match="damaged"):
        folder.load_checkpoint()


def test_csv_dataset_with_named_label_column(tmp_path, capsys):
    rows = ["a,species,b"] + [
        f"{i % 3 + 0.1 * i},{['x', 'y', 'z'][i % 3]},{(i % 3) * 2.0}" for i in range(60)
    ]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(rows) + "\n")
    code, stdout, _ = run_cli(
        capsys,
        "train",
        *SMALL,
        "--dataset",
        f"csv:{path}",
        "--label-column",
        "species",
        "--epochs",
        "10",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert code == 0
    assert json.loads(stdout.strip().splitlines()[-1])["test_accuracy"] > 0.5


def test_a_folder_with_stray_run_files_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "metrics.jsonl").write_text("precious\n")
    code, _, stderr = run_cli(capsys, "train", *SMALL, "--out", str(tmp_path))
    assert code == 2 and "metrics.jsonl" in stderr
    assert (tmp_path / "metrics.jsonl").read_text() == "precious\n"


def test_evaluation_never_changes_the_training_trajectory(tmp_path):
    """Evaluation measures through the same noisy hardware; it must not shift training's noise."""
    runs = []
    for info_samples in (16, 64):
        config = TrainConfig(
            dataset="iris",
            epochs=3,
            hidden=[8],
            batch_size=32,
            info_samples=info_samples,
            out=str(tmp_path / str(info_samples)),
        )
        trainer = Trainer(config)
        trainer.train(progress=False)
        runs.append(trainer)
    a, b = (r.network.units[0].stage for r in runs)
    torch.testing.assert_close(a.conductance, b.conductance, rtol=0, atol=0)
    assert [m["loss"] for m in runs[0].history] == [m["loss"] for m in runs[1].history]
    assert runs[0].eval_counters.physical_queries < runs[1].eval_counters.physical_queries


def test_folder_datasets_need_a_data_dir_and_never_download_unasked(tmp_path, capsys):
    code, _, stderr = run_cli(capsys, "train", *SMALL, "--dataset", "mnist", "--out", "x")
    assert code == 2 and "--data-dir" in stderr
    code, _, stderr = run_cli(
        capsys, "train", *SMALL, "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", "x"
    )
    assert code == 2 and "train-images-idx3-ubyte" in stderr
    code, _, stderr = run_cli(capsys, "train", *SMALL, "--data-dir", str(tmp_path), "--out", "x")
    assert code == 2 and "apply to mnist" in stderr


@pytest.mark.parametrize("substrate", ["scattering", "mzi", "diffractive", "oscillators"])
def test_physics_substrates_train_end_to_end(tmp_path, capsys, substrate):
    code, stdout, _ = run_cli(
        capsys, "train", *SMALL, "--substrate", substrate, "--out", str(tmp_path), "--json"
    )
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert (summary["substrate"], summary["stage"]) == (substrate, "ideal")
    # calibration (32 samples x 2 physics passes + 1 stage pass) + 3 epochs x n_train x 4 passes
    n_train = summary["dataset_summary"]["n_train"]
    assert summary["physical_queries"] == 32 * 3 + 3 * n_train * 4
    state = torch.load(RunFolder(tmp_path).checkpoint, weights_only=True)
    assert state["network"]["units"][0]["p_mean"] is not None


def test_measured_recording_substrate_from_the_command_line(tmp_path, capsys):
    from pnnkit.data.recordings import make_synthetic_recording

    recording = tmp_path / "rec.npz"
    make_synthetic_recording(recording, 300, 4, 6, noise=0.05, seed=0)
    args = ["train", *SMALL, "--substrate", f"measured:{recording}", "--json"]
    code, stdout, _ = run_cli(capsys, *args, "--out", str(tmp_path / "run"))
    assert code == 0
    report = json.loads(stdout.strip().splitlines()[-1])["substrate_reports"]["unit1.measured"]
    assert report["r2_overall"] > 0.9 and report["n_holdout"] == 60
    code, _, stderr = run_cli(capsys, *args[:-1], "--dataset", "digits", "--out", "y")
    assert code == 2 and "has 4 input ports but the data has 64 features" in stderr


@pytest.mark.parametrize(
    "method, substrate",
    [
        ("insilico", "crossbar"),
        ("pat", "scattering"),
        ("ff", "crossbar"),
        ("dfa", "crossbar"),
        ("spsa", "ideal"),
        ("hsic", "crossbar"),
        ("eqprop", "resistive"),
    ],
)
def test_every_method_trains_from_the_command_line(tmp_path, capsys, method, substrate):
    code, stdout, stderr = run_cli(
        capsys,
        "train",
        *SMALL,
        "--method",
        method,
        "--substrate",
        substrate,
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["method"] == method and 0 <= summary["test_accuracy"] <= 1
    assert summary["digital_seconds"] >= 0 and summary["hardware_seconds"] > 0


def test_optional_integer_settings_read_from_the_command_line(tmp_path, capsys):
    args = ["train", *SMALL, "--method", "ff", "--json"]
    code, _, stderr = run_cli(capsys, *args, "--out", str(tmp_path), "--set", "rule.seed=3")
    assert code == 0, stderr
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["rule_options"]["seed"] == 3
    code, _, stderr = run_cli(capsys, *args, "--out", "y", "--set", "rule.seed=three")
    assert code == 2 and "seed = 'three' is invalid: must be an integer" in stderr


def test_faults_are_injected_on_schedule_and_recorded(tmp_path, capsys):
    args = ["train", *SMALL, "--json", "--faults", "stuck:0.25@epoch=2"]
    code, stdout, stderr = run_cli(capsys, *args, "--out", str(tmp_path))
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    records = summary["faults"]["injected"]
    assert [r["unit"] for r in records] == [1, 2]  # every crossbar of the network
    assert {(r["epoch"], r["kind"], r["level"]) for r in records} == {(2, "stuck", 0.25)}
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [len(m["faults"]) for m in metrics] == [0, 2, 0]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["faults"] == "stuck:0.25@epoch=2"
    state = torch.load(RunFolder(tmp_path).checkpoint, weights_only=True)
    assert "faults" in state
    start = tmp_path / "start"
    code, _, stderr = run_cli(capsys, *args[:-2], "--faults", "stuck:0.25", "--out", str(start))
    assert code == 0, stderr
    metrics = [json.loads(line) for line in (start / "metrics.jsonl").read_text().splitlines()]
    assert [len(m["faults"]) for m in metrics] == [2, 0, 0]  # present before calibration
    code, _, stderr = run_cli(capsys, *args[:-2], "--faults", "stuk:0.2", "--out", "y")
    assert code == 2 and "unknown fault kind 'stuk'" in stderr


def test_rl_verb_is_wired_into_the_main_command(tmp_path, capsys):
    args = ["rl", "--episodes", "8", "--hidden", "8", "--quiet", "--json", "--out", str(tmp_path)]
    code, stdout, stderr = run_cli(capsys, *args, "--set", "eval_episodes=2")
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["env"] == "CartPole-v1" and summary["physical_queries"] > 0
    code, _, stderr = run_cli(capsys, "rl", "--env", "NoSuchEnv-v0", "--out", str(tmp_path / "x"))
    assert code == 2 and "NoSuchEnv-v0" in stderr


def test_demo_states_pib_settings_and_validation_accuracy(tmp_path, capsys):
    code, stdout, _ = run_cli(capsys, "demo", "--epochs", "1", "--quiet", "--out", str(tmp_path))
    assert code == 0
    pib = rule_config("pib")
    assert f"Renyi order {pib.estimator.alpha:g} ({pib.estimator.solver})" in stdout
    assert f"per-unit heads {pib.head_weight:g}" in stdout
    rows = [r for r in map(str.split, stdout.splitlines()) if r[:1] in (["pib"], ["backprop"])]
    rows = [r for r in rows if len(r) == 7]  # the table's rows, not the prose
    assert [r[0] for r in rows] == ["pib", "backprop"]
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)  # the validation accuracy column


def test_help_lists_the_registered_methods_and_substrates(capsys):
    from pnnkit.learning import RULES
    from pnnkit.physics import SUBSTRATES

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())  # lines rewrapped
    assert f"learning rule: {', '.join(sorted(RULES))}" in text
    for name in SUBSTRATES:
        assert name in text.split("--substrate SUBSTRATE", 1)[1].split("--dataset", 1)[0]
