"""Run a grid of trainings (methods x substrates x datasets x seeds) and tabulate them.

    python benchmarks/grid.py --methods pib backprop readout --substrates scattering mzi \
        --datasets digits --seeds 0 1 2 [--epochs 60] [--set rule.lr=0.001] [--out DIR]

Every run is ``pnnkit train`` with those settings (``--set`` applies to all runs); two run at
a time, one thread each (results are deterministic for a fixed thread count). Prints a Markdown
table of test accuracy (mean +- std, per seed), physical queries and wall time, and writes
``grid.csv`` with one row per run.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from pnnkit.experiment import TrainConfig, train

COLUMNS = [
    "method",
    "substrate",
    "stage",
    "dataset",
    "seed",
    "epochs",
    "test_accuracy",
    "train_accuracy",
    "physical_queries",
    "device_writes",
    "wall_seconds",
]


def run_one(job: dict[str, Any], overrides: list[str], out: Path) -> dict[str, Any]:
    torch.set_num_threads(1)  # two runs share the two cores
    name = "-".join(str(job[k]) for k in ("method", "substrate", "dataset", "seed"))
    folder = out / "runs" / name.replace(":", "_").replace("/", "_")
    config = TrainConfig(**job, out=str(folder)).with_overrides(overrides)
    return train(config, progress=False, overwrite=True)


def run_grid(
    jobs: list[dict[str, Any]], overrides: list[str], out: Path, workers: int = 2
) -> list[dict[str, Any]]:
    """Run every job (TrainConfig fields), printing one line per finished run."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(run_one, job, overrides, out) for job in jobs]
        results = []
        for job, future in zip(jobs, futures, strict=True):
            summary = future.result()
            results.append(summary)
            print(
                f"{job['method']:>9} {job['substrate']:<12} {job['dataset']:<10} "
                f"seed {job['seed']}: test {summary['test_accuracy']:.4f} "
                f"({summary['wall_seconds']:.0f} s)",
                flush=True,
            )
    with (out / "grid.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - start:.0f} s\n")
    return results


def markdown_table(results: list[dict[str, Any]]) -> str:
    """Mean +- std over seeds for each (dataset, substrate, method)."""
    lines = [
        "| dataset | substrate | method | test accuracy (mean +- std) | per seed "
        "| queries per run | wall s per run |",
        "|---|---|---|---|---|---|---|",
    ]
    key = lambda r: (r["dataset"], r["substrate"], r["method"])  # noqa: E731
    for (dataset, substrate, method), group in itertools.groupby(sorted(results, key=key), key):
        rows = list(group)
        acc = [r["test_accuracy"] for r in rows]
        spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
        lines.append(
            f"| {dataset} | {substrate} | {method} | {statistics.mean(acc):.4f} +- {spread:.4f} "
            f"| {', '.join(f'{a:.4f}' for a in acc)} | {rows[0]['physical_queries']:,} "
            f"| {statistics.median(r['wall_seconds'] for r in rows):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["pib", "backprop"])
    parser.add_argument("--substrates", nargs="+", default=["crossbar"])
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--stage", default=TrainConfig().stage)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/grid"))
    args = parser.parse_args()
    jobs = [
        {
            "method": m,
            "substrate": s,
            "stage": args.stage,
            "dataset": d,
            "seed": seed,
            "epochs": args.epochs,
        }
        for d, s, m, seed in itertools.product(
            args.datasets, args.substrates, args.methods, args.seeds
        )
    ]
    results = run_grid(jobs, args.set, args.out, args.workers)
    print(markdown_table(results))


if __name__ == "__main__":
    main()
