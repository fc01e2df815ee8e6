"""Accuracy of PIB and backprop on sklearn digits, several seeds: issue 2's numbers.

    python benchmarks/bench_digits.py [--seeds 0 1 2] [--epochs 60] [--out benchmarks/results]

PIB on the default crossbar, PIB on the ideal substrate and backprop on the ideal substrate,
same architecture and defaults as ``pnnkit train`` (see ``grid.py`` for how runs are made).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grid import markdown_table, run_grid
from pnnkit.experiment import TrainConfig

SETTINGS = [("pib", "crossbar"), ("pib", "ideal"), ("backprop", "ideal")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/digits"))
    args = parser.parse_args()
    jobs = [
        {"method": m, "substrate": s, "dataset": "digits", "seed": seed, "epochs": args.epochs}
        for m, s in SETTINGS
        for seed in args.seeds
    ]
    print(markdown_table(run_grid(jobs, [], args.out, args.workers)))


if __name__ == "__main__":
    main()
