"""The validation split (issue 15, item 1): carved out of the training split, stratified,
disjoint from training and test, reproducible from the seed, refused when too small; its
accuracy per epoch and in the summary, ``select = best-val``, and the flags of train, bench and
faults."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pnnkit.cli import build_parser, main
from pnnkit.cli.resolve import train_config
from pnnkit.data import load_dataset
from pnnkit.errors import ConfigError, DataError
from pnnkit.experiment import TrainConfig, Trainer, train
from pnnkit.experiment.sweeps.bench import BenchConfig
from pnnkit.experiment.sweeps.fault_sweep import FaultSweepConfig
from pnnkit.results import RunFolder, describe_run
from pnnkit.results.format import bench_table, sweep_table
from pnnkit.results.read import aggregate
from pnnkit.tasks.supervised import Supervised

#: a tiny supervised run: iris, one unit of 8, batches of 32
TINY = {"hidden": [8], "epochs": 4, "info_samples": 32}


def ids_npz(tmp_path: Path, n: int = 300, classes: int = 3, *, own_test: int = 0) -> str:
    """An NPZ file whose first feature is the sample's id (unique rows, so a row tells which
    sample it is), labels ``id % classes``; ``own_test`` > 0 gives it its own test split."""
    ids = np.arange(n, dtype=np.float64)
    x = np.stack([ids, np.sin(ids)], axis=1)
    y = np.arange(n) % classes
    path = tmp_path / "ids.npz"
    if own_test:
        np.savez(path, x_train=x[own_test:], y_train=y[own_test:], x_test=x[:own_test],
                 y_test=y[:own_test])  # fmt: skip
    else:
        np.savez(path, x=x, y=y)
    return f"npz:{path}"


def ids(x: torch.Tensor) -> set[int]:
    return {int(v) for v in x[:, 0].tolist()}


def untimed(metrics: list[dict]) -> list[dict]:
    """The records without their times (which differ between two runs)."""
    return [{k: v for k, v in m.items() if not k.endswith("seconds")} for m in metrics]


# -- the split -----------------------------------------------------------------------------------


def test_validation_split_is_stratified_like_the_training_split():
    data = load_dataset("digits", seed=3, val_fraction=0.2)
    assert data.summary()["n_val"] == len(data.y_val) == math.ceil(0.2 * 1347)
    val = np.bincount(data.y_val.numpy(), minlength=10)
    whole = val + np.bincount(data.y_train.numpy(), minlength=10)  # the training split before
    assert np.all(np.abs(val - 0.2 * whole) <= 1)  # each class keeps its share, within rounding
    assert data.x_val.shape == (len(data.y_val), 64) and data.x_val.dtype == torch.float32


def test_validation_split_is_disjoint_from_training_and_test_and_carved_from_training(tmp_path):
    spec = ids_npz(tmp_path)
    before = load_dataset(spec, seed=0, standardize=False)
    data = load_dataset(spec, seed=0, standardize=False, val_fraction=0.25)
    train_ids, val_ids, test_ids = ids(data.x_train), ids(data.x_val), ids(data.x_test)
    assert len(train_ids) == len(data.y_train) and len(val_ids) == len(data.y_val)
    assert not train_ids & val_ids and not val_ids & test_ids and not train_ids & test_ids
    assert train_ids | val_ids == ids(before.x_train)  # carved out of the training split
    assert test_ids == ids(before.x_test)  # the test split is untouched
    assert torch.equal(data.y_val, data.x_val[:, 0].long() % 3)  # labels travel with their rows


def test_a_dataset_with_its_own_test_split_gives_validation_from_its_training_part(tmp_path):
    spec = ids_npz(tmp_path, own_test=60)
    data = load_dataset(spec, seed=0, standardize=False, val_fraction=0.1)
    assert ids(data.x_test) == set(range(60))  # its own test split, as it was
    assert ids(data.x_train) | ids(data.x_val) == set(range(60, 300))
    assert not ids(data.x_train) & ids(data.x_val)
    assert len(data.y_val) == math.ceil(0.1 * 240)


def test_validation_split_is_reproducible_from_the_seed(tmp_path):
    spec = ids_npz(tmp_path)

    def val_ids(seed: int) -> set[int]:
        return ids(load_dataset(spec, seed=seed, standardize=False, val_fraction=0.2).x_val)

    assert val_ids(4) == val_ids(4)
    assert val_ids(4) != val_ids(5)
    a, b = (load_dataset("digits", seed=1, val_fraction=0.1) for _ in range(2))
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_val, b.y_val)
    assert torch.equal(a.x_train, b.x_train)


def test_standardisation_uses_the_remaining_training_split_only(tmp_path):
    spec = ids_npz(tmp_path)
    raw = load_dataset(spec, seed=0, standardize=False, val_fraction=0.3)
    data = load_dataset(spec, seed=0, val_fraction=0.3)
    x = raw.x_train.double()
    mean, std = x.mean(0), x.std(0, unbiased=False)
    for split in ("x_train", "x_val", "x_test"):
        expected = (getattr(raw, split).double() - mean) / std
        assert torch.allclose(getattr(data, split).double(), expected, atol=1e-5), split
    assert data.x_train.double().mean(0).abs().max() < 1e-5


def test_val_fraction_0_keeps_the_splits_of_earlier_versions():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        bunch.data, bunch.target, test_size=0.25, random_state=7, stratify=bunch.target
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    constant = np.all(x_tr == x_tr[:1], axis=0)
    mean, std = np.where(constant, x_tr[0], mean), np.where(constant, 1.0, std)
    data = load_dataset("digits", seed=7, val_fraction=0.0)
    assert torch.equal(data.y_train, torch.from_numpy(y_tr))
    assert torch.equal(data.y_test, torch.from_numpy(y_te))
    assert torch.equal(data.x_train, torch.from_numpy(((x_tr - mean) / std).astype(np.float32)))
    assert torch.equal(data.x_test, torch.from_numpy(((x_te - mean) / std).astype(np.float32)))
    assert data.x_val.shape == (0, 64) and data.y_val.shape == (0,) and not data.has_val
    assert data.summary()["n_val"] == 0
    default = load_dataset("digits", seed=7)  # the library's default holds out nothing
    assert torch.equal(default.x_train, data.x_train) and not default.has_val


def test_a_validation_split_too_small_for_the_classes_is_refused(tmp_path):
    rows = "\n".join(f"{i}.5,{i % 3}" for i in range(12))  # 3 classes, 4 samples each
    path = tmp_path / "small.csv"
    path.write_text(f"a,label\n{rows}\n")
    # 9 training samples (3 a class): 10% is 1 validation sample for 3 classes
    with pytest.raises(DataError) as caught:
        load_dataset(f"csv:{path}", val_fraction=0.1)
    message = str(caught.value)
    assert "val_fraction = 0.1" in message and "1 of the 9 training samples" in message
    assert "3 classes" in message
    # 90% leaves 0 training samples of some class
    with pytest.raises(DataError, match=r"0\.9 puts 9 of the 9 training samples .* and 0 in"):
        load_dataset(f"csv:{path}", val_fraction=0.9)
    assert len(load_dataset(f"csv:{path}", val_fraction=1 / 3).y_val) == 3  # one a class


def test_a_class_with_a_single_training_sample_cannot_be_validated(tmp_path):
    x = np.arange(40, dtype=np.float64)[:, None]
    y = np.array([0] * 20 + [1] * 19 + [2])
    path = tmp_path / "own.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:6], y_test=np.array([0, 1, 2] * 2))
    with pytest.raises(DataError, match=r"val_fraction = 0\.25 .*class\(es\) '2'"):
        load_dataset(f"npz:{path}", val_fraction=0.25)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), True, "0.1"])
def test_val_fraction_outside_0_1_is_a_config_error(bad):
    with pytest.raises(ConfigError, match=r"val_fraction = .* must be a number in \[0, 1\)"):
        load_dataset("iris", val_fraction=bad)


# -- the config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"val_fraction": 1.0}, r"val_fraction = 1\.0 is invalid: must be in \[0, 1\)"),
        ({"val_fraction": -0.5}, r"val_fraction = -0\.5 is invalid"),
        ({"val_fraction": "a lot"}, r"TrainConfig\.val_fraction = 'a lot' is invalid"),
        ({"select": "best"}, r"select = 'best' is invalid: choose one of \['last', 'best-val'\]"),
        ({"select": "best-val", "val_fraction": 0.0}, r"select = 'best-val'.*val_fraction > 0"),
        ({"select": "best-val", "task": "unsupervised"}, r"select = 'best-val'.*supervised"),
    ],
)
def test_config_errors_name_the_field(changes, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**changes).validate()
    defaults = TrainConfig()
    assert (defaults.val_fraction, defaults.select) == (0.1, "last")


# -- training ------------------------------------------------------------------------------------


def test_metrics_and_summary_hold_the_validation_accuracy(tmp_path, tiny_config):
    summary = train(tiny_config(**TINY, out=tmp_path), progress=False)
    metrics = RunFolder(tmp_path).read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert all(0 <= m["val_accuracy"] <= 1 for m in metrics)
    best = max(metrics, key=lambda m: m["val_accuracy"])
    assert summary["val_accuracy"] == metrics[-1]["val_accuracy"]
    assert (summary["best_val_accuracy"], summary["best_val_epoch"]) == (
        best["val_accuracy"],
        best["epoch"],
    )
    assert (summary["select"], summary["selected_epoch"]) == ("last", 4)
    assert summary["test_accuracy"] == summary["last_test_accuracy"] == metrics[-1]["test_accuracy"]
    sizes = summary["dataset_summary"]
    assert (sizes["n_train"], sizes["n_val"], sizes["n_test"]) == (100, 12, 38)
    assert json.loads(RunFolder(tmp_path).summary.read_text()) == summary


def test_select_best_val_reports_the_test_accuracy_of_the_best_validation_epoch(
    tmp_path, tiny_config
):
    last = train(tiny_config(**TINY, out=tmp_path / "last"), progress=False)
    summary = train(tiny_config(**TINY, select="best-val", out=tmp_path / "b"), progress=False)
    metrics = RunFolder(tmp_path / "b").read_metrics()
    top = max(m["val_accuracy"] for m in metrics)
    chosen = next(m for m in metrics if m["val_accuracy"] == top)  # the earliest best
    assert summary["selected_epoch"] == chosen["epoch"] == summary["best_val_epoch"]
    assert summary["test_accuracy"] == chosen["test_accuracy"]
    assert summary["last_test_accuracy"] == metrics[-1]["test_accuracy"]
    # selecting changes what is reported, never the training
    assert untimed(metrics) == untimed(RunFolder(tmp_path / "last").read_metrics())
    assert summary["last_test_accuracy"] == last["test_accuracy"]


def test_best_val_takes_the_earliest_epoch_on_a_tie():
    history = [
        {"epoch": 1, "train_accuracy": 0.5, "val_accuracy": 0.7, "test_accuracy": 0.61},
        {"epoch": 2, "train_accuracy": 0.6, "val_accuracy": 0.9, "test_accuracy": 0.62},
        {"epoch": 3, "train_accuracy": 0.7, "val_accuracy": 0.9, "test_accuracy": 0.63},
        {"epoch": 4, "train_accuracy": 0.8, "val_accuracy": 0.8, "test_accuracy": 0.64},
    ]
    fake = SimpleNamespace(config=SimpleNamespace(select="best-val"))
    picked = Supervised.selection(fake, history)  # type: ignore[arg-type]
    assert picked == {
        "test_accuracy": 0.62,
        "train_accuracy": 0.8,
        "val_accuracy": 0.8,
        "best_val_accuracy": 0.9,
        "best_val_epoch": 2,
        "select": "best-val",
        "selected_epoch": 2,
        "last_test_accuracy": 0.64,
    }


def test_val_fraction_0_trains_on_the_whole_training_split(tmp_path, tiny_config):
    summary = train(tiny_config(**TINY, val_fraction=0.0, out=tmp_path), progress=False)
    metrics = RunFolder(tmp_path).read_metrics()
    assert all("val_accuracy" not in m for m in metrics)
    assert summary["val_accuracy"] is None and summary["best_val_epoch"] is None
    assert summary["dataset_summary"]["n_train"] == 112
    assert summary["dataset_summary"]["n_val"] == 0
    assert summary["physical_queries"] == 4 * 112  # one query per training sample and epoch


def test_the_unsupervised_task_ignores_val_fraction(tmp_path, tiny_config):
    config = tiny_config(**TINY, task="unsupervised", activation="tanh", out=tmp_path)
    assert config.val_fraction == 0.1 and config.validation_fraction() == 0.0
    trainer = Trainer(config)
    assert not trainer.data.has_val and len(trainer.data.y_train) == 112


def test_resume_keeps_validating_and_selects_over_all_epochs(tmp_path, tiny_config):
    config = tiny_config(**{**TINY, "epochs": 2}, select="best-val", out=tmp_path)
    train(config, progress=False)
    summary = Trainer.resume(tmp_path, overrides=["epochs=4"]).train(progress=False)
    metrics = RunFolder(tmp_path).read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert all("val_accuracy" in m for m in metrics)
    top = max(m["val_accuracy"] for m in metrics)
    chosen = next(m for m in metrics if m["val_accuracy"] == top)
    assert (summary["selected_epoch"], summary["test_accuracy"]) == (
        chosen["epoch"],
        chosen["test_accuracy"],
    )


def test_a_checkpoint_from_before_the_validation_split_resumes_without_one(tmp_path, tiny_config):
    train(tiny_config(**{**TINY, "epochs": 2}, val_fraction=0.0, out=tmp_path), progress=False)
    folder = RunFolder(tmp_path)
    state = folder.load_checkpoint()
    for key in ("val_fraction", "select"):  # as an earlier version wrote it
        del state["config"][key]
    folder.save_checkpoint(state)
    resumed = Trainer.resume(tmp_path, overrides=["epochs=3"])
    assert resumed.config.val_fraction == 0.0 and not resumed.data.has_val
    resumed.train(progress=False)
    assert [m["epoch"] for m in folder.read_metrics()] == [1, 2, 3]


def test_an_old_run_folder_without_validation_still_shows(tmp_path, capsys, tiny_config):
    train(tiny_config(**TINY, val_fraction=0.0, out=tmp_path), progress=False)
    folder = RunFolder(tmp_path)
    summary = json.loads(folder.summary.read_text())
    for key in ("val_accuracy", "best_val_accuracy", "best_val_epoch", "select"):
        summary.pop(key)
    for key in ("selected_epoch", "last_test_accuracy"):
        summary.pop(key)
    summary["dataset_summary"].pop("n_val")
    folder.write_json(folder.summary, summary)
    config = json.loads(folder.config.read_text())
    del config["val_fraction"], config["select"]
    folder.write_json(folder.config, config)
    info = describe_run(tmp_path)
    assert info["val_accuracy"] is None and info["final"] == summary["test_accuracy"]
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "val accuracy" not in out and "(112 train / 38 test" in out
    assert main(["compare", str(tmp_path)]) == 0
    assert "val acc" in capsys.readouterr().out  # the column, with "-" for this run


# -- command line, bench, fault sweep ------------------------------------------------------------


def test_train_flags_parse_into_the_config():
    parser = build_parser()
    args = parser.parse_args(["train", "--val-fraction", "0.2", "--select", "best-val"])
    config = train_config(args)
    assert (config.val_fraction, config.select) == (0.2, "best-val")
    config = train_config(parser.parse_args(["train"]))
    assert (config.val_fraction, config.select) == (0.1, "last")
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--select", "best"])


def test_config_show_prints_the_validation_settings(capsys):
    assert main(["config", "--format", "json", "--val-fraction", "0", "--set", "epochs=3"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert (resolved["val_fraction"], resolved["select"]) == (0.0, "last")


def test_train_from_the_command_line_prints_the_validation_accuracy(tmp_path, capsys):
    args = ["train", "--dataset", "iris", "--hidden", "8", "--epochs", "3", "--quiet"]
    args += ["--set", "calibration_samples=32", "--select", "best-val", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads(RunFolder(tmp_path).summary.read_text())
    assert f"val accuracy       {summary['val_accuracy']:.4f}" in out
    assert f"(epoch {summary['selected_epoch']}, best validation" in out


def test_bench_and_faults_pass_the_validation_settings_to_every_run(tmp_path):
    parser = build_parser()
    for verb in ("bench", "faults"):
        args = parser.parse_args([verb, "--val-fraction", "0.3", "--select", "best-val"])
        assert (args.val_fraction, args.select) == (0.3, "best-val")
        defaults = parser.parse_args([verb])
        assert (defaults.val_fraction, defaults.select) == (0.1, "last")
    bench = BenchConfig(datasets=["iris"], val_fraction=0.3, select="best-val")
    config = bench.train_config(bench.jobs()[0], tmp_path)
    assert (config.val_fraction, config.select) == (0.3, "best-val")
    sweep = FaultSweepConfig(dataset="iris", val_fraction=0.0)
    assert sweep.bench(0.2).val_fraction == 0.0 and sweep.bench(0.2).select == "last"


def test_bench_and_sweep_tables_hold_the_validation_accuracy_beside_the_test_accuracy():
    runs = [
        {"dataset": "d", "substrate": "s", "method": "m", "test_accuracy": a, "val_accuracy": v}
        | {"physical_queries": 10, "device_writes": 0, "digital_seconds": 1, "wall_seconds": 2}
        for a, v in ((0.5, 0.6), (0.7, 0.8))
    ]
    (cell,) = aggregate(runs)
    assert cell["val_accuracy_mean"] == pytest.approx(0.7)
    assert cell["val_accuracy_std"] == pytest.approx(0.1414213, rel=1e-5)
    table = bench_table([cell])
    assert "| val accuracy (mean +- std) |" in table
    assert "| d | s | m | 0.6000 +- 0.1414 | 0.7000 +- 0.1414 | 10 |" in table
    old = aggregate([{k: v for k, v in r.items() if k != "val_accuracy"} for r in runs])
    assert old[0]["val_accuracy_mean"] is None and "val accuracy" not in bench_table(old)
    rows = [
        {"method": "pib", "rate": 0.0, "test_accuracy_mean": 0.9, "test_accuracy_std": 0.0}
        | {"val_accuracy_mean": 0.85, "val_accuracy_std": 0.01}
    ]
    assert "| pib | 0.8500 +- 0.0100 |" in sweep_table(rows, "val_accuracy")
    assert "| pib | 0.9000 +- 0.0000 |" in sweep_table(rows)
