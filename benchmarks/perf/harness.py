"""What every table shares: the clock, interleaved timing, CSV and Markdown output, plots, the
workloads (a clustered batch, one unit's local loss) and the estimator variants compared."""

from __future__ import annotations

import csv
import math
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from pnnkit.info import BottleneckEstimator
from pnnkit.results.format import table

WIDTH = 256
CLASSES = 10

#: the clock of every timing (set by ``--clock``): process CPU time by default on a CPU, which a
#: shared machine's other jobs hardly change (wall time on CUDA, where work is asynchronous)
CLOCK: Callable[[], float] = time.process_time

#: the estimator implementations compared: name -> BottleneckEstimator settings
VARIANTS: dict[str, dict[str, Any]] = {
    "eig autograd (alpha 0.5, default)": {"alpha": 0.5, "solver": "autograd"},
    "eig closed form (alpha 0.5)": {"alpha": 0.5, "solver": "exact"},
    "lanczos (alpha 0.5)": {"alpha": 0.5, "solver": "lanczos"},
    "frobenius autograd (alpha 2)": {"alpha": 2.0, "solver": "autograd"},
    "frobenius closed form (alpha 2)": {"alpha": 2.0, "solver": "exact"},
}


def now() -> float:
    """The time on :data:`CLOCK` (looked up at each call: ``--clock`` sets it)."""
    return CLOCK()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine() -> str:
    """One line describing the machine, torch and the thread count."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import os

        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = 0
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {cores} cores, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )


def interleaved(
    fns: dict[str, Callable[[], Any]],
    repeats: int,
    device: torch.device,
    warmup: int = 1,
    budget_s: float | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each function, the functions interleaved (the order alternates),
    after ``warmup`` calls each. With ``budget_s``, stops early (after at least 3 rounds) once
    the rounds have taken that long."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    began = time.perf_counter()
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            sync(device)
            t0 = CLOCK()
            fns[name]()
            sync(device)
            times[name].append(CLOCK() - t0)
        if budget_s is not None and r >= 2 and time.perf_counter() - began > budget_s:
            break
    return times


def median_ms(values: Sequence[float]) -> float:
    return 1e3 * statistics.median(values)


def write_csv(rows: list[dict[str, Any]], path: Path, env: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fields, "environment"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "environment": env})
    print(f"\nwrote {path}")


def markdown(rows: list[dict[str, Any]], columns: Sequence[str], fmt: dict[str, str]) -> str:
    """``rows`` as a Markdown table of ``columns``; numbers in a column of ``fmt`` formatted so."""

    def cell(row: dict[str, Any], c: str) -> str:
        v = row.get(c, "")
        return format(v, fmt[c]) if c in fmt and isinstance(v, int | float) else str(v)

    return table(list(columns), [[cell(row, c) for c in columns] for row in rows])


def fit_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    lx = [math.log(s) for s in sizes]
    ly = [math.log(t) for t in times]
    mx, my = statistics.mean(lx), statistics.mean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def loglog_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def clustered_batch(
    n: int, width: int = WIDTH, noise: float = 1.0, seed: int = 0, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``(n, 64)``, labels and unit outputs ``relu(centre_y + noise)`` ``(n, width)``:
    10 classes, as a partly trained unit sees them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % CLASSES
    x = torch.randn(CLASSES, 64, generator=g)[y] + torch.randn(n, 64, generator=g)
    t = torch.relu(
        torch.randn(CLASSES, width, generator=g)[y] + noise * torch.randn(n, width, generator=g)
    )
    return x.to(device), y.to(device), t.to(device)


def one_unit(est: BottleneckEstimator, x_gram, t, y_gram) -> Callable[[], None]:
    """The local loss of one unit and its gradient, as ``PIB.local_gradient`` computes it."""

    def run() -> None:
        leaf = t.detach().requires_grad_(True)
        with torch.enable_grad():
            i_xt, i_ty = est.terms(x_gram, leaf, y_gram)
            torch.autograd.grad(i_xt - 10.0 * i_ty, leaf)

    return run
