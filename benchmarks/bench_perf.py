"""Cost of PIB's digital work (issue 8): local loss, randomized entropy, training steps, memory.

Each table is one run of this script, timings interleaved across the variants compared (so
that a load change on a shared machine hits them alike), after warm-up calls, as medians; the
ratios in a table come from one run. Everything is float32 on the chosen device with a fixed
number of threads. Tables (``python benchmarks/bench_perf.py TABLE``):

- ``local-loss``: the whole local loss of one unit (Gram matrix of the measured output,
  I(X;T), I(T;Y) and the gradient with respect to T, as ``PIB.local_gradient`` computes it)
  for each ``BottleneckEstimator`` implementation, against the batch size n (width 256);
- ``randomized``: the randomized (stochastic Lanczos) entropy against the eigenvalue path at
  one n (2048): error over seeds for three kinds of Gram matrix and three orders, time, and
  the error for other (probes, steps, deflation);
- ``step``: one PIB training step (3 units of width 256, batch 256, crossbar) against one
  backprop step on the same network shape (``pnnkit.learning.Backprop`` on the ideal
  substrate, and a plain torch MLP with Adam); a PIB step's digital time is its wall time
  minus the time spent inside the substrate's measure/program/read calls
  (``Counters.hardware_seconds``), and, for the alpha = 2 closed form, also the whole time of
  a step whose substrates answer from a recording (:class:`ReplayedHardware`: no simulation
  runs in the process, as on real hardware);
- ``scaling``: PIB step digital time against batch size and against unit width, with the
  fitted exponent of ``time ~ size^p``;
- ``epoch``: one end-to-end training epoch on digits (train steps and one evaluation);
- ``memory``: peak memory of the one-unit local loss (peak resident set size of a fresh
  process above its level before the call; on CUDA, ``torch.cuda.max_memory_allocated``);
- ``train-check``: test accuracy of PIB on digits after a short training with each
  implementation (does the randomized gradient train?).

Each table prints a markdown table and writes ``perf_TABLE.csv`` (and a ``.png`` plot for the
curves) into ``--out``.

Usage: ``python benchmarks/bench_perf.py TABLE [--threads 1] [--device cpu] [--out DIR]``
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from pnnkit.data import load_dataset
from pnnkit.info import (
    BottleneckEstimator,
    gaussian_gram,
    normalize_gram,
    randomized_renyi_entropy_and_grad,
    renyi_entropy,
    unit_normalize,
)
from pnnkit.learning import PIB, Backprop, rule_config
from pnnkit.network import PhysicalNetwork

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


# ----------------------------------------------------------------------------- helpers


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
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(format(v, fmt[c]) if c in fmt and isinstance(v, int | float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fit_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    lx = [math.log(s) for s in sizes]
    ly = [math.log(t) for t in times]
    mx, my = statistics.mean(lx), statistics.mean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def loglog_plot(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
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


# -------------------------------------------------------------------------- local loss


def table_local_loss(args: argparse.Namespace, device: torch.device, env: str) -> None:
    rows = []
    for n in args.sizes:
        x, y, t = clustered_batch(n, device=str(device))
        base = BottleneckEstimator()
        x_gram, y_gram = base.input_gram(x), base.label_gram(y, CLASSES)
        fns = {
            name: one_unit(BottleneckEstimator(**settings), x_gram, t, y_gram)
            for name, settings in VARIANTS.items()
        }
        times = interleaved(fns, args.repeats, device, budget_s=args.budget)
        row: dict[str, Any] = {"n": n, "width": WIDTH, "repeats": len(times[next(iter(fns))])}
        for name in fns:
            row[f"{name} ms"] = median_ms(times[name])
        eig_ag, eig_cf, lanczos, frob_ag, frob_cf = (row[f"{k} ms"] for k in VARIANTS)
        row["alpha2 closed form vs eig autograd"] = eig_ag / frob_cf
        row["alpha2 closed form vs eig closed form"] = eig_cf / frob_cf
        row["alpha2 autograd vs eig autograd"] = eig_ag / frob_ag
        row["lanczos vs eig closed form"] = eig_cf / lanczos
        rows.append(row)
        print(f"n = {n}: " + ", ".join(f"{k} {row[f'{k} ms']:.1f} ms" for k in VARIANTS))
    columns = [
        "n",
        *[f"{k} ms" for k in VARIANTS],
        "alpha2 closed form vs eig autograd",
        "alpha2 closed form vs eig closed form",
    ]
    fmt = {c: ".1f" for c in columns if c.endswith("ms")}
    fmt |= {c: ".1f" for c in columns if " vs " in c}
    print(f"\nOne unit's local loss with gradient, width {WIDTH}, float32; {env}\n")
    print(markdown(rows, columns, fmt))
    write_csv(rows, args.out / "perf_local_loss.csv", env)
    curves = {k: ([r["n"] for r in rows], [r[f"{k} ms"] for r in rows]) for k in VARIANTS}
    loglog_plot(
        curves,
        "batch size n",
        "ms per unit (loss and gradient)",
        f"local loss of one unit, width {WIDTH}",
        args.out / "perf_local_loss.png",
    )


# -------------------------------------------------------------------------- randomized


def gram_family(kind: str, n: int, device: torch.device) -> torch.Tensor:
    """float32 normalised Gram matrices of three kinds (sigma^2 = 0.5 on unit directions)."""
    g = torch.Generator().manual_seed(0)
    if kind == "random":  # iid Gaussian outputs: a flat spectrum
        t = torch.randn(n, WIDTH, generator=g)
    else:  # 10 clusters; "collapsed": tight clusters, most eigenvalues tiny
        noise = 1.0 if kind == "clustered" else 0.3
        _, _, t = clustered_batch(n, noise=noise)
    return normalize_gram(gaussian_gram(unit_normalize(t.to(device)), 0.5**0.5))


def table_randomized(args: argparse.Namespace, device: torch.device, env: str) -> None:
    n, seeds = args.n, range(args.seeds)
    rows = []
    for kind, dtype in (
        ("random", torch.float32),
        ("clustered", torch.float32),
        ("collapsed", torch.float32),
        ("collapsed", torch.float64),  # the same matrix, estimated in float64
    ):
        a = gram_family(kind, n, device).to(dtype)
        for alpha in (0.5, 1.0, 3.0):
            exact64 = renyi_entropy(a.double(), alpha, "eig").item()
            eig32 = renyi_entropy(a.float(), alpha, "eig").item()
            values = []
            for s in seeds:
                gen = torch.Generator(device=device).manual_seed(s)
                v, _ = randomized_renyi_entropy_and_grad(a, alpha, generator=gen, need_grad=False)
                values.append(v.item())
            err = [100 * (v - exact64) / exact64 for v in values]
            rows.append(
                {
                    "gram": kind,
                    "lanczos dtype": str(dtype).removeprefix("torch."),
                    "alpha": alpha,
                    "n": n,
                    "exact float64 bits": exact64,
                    "eig float32 error %": 100 * (eig32 - exact64) / exact64,
                    "lanczos rms error %": math.sqrt(statistics.mean(e * e for e in err)),
                    "lanczos max error %": max(abs(e) for e in err),
                    "lanczos bias %": statistics.mean(err),
                }
            )
            print(rows[-1])
    # speed, at alpha = 0.5 on the clustered Gram matrix
    a = gram_family("clustered", n, device)
    leaf = a.detach().clone().requires_grad_(True)

    def eig_value() -> None:
        renyi_entropy(a, 0.5, "eig")

    def eig_grad() -> None:
        torch.autograd.grad(renyi_entropy(leaf, 0.5, "eig"), leaf)

    def lanczos(need_grad: bool) -> Callable[[], None]:
        return lambda: randomized_renyi_entropy_and_grad(a, 0.5, need_grad=need_grad)

    fns = {
        "eig value": eig_value,
        "eig value+grad": eig_grad,
        "lanczos value": lanczos(False),
        "lanczos value+grad": lanczos(True),
    }
    times = interleaved(fns, args.repeats, device)
    speed = {f"{k} ms": median_ms(v) for k, v in times.items()}
    speed["speed-up value"] = speed["eig value ms"] / speed["lanczos value ms"]
    speed["speed-up value+grad"] = speed["eig value+grad ms"] / speed["lanczos value+grad ms"]
    # error for other settings (clustered and random Gram matrices)
    grid = []
    grams = {kind: gram_family(kind, n, device) for kind in ("random", "clustered")}
    exact = {
        (kind, al): renyi_entropy(m.double(), al, "eig").item()
        for kind, m in grams.items()
        for al in (0.5, 1.0)
    }
    for probes in (4, 8, 16, 32):
        for steps in (5, 10, 20):
            for deflation in (0, 16):
                row: dict[str, Any] = {"probes": probes, "steps": steps, "deflation": deflation}
                for (kind, al), ref in exact.items():
                    err = []
                    for s in seeds:
                        gen = torch.Generator(device=device).manual_seed(s)
                        v, _ = randomized_renyi_entropy_and_grad(
                            grams[kind],
                            al,
                            probes,
                            steps,
                            deflation=deflation,
                            generator=gen,
                            need_grad=False,
                        )
                        err.append(100 * (v.item() - ref) / ref)
                    row[f"{kind} a={al} rms %"] = math.sqrt(statistics.mean(e * e for e in err))
                t0 = CLOCK()
                for _ in range(3):
                    randomized_renyi_entropy_and_grad(
                        grams["clustered"],
                        0.5,
                        probes,
                        steps,
                        deflation=deflation,
                        need_grad=False,
                    )
                sync(device)
                row["ms"] = 1e3 * (CLOCK() - t0) / 3
                grid.append(row)
                print(row)
    print(
        f"\nRandomized entropy (defaults: 8 probes, 10 steps, deflation 16), n = {n}, "
        f"{args.seeds} seeds; reference: eigenvalues in float64 of the same float32 "
        f"matrix; {env}\n"
    )
    cols = [
        "gram",
        "lanczos dtype",
        "alpha",
        "exact float64 bits",
        "eig float32 error %",
        "lanczos rms error %",
        "lanczos max error %",
        "lanczos bias %",
    ]
    print(markdown(rows, cols, {c: ".3f" for c in cols[3:]}))
    print()
    print(markdown([speed], list(speed), {k: ".1f" for k in speed}))
    print()
    gcols = list(grid[0])
    print(markdown(grid, gcols, {c: ".2f" for c in gcols if "%" in c or c == "ms"}))
    write_csv(rows, args.out / "perf_randomized.csv", env)
    write_csv([speed], args.out / "perf_randomized_speed.csv", env)
    write_csv(grid, args.out / "perf_randomized_grid.csv", env)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, deflation in zip(axes, (0, 16), strict=True):
        for steps in (5, 10, 20):
            sel = [r for r in grid if r["steps"] == steps and r["deflation"] == deflation]
            for key, style in (("clustered a=0.5 rms %", "-o"), ("clustered a=1.0 rms %", "--s")):
                ax.plot(
                    [r["probes"] for r in sel],
                    [r[key] for r in sel],
                    style,
                    label=f"m={steps}, {key.split(' rms')[0]}",
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("probes k")
        ax.set_ylabel("rms relative error of the entropy (%)")
        ax.set_title(f"n = {n}, deflation r = {deflation}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "perf_randomized_grid.png", dpi=120)
    plt.close(fig)
    print(f"wrote {args.out / 'perf_randomized_grid.png'}")


# ------------------------------------------------------------------------- train steps


class Timed:
    """Wraps a bound method and adds up the time spent in it."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args: Any) -> Any:
        return self.wrap(self.fn)(*args)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its time added to this clock too."""

        def timed(*args: Any) -> Any:
            t0 = CLOCK()
            out = fn(*args)
            self.seconds += CLOCK() - t0
            return out

        return timed


class HardwareClock:
    """Time spent inside the substrates' ``_measure``, ``_program`` and ``_read_parameters``
    (what ``Counters.hardware_seconds`` counts), on :data:`CLOCK`."""

    def __init__(self, net: PhysicalNetwork) -> None:
        self.clock = Timed(lambda: None)
        for substrate in net.substrates():
            for name in ("_measure", "_program", "_read_parameters"):
                setattr(substrate, name, self.clock.wrap(getattr(substrate, name)))

    @property
    def seconds(self) -> float:
        return self.clock.seconds


class ReplayedHardware:
    """Serves every substrate call of ``net`` from a recording of one real call each: measure
    returns a copy of the recorded output, programming does nothing, read-back returns the
    recorded parameters. A step then spends no time simulating physics, so its whole time is
    the rule's digital work, which has the same shapes and code path as on the real substrate;
    this also removes what subtracting the simulation's time cannot: the simulation's effect
    on the caches the digital work finds (on real hardware the physics runs outside the
    controller's processor). Each substrate answers with its last recorded output whatever
    the input: valid for steps that measure every substrate once (PIB's), not for rules that
    query a substrate several times per step."""

    def __init__(self, net: PhysicalNetwork, step: Callable[[], Any]) -> None:
        recorded: dict[tuple[int, str], Any] = {}

        def recorder(key: tuple[int, str], real: Callable[..., Any]) -> Callable[..., Any]:
            def record(*args: Any) -> Any:
                recorded[key] = out = real(*args)
                return out

            return record

        calls = [(s, name) for s in net.substrates() for name in ("_measure", "_read_parameters")]
        for substrate, name in calls:
            setattr(substrate, name, recorder((id(substrate), name), getattr(substrate, name)))
        step()  # one real step records every answer
        for substrate, name in calls:
            answer = recorded.get((id(substrate), name))
            if answer is not None:  # a call the step never made keeps the real method
                setattr(substrate, name, lambda *args, answer=answer: answer.clone())
        for substrate in net.substrates():
            substrate._program = lambda delta: None  # type: ignore[method-assign]


def pib_rule(substrate: str, widths: list[int], settings: dict[str, Any]):
    net = PhysicalNetwork.build(substrate, 64, widths, CLASSES, seed=0)
    config = rule_config("pib", {"estimator": settings})
    rule = PIB(net, config, total_steps=100_000)
    rule.local_gradient = Timed(rule.local_gradient)  # type: ignore[method-assign]
    est = rule.config.estimator
    grams = Timed(lambda: None)  # one clock for the input and label Gram matrices
    for name in ("input_gram", "label_gram"):
        setattr(est, name, grams.wrap(getattr(est, name)))
    rule.gram_clock = grams  # type: ignore[attr-defined]
    return net, rule


def torch_mlp(widths: list[int]) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    layers: list[torch.nn.Module] = []
    sizes = [64, *widths]
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], CLASSES))
    return model, torch.optim.Adam(model.parameters(), 1e-3)


def step_table_rows(
    batch: int,
    widths: list[int],
    variants: dict[str, dict[str, Any]],
    repeats: int,
    device: torch.device,
    budget: float | None,
    with_torch: bool = True,
    replayed: str | None = None,
) -> list[dict[str, Any]]:
    """Median time, hardware time and digital time (the difference) of one training step for
    PIB variants (crossbar), pnnkit backprop (ideal) and a torch MLP, on :data:`CLOCK`; with
    ``replayed`` (a row name), also :data:`REPLAYED_VARIANT` on :class:`ReplayedHardware`."""
    x, y, _ = clustered_batch(batch, width=8)
    nets: dict[str, tuple[PhysicalNetwork | None, Any]] = {}
    for name, settings in variants.items():
        nets[name] = pib_rule("crossbar", widths, settings)
    if replayed:
        net, rule = nets[replayed] = pib_rule("crossbar", widths, variants[REPLAYED_VARIANT])
        ReplayedHardware(net, lambda: rule.train_step(x, y))
    bp_net = PhysicalNetwork.build("ideal", 64, widths, CLASSES, seed=0)
    nets["backprop (pnnkit, ideal)"] = (bp_net, Backprop(bp_net, rule_config("backprop"), 10**5))
    if with_torch:
        model, opt = torch_mlp(widths)

        def mlp_step(x: torch.Tensor, y: torch.Tensor) -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        nets["torch MLP + Adam"] = (None, mlp_step)
    record: dict[str, dict[str, list[float]]] = {}

    def make(name: str) -> Callable[[], None]:
        net, rule = nets[name]
        hardware = HardwareClock(net) if net is not None else None
        local = getattr(rule, "local_gradient", None)
        grams = getattr(rule, "gram_clock", None)
        step = rule.train_step if net is not None else rule
        record[name] = {"step": [], "hardware": [], "local": [], "grams": []}

        def run() -> None:
            h0 = hardware.seconds if hardware else 0.0
            l0, g0 = getattr(local, "seconds", 0.0), getattr(grams, "seconds", 0.0)
            t0 = CLOCK()
            step(x, y)
            record[name]["step"].append(CLOCK() - t0)
            record[name]["hardware"].append((hardware.seconds if hardware else 0.0) - h0)
            record[name]["local"].append(getattr(local, "seconds", 0.0) - l0)
            record[name]["grams"].append(getattr(grams, "seconds", 0.0) - g0)

        return run

    interleaved({name: make(name) for name in nets}, repeats, device, warmup=2, budget_s=budget)
    rows = []
    for name, rec in record.items():
        step_s, hard = rec["step"][2:], rec["hardware"][2:]  # the warm-up calls were recorded
        digital = [a - b for a, b in zip(step_s, hard, strict=True)]
        rows.append(
            {
                "method": name,
                "batch": batch,
                "width": widths[0],
                "units": len(widths),
                "step ms": median_ms(step_s),
                "hardware ms": median_ms(hard),
                "digital ms": median_ms(digital),
                "local loss ms (all units)": median_ms(rec["local"][2:]),
                "X and Y grams ms": median_ms(rec["grams"][2:]),
                "steps timed": len(step_s),
            }
        )
    bp_ms = next(r["digital ms"] for r in rows if r["method"].startswith("backprop"))
    for r in rows:
        r["digital / backprop"] = r["digital ms"] / bp_ms
    return rows


#: the PIB variant also timed on :class:`ReplayedHardware` in the step table
REPLAYED_VARIANT = "frobenius closed form (alpha 2)"


def table_step(args: argparse.Namespace, device: torch.device, env: str) -> None:
    replayed = f"{REPLAYED_VARIANT}, hardware replayed"
    rows = step_table_rows(
        256, [WIDTH] * 3, VARIANTS, args.repeats, device, args.budget, replayed=replayed
    )
    cols = [
        "method",
        "step ms",
        "hardware ms",
        "digital ms",
        "local loss ms (all units)",
        "X and Y grams ms",
        "digital / backprop",
    ]
    fmt = {c: ".2f" for c in cols[1:]}
    print(
        f"\nOne training step, 3 units of width {WIDTH}, batch 256 (PIB on the crossbar); {env}\n"
    )
    print(markdown(rows, cols, fmt))
    write_csv(rows, args.out / "perf_step.csv", env)


def table_scaling(args: argparse.Namespace, device: torch.device, env: str) -> None:
    variants = {k: v for k, v in VARIANTS.items() if "closed form" in k}
    rows = []
    for batch in args.batches:
        for r in step_table_rows(
            batch, [WIDTH] * 3, variants, args.repeats, device, args.budget, with_torch=False
        ):
            rows.append({**r, "sweep": "batch"})
        print(f"batch {batch} done")
    for width in args.widths:
        for r in step_table_rows(
            256, [width] * 3, variants, args.repeats, device, args.budget, with_torch=False
        ):
            rows.append({**r, "sweep": "width"})
        print(f"width {width} done")
    fits = []
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for sweep, key in (("batch", "batch"), ("width", "width")):
        for method in [*variants, "backprop (pnnkit, ideal)"]:
            sel = [r for r in rows if r["sweep"] == sweep and r["method"] == method]
            xs, ys = [r[key] for r in sel], [r["digital ms"] for r in sel]
            curves[f"{method}, vs {sweep}"] = (xs, ys)
            fits.append(
                {
                    "sweep": sweep,
                    "method": method,
                    "exponent (all points)": fit_exponent(xs, ys),
                    "exponent (largest 3)": fit_exponent(xs[-3:], ys[-3:]),
                    "sizes": " ".join(str(v) for v in xs),
                    "digital ms": " ".join(f"{v:.1f}" for v in ys),
                }
            )
    print(
        f"\nPIB step digital time against batch size (width {WIDTH}) and unit width "
        f"(batch 256), 3 units, crossbar; {env}\n"
    )
    cols = [
        "sweep",
        "method",
        "sizes",
        "digital ms",
        "exponent (all points)",
        "exponent (largest 3)",
    ]
    print(markdown(fits, cols, {c: ".2f" for c in cols[4:]}))
    write_csv(rows, args.out / "perf_scaling.csv", env)
    write_csv(fits, args.out / "perf_scaling_fit.csv", env)
    for sweep in ("batch", "width"):
        sel = {k.split(", vs")[0]: v for k, v in curves.items() if k.endswith(sweep)}
        loglog_plot(
            sel,
            sweep if sweep == "batch" else "unit width",
            "digital ms per step",
            f"PIB step (3 units) against {sweep}",
            args.out / f"perf_scaling_{sweep}.png",
        )


def table_epoch(args: argparse.Namespace, device: torch.device, env: str) -> None:
    data = load_dataset("digits", seed=0)
    n = data.x_train.shape[0]
    widths = [WIDTH] * 3
    rules = {}
    for name, settings in VARIANTS.items():
        rules[name] = pib_rule("crossbar", widths, settings)
    bp_net = PhysicalNetwork.build("ideal", 64, widths, CLASSES, seed=0)
    rules["backprop (pnnkit, ideal)"] = (bp_net, Backprop(bp_net, rule_config("backprop"), 10**5))
    record: dict[str, list[tuple[float, float]]] = {name: [] for name in rules}

    def epoch(name: str) -> Callable[[], None]:
        net, rule = rules[name]
        hardware = HardwareClock(net)
        gen = torch.Generator().manual_seed(0)

        def run() -> None:
            h0 = hardware.seconds
            w0, t0 = time.perf_counter(), CLOCK()
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, 256):
                idx = perm[i : i + 256]
                rule.train_step(data.x_train[idx], data.y_train[idx])
            rule.before_evaluation()
            rule.predict(data.x_test)
            spent = CLOCK() - t0
            record[name].append((time.perf_counter() - w0, spent, spent - (hardware.seconds - h0)))

        return run

    interleaved(
        {name: epoch(name) for name in rules}, args.repeats, device, warmup=1, budget_s=args.budget
    )
    rows = []
    for name, rec in record.items():
        rec = rec[1:]
        rows.append(
            {
                "method": name,
                "epoch wall s": statistics.median(r[0] for r in rec),
                "epoch s": statistics.median(r[1] for r in rec),
                "epoch digital s": statistics.median(r[2] for r in rec),
                "epochs timed": len(rec),
            }
        )
    bp = next(r["epoch digital s"] for r in rows if r["method"].startswith("backprop"))
    for r in rows:
        r["digital / backprop"] = r["epoch digital s"] / bp
    print(
        f"\nOne epoch on digits ({n} training samples, batch 256, 3 units of width {WIDTH}; "
        f"PIB on the crossbar), training steps and one test evaluation; {env}\n"
    )
    cols = ["method", "epoch wall s", "epoch s", "epoch digital s", "digital / backprop"]
    print(markdown(rows, cols, {c: ".3f" for c in cols[1:]}))
    write_csv(rows, args.out / "perf_epoch.csv", env)


# --------------------------------------------------------------------------- memory


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(n: int, variant: str, device: torch.device) -> dict[str, float]:
    """Peak memory of one call of the local loss, in a fresh process."""
    x, y, t = clustered_batch(n, device=str(device))
    base = BottleneckEstimator()
    x_gram, y_gram = base.input_gram(x), base.label_gram(y, CLASSES)
    run = one_unit(BottleneckEstimator(**VARIANTS[variant]), x_gram, t, y_gram)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
        before = _rss_kib("VmRSS")
        run()
        peak = (_rss_kib("VmHWM") - before) * 1024
    return {
        "n": n,
        "variant": variant,
        "peak MiB": peak / 2**20,
        "n x n float32": peak / (4 * n * n),
    }


def table_memory(args: argparse.Namespace, device: torch.device, env: str) -> None:
    rows = []
    for n in args.sizes:
        for variant in VARIANTS:
            cmd = [
                sys.executable,
                __file__,
                "memory-child",
                "--n",
                str(n),
                "--variant",
                variant,
                "--device",
                str(device),
                "--threads",
                str(args.threads),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1])
    cols = ["n", "variant", "peak MiB", "n x n float32"]
    print(
        f"\nPeak memory of one unit's local loss with gradient (width {WIDTH}, float32) above "
        f"the inputs; {env}\n"
    )
    print(markdown(rows, cols, {"peak MiB": ".1f", "n x n float32": ".1f"}))
    write_csv(rows, args.out / "perf_memory.csv", env)


# ------------------------------------------------------------------------- train check


def table_train_check(args: argparse.Namespace, device: torch.device, env: str) -> None:
    data = load_dataset("digits", seed=0)
    n = data.x_train.shape[0]
    steps = args.epochs * math.ceil(n / 256)
    rows = []
    for name, settings in VARIANTS.items():
        for seed in args.train_seeds:
            torch.manual_seed(seed)
            net = PhysicalNetwork.build("ideal", 64, [WIDTH, WIDTH], CLASSES, seed=seed)
            rule = PIB(net, rule_config("pib", {"estimator": settings}), steps)
            gen = torch.Generator().manual_seed(seed)
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                perm = torch.randperm(n, generator=gen)
                for i in range(0, n, 256):
                    idx = perm[i : i + 256]
                    rule.train_step(data.x_train[idx], data.y_train[idx])
            acc = (rule.predict(data.x_test) == data.y_test).float().mean().item()
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "test accuracy": acc,
                    "train s": time.perf_counter() - t0,
                }
            )
            print(rows[-1])
    summary = []
    for name in VARIANTS:
        accs = [r["test accuracy"] for r in rows if r["method"] == name]
        summary.append(
            {
                "method": name,
                "mean test accuracy": statistics.mean(accs),
                "per seed": ", ".join(f"{a:.4f}" for a in accs),
            }
        )
    print(
        f"\nPIB on digits, ideal substrate, 2 units of width {WIDTH}, {args.epochs} epochs, "
        f"other settings default; {env}\n"
    )
    print(
        markdown(
            summary, ["method", "mean test accuracy", "per seed"], {"mean test accuracy": ".4f"}
        )
    )
    write_csv(rows, args.out / "perf_train_check.csv", env)


# --------------------------------------------------------------------------------- main

TABLES = {
    "local-loss": table_local_loss,
    "randomized": table_randomized,
    "step": table_step,
    "scaling": table_scaling,
    "epoch": table_epoch,
    "memory": table_memory,
    "train-check": table_train_check,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=[*TABLES, "memory-child"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per variant")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds after which a timing loop stops early (>= 3 rounds)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="batch sizes n")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--seeds", type=int, default=8, help="probe seeds (randomized)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--epochs", type=int, default=30, help="train-check epochs")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="process CPU time (default on a CPU device) or wall time (default on CUDA)",
    )
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    global CLOCK
    clock = args.clock or ("cpu" if device.type == "cpu" else "wall")
    CLOCK = time.process_time if clock == "cpu" else time.perf_counter
    if args.table == "memory-child":
        print(json.dumps(memory_child(args.n, args.variant, device)))
        return
    defaults = {
        "local-loss": (5, [256, 512, 1024, 2048]),
        "randomized": (7, None),
        "step": (30, None),
        "scaling": (7, None),
        "epoch": (3, None),
        "memory": (1, [1024, 2048, 4096]),
        "train-check": (1, None),
    }
    repeats, sizes = defaults[args.table]
    args.repeats = args.repeats or repeats
    args.sizes = args.sizes or sizes
    args.out.mkdir(parents=True, exist_ok=True)
    env = f"{machine()}; clock: {clock}"
    print(env)
    TABLES[args.table](args, device, env)


if __name__ == "__main__":
    main()
