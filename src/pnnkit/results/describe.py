"""Describing a results folder: ``pnnkit show``.

Three kinds of folder are understood (their kind: :func:`pnnkit.results.read.folder_kind`):

* a training run (:class:`~pnnkit.results.folder.RunFolder`: ``config.json``,
  ``metrics.jsonl``, ``summary.json`` once finished, plots). An unfinished run (interrupted, or
  still training) has no ``summary.json``: it is described from its config and the epochs in
  ``metrics.jsonl``. A reinforcement-learning run (``pnnkit rl``) is shown from its summary.
* a bench folder (``pnnkit bench``: ``bench.csv``, ``bench.md``, ``runs.csv``, ``runs/``);
* a fault-sweep folder (``pnnkit faults``: ``faults.csv``, ``faults.md``, ``rate-R/`` benches).

Every problem (a missing folder, one that is none of these, a damaged file) raises
:class:`~pnnkit.errors.CheckpointError` naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pnnkit.errors import CheckpointError
from pnnkit.results.folder import BENCH, FAULTS, RL, TRAIN, read_metrics
from pnnkit.results.format import count, format_rl_summary, runs_table, seconds
from pnnkit.results.read import folder_kind, read_csv, read_json, run_folders

#: the metric each task's runs are judged and compared on, with its readable name
METRICS = {
    "supervised": ("test_accuracy", "test accuracy"),
    "unsupervised": ("probe_accuracy", "probe accuracy"),
}


# -- one run -------------------------------------------------------------------------------------


def describe_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a training run folder holds, finished or not: its settings, progress, final and best
    score on its task's metric (with the curve), the validation accuracy (final, best and its
    epoch; None for a run without a validation split, such as one of an earlier version), which
    epoch the reported score comes from, costs, faults, bad batches and plots."""
    folder = Path(path)
    if folder_kind(folder) != TRAIN:
        raise CheckpointError(f"{folder} is not a training run folder (pnnkit train)")
    config = read_json(folder / "config.json")
    metrics = read_metrics(folder / "metrics.jsonl")
    summary_path = folder / "summary.json"
    summary = read_json(summary_path) if summary_path.exists() else None
    task = str(config.get("task", "supervised"))
    metric, metric_name = METRICS.get(task, METRICS["supervised"])
    total = config.get("epochs")
    done = int(metrics[-1]["epoch"]) if metrics else 0
    finished = summary is not None and (not isinstance(total, int) or done >= total)
    last = metrics[-1] if metrics else {}
    source = summary if finished and summary is not None else last
    curve = [[m["epoch"], m[metric]] for m in metrics if isinstance(m.get(metric), int | float)]
    best = max(curve, key=lambda point: point[1]) if curve else None
    val_curve = [
        [m["epoch"], m["val_accuracy"]]
        for m in metrics
        if isinstance(m.get("val_accuracy"), int | float)
    ]
    best_val = max(val_curve, key=lambda point: point[1]) if val_curve else None
    injected = [r for m in metrics for r in m.get("faults") or [] if isinstance(r, dict)]
    bad = None
    if summary is not None and "bad_batches_total" in summary:
        bad = summary["bad_batches_total"]
    elif any("bad_batches" in m for m in metrics):
        bad = sum(int(m.get("bad_batches") or 0) for m in metrics)
    info: dict[str, Any] = {
        "kind": TRAIN,
        "path": str(folder),
        "name": folder.name,
        "status": "finished" if finished else "unfinished",
        "task": task,
        "method": config.get("method"),
        "substrate": config.get("substrate"),
        "stage": summary.get("stage") if summary else None,
        "dataset": config.get("dataset"),
        "seed": config.get("seed"),
        "hidden": config.get("hidden"),
        "epochs_done": done,
        "epochs_total": total,
        "metric": metric,
        "metric_name": metric_name,
        "final": last.get(metric),
        "best": best[1] if best else None,
        "best_epoch": best[0] if best else None,
        "train_accuracy": last.get("train_accuracy"),
        "val_accuracy": last.get("val_accuracy"),
        "best_val_accuracy": best_val[1] if best_val else None,
        "best_val_epoch": best_val[0] if best_val else None,
        "select": config.get("select", "last"),
        "selected_epoch": done if metrics else None,
        "last_final": last.get(metric),
        "physical_queries": source.get("physical_queries"),
        "device_writes": source.get("device_writes"),
        "evaluation_queries": summary.get("evaluation_queries") if finished and summary else None,
        "wall_seconds": source.get("wall_seconds"),
        "train_seconds": source.get("train_seconds"),
        "faults": {
            "schedule": config.get("faults") or "",
            "injected": len(injected),
            "epochs": sorted({r["epoch"] for r in injected if "epoch" in r}),
        },
        "bad_batches": bad,
        "curve": curve,
        "plots": sorted(str(p) for p in folder.glob("*.png")),
    }
    if finished and summary is not None:
        if task == "supervised":
            info["final"] = summary.get("test_accuracy", info["final"])
            info["train_accuracy"] = summary.get("train_accuracy", info["train_accuracy"])
            info["selected_epoch"] = summary.get("selected_epoch", info["selected_epoch"])
            info["last_final"] = summary.get("last_test_accuracy", info["final"])
        if "unsupervised" in summary:
            info["unsupervised"] = summary["unsupervised"]
        if "dataset_summary" in summary:
            info["dataset_summary"] = summary["dataset_summary"]
    return info


