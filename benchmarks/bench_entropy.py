"""Time the order-2 matrix-based Renyi entropy: eigendecomposition vs Frobenius norm.

``S_2(A) = -log2 sum_i lambda_i^2`` can be computed from ``torch.linalg.eigvalsh`` (O(n^3)) or
as ``-log2 ||A||_F^2`` (O(n^2)); both are :func:`pnnkit.info.renyi_entropy`, with
``method="eig"`` or ``method="frobenius"``. The Gram matrix is built once per size (Gaussian
kernel on n random samples of width 256, float32, median-distance width) and is not timed.
The two methods are timed interleaved in the same loop (alternating which goes first), after
warm-up runs, for the forward pass alone and for forward + backward.

Usage: ``python benchmarks/bench_entropy.py [--n 512] [--repeats 20] [--out benchmarks/results]``
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from pnnkit.info import gaussian_gram, kernel_width, normalize_gram, renyi_entropy

TABLE_SIZES = (128, 256, 512, 1024)
WIDTH = 256
METHODS = ("eig", "frobenius")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_gram(n: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """Normalised Gaussian Gram of n random samples of width 256 (float32)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, WIDTH, generator=gen, dtype=torch.float32).to(device)
    return normalize_gram(gaussian_gram(x, kernel_width(x, "median")))


def _call(a: torch.Tensor, method: str, backward: bool) -> Callable[[], None]:
    def forward() -> None:
        renyi_entropy(a, 2.0, method)

    def forward_backward() -> None:
        leaf = a.detach().requires_grad_(True)
        renyi_entropy(leaf, 2.0, method).backward()

    return forward_backward if backward else forward


def time_methods(
    a: torch.Tensor, repeats: int, backward: bool, warmup: int = 3
) -> dict[str, list[float]]:
    """Seconds per call for each method, measured interleaved."""
    fns = {m: _call(a, m, backward) for m in METHODS}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(a.device)
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for r in range(repeats):
        order = METHODS if r % 2 == 0 else METHODS[::-1]
        for m in order:
            _sync(a.device)
            t0 = time.perf_counter()
            fns[m]()
            _sync(a.device)
            times[m].append(time.perf_counter() - t0)
    return times


def measure(n: int, repeats: int, device: torch.device) -> dict[str, float | int]:
    a = build_gram(n, device)
    eig = renyi_entropy(a, 2.0, "eig").item()
    frob = renyi_entropy(a, 2.0, "frobenius").item()
    row: dict[str, float | int] = {"n": n, "s2_eig": eig, "s2_frobenius": frob}
    for backward, tag in ((False, "fwd"), (True, "fwd_bwd")):
        times = time_methods(a, repeats, backward)
        e, f = statistics.median(times["eig"]), statistics.median(times["frobenius"])
        row[f"eig_{tag}_ms"] = 1e3 * e
        row[f"frobenius_{tag}_ms"] = 1e3 * f
        row[f"speedup_{tag}"] = e / f
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="batch size of the headline run")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per method")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.n < 2 or args.repeats < 1:
        parser.error("--n must be >= 2 and --repeats >= 1")
    device = torch.device(args.device)

    env = (
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"matrix-based Renyi entropy, alpha = 2, float32, width {WIDTH}; {env}")
    head = measure(args.n, args.repeats, device)
    print(
        f"n = {args.n}, {args.repeats} repeats (medians): "
        f"eig {head['eig_fwd_ms']:.3f} ms, frobenius {head['frobenius_fwd_ms']:.4f} ms, "
        f"speed-up {head['speedup_fwd']:.1f}x (forward); "
        f"with backward {head['eig_fwd_bwd_ms']:.3f} ms vs {head['frobenius_fwd_bwd_ms']:.4f} ms, "
        f"speed-up {head['speedup_fwd_bwd']:.1f}x"
    )
    print(f"S_2 eig = {head['s2_eig']:.6f} bits, frobenius = {head['s2_frobenius']:.6f} bits")

    rows = [head if n == args.n else measure(n, args.repeats, device) for n in TABLE_SIZES]
    if args.n not in TABLE_SIZES:
        rows.append(head)
    print()
    print(
        f"{'n':>6} {'eig fwd ms':>11} {'frob fwd ms':>12} {'x fwd':>8} "
        f"{'eig f+b ms':>11} {'frob f+b ms':>12} {'x f+b':>8}"
    )
    for r in rows:
        print(
            f"{r['n']:>6} {r['eig_fwd_ms']:>11.3f} {r['frobenius_fwd_ms']:>12.4f} "
            f"{r['speedup_fwd']:>8.1f} {r['eig_fwd_bwd_ms']:>11.3f} "
            f"{r['frobenius_fwd_bwd_ms']:>12.4f} {r['speedup_fwd_bwd']:>8.1f}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_entropy.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0].keys(), "repeats", "environment"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "repeats": args.repeats, "environment": env})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
