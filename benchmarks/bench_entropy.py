"""Time the matrix-based Renyi entropy of one Gram matrix, with and without its gradient, per path.

Paths (all :mod:`pnnkit.info`, float32):

- eigenvalues, ``alpha = 0.5``: ``renyi_entropy(a, 0.5, "eig")`` (``eigvalsh``); with the
  gradient by autograd (``eigh`` and its backward) or in closed form
  (``renyi_entropy_and_grad``: one ``eigh``, ``V diag(dS/dlambda) V^T``);
- Frobenius norm, ``alpha = 2``: ``renyi_entropy(a, 2, "frobenius")``, ``O(n^2)``; with the
  gradient by autograd or in closed form (``renyi2_entropy_and_grad``);
- randomized, ``alpha = 0.5``: ``randomized_renyi_entropy_and_grad`` (stochastic Lanczos
  quadrature, defaults: 8 probes, 10 steps, deflation 16), value only and with its stochastic
  gradient.

The Gram matrix (Gaussian kernel of n random samples of width 256, median-distance width,
normalised) is built once per size and not timed. The paths are timed interleaved in one
loop (the order alternates), after a warm-up call, as medians, on process CPU time by default
(``--clock wall`` for wall time); a size's repeats stop early after ``--budget`` seconds (at
least 3 rounds), which matters for the eigenvalue paths at n = 4096.

Usage: ``python benchmarks/bench_entropy.py [--sizes 128 ... 4096] [--n N] [--repeats 20]
[--out DIR]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from perf import harness
from perf.harness import interleaved, loglog_plot, machine, markdown, median_ms, write_csv
from pnnkit.info import (
    gaussian_gram,
    kernel_width,
    normalize_gram,
    randomized_renyi_entropy_and_grad,
    renyi2_entropy_and_grad,
    renyi_entropy,
    renyi_entropy_and_grad,
)

WIDTH = 256
SIZES = (128, 256, 512, 1024, 2048, 4096)


def build_gram(n: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """Normalised Gaussian Gram of n random samples of width 256 (float32)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, WIDTH, generator=gen, dtype=torch.float32).to(device)
    return normalize_gram(gaussian_gram(x, kernel_width(x, "median")))


def paths(a: torch.Tensor) -> dict[str, Callable[[], None]]:
    """The timed calls on one Gram matrix ``a``."""

    def autograd(alpha: float, algorithm: str) -> Callable[[], None]:
        def run() -> None:
            leaf = a.detach().requires_grad_(True)
            torch.autograd.grad(renyi_entropy(leaf, alpha, algorithm), leaf)

        return run

    return {
        "eig value": lambda: renyi_entropy(a, 0.5, "eig"),
        "eig + grad autograd": autograd(0.5, "eig"),
        "eig + grad closed form": lambda: renyi_entropy_and_grad(a, 0.5),
        "frobenius value": lambda: renyi_entropy(a, 2.0, "frobenius"),
        "frobenius + grad autograd": autograd(2.0, "frobenius"),
        "frobenius + grad closed form": lambda: renyi2_entropy_and_grad(a),
        "lanczos value": lambda: randomized_renyi_entropy_and_grad(a, 0.5, need_grad=False),
        "lanczos + grad": lambda: randomized_renyi_entropy_and_grad(a, 0.5),
    }


def measure(n: int, repeats: int, budget: float, device: torch.device) -> dict[str, float | int]:
    a = build_gram(n, device)
    fns = paths(a)
    times = interleaved(fns, repeats, device, budget_s=budget)
    row: dict[str, float | int] = {"n": n, "repeats": len(times["eig value"])}
    for name in fns:
        row[f"{name} ms"] = median_ms(times[name])
    row["frobenius vs eig, value"] = row["eig value ms"] / row["frobenius value ms"]
    row["frobenius vs eig, + grad autograd"] = (
        row["eig + grad autograd ms"] / row["frobenius + grad autograd ms"]
    )
    row["frobenius closed form vs eig autograd, + grad"] = (
        row["eig + grad autograd ms"] / row["frobenius + grad closed form ms"]
    )
    row["lanczos vs eig, value"] = row["eig value ms"] / row["lanczos value ms"]
    row["lanczos vs eig closed form, + grad"] = (
        row["eig + grad closed form ms"] / row["lanczos + grad ms"]
    )
    row["S_0.5 eig bits"] = renyi_entropy(a, 0.5, "eig").item()
    row["S_2 eig bits"] = renyi_entropy(a, 2.0, "eig").item()
    row["S_2 frobenius bits"] = renyi_entropy(a, 2.0, "frobenius").item()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--n", type=int, default=None, help="one more size (issue 2's option)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per path (at most)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per size, about")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=["cpu", "wall"], default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.n is not None and args.n not in args.sizes:
        args.sizes = sorted([*args.sizes, args.n])
    if min(args.sizes) < 2 or args.repeats < 1:
        parser.error("--sizes must be >= 2 and --repeats >= 1")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock = args.clock or ("cpu" if device.type == "cpu" else "wall")
    harness.CLOCK = time.process_time if clock == "cpu" else time.perf_counter
    env = f"{machine()}; clock: {clock}"
    print(f"matrix-based Renyi entropy of one Gram matrix, float32; {env}")
    rows = []
    for n in args.sizes:
        rows.append(measure(n, args.repeats, args.budget, device))
        print(f"n = {n}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items() if k != "n"))
    names = list(paths(torch.eye(2)))
    cols = ["n", *[f"{k} ms" for k in names]]
    print()
    print(markdown(rows, cols, {c: ".3f" for c in cols[1:]}))
    ratios = ["n", *[k for k in rows[0] if " vs " in k]]
    print()
    print(markdown(rows, ratios, {c: ".1f" for c in ratios[1:]}))
    write_csv(rows, args.out / "bench_entropy.csv", env)
    curves = {k: ([r["n"] for r in rows], [r[f"{k} ms"] for r in rows]) for k in names}
    loglog_plot(
        curves,
        "n",
        "ms per call",
        "Renyi entropy of one n x n Gram matrix (float32)",
        args.out / "bench_entropy.png",
    )


if __name__ == "__main__":
    main()
