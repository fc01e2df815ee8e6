"""``randomized``: the randomized (stochastic Lanczos) entropy against the eigenvalue path:
error over seeds, time, and the error for other probes, steps and deflation."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from typing import Any

import torch

from pnnkit.info import (
    gaussian_gram,
    normalize_gram,
    randomized_renyi_entropy_and_grad,
    renyi_entropy,
    unit_normalize,
)

from .harness import WIDTH, clustered_batch, interleaved, markdown, median_ms, now, sync, write_csv


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

    def lanczos(need_grad: bool) -> Callable[[], Any]:
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
                t0 = now()
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
                row["ms"] = 1e3 * (now() - t0) / 3
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
