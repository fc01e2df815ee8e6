"""Plots of results (matplotlib, non-interactive backend): drawn into run, bench and
fault-sweep folders by training, and again by ``pnnkit plot`` and ``pnnkit compare``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def plot_learning_curves(metrics: list[dict[str, Any]], path: Path, title: str) -> None:
    """The rule's loss and the readout's cross-entropy (left, own axes: their scales differ) and
    train/validation/test accuracy (right; validation when logged) against epoch."""
    epochs = [m["epoch"] for m in metrics]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    ax_loss.plot(epochs, [m["loss"] for m in metrics], color="C0")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("rule loss (sum over units)", color="C0")
    ax_ce = ax_loss.twinx()
    ax_ce.plot(epochs, [m["readout_loss"] for m in metrics], color="C1")
    ax_ce.set_ylabel("readout cross-entropy", color="C1")
    ax_acc.plot(epochs, [m["train_accuracy"] for m in metrics], label="train")
    if all(m.get("val_accuracy") is not None for m in metrics):
        ax_acc.plot(epochs, [m["val_accuracy"] for m in metrics], label="validation")
    ax_acc.plot(epochs, [m["test_accuracy"] for m in metrics], label="test")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_information_plane(metrics: list[dict[str, Any]], path: Path, title: str) -> None:
    """I(X;T_k) against I(T_k;Y) for every unit, one point per epoch, coloured by epoch."""
    units = len(metrics[0]["info_i_xt"])
    epochs = [m["epoch"] for m in metrics]
    fig, axes = plt.subplots(
        1, units, figsize=(4.5 * units + 1, 4), squeeze=False, layout="constrained"
    )
    for k, ax in enumerate(axes[0]):
        i_xt = [m["info_i_xt"][k] for m in metrics]
        i_ty = [m["info_i_ty"][k] for m in metrics]
        ax.plot(i_xt, i_ty, color="0.7", linewidth=0.8, zorder=1)
        points = ax.scatter(i_xt, i_ty, c=epochs, cmap="viridis", s=18, zorder=2)
        ax.set_xlabel("I(X; T) [bits]")
        ax.set_ylabel("I(T; Y) [bits]")
        ax.set_title(f"unit {k + 1}")
    fig.colorbar(points, ax=axes[0].tolist(), label="epoch")
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy_vs_queries(cells: Sequence[dict[str, Any]], path: Path) -> None:
    """Test accuracy (mean +- std over seeds) against the physical queries spent in training,
    one panel per (dataset, substrate), one labelled point per method. The query axis is
    logarithmic above 1,000 and linear below (rules that train on a twin spend almost none)."""
    panels = sorted({(c["dataset"], c["substrate"]) for c in cells})
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), layout="constrained", squeeze=False
    )
    for ax, (dataset, substrate) in zip(axes[0], panels, strict=True):
        for c in cells:
            if (c["dataset"], c["substrate"]) != (dataset, substrate):
                continue
            ax.errorbar(
                c["physical_queries"],
                c["test_accuracy_mean"],
                yerr=c["test_accuracy_std"],
                fmt="o",
                capsize=3,
            )
            ax.annotate(
                c["method"],
                (c["physical_queries"], c["test_accuracy_mean"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.set_xscale("symlog", linthresh=1e3)
        ax.set_xlabel("physical queries in training")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{substrate}, {dataset}")
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_unsupervised_curves(
    metrics: list[dict[str, Any]], baselines: dict[str, dict[str, float]], path: Path, title: str
) -> None:
    """The rule's loss (left) and the learned representation's linear-probe accuracy and
    k-means NMI (right) against epoch, with the untrained network's values dashed (when
    ``baselines`` has them: an unfinished run has not saved them yet)."""
    epochs = [m["epoch"] for m in metrics]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    ax_loss.plot(epochs, [m["loss"] for m in metrics], color="C0")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("rule loss (sum over units)")
    for key, label, color in (("probe", "linear probe", "C0"), ("nmi", "k-means NMI", "C1")):
        name = "probe_accuracy" if key == "probe" else "kmeans_nmi"
        ax_score.plot(epochs, [m[name] for m in metrics], color=color, label=f"{label}, learned")
        if "untrained" in baselines:
            ax_score.axhline(
                baselines["untrained"][key],
                color=color,
                linestyle="--",
                label=f"{label}, untrained",
            )
    ax_score.set_xlabel("epoch")
    ax_score.set_ylabel("probe accuracy (test split), NMI (all samples)")
    ax_score.legend(fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_embedding(
    panels: dict[str, np.ndarray], labels: np.ndarray, path: Path, title: str
) -> None:
    """Side-by-side 2-D embeddings (e.g. the untrained and the learned representation of the
    test split), each point coloured by its held-back label."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels) + 1, 4.2), squeeze=False, layout="constrained"
    )
    colours = plt.get_cmap("tab10" if labels.max() < 10 else "tab20")
    for ax, (name, points) in zip(axes[0], panels.items(), strict=True):
        for c in np.unique(labels):
            mine = labels == c
            ax.scatter(*points[mine].T, color=colours(int(c) % colours.N), s=8, label=str(c))
        ax.set_title(name)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    fig.legend(
        *axes[0][0].get_legend_handles_labels(),
        loc="outside right center",
        title="label\n(not used\nin training)",
        markerscale=2,
        fontsize=8,
    )
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy_vs_rate(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Test accuracy (mean +- std over seeds) against the fault rate, one line per method."""
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["rate"])
        ax.errorbar(
            [r["rate"] for r in mine],
            [r["test_accuracy_mean"] for r in mine],
            yerr=[r["test_accuracy_std"] for r in mine],
            marker="o",
            capsize=3,
            label=method,
        )
    ax.set_xlabel("fault rate")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_recovery(
    curves: dict[tuple[str, float], list[float]], injected: int, path: Path, title: str
) -> None:
    """Test accuracy per epoch (mean over seeds) for every (method, rate), with the epoch at
    whose start the faults arrived marked."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (method, rate), curve in sorted(curves.items()):
        ax.plot(range(1, len(curve) + 1), curve, label=f"{method}, rate {rate:g}")
    ax.axvline(injected - 0.5, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_fault_recovery(
    metrics: list[dict[str, Any]], path: Path, title: str, metric: str = "test_accuracy"
) -> None:
    """One run's ``metric`` (and its train accuracy, if logged) per epoch, with a dashed line
    before every epoch at whose start faults were injected, labelled with what arrived."""
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(epochs, [m[metric] for m in metrics], marker="o", markersize=3, label=metric)
    if all("train_accuracy" in m for m in metrics):
        ax.plot(epochs, [m["train_accuracy"] for m in metrics], alpha=0.6, label="train_accuracy")
    arrivals: dict[int, list[str]] = {}
    for m in metrics:
        for record in m.get("faults") or []:
            what = f"{record.get('kind', '?')} {record.get('level', '')}".strip()
            arrivals.setdefault(m["epoch"], [])
            if what not in arrivals[m["epoch"]]:
                arrivals[m["epoch"]].append(what)
    for epoch, kinds in sorted(arrivals.items()):
        ax.axvline(epoch - 0.5, color="k", linestyle="--", linewidth=1)
        ax.annotate(
            ", ".join(kinds),
            (epoch - 0.5, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=7,
        )
    ax.set_xlabel("epoch (dashed line: faults injected before that epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_compared_curves(series: list[dict[str, Any]], path: Path, ylabel: str, title: str) -> None:
    """Several runs' metric against epoch in one plot. Each entry of ``series`` has ``label``,
    ``epochs``, ``values`` and ``dashed`` (a run judged on another metric)."""
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for entry in series:
        ax.plot(
            entry["epochs"],
            entry["values"],
            linestyle="--" if entry.get("dashed") else "-",
            marker="o",
            markersize=2,
            label=entry["label"],
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)
