"""Reading results folders: their kind, JSON files, the per-epoch log, result tables.

A folder written by this version records its kind in ``kind.json``
(:class:`~pnnkit.results.folder.RunFolder`); for a folder of an earlier version the kind is
told from its files: ``config.json`` makes a run (an ``env`` in it, a reinforcement-learning
run), ``faults.csv`` or ``rate-*/runs`` a fault sweep, ``bench.csv`` or ``runs/*/config.json``
a bench. Every problem (a missing folder, one that is none of these, a damaged file) raises
:class:`~pnnkit.errors.CheckpointError` naming the path.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pnnkit.errors import CheckpointError
from pnnkit.results.folder import BENCH, FAULTS, KIND_FILE, KINDS, RL, TRAIN


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a missing, unreadable or damaged file is a clear error."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: cannot read the file ({error})") from None
    except ValueError as error:
        raise CheckpointError(f"{path}: damaged, not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise CheckpointError(f"{path}: damaged, expected a JSON object")
    return values


def folder_kind(path: str | os.PathLike[str]) -> str:
    """``train``, ``rl``, ``bench`` or ``faults``: the kind the folder records, or, for a folder
    of an earlier version, the kind its files show; anything else is a :class:`CheckpointError`."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; give the run folder that holds it")
    if (folder / KIND_FILE).exists():
        kind = read_json(folder / KIND_FILE).get("kind")
        if kind not in KINDS:
            raise CheckpointError(
                f"{folder / KIND_FILE}: unknown kind {kind!r} (known: {', '.join(KINDS)})"
            )
        return str(kind)
    if (folder / "config.json").exists():
        return RL if "env" in read_json(folder / "config.json") else TRAIN
    if (folder / "faults.csv").exists() or any(folder.glob("rate-*/runs")):
        return FAULTS
    if (folder / "bench.csv").exists() or run_folders(folder / "runs"):
        return BENCH
    raise CheckpointError(
        f"{folder} is not a pnnkit run folder (no config.json), nor a bench or fault-sweep "
        f"results folder (no bench.csv, faults.csv or runs/)"
    )


def run_folders(folder: Path) -> list[Path]:
    """The run folders directly inside ``folder`` (those holding a ``config.json``), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "config.json").exists())


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a results CSV with numbers as numbers."""
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CheckpointError(f"{path}: cannot read the file ({error})") from None
    return [{k: number(v) for k, v in row.items() if k is not None} for row in rows]


def number(text: str | None) -> Any:
    """``text`` as an int, else a float, else itself (None stays None)."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def aggregate(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells of a bench from its runs' summaries: mean and sample standard deviation of the
    test accuracy (and of the last epoch's validation accuracy: None when the runs have none)
    over seeds, means of the costs, per (dataset, substrate, method), in the order the runs
    came."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["substrate"], run["method"]), []).append(run)
    cells = []
    for (dataset, substrate, method), rows in groups.items():
        accuracy = [r["test_accuracy"] for r in rows]
        val = [r["val_accuracy"] for r in rows if r.get("val_accuracy") is not None]
        cells.append(
            {
                "dataset": dataset,
                "substrate": substrate,
                "method": method,
                "runs": len(rows),
                "test_accuracy_mean": statistics.mean(accuracy),
                "test_accuracy_std": statistics.stdev(accuracy) if len(rows) > 1 else 0.0,
                "val_accuracy_mean": statistics.mean(val) if val else None,
                "val_accuracy_std": statistics.stdev(val) if len(val) > 1 else 0.0 if val else None,
                "physical_queries": statistics.mean(r["physical_queries"] for r in rows),
                "device_writes": statistics.mean(r["device_writes"] for r in rows),
                "digital_seconds": statistics.mean(r["digital_seconds"] for r in rows),
                "wall_seconds": statistics.mean(r["wall_seconds"] for r in rows),
            }
        )
    return cells


def bench_cells(folder: Path) -> list[dict[str, Any]]:
    """A bench folder's cells: ``bench.csv``, or, for an unfinished bench, those of the runs
    finished so far (:func:`aggregate`)."""
    if (folder / "bench.csv").exists():
        return read_csv(folder / "bench.csv")
    summaries = [
        read_json(run / "summary.json")
        for run in run_folders(folder / "runs")
        if (run / "summary.json").exists()
    ]
    return aggregate(summaries)
