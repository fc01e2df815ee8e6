"""``pnnkit show``, ``pnnkit plot`` and ``pnnkit compare`` on small real runs, finished and
unfinished, and on bench and fault-sweep folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pnnkit.cli import main
from pnnkit.errors import CheckpointError, ConfigError
from pnnkit.experiment.sweeps.fault_sweep import FaultSweepConfig, run_fault_sweep
from pnnkit.results import BENCH, FAULTS, RL, TRAIN, describe, folder_kind
from pnnkit.results.folder import KIND_FILE, RunFolder, create_results_folder

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = ["--dataset", "iris", "--hidden", "8", "--epochs", "2", "--quiet"]
SMALL += ["--set", "calibration_samples=32"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three tiny runs (PIB with faults arriving at epoch 2, backprop, unsupervised PIB) and a
    fault sweep of two rates (whose rate folders are bench folders)."""
    root = tmp_path_factory.mktemp("results")
    settings = {
        "pib": ["--faults", "stuck:0.2@epoch=2"],
        "backprop": ["--method", "backprop", "--substrate", "ideal"],
        "unsup": ["--task", "unsupervised", "--set", "activation=tanh"],
    }
    folders = {}
    for name, extra in settings.items():
        folders[name] = root / name
        assert main(["train", *SMALL, *extra, "--out", str(folders[name])]) == 0
    folders["sweep"] = root / "sweep"
    sweep = FaultSweepConfig(
        rates=[0.0, 0.3],
        when="epoch=2",
        methods=["pib"],
        dataset="iris",
        seeds=[0],
        epochs=2,
        hidden=[8],
        overrides=["calibration_samples=32"],
        workers=1,
        out=str(folders["sweep"]),
    )
    run_fault_sweep(sweep, progress=False)
    return folders


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def metrics_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def field(text: str, name: str) -> str:
    """The value printed after ``name`` on its line of ``pnnkit show``."""
    line = next(line for line in text.splitlines() if line.strip().startswith(name))
    return line.strip()[len(name) :].strip()


# -- show ----------------------------------------------------------------------------------------


def test_show_prints_the_values_of_the_summary(runs, capsys):
    code, out, _ = run_cli(capsys, "show", runs["pib"])
    assert code == 0
    s, metrics = summary_of(runs["pib"]), metrics_of(runs["pib"])
    assert out.splitlines()[0] == f"run {runs['pib']}: finished, 2 epochs"
    assert field(out, "method") == "pib" and field(out, "substrate") == "crossbar"
    assert field(out, "task") == "supervised"
    sizes = s["dataset_summary"]
    n_train, n_val, n_test = sizes["n_train"], sizes["n_val"], sizes["n_test"]
    assert n_val > 0  # the default holds out a validation split
    assert field(out, "dataset").startswith(f"iris ({n_train} train / {n_val} val / {n_test} test")
    best = max(metrics, key=lambda m: m["test_accuracy"])
    assert field(out, "test accuracy") == (
        f"{s['test_accuracy']:.4f} final, {best['test_accuracy']:.4f} best (epoch {best['epoch']})"
    )
    assert field(out, "train accuracy") == f"{s['train_accuracy']:.4f} final"
    best_val = max(metrics, key=lambda m: m["val_accuracy"])
    assert field(out, "val accuracy") == (
        f"{s['val_accuracy']:.4f} final, {best_val['val_accuracy']:.4f} best "
        f"(epoch {best_val['epoch']})"
    )
    assert field(out, "physical queries") == f"{s['physical_queries']:,}"
    assert field(out, "device writes") == f"{s['device_writes']:,}"
    assert field(out, "evaluation queries") == f"{s['evaluation_queries']:,}"
    assert field(out, "wall time").startswith(f"{s['wall_seconds']:.1f} s")
    injected = len(s["faults"]["injected"])
    assert field(out, "faults") == f"stuck:0.2@epoch=2: {injected} injection(s), at epoch(s) 2"
    if "bad_batches_total" in s:
        assert field(out, "bad batches") == f"{s['bad_batches_total']:,}"
    assert "learning_curves.png" in field(out, "plots")


def test_show_json_holds_the_exact_numbers(runs, capsys):
    code, out, _ = run_cli(capsys, "show", runs["backprop"], "--json")
    assert code == 0
    info, s = json.loads(out), summary_of(runs["backprop"])
    assert info["status"] == "finished" and info["epochs_done"] == info["epochs_total"] == 2
    for key in ("physical_queries", "device_writes", "evaluation_queries", "wall_seconds"):
        assert info[key] == s[key]
    assert info["final"] == s["test_accuracy"] and info["physical_queries"] == 0
    assert info["curve"] == [[m["epoch"], m["test_accuracy"]] for m in metrics_of(runs["backprop"])]
    assert info["faults"] == {"schedule": "", "injected": 0, "epochs": []}


