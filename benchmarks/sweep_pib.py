"""The PIB settings sweep behind the defaults (docs/pib.md), on digits, several seeds.

    python benchmarks/sweep_pib.py [--substrate ideal] [--seeds 0 1 2] [--out benchmarks/results]

Each variant changes the default PIB settings by the ``--set``-style overrides listed below;
prints a Markdown table (mean, std and per-seed test accuracy) and writes ``sweep_pib.csv``.
Runs two at a time.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from pnnkit.experiment import TrainConfig, train

#: variant name -> rule overrides (estimator settings nested under "estimator")
VARIANTS: dict[str, dict] = {
    "alpha 3, lr 1e-3": {"lr": 1e-3, "estimator": {"alpha": 3.0}},
    "alpha 2, lr 1e-3": {"lr": 1e-3, "estimator": {"alpha": 2.0}},
    "alpha 1, lr 1e-3": {"lr": 1e-3, "estimator": {"alpha": 1.0}},
    "alpha 0.5, lr 1e-3": {"lr": 1e-3},
    "defaults (alpha 0.5, lr 3e-4)": {},
    "beta 3": {"beta": 3.0},
    "beta 30": {"beta": 30.0},
    "gamma 0 (no compression term)": {"gamma": 0.0},
    "median kernel width": {"estimator": {"width_rule": "median", "sigma2": 1.0}},
    "alpha 2 (fast path)": {"estimator": {"alpha": 2.0}},
}


def run_one(name: str, substrate: str, seed: int, out: Path) -> dict:
    torch.set_num_threads(1)  # two runs share the two cores
    slug = "".join(c if c.isalnum() else "-" for c in name)
    config = TrainConfig(
        substrate=substrate,
        seed=seed,
        rule_options=VARIANTS[name],
        out=str(out / "runs" / f"sweep-{substrate}-{slug}-{seed}"),
    )
    return train(config, progress=False, overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substrate", default="ideal")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(name, seed) for name in args.variants for seed in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_one, n, args.substrate, s, args.out) for n, s in jobs]
        accuracy: dict[str, list[float]] = {name: [] for name in args.variants}
        rows = []
        for (name, seed), future in zip(jobs, futures, strict=True):
            summary = future.result()
            accuracy[name].append(summary["test_accuracy"])
            rows.append({"variant": name, "seed": seed, "test_accuracy": summary["test_accuracy"]})
            print(f"{name:<32} seed {seed}: {summary['test_accuracy']:.4f}", flush=True)
    with (args.out / f"sweep_pib_{args.substrate}.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, ["variant", "seed", "test_accuracy"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nPIB on {args.substrate}, digits, seeds {args.seeds}\n")
    print("| variant | test accuracy (mean +- std) | per seed |")
    print("|---|---|---|")
    for name, acc in accuracy.items():
        spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
        per_seed = ", ".join(f"{a:.4f}" for a in acc)
        print(f"| {name} | {statistics.mean(acc):.4f} +- {spread:.4f} | {per_seed} |")


if __name__ == "__main__":
    main()