def _format_run(info: dict[str, Any]) -> str:
    done, total = info["epochs_done"], info["epochs_total"]
    if info["status"] == "finished":
        status = f"finished, {done} epochs"
    else:
        status = f"unfinished, epoch {done} of {total}"
    dataset = str(info["dataset"])
    sizes = info.get("dataset_summary")
    if sizes:
        val = f" / {sizes['n_val']} val" if sizes.get("n_val") else ""
        dataset += (
            f" ({sizes['n_train']} train{val} / {sizes['n_test']} test, "
            f"{sizes['num_features']} features, {sizes['num_classes']} classes)"
        )
    substrate = str(info["substrate"])
    if info.get("stage"):
        substrate += f" + {info['stage']} stage"
    rows = [
        ("task", info["task"]),
        ("method", info["method"]),
        ("substrate", substrate),
        ("dataset", dataset),
        ("seed", info["seed"]),
        ("units", ",".join(str(w) for w in info["hidden"] or [])),
    ]
    if info["final"] is None:
        rows.append((info["metric_name"], "no epoch finished yet"))
    else:
        best = f"{info['best']:.4f} best (epoch {info['best_epoch']})"
        if info.get("select") == "best-val" and info["status"] == "finished":
            reported = (
                f"{info['final']:.4f} at epoch {info['selected_epoch']} (best validation), "
                f"{info['last_final']:.4f} last"
            )
        else:
            reported = f"{info['final']:.4f} final"
        rows.append((info["metric_name"], f"{reported}, {best}"))
    if info.get("val_accuracy") is not None:
        rows.append(
            (
                "val accuracy",
                f"{info['val_accuracy']:.4f} final, {info['best_val_accuracy']:.4f} best "
                f"(epoch {info['best_val_epoch']})",
            )
        )
    if info["train_accuracy"] is not None:
        rows.append(("train accuracy", f"{info['train_accuracy']:.4f} final"))
    unsupervised = info.get("unsupervised")
    if unsupervised:
        for key, label in (("untrained", "untrained network"), ("raw", "raw input")):
            rows.append(
                (
                    f"  vs {label}",
                    f"probe {unsupervised['probe'][key]:.4f}, NMI {unsupervised['nmi'][key]:.3f}",
                )
            )
        rows.append(
            (
                f"  vs PCA to {unsupervised['pca_width']}",
                f"probe {unsupervised['probe']['pca']:.4f}, NMI {unsupervised['nmi']['pca']:.3f}",
            )
        )
        rows.append(("k-means NMI", f"{unsupervised['nmi']['learned']:.3f}"))
    rows += [
        ("physical queries", count(info["physical_queries"])),
        ("device writes", count(info["device_writes"])),
        (
            "evaluation queries",
            count(info["evaluation_queries"])
            if info["evaluation_queries"] is not None
            else "(in summary.json once finished)",
        ),
        ("wall time", seconds(info["wall_seconds"], info["train_seconds"])),
        ("faults", _faults(info["faults"])),
    ]
    if info["bad_batches"] is not None:
        rows.append(("bad batches", count(info["bad_batches"])))
    rows.append(("plots", ", ".join(Path(p).name for p in info["plots"]) or "none"))
    lines = [f"run {info['path']}: {status}"]
    lines += [f"  {name:<24}{value}" for name, value in rows]
    return "\n".join(lines)