def test_show_an_unsupervised_run_reports_its_own_scores(runs, capsys):
    code, out, _ = run_cli(capsys, "show", runs["unsup"])
    assert code == 0
    u = summary_of(runs["unsup"])["unsupervised"]
    assert field(out, "probe accuracy").startswith(f"{u['probe']['learned']:.4f} final")
    assert field(out, "vs untrained network") == (
        f"probe {u['probe']['untrained']:.4f}, NMI {u['nmi']['untrained']:.3f}"
    )
    assert field(out, "k-means NMI") == f"{u['nmi']['learned']:.3f}"


def test_show_an_unfinished_run_from_its_config_and_metrics(runs, capsys, tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(runs["pib"], folder)
    (folder / "summary.json").unlink()
    first = (folder / "metrics.jsonl").read_text().splitlines()[0]
    (folder / "metrics.jsonl").write_text(first + '\n{"epoch": 2, "los')  # torn while written
    code, out, _ = run_cli(capsys, "show", folder)
    assert code == 0
    assert out.splitlines()[0] == f"run {folder}: unfinished, epoch 1 of 2"
    record = json.loads(first)
    assert field(out, "test accuracy").startswith(f"{record['test_accuracy']:.4f} final")
    assert field(out, "physical queries") == f"{record['physical_queries']:,}"
    code, out, _ = run_cli(capsys, "show", folder, "--json")
    assert json.loads(out)["evaluation_queries"] is None
    # an unfinished run plots too (here its unsupervised twin, without saved baselines)
    unsup = tmp_path / "unsup"
    shutil.copytree(runs["unsup"], unsup)
    (unsup / "summary.json").unlink()
    code, out, _ = run_cli(capsys, "plot", unsup, "--out", tmp_path / "p")
    assert code == 0 and (tmp_path / "p" / "learning_curves.png").read_bytes()[:8] == PNG


def test_show_bench_and_fault_sweep_folders_print_their_tables(runs, capsys):
    sweep = runs["sweep"]
    code, out, _ = run_cli(capsys, "show", sweep)
    assert code == 0 and out.startswith(f"fault sweep {sweep}: rates rate-0, rate-0.3")
    table = (sweep / "faults.md").read_text().strip()
    assert table in out
    bench = sweep / "rate-0.3"
    code, out, _ = run_cli(capsys, "show", bench)
    assert code == 0 and out.startswith(f"bench {bench}: 1 run(s)")
    assert (bench / "bench.md").read_text().strip() in out


# -- plot ----------------------------------------------------------------------------------------


def test_plot_redraws_the_run_plots_and_marks_faults(runs, capsys, tmp_path):
    code, out, _ = run_cli(capsys, "plot", runs["pib"], "--out", tmp_path / "pib")
    assert code == 0
    names = ["learning_curves.png", "information_plane.png", "fault_recovery.png"]
    assert out.split() == [str(tmp_path / "pib" / name) for name in names]
    for path in out.split():
        data = Path(path).read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    code, out, _ = run_cli(capsys, "plot", runs["backprop"], "--out", tmp_path / "bp")
    assert code == 0 and "fault_recovery" not in out  # no faults, no recovery plot
    assert len(out.split()) == 2


def test_plot_bench_and_fault_sweep_folders(runs, capsys, tmp_path):
    code, out, _ = run_cli(capsys, "plot", runs["sweep"], "--out", tmp_path)
    assert code == 0
    assert out.split() == [str(tmp_path / "accuracy_vs_rate.png"), str(tmp_path / "recovery.png")]
    code, out, _ = run_cli(capsys, "plot", runs["sweep"] / "rate-0", "--out", tmp_path)
    assert code == 0 and out.split() == [str(tmp_path / "accuracy_vs_queries.png")]
    for path in tmp_path.glob("*.png"):
        assert path.read_bytes()[:8] == PNG


# -- compare -------------------------------------------------------------------------------------


def test_compare_lists_every_run_with_its_numbers_and_plots_the_curves(runs, capsys, tmp_path):
    plot = tmp_path / "cmp.png"
    code, out, _ = run_cli(capsys, "compare", runs["pib"], runs["backprop"], "--out", plot)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["run", "method", "substrate", "dataset"]
    for name in ("pib", "backprop"):
        s = summary_of(runs[name])
        row = next(line.split() for line in lines if line.startswith(name + " "))
        assert row[1:5] == [s["method"], s["substrate"], "iris", "0"]
        assert row[5] == "2/2" and row[8] == f"{s['test_accuracy']:.4f}"
        assert row[11] == f"{s['val_accuracy']:.4f}"
        assert row[12] == f"{s['physical_queries']:,}" and row[13] == f"{s['device_writes']:,}"
    assert "note:" not in out  # same task
    assert lines[-1] == f"plot: {plot}" and plot.read_bytes()[:8] == PNG


def test_compare_runs_of_different_tasks_on_their_own_metrics(runs, capsys, tmp_path):
    code, out, _ = run_cli(
        capsys, "compare", runs["pib"], runs["unsup"], "--json", "--out", tmp_path / "c.png"
    )
    assert code == 0
    result = json.loads(out)
    assert [r["metric"] for r in result["runs"]] == ["test_accuracy", "probe_accuracy"]
    assert (
        result["runs"][1]["final"] == summary_of(runs["unsup"])["unsupervised"]["probe"]["learned"]
    )
    assert "different tasks" in result["note"] and "linear-probe" in result["note"]


def test_compare_a_fault_sweep_stands_for_its_runs(runs, capsys, tmp_path):
    code, out, _ = run_cli(capsys, "compare", runs["sweep"], "--json", "--out", tmp_path / "c.png")
    assert code == 0
    names = [r["name"] for r in json.loads(out)["runs"]]
    # two runs of the same folder name, told apart by their paths
    assert names == ["rate-0/runs/iris-crossbar-pib-0", "rate-0.3/runs/iris-crossbar-pib-0"]


# -- errors --------------------------------------------------------------------------------------


def test_folders_that_are_not_results_give_one_clear_line(runs, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    damaged = tmp_path / "damaged"
    shutil.copytree(runs["backprop"], damaged)
    (damaged / "config.json").write_text('{"method": ')
    torn = tmp_path / "torn"
    shutil.copytree(runs["backprop"], torn)
    (torn / "metrics.jsonl").write_text('{"epoch": 1\n{"epoch": 2}\n')
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(runs["backprop"] / "config.json", fresh)
    cases = [
        (["show", tmp_path / "nowhere"], "no such folder"),
        (["show", tmp_path / "empty"], "is not a pnnkit run folder"),
        (["show", tmp_path / "file.txt"], "is a file"),
        (["show", damaged], "config.json: damaged, not valid JSON"),
        (["show", torn], "metrics.jsonl: line 1 is damaged"),
        (["plot", tmp_path / "nowhere"], "no such folder"),
        (["plot", fresh], "nothing to plot yet"),
        (["compare", runs["pib"], tmp_path / "empty"], "is not a pnnkit run folder"),
    ]
    for args, message in cases:
        code, out, err = run_cli(capsys, *args)
        assert code == 2 and out == "", err
        assert err.startswith("pnnkit: error:") and err.count("\n") == 1, err
        assert message in err, err
    code, out, _ = run_cli(capsys, "show", fresh)  # a run that has not finished an epoch
    assert code == 0 and "unfinished, epoch 0 of 2" in out and "no epoch finished yet" in out


# -- run folder kinds ----------------------------------------------------------------------------


def test_reading_results_loads_no_training_code():
    training = ["experiment", "learning", "physics", "rl", "distributed", "cli"]
    code = (
        "import sys, pnnkit.results, pnnkit.results.plots\n"
        f"print([m for m in sys.modules if m.split('.')[:2] in "
        f"[['pnnkit', t] for t in {training!r}]])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def recorded_kind(folder: Path) -> str:
    return json.loads((folder / KIND_FILE).read_text())["kind"]


def test_run_folders_record_their_kind(runs):
    assert recorded_kind(runs["pib"]) == recorded_kind(runs["unsup"]) == TRAIN
    assert recorded_kind(runs["sweep"]) == FAULTS
    assert recorded_kind(runs["sweep"] / "rate-0.3") == BENCH
    assert recorded_kind(runs["sweep"] / "rate-0.3" / "runs" / "iris-crossbar-pib-0") == TRAIN
    assert describe(runs["pib"])["kind"] == TRAIN


def test_folders_of_earlier_versions_are_told_by_their_files(runs, tmp_path):
    """Folders without kind.json (written before it existed) load and read the same."""
    for name in ("pib", "unsup", "sweep"):
        old = tmp_path / name
        shutil.copytree(runs[name], old)
        for path in old.rglob(KIND_FILE):
            path.unlink()
        new_info = describe(runs[name])
        old_info = describe(old)
        assert old_info["kind"] == new_info["kind"] == folder_kind(old) == folder_kind(runs[name])
        if name != "sweep":
            assert {**old_info, "path": "", "plots": []} == {**new_info, "path": "", "plots": []}
    assert folder_kind(tmp_path / "sweep" / "rate-0") == BENCH
    rl = tmp_path / "rl"  # an unfinished reinforcement-learning run of an earlier version
    rl.mkdir()
    (rl / "config.json").write_text(json.dumps({"env": "CartPole-v1", "method": "pib"}))
    lines = [json.dumps({"iteration": i, "episodes": 10 * i}) for i in (1, 2)]
    (rl / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert folder_kind(rl) == RL
    assert describe(rl)["status"] == "unfinished" and describe(rl)["iterations"] == 2
    (rl / KIND_FILE).write_text(json.dumps({"kind": RL}))
    assert folder_kind(rl) == RL


def test_a_recorded_kind_wins_and_a_foreign_one_is_refused(runs, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / KIND_FILE).write_text(json.dumps({"kind": "telescope"}))
    with pytest.raises(CheckpointError, match="unknown kind 'telescope'"):
        folder_kind(odd)
    with pytest.raises(ConfigError, match="holds a train folder, not a bench one"):
        create_results_folder(runs["pib"], BENCH)
    with pytest.raises(ValueError, match="no kind"):
        RunFolder(tmp_path / "x").create()
