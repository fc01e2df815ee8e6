"""``pnnkit bench``: the grid, its skips, its aggregation and its files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pnnkit.cli import main
from pnnkit.errors import ConfigError
from pnnkit.experiment.sweeps.bench import BenchConfig, run_bench
from pnnkit.results.format import bench_table
from pnnkit.results.read import aggregate


def test_aggregate_gives_mean_and_sample_std_over_seeds():
    runs = [
        {
            "dataset": "d",
            "substrate": "s",
            "method": "m",
            "test_accuracy": a,
            "physical_queries": q,
            "device_writes": 0,
            "digital_seconds": 1.0,
            "wall_seconds": 2.0,
        }
        for a, q in ((0.5, 10), (0.7, 30))
    ]
    (cell,) = aggregate(runs)
    assert cell["test_accuracy_mean"] == pytest.approx(0.6)
    assert cell["test_accuracy_std"] == pytest.approx(0.1414213, rel=1e-5)
    assert cell["physical_queries"] == 20
    assert "| d | s | m | 0.6000 +- 0.1414 | 20 |" in bench_table([cell])


def test_bench_runs_the_valid_cells_and_names_the_skipped_ones(tmp_path):
    config = BenchConfig(
        methods=["pib", "backprop", "readout"],
        substrates=["crossbar", "ideal"],
        datasets=["iris"],
        seeds=[0, 1],
        epochs=1,
        hidden=[8],
        workers=1,
        out=str(tmp_path),
    )
    result = run_bench(config, progress=False)
    cells = {(c["substrate"], c["method"]): c for c in result["cells"]}
    assert set(cells) == {
        ("crossbar", "pib"),
        ("crossbar", "readout"),
        ("ideal", "pib"),
        ("ideal", "backprop"),
        ("ideal", "readout"),
    }
    assert all(c["runs"] == 2 for c in cells.values())
    assert cells[("ideal", "backprop")]["physical_queries"] == 0
    assert cells[("crossbar", "pib")]["physical_queries"] > 0
    (skip,) = result["skipped"]
    assert (skip["method"], skip["substrate"]) == ("backprop", "crossbar")
    assert "exact differentiable model" in skip["why"]
    with open(result["files"]["runs"]) as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 10 and {"digital_seconds", "device_writes"} <= set(rows[0])
    with open(result["files"]["table_csv"]) as stream:
        assert len(list(csv.DictReader(stream))) == 5
    assert "skipped backprop on crossbar" in Path(result["files"]["table_md"]).read_text()
    assert (tmp_path / "accuracy_vs_queries.png").stat().st_size > 0


def test_bench_rejects_bad_grids_before_training(tmp_path):
    with pytest.raises(ConfigError, match="unknown method"):
        BenchConfig(methods=["magic"], out=str(tmp_path)).validate()
    with pytest.raises(ConfigError, match="seeds is empty"):
        BenchConfig(seeds=[], out=str(tmp_path)).validate()
    with pytest.raises(ConfigError, match="beta"):
        BenchConfig(methods=["pib"], overrides=["rule.beta=-1"], out=str(tmp_path)).validate()


def test_bench_command_prints_json(tmp_path, capsys):
    code = main(
        [
            "bench",
            "--methods",
            "readout",
            "--substrates",
            "ideal",
            "--datasets",
            "iris",
            "--seeds",
            "0",
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cells"][0]["method"] == "readout"
    assert main(["bench", "--methods", "magic", "--out", str(tmp_path)]) == 2
