"""Deep PIB networks: does every unit add information, or does depth collapse it?

    python benchmarks/bench_depth.py [--depths 2 4 6] [--seeds 0 1 2] [--epochs 30] [--workers 2]

Trains ``pnnkit train`` (the defaults, or ``--set`` overrides) with ``K`` units of ``--width``
each on ``--dataset``/``--substrate``, then fits a linear probe (logistic regression on the
standardised representation, :func:`pnnkit.experiment.evaluation.linear_probe`) on every
unit's measured output of the training split and scores it on the validation split (the
per-unit curve is a diagnostic and chose nothing; the probes read the last epoch's network),
and reports the network's own validation and test accuracy. Prints a Markdown table and
writes ``depth.json`` under ``--out``. One torch thread per process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    from pnnkit.experiment import TrainConfig, Trainer
    from pnnkit.experiment.evaluation import Representation, linear_probe

    torch.set_num_threads(1)
    config = TrainConfig(
        dataset=job["dataset"],
        substrate=job["substrate"],
        hidden=[job["width"]] * job["depth"],
        epochs=job["epochs"],
        seed=job["seed"],
        out=job["out"],
    ).with_overrides(job["sets"])
    trainer = Trainer(config, overwrite=True)
    summary = trainer.train(progress=False)
    data = trainer.data
    with torch.no_grad():
        train_out = trainer.network.forward(data.x_train)
        val_out = trainer.network.forward(data.x_val)
    probes = [
        linear_probe(
            Representation(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)),
            data.y_train,
            data.y_val,
            seed=job["seed"],
        )
        for a, b in zip(train_out, val_out, strict=True)
    ]
    return {
        **{k: v for k, v in job.items() if k != "out"},
        "unit_probe_val": probes,
        "val_accuracy": summary["val_accuracy"],
        "test_accuracy": summary["test_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--substrate", default="crossbar")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/depth"))
    args = parser.parse_args()
    if any(a.replace(" ", "").startswith("val_fraction=0") for a in args.set):
        raise SystemExit("the per-unit probes are scored on the validation split: keep it")
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [
        {
            "depth": depth,
            "width": args.width,
            "dataset": args.dataset,
            "substrate": args.substrate,
            "epochs": args.epochs,
            "seed": seed,
            "sets": args.set,
            "out": str(args.out / "runs" / f"depth{depth}-{seed}"),
        }
        for depth in args.depths
        for seed in args.seeds
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, jobs))
    (args.out / "depth.json").write_text(json.dumps(rows, indent=1))
    print("| units | val accuracy | test accuracy | probe val accuracy per unit (mean of seeds) |")
    print("|---|---|---|---|")
    for depth in args.depths:
        mine = [r for r in rows if r["depth"] == depth]
        val = [r["val_accuracy"] for r in mine]
        test = [r["test_accuracy"] for r in mine]
        per_unit = np.mean([r["unit_probe_val"] for r in mine], axis=0)
        std = statistics.stdev(test) if len(test) > 1 else 0.0
        print(
            f"| {depth} | {statistics.mean(val):.4f} | {statistics.mean(test):.4f} +- "
            f"{std:.4f} | {', '.join(f'{p:.3f}' for p in per_unit)} |"
        )


if __name__ == "__main__":
    main()
