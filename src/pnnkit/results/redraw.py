"""Drawing a results folder's plots again: ``pnnkit plot``."""

from __future__ import annotations

import os
from pathlib import Path

from pnnkit.errors import CheckpointError, ConfigError
from pnnkit.results.describe import describe_run
from pnnkit.results.folder import BENCH, FAULTS, TRAIN, read_metrics
from pnnkit.results.read import bench_cells, folder_kind, number, read_csv, run_folders


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
    if kind == TRAIN:
        return _plot_run(folder, target)
    if kind == BENCH:
        return _plot_bench(folder, target)
    if kind == FAULTS:
        return _plot_fault_sweep(folder, target)
    raise ConfigError(
        f"{folder} is a reinforcement-learning run: its return curve, returns.png, is drawn by "
        f"pnnkit rl; pnnkit plot draws train runs, bench and fault-sweep folders"
    )


def _plot_run(folder: Path, target: Path) -> list[str]:
    from pnnkit.results import plots

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
    from pnnkit.results.plots import plot_accuracy_vs_queries

    cells = bench_cells(folder)
    if not cells:
        raise CheckpointError(f"{folder}: nothing to plot yet (no finished run)")
    path = target / "accuracy_vs_queries.png"
    plot_accuracy_vs_queries(cells, path)
    return [str(path)]


def _plot_fault_sweep(folder: Path, target: Path) -> list[str]:
    from pnnkit.results.plots import plot_accuracy_vs_rate, plot_recovery

    rows = read_csv(folder / "faults.csv") if (folder / "faults.csv").exists() else []
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
        rate = number(rate_folder.name.removeprefix("rate-"))
        if not isinstance(rate, int | float):
            continue
        for run in run_folders(rate_folder / "runs"):
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
