"""Reading results back: ``pnnkit show``, ``pnnkit plot`` and ``pnnkit compare``.

Three kinds of folder are understood:

* a training run (:class:`~pnnkit.experiment.folder.RunFolder`: ``config.json``,
  ``metrics.jsonl``, ``summary.json`` once finished, plots). An unfinished run (interrupted, or
  still training) has no ``summary.json``: it is described from its config and the epochs in
  ``metrics.jsonl``. A reinforcement-learning run (``pnnkit rl``) is shown from its summary.
* a bench folder (``pnnkit bench``: ``bench.csv``, ``bench.md``, ``runs.csv``, ``runs/``);
* a fault-sweep folder (``pnnkit faults``: ``faults.csv``, ``faults.md``, ``rate-R/`` benches).

Every problem (a missing folder, one that is none of these, a damaged file) raises
:class:`~pnnkit.errors.CheckpointError` naming the path.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from pnnkit.errors import CheckpointError, ConfigError

RUN, RL_RUN, BENCH, FAULT_SWEEP = "run", "rl", "bench", "faults"

#: the metric each task's runs are judged and compared on, with its readable name
METRICS = {
    "supervised": ("test_accuracy", "test accuracy"),
    "unsupervised": ("probe_accuracy", "probe accuracy"),
}

#: what each metric means, for tables that mix tasks
METRIC_MEANINGS = {
    "supervised": "test accuracy",
    "unsupervised": "linear-probe accuracy of the learned representation on the test split",
}


# -- reading -------------------------------------------------------------------------------------


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


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The per-epoch records of ``metrics.jsonl`` (none if the file is missing). A torn last line
    (a run killed while writing it) is ignored; a damaged line before it is an error."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: cannot read the file ({error})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                break
            raise CheckpointError(f"{path}: line {number} is damaged (not JSON)") from None
        if not isinstance(record, dict) or "epoch" not in record:
            raise CheckpointError(f"{path}: line {number} is not an epoch record")
        records.append(record)
    return records


def folder_kind(path: str | os.PathLike[str]) -> str:
    """``run``, ``rl``, ``bench`` or ``faults``; anything else is a :class:`CheckpointError`."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; give the run folder that holds it")
    if (folder / "config.json").exists():
        config = read_json(folder / "config.json")
        return RL_RUN if "env" in config else RUN
    if (folder / "faults.csv").exists() or any(folder.glob("rate-*/runs")):
        return FAULT_SWEEP
    if (folder / "bench.csv").exists() or _run_folders(folder / "runs"):
        return BENCH
    raise CheckpointError(
        f"{folder} is not a pnnkit run folder (no config.json), nor a bench or fault-sweep "
        f"results folder (no bench.csv, faults.csv or runs/)"
    )


def _run_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "config.json").exists())


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a results CSV with numbers as numbers."""
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CheckpointError(f"{path}: cannot read the file ({error})") from None
    return [{k: _number(v) for k, v in row.items() if k is not None} for row in rows]


def _number(text: str | None) -> Any:
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# -- one run -------------------------------------------------------------------------------------


def describe_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a training run folder holds, finished or not: its settings, progress, final and best
    score on its task's metric (with the curve), the validation accuracy (final, best and its
    epoch; None for a run without a validation split, such as one of an earlier version), which
    epoch the reported score comes from, costs, faults, bad batches and plots."""
    folder = Path(path)
    if folder_kind(folder) != RUN:
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
        "kind": RUN,
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
        ("physical queries", _count(info["physical_queries"])),
        ("device writes", _count(info["device_writes"])),
        (
            "evaluation queries",
            _count(info["evaluation_queries"])
            if info["evaluation_queries"] is not None
            else "(in summary.json once finished)",
        ),
        ("wall time", _seconds(info["wall_seconds"], info["train_seconds"])),
        ("faults", _faults(info["faults"])),
    ]
    if info["bad_batches"] is not None:
        rows.append(("bad batches", _count(info["bad_batches"])))
    rows.append(("plots", ", ".join(Path(p).name for p in info["plots"]) or "none"))
    lines = [f"run {info['path']}: {status}"]
    lines += [f"  {name:<24}{value}" for name, value in rows]
    return "\n".join(lines)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?" if value is None else str(value)


