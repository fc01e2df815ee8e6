"""``pnnkit faults``: the sweep over fault rates, its table and its plots."""

from __future__ import annotations

import csv
import json

import pytest

from pnnkit.cli import main
from pnnkit.errors import ConfigError
from pnnkit.experiment.sweeps.fault_sweep import FaultSweepConfig
from pnnkit.results.format import sweep_table


def test_spec_per_rate_and_validation():
    config = FaultSweepConfig(kind="stuck", when="epoch=5", options=["pattern=clustered"])
    assert config.spec(0.0) == ""
    assert config.spec(0.2) == "stuck:0.2,pattern=clustered@epoch=5"
    with pytest.raises(ConfigError, match="rates"):
        FaultSweepConfig(rates=[1.5]).validate()
    with pytest.raises(ConfigError, match="unknown fault kind 'stuk'"):
        FaultSweepConfig(kind="stuk").validate()


def test_markdown_table_puts_rates_in_columns():
    rows = [
        {"method": m, "rate": r, "test_accuracy_mean": a, "test_accuracy_std": 0.0}
        for m, r, a in (("pib", 0.0, 0.9), ("pib", 0.4, 0.8), ("insilico", 0.0, 0.95))
    ]
    table = sweep_table(rows)
    assert "| method | 0 | 0.4 |" in table
    assert "| insilico | 0.9500 +- 0.0000 | - |" in table


def test_sweep_from_the_command_line(tmp_path, capsys):
    code = main(
        [
            "faults", "--rates", "0", "0.5", "--when", "epoch=2", "--methods", "pib", "readout",
            "--dataset", "iris", "--seeds", "0", "--epochs", "3", "--hidden", "8",
            "--workers", "1", "--out", str(tmp_path), "--json", "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert {(r["method"], r["rate"]) for r in result["rows"]} == {
        ("pib", 0.0), ("pib", 0.5), ("readout", 0.0), ("readout", 0.5)
    }  # fmt: skip
    with open(result["files"]["table_csv"]) as stream:
        assert len(list(csv.DictReader(stream))) == 4
    assert (tmp_path / "recovery.png").stat().st_size > 0
    summary = json.loads((tmp_path / "rate-0.5/runs/iris-crossbar-pib-0/summary.json").read_text())
    assert summary["faults"]["injected"][0]["epoch"] == 2
