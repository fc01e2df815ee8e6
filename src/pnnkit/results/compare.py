"""Comparing runs side by side: ``pnnkit compare``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pnnkit.errors import CheckpointError, ConfigError
from pnnkit.results.describe import METRICS, describe_run, run_row
from pnnkit.results.folder import BENCH, FAULTS, TRAIN
from pnnkit.results.format import runs_table
from pnnkit.results.read import folder_kind, run_folders

#: what each metric means, for tables that mix tasks
METRIC_MEANINGS = {
    "supervised": "test accuracy",
    "unsupervised": "linear-probe accuracy of the learned representation on the test split",
}


def expand(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Run folders of the arguments: a bench or fault-sweep folder stands for all its runs."""
    runs: list[Path] = []
    for path in paths:
        folder = Path(path)
        kind = folder_kind(folder)
        if kind == TRAIN:
            runs.append(folder)
        elif kind == BENCH:
            runs += run_folders(folder / "runs")
        elif kind == FAULTS:
            for rate_folder in sorted(folder.glob("rate-*")):
                runs += run_folders(rate_folder / "runs")
        else:
            raise ConfigError(
                f"{folder} is a reinforcement-learning run; pnnkit compare compares train runs"
            )
    return list(dict.fromkeys(runs))


def compare(
    paths: list[str | os.PathLike[str]], *, plot_path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Runs side by side: one row each (:func:`describe_run`'s settings, scores and costs), and,
    with ``plot_path``, their metric against epoch in one plot. Runs of different tasks are each
    judged on their own task's metric (:data:`METRICS`); ``note`` says so."""
    folders = expand(paths)
    if not folders:
        raise CheckpointError(f"no run folders in {', '.join(str(p) for p in paths)}")
    infos = [describe_run(folder) for folder in folders]
    names = [info["name"] for info in infos]
    if len(set(names)) < len(names):  # the same folder name twice: name runs by their paths
        common = Path(os.path.commonpath([f.resolve() for f in folders]))
        for info, folder in zip(infos, folders, strict=True):
            info["name"] = str(folder.resolve().relative_to(common))
    tasks = sorted({info["task"] for info in infos})
    note = None
    if len(tasks) > 1:
        note = "these runs have different tasks: each is compared on its own metric (" + (
            "; ".join(f"{t}: {METRIC_MEANINGS[t]}" for t in tasks if t in METRIC_MEANINGS) + ")"
        )
    result: dict[str, Any] = {"runs": [run_row(info) for info in infos], "note": note, "plot": None}
    if plot_path is not None:
        from pnnkit.results.plots import plot_compared_curves

        series = [
            {
                "label": f"{info['name']} ({info['method']}, {info['substrate']})",
                "epochs": [e for e, _ in info["curve"]],
                "values": [v for _, v in info["curve"]],
                "dashed": info["task"] != tasks[0],
            }
            for info in infos
        ]
        ylabel = " / ".join(METRICS[t][1] + (" (dashed)" if t != tasks[0] else "") for t in tasks)
        target = Path(plot_path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create the folder of {target}: {error}") from None
        plot_compared_curves(series, target, ylabel, f"{len(infos)} runs")
        result["plot"] = str(target)
    return result


def format_comparison(result: dict[str, Any]) -> str:
    """:func:`compare`'s result as a table, the note and the plot's path."""
    lines = [runs_table(result["runs"])]
    unfinished = [r["name"] for r in result["runs"] if r["status"] != "finished"]
    if unfinished:
        lines.append(f"unfinished: {', '.join(unfinished)} (scores so far)")
    if result["note"]:
        lines.append(f"note: {result['note']}")
    if result["plot"]:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)