def _seconds(wall: Any, train: Any) -> str:
    if not isinstance(wall, int | float):
        return "?"
    text = f"{wall:.1f} s"
    if isinstance(train, int | float):
        text += f" (training steps {train:.1f} s)"
    return text


def _faults(faults: dict[str, Any]) -> str:
    if not faults["schedule"]:
        return "none"
    epochs = ", ".join(str(e) for e in faults["epochs"]) or "none yet"
    return f"{faults['schedule']}: {faults['injected']} injection(s), at epoch(s) {epochs}"


# -- bench and fault-sweep folders, RL runs ------------------------------------------------------


def _describe_bench(folder: Path) -> dict[str, Any]:
    runs = [describe_run(p) for p in _run_folders(folder / "runs")]
    info: dict[str, Any] = {
        "kind": BENCH,
        "path": str(folder),
        "cells": _read_csv(folder / "bench.csv") if (folder / "bench.csv").exists() else [],
        "runs": [_row(r) for r in runs],
        "plots": sorted(str(p) for p in folder.glob("*.png")),
    }
    table = folder / "bench.md"
    info["table"] = table.read_text(encoding="utf-8") if table.exists() else None
    return info


def _describe_fault_sweep(folder: Path) -> dict[str, Any]:
    rows = _read_csv(folder / "faults.csv") if (folder / "faults.csv").exists() else []
    table = folder / "faults.md"
    return {
        "kind": FAULT_SWEEP,
        "path": str(folder),
        "rows": rows,
        "table": table.read_text(encoding="utf-8") if table.exists() else None,
        "rates": [p.name for p in sorted(folder.glob("rate-*")) if p.is_dir()],
        "plots": sorted(str(p) for p in folder.glob("*.png")),
    }


