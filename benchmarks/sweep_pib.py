"""Tune PIB on validation accuracy: named variants x datasets x seeds, run in parallel.

    python benchmarks/sweep_pib.py --grid relevance --datasets digits mnist1d --seeds 0 1 2
    python benchmarks/sweep_pib.py --variant "head 10=rule.head_weight=10" --substrate scattering

A variant is a name and ``--set`` assignments applied on top of the run defaults
(``NAME=KEY=VALUE;KEY=VALUE``); ``--grid`` picks a named list of them (:data:`GRIDS`). Every
run holds out ``--val-fraction`` of its training split (stratified, seeded) and the table
ranks the variants by their **validation** accuracy, mean over seeds. The test accuracy is
written to the JSON-lines file with every run (so a later look needs no rerun), but printed
only with ``--show-test``: choices are made on validation, the test split is looked at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from run_jobs import named_assignments, run_all

#: The PIB defaults before issue 15, which the relevance grid starts from (it was run then).
OLD = [
    "rule.estimator.alpha=0.5",
    "rule.estimator.solver=autograd",
    "rule.beta=10",
    "rule.lr=3e-4",
    "rule.head_weight=0",
    "rule.similarity_weight=0",
    "rule.readout_lr=1e-2",
]
#: The old defaults with the fast estimator, the base of every other variant of that grid.
FAST = [*OLD, "rule.estimator.alpha=2", "rule.estimator.solver=exact"]

#: Named lists of variants: name -> ``--set`` assignments.
GRIDS: dict[str, dict[str, list[str]]] = {
    "relevance": {
        "old defaults (alpha 0.5, beta 10, lr 3e-4)": OLD,
        "alpha 2, beta 10, lr 3e-4": [*FAST],
        "alpha 2, beta 10, lr 1e-3": [*FAST, "rule.lr=1e-3"],
        "alpha 2, beta 1, head 10, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 0, head 10, lr 1e-3 (head alone)": [
            *FAST,
            "rule.beta=0",
            "rule.head_weight=10",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 10, head 10, lr 1e-3": [*FAST, "rule.head_weight=10", "rule.lr=1e-3"],
        "alpha 2, beta 1, head 10, similarity 10, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.similarity_weight=10",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, similarity 10, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.similarity_weight=10",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, gamma 0, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.gamma=0",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, gamma rising, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.gamma_profile=rising",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, gamma ramp, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.gamma_schedule=ramp",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, sigma2 2, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.estimator.sigma2=2",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, median width, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "rule.estimator.width_rule=median",
            "rule.estimator.sigma2=1",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, batch 512, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "batch_size=512",
            "rule.lr=1e-3",
        ],
        "alpha 2, beta 1, head 10, width 512, lr 1e-3": [
            *FAST,
            "rule.beta=1",
            "rule.head_weight=10",
            "hidden=[512,512]",
            "rule.lr=1e-3",
        ],
    },
}


def table(rows: list[dict[str, Any]], key: str) -> list[str]:
    """Markdown lines: one row per (dataset, substrate, variant), mean +- std of ``key``."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["substrate"], row["variant"]), []).append(row[key])
    lines = [
        f"| dataset | substrate | variant | {key} (mean +- std) | per seed |",
        "|---|---|---|---|---|",
    ]
    for (dataset, substrate, variant), values in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], -statistics.mean(item[1]))
    ):
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        per_seed = ", ".join(f"{v:.4f}" for v in values)
        lines.append(
            f"| {dataset} | {substrate} | {variant} | {statistics.mean(values):.4f} +- "
            f"{std:.4f} | {per_seed} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=list(GRIDS), help="a named list of variants")
    parser.add_argument("--only", nargs="+", default=[], help="variants of the grid to run")
    parser.add_argument("--variant", action="append", default=[], help="NAME=KEY=VALUE;...")
    parser.add_argument("--method", default="pib")
    parser.add_argument("--substrate", default="crossbar")
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sweep_pib"))
    parser.add_argument("--show-test", action="store_true", help="also print test accuracy")
    args = parser.parse_args()

    variants = dict(GRIDS.get(args.grid, {}))
    if args.only:
        unknown = [name for name in args.only if name not in variants]
        if unknown:
            raise SystemExit(f"--only: no variant {unknown} in the grid; it has {list(variants)}")
        variants = {name: variants[name] for name in args.only}
    if not 0 < args.val_fraction < 1:
        raise SystemExit("--val-fraction must be in (0, 1): the sweep ranks validation accuracy")
    variants.update(named_assignments(text) for text in args.variant)
    if not variants:
        raise SystemExit("name a --grid or at least one --variant")
    jobs = [
        {
            "name": name,
            "variant": name,
            "sets": [f"val_fraction={args.val_fraction}", *sets],
            "method": args.method,
            "substrate": args.substrate,
            "dataset": dataset,
            "epochs": args.epochs,
            "seed": seed,
        }
        for dataset in args.datasets
        for name, sets in variants.items()
        for seed in args.seeds
    ]
    rows = [
        row
        for row in run_all(jobs, args.workers, args.out / "results.jsonl", args.out / "runs")
        if "error" not in row
    ]
    print("\n".join(table(rows, "val_accuracy")))
    if args.show_test:
        print("\n".join(table(rows, "test_accuracy")))


if __name__ == "__main__":
    main()
