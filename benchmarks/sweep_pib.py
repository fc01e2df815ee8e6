"""Tune PIB on validation accuracy: named variants x datasets x seeds, run in parallel.

    python benchmarks/sweep_pib.py --grid relevance --datasets digits mnist1d --seeds 0 1 2
    python benchmarks/sweep_pib.py --variant "head 10=rule.head_weight=10" --substrate scattering

A variant is a name and ``--set`` assignments applied on top of the run defaults
(``NAME=KEY=VALUE,KEY=VALUE``); ``--grid`` picks a named list of them (:data:`GRIDS`). Every
run holds out ``--val-fraction`` of its training split (stratified, seeded) and the table
ranks the variants by their **validation** accuracy, mean over seeds. The test accuracy is
written to the JSON-lines file with every run (so a later look needs no rerun), but printed
only with ``--show-test``: choices are made on validation, the test split is looked at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

#: The settings every variant of the relevance grid starts from (the fast estimator).
FAST = ["rule.estimator.alpha=2", "rule.estimator.entropy_method=closed_form"]

#: Named lists of variants: name -> ``--set`` assignments.
GRIDS: dict[str, dict[str, list[str]]] = {
    "relevance": {
        "old defaults (alpha 0.5, beta 10, lr 3e-4)": [],
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


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=KEY=VALUE,KEY=VALUE`` -> ``(NAME, [KEY=VALUE, ...])``."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise SystemExit(f"--variant expects NAME=KEY=VALUE[,KEY=VALUE], got {text!r}")
    return name.strip(), [a for a in rest.split(",") if a]


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One training run; returns its summary's numbers and the job."""
    import torch

    from pnnkit.experiment import TrainConfig, train

    torch.set_num_threads(1)
    base = TrainConfig(
        method=job["method"],
        substrate=job["substrate"],
        dataset=job["dataset"],
        epochs=job["epochs"],
        seed=job["seed"],
        out=job["out"],
    )
    config = base.with_overrides([f"val_fraction={job['val_fraction']}", *job["sets"]])
    began = time.perf_counter()
    summary = train(config, progress=False, overwrite=True)
    keys = ("val_accuracy", "best_val_accuracy", "test_accuracy", "train_accuracy")
    return {
        **{k: v for k, v in job.items() if k != "out"},
        **{k: summary.get(k) for k in keys},
        "train_seconds": summary.get("train_seconds"),
        "wall_seconds": time.perf_counter() - began,
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
    parser.add_argument("--variant", action="append", default=[], help="NAME=KEY=VALUE,...")
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
        variants = {name: variants[name] for name in args.only}
    variants.update(parse_variant(text) for text in args.variant)
    if not variants:
        raise SystemExit("name a --grid or at least one --variant")
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [
        {
            "variant": name,
            "sets": sets,
            "method": args.method,
            "substrate": args.substrate,
            "dataset": dataset,
            "epochs": args.epochs,
            "seed": seed,
            "val_fraction": args.val_fraction,
            "out": str(args.out / "runs" / f"{dataset}-{args.substrate}-{index}-{seed}"),
        }
        for dataset in args.datasets
        for index, (name, sets) in enumerate(variants.items())
        for seed in args.seeds
    ]
    results_file = args.out / "results.jsonl"
    rows = []
    with ProcessPoolExecutor(args.workers) as pool, results_file.open("a") as sink:
        futures = [pool.submit(run_one, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            row = future.result()
            rows.append(row)
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(
                f"[{done}/{len(jobs)}] {row['dataset']} {row['variant']} seed {row['seed']}: "
                f"val {row['val_accuracy']:.4f}",
                flush=True,
            )
    print("\n".join(table(rows, "val_accuracy")))
    if args.show_test:
        print("\n".join(table(rows, "test_accuracy")))


if __name__ == "__main__":
    main()