def _describe_rl(folder: Path) -> dict[str, Any]:
    config = read_json(folder / "config.json")
    summary_path = folder / "summary.json"
    metrics = read_metrics(folder / "metrics.jsonl")
    return {
        "kind": RL_RUN,
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
    if kind == RUN:
        return describe_run(folder)
    if kind == BENCH:
        return _describe_bench(folder)
    if kind == FAULT_SWEEP:
        return _describe_fault_sweep(folder)
    return _describe_rl(folder)


def format_description(info: dict[str, Any]) -> str:
    """:func:`describe`'s result as readable text."""
    if info["kind"] == RUN:
        return _format_run(info)
    if info["kind"] == RL_RUN:
        if info["summary"] is not None:
            from pnnkit.rl.summary import format_summary

            return format_summary(info["summary"])
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
            lines += ["(no bench.csv yet: the runs so far)", "", _table(info["runs"])]
    else:
        lines = [f"fault sweep {info['path']}: rates {', '.join(info['rates']) or 'none'}"]
        lines += ["", (info["table"] or "(no faults.md yet)").rstrip()]
    if info["plots"]:
        lines += ["", "plots: " + ", ".join(info["plots"])]
    return "\n".join(lines)


# -- plots ---------------------------------------------------------------------------------------


def plot(path: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None) -> list[str]:
    """(Re)draw the plots of a results folder into ``out`` (default: the folder itself) and
    return their paths. A run: learning curves, the information plane of every unit, and the
    fault-recovery curve when faults were injected. A bench: test accuracy against physical
    queries. A fault sweep: test accuracy against the fault rate, and the recovery curves when
    the faults arrived during training."""
    folder = Path(path)
    kind = folder_kind(folder)
    target = Path(out) if out is not None else folder
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the plot folder {target}: {error}") from None
    if kind == RUN:
        return _plot_run(folder, target)
    if kind == BENCH:
        return _plot_bench(folder, target)
    if kind == FAULT_SWEEP:
        return _plot_fault_sweep(folder, target)
    raise ConfigError(
        f"{folder} is a reinforcement-learning run: its return curve, returns.png, is drawn by "
        f"pnnkit rl; pnnkit plot draws train runs, bench and fault-sweep folders"
    )


def _plot_run(folder: Path, target: Path) -> list[str]:
    from pnnkit.experiment import plots

    info = describe_run(folder)
    metrics = read_metrics(folder / "metrics.jsonl")
    if not metrics:
        raise CheckpointError(f"{folder}: nothing to plot yet (metrics.jsonl holds no epoch)")
    title = f"{info['method']} on {info['substrate']}, {info['dataset']}, seed {info['seed']}"
    paths = [target / "learning_curves.png"]
    if info["task"] == "unsupervised":
        title = f"unsupervised {title}"
        baselines = {}
        if "unsupervised" in info:
            u = info["unsupervised"]
            baselines = {"untrained": {k: u[k]["untrained"] for k in ("probe", "nmi")}}
        plots.plot_unsupervised_curves(metrics, baselines, paths[0], title)
    else:
        plots.plot_learning_curves(metrics, paths[0], title)
    if metrics[0].get("info_i_xt"):
        paths.append(target / "information_plane.png")
        plots.plot_information_plane(metrics, paths[-1], title)
    if info["faults"]["injected"]:
        paths.append(target / "fault_recovery.png")
        plots.plot_fault_recovery(metrics, paths[-1], title, metric=info["metric"])
    return [str(p) for p in paths]


def _plot_bench(folder: Path, target: Path) -> list[str]:
    from pnnkit.experiment.bench import aggregate
    from pnnkit.experiment.plots import plot_accuracy_vs_queries

    if (folder / "bench.csv").exists():
        cells = _read_csv(folder / "bench.csv")
    else:  # an unfinished bench: aggregate the runs finished so far
        summaries = [
            read_json(run / "summary.json")
            for run in _run_folders(folder / "runs")
            if (run / "summary.json").exists()
        ]
        cells = aggregate(summaries)
    if not cells:
        raise CheckpointError(f"{folder}: nothing to plot yet (no finished run)")
    path = target / "accuracy_vs_queries.png"
    plot_accuracy_vs_queries(cells, path)
    return [str(path)]


def _plot_fault_sweep(folder: Path, target: Path) -> list[str]:
    from pnnkit.experiment.plots import plot_accuracy_vs_rate, plot_recovery

    rows = _read_csv(folder / "faults.csv") if (folder / "faults.csv").exists() else []
    if not rows:
        raise CheckpointError(f"{folder}: nothing to plot yet (no faults.csv)")
    table = folder / "faults.md"
    title = table.read_text(encoding="utf-8").splitlines()[0] if table.exists() else folder.name
    title = title.removesuffix(": test accuracy against the fault rate")
    paths = [target / "accuracy_vs_rate.png"]
    plot_accuracy_vs_rate(rows, paths[0], title)
    curves: dict[tuple[str, float], list[list[float]]] = {}
    injected: set[int] = set()
    for rate_folder in sorted(folder.glob("rate-*")):
        rate = _number(rate_folder.name.removeprefix("rate-"))
        if not isinstance(rate, int | float):
            continue
        for run in _run_folders(rate_folder / "runs"):
            info = describe_run(run)
            if info["status"] != "finished":
                continue
            curves.setdefault((info["method"], float(rate)), []).append(
                [value for _, value in info["curve"]]
            )
            injected.update(info["faults"]["epochs"])
    arrivals = sorted(e for e in injected if e > 1)
    if arrivals:
        means = {
            key: [sum(values) / len(values) for values in zip(*series, strict=False)]
            for key, series in curves.items()
        }
        paths.append(target / "recovery.png")
        plot_recovery(means, arrivals[0], paths[-1], title)
    return [str(p) for p in paths]


# -- comparing runs ------------------------------------------------------------------------------


def _expand(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Run folders of the arguments: a bench or fault-sweep folder stands for all its runs."""
    runs: list[Path] = []
    for path in paths:
        folder = Path(path)
        kind = folder_kind(folder)
        if kind == RUN:
            runs.append(folder)
        elif kind == BENCH:
            runs += _run_folders(folder / "runs")
        elif kind == FAULT_SWEEP:
            for rate_folder in sorted(folder.glob("rate-*")):
                runs += _run_folders(rate_folder / "runs")
        else:
            raise ConfigError(
                f"{folder} is a reinforcement-learning run; pnnkit compare compares train runs"
            )
    return list(dict.fromkeys(runs))


def _row(info: dict[str, Any]) -> dict[str, Any]:
    """One line of the comparison table."""
    return {
        "name": info["name"],
        "path": info["path"],
        "status": info["status"],
        "task": info["task"],
        "method": info["method"],
        "substrate": info["substrate"],
        "dataset": info["dataset"],
        "seed": info["seed"],
        "epochs_done": info["epochs_done"],
        "epochs_total": info["epochs_total"],
        "metric": info["metric"],
        "final": info["final"],
        "best": info["best"],
        "best_epoch": info["best_epoch"],
        "val_accuracy": info.get("val_accuracy"),
        "best_val_accuracy": info.get("best_val_accuracy"),
        "select": info.get("select", "last"),
        "selected_epoch": info.get("selected_epoch"),
        "physical_queries": info["physical_queries"],
        "device_writes": info["device_writes"],
        "wall_seconds": info["wall_seconds"],
    }


def compare(
    paths: list[str | os.PathLike[str]], *, plot_path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Runs side by side: one row each (:func:`describe_run`'s settings, scores and costs), and,
    with ``plot_path``, their metric against epoch in one plot. Runs of different tasks are each
    judged on their own task's metric (:data:`METRICS`); ``note`` says so."""
    folders = _expand(paths)
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
    result: dict[str, Any] = {"runs": [_row(info) for info in infos], "note": note, "plot": None}
    if plot_path is not None:
        from pnnkit.experiment.plots import plot_compared_curves

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


def _table(rows: list[dict[str, Any]]) -> str:
    columns = [
        ("run", lambda r: r["name"]),
        ("method", lambda r: r["method"]),
        ("substrate", lambda r: r["substrate"]),
        ("dataset", lambda r: r["dataset"]),
        ("seed", lambda r: r["seed"]),
        ("epochs", lambda r: f"{r['epochs_done']}/{r['epochs_total']}"),
        ("metric", lambda r: "probe acc" if r["metric"] == "probe_accuracy" else "test acc"),
        ("final", lambda r: _score(r["final"])),
        ("best (epoch)", lambda r: f"{_score(r['best'])} ({r['best_epoch']})"),
        ("val acc", lambda r: _score(r.get("val_accuracy"))),
        ("queries", lambda r: _count(r["physical_queries"])),
        ("writes", lambda r: _count(r["device_writes"])),
        ("wall s", lambda r: f"{r['wall_seconds']:.1f}" if r["wall_seconds"] is not None else "?"),
    ]
    cells = [[str(get(row)) for _, get in columns] for row in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _) in enumerate(columns)]
    left = {"run", "method", "substrate", "dataset", "metric"}

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if name in left else v.rjust(w)
            for v, w, (name, _) in zip(values, widths, columns, strict=True)
        ).rstrip()

    header = line([name for name, _ in columns])
    return "\n".join([header, "-" * len(header), *(line(c) for c in cells)])


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def format_comparison(result: dict[str, Any]) -> str:
    """:func:`compare`'s result as a table, the note and the plot's path."""
    lines = [_table(result["runs"])]
    unfinished = [r["name"] for r in result["runs"] if r["status"] != "finished"]
    if unfinished:
        lines.append(f"unfinished: {', '.join(unfinished)} (scores so far)")
    if result["note"]:
        lines.append(f"note: {result['note']}")
    if result["plot"]:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)
