"""Accuracy of PIB and backprop on sklearn digits, several seeds: the numbers of docs/BENCHMARKS.md.

    python benchmarks/bench_digits.py [--seeds 0 1 2] [--epochs 60] [--out benchmarks/results]

Runs PIB on the default crossbar, PIB on the ideal substrate and backprop on the ideal substrate
(same architecture, same defaults as ``pnnkit train``), two runs at a time, and prints a
Markdown table of mean and standard deviation; per-run rows go to ``digits.csv``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from pnnkit.experiment import TrainConfig, train

SETTINGS = [("pib", "crossbar"), ("pib", "ideal"), ("backprop", "ideal")]


def run_one(method: str, substrate: str, seed: int, epochs: int, out: Path) -> dict:
    torch.set_num_threads(1)  # two runs share the two cores
    config = TrainConfig(
        method=method,
        substrate=substrate,
        seed=seed,
        epochs=epochs,
        out=str(out / "runs" / f"{method}-{substrate}-{seed}"),
    )
    return train(config, progress=False, overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(m, s, seed) for m, s in SETTINGS for seed in args.seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_one, m, s, seed, args.epochs, args.out) for m, s, seed in jobs]
        results = []
        for (m, s, seed), future in zip(jobs, futures, strict=True):
            summary = future.result()
            results.append(summary)
            print(f"{m:>9} on {s:<9} seed {seed}: test {summary['test_accuracy']:.4f}", flush=True)
    with (args.out / "digits.csv").open("w", newline="") as stream:
        keys = ["method", "substrate", "seed", "epochs", "test_accuracy", "train_accuracy"]
        keys += ["physical_queries", "device_writes", "programming_pulses", "wall_seconds"]
        writer = csv.DictWriter(stream, keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - start:.0f} s\n")
    print("| method | substrate | test accuracy (mean +- std) | per seed | queries | writes |")
    print("|---|---|---|---|---|---|")
    for m, s in SETTINGS:
        rows = [r for r in results if (r["method"], r["substrate"]) == (m, s)]
        acc = [r["test_accuracy"] for r in rows]
        spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(
            f"| {m} | {s} | {statistics.mean(acc):.4f} +- {spread:.4f} | "
            f"{', '.join(f'{a:.4f}' for a in acc)} | {rows[0]['physical_queries']:,} | "
            f"{statistics.mean(r['device_writes'] for r in rows):,.0f} |"
        )


if __name__ == "__main__":
    main()