def _faults(faults: dict[str, Any]) -> str:
    if not faults["schedule"]:
        return "none"
    epochs = ", ".join(str(e) for e in faults["epochs"]) or "none yet"
    return f"{faults['schedule']}: {faults['injected']} injection(s), at epoch(s) {epochs}"


# -- bench and fault-sweep folders, RL runs ------------------------------------------------------


def _describe_bench(folder: Path) -> dict[str, Any]:
    runs = [describe_run(p) for p in run_folders(folder / "runs")]
    info: dict[str, Any] = {
        "kind": BENCH,
        "path": str(folder),
        "cells": read_csv(folder / "bench.csv") if (folder / "bench.csv").exists() else [],
        "runs": [run_row(r) for r in runs],
        "plots": sorted(str(p) for p in folder.glob("*.png")),
    }
    table = folder / "bench.md"
    info["table"] = table.read_text(encoding="utf-8") if table.exists() else None
    return info


def _describe_fault_sweep(folder: Path) -> dict[str, Any]:
    rows = read_csv(folder / "faults.csv") if (folder / "faults.csv").exists() else []
    table = folder / "faults.md"
    return {
        "kind": FAULTS,
        "path": str(folder),
        "rows": rows,
        "table": table.read_text(encoding="utf-8") if table.exists() else None,
        "rates": [p.name for p in sorted(folder.glob("rate-*")) if p.is_dir()],
        "plots": sorted(str(p) for p in folder.glob("*.png")),
    }


def _describe_rl(folder: Path) -> dict[str, Any]:
    config = read_json(folder / "config.json")
    summary_path = folder / "summary.json"
    metrics = read_metrics(folder / "metrics.jsonl", key="iteration")
    return {
        "kind": RL,
        "path": str(folder),
        "status": "finished" if summary_path.exists() else "unfinished",
        "config": config,
        "summary": read_json(summary_path) if summary_path.exists() else None,
        "iterations": len(metrics),
    }


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The description of any results folder (see the module docstring), as plain JSON."""
    folder = Path(path)
    kind = folder_kind(folder)
    if kind == TRAIN:
        return describe_run(folder)
    if kind == BENCH:
        return _describe_bench(folder)
    if kind == FAULTS:
        return _describe_fault_sweep(folder)
    return _describe_rl(folder)


def format_description(info: dict[str, Any]) -> str:
    """:func:`describe`'s result as readable text."""
    if info["kind"] == TRAIN:
        return _format_run(info)
    if info["kind"] == RL:
        if info["summary"] is not None:
            return format_rl_summary(info["summary"])
        c = info["config"]
        return (
            f"rl run {info['path']}: unfinished, {info['iterations']} iteration(s) of a "
            f"{c.get('episodes')}-episode budget\n  {c.get('method')} on {c.get('substrate')}, "
            f"{c.get('env')}, seed {c.get('seed')}"
        )
    if info["kind"] == BENCH:
        lines = [f"bench {info['path']}: {len(info['runs'])} run(s)"]
        if info["table"]:
            lines += ["", info["table"].rstrip()]
        else:
            lines += ["(no bench.csv yet: the runs so far)", "", runs_table(info["runs"])]
    else:
        lines = [f"fault sweep {info['path']}: rates {', '.join(info['rates']) or 'none'}"]
        lines += ["", (info["table"] or "(no faults.md yet)").rstrip()]
    if info["plots"]:
        lines += ["", "plots: " + ", ".join(info["plots"])]
    return "\n".join(lines)


def run_row(info: dict[str, Any]) -> dict[str, Any]:
    """A run's line in the tables of a bench and of a comparison (:func:`describe_run`'s
    settings, scores and costs)."""
    keys = ["name", "path", "status", "task", "method", "substrate", "dataset", "seed"]
    keys += ["epochs_done", "epochs_total", "metric", "final", "best", "best_epoch"]
    row = {key: info[key] for key in keys}
    row |= {
        "val_accuracy": info.get("val_accuracy"),
        "best_val_accuracy": info.get("best_val_accuracy"),
        "select": info.get("select", "last"),
        "selected_epoch": info.get("selected_epoch"),
    }
    row |= {key: info[key] for key in ("physical_queries", "device_writes", "wall_seconds")}
    return row
