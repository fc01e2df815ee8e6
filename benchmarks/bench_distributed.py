"""Pipelined (distributed) PIB against the sequential trainer, with a simulated hardware latency.

Every run trains the same config (PIB, crossbar units, ``--latency`` seconds slept per pass of
every substrate, i.e. per batch per unit), three ways:

- ``sequential``: :func:`pnnkit.experiment.train`, the ordinary trainer, with ``--threads``
  torch threads (1 by default, as each actor has: the same arithmetic, so the same numbers to
  the last digit, and no thread oversubscription on a busy machine, which slows a two-thread
  run several times over);
- ``pipelined``: :func:`pnnkit.distributed.train_distributed`, one Ray actor per unit on a local
  Ray instance (actors of ``num_cpus_per_actor = 0.5``, one torch thread each);
- ``killed`` (with ``--kill``): pipelined, with the actor of unit ``--kill-unit`` killed once
  (``ray.kill``) half-way through training; the run must recover from its unit checkpoint.

Throughput is training samples (epochs x training split) per second of the training loop with
its per-epoch evaluations: the sequential run's ``wall_seconds`` (its evaluations run between
epochs), the pipelined run's ``train_seconds`` (its evaluations overlap training); the actors'
start-up (a few seconds, once per run) is reported apart. Also recorded: final test accuracies,
the bytes one training batch sends between processes (Ray's stored sizes of the batch and of
every unit's output) and the machine's load average before and after.

Usage: ``python benchmarks/bench_distributed.py [--seeds 0 1 2] [--epochs 10]
[--hidden 256 256 256] [--latency 0.02] [--kill] [--threads 1] [--cpus N] [--rule JSON]
[--out benchmarks/results/distributed]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from perf.harness import machine, markdown
from pnnkit.distributed import DistributedConfig, train_distributed
from pnnkit.experiment import train
from pnnkit.experiment.config import TrainConfig


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine slows both modes)."""
    return [round(v, 2) for v in os.getloadavg()]


def one_seed(args: argparse.Namespace, seed: int, runs: Path) -> list[dict[str, Any]]:
    """The sequential, pipelined (and killed) runs of one seed, as table rows."""
    base = {
        "dataset": args.dataset,
        "substrate": args.substrate,
        "hidden": args.hidden,
        "epochs": args.epochs,
        "seed": seed,
        "substrate_options": {"latency": args.latency},
        "rule_options": json.loads(args.rule),
    }
    rows = []
    load_before = load()
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        summary = train(TrainConfig(**base, out=str(runs / f"sequential_{seed}")), progress=False)
    finally:
        torch.set_num_threads(threads)
    samples = args.epochs * summary["dataset_summary"]["n_train"]
    rows.append(
        {
            "mode": "sequential",
            "seed": seed,
            "seconds": summary["wall_seconds"],
            "samples_per_s": samples / summary["wall_seconds"],
            "train_only_seconds": summary["train_seconds"],
            "threads": args.threads,
            "test_accuracy": summary["test_accuracy"],
            "restarts": 0,
            "load_before": load_before,
            "load_after": load(),
        }
    )
    modes = [("pipelined", DistributedConfig())]
    if args.kill:
        batch_size = TrainConfig().batch_size
        batches = -(-summary["dataset_summary"]["n_train"] // batch_size) * args.epochs
        drill = DistributedConfig(kill_unit=args.kill_unit, kill_at_step=batches // 2)
        modes.append(("killed", drill))
    for mode, options in modes:
        load_before = load()
        config = TrainConfig(**base, out=str(runs / f"{mode}_{seed}"))
        summary = train_distributed(config, options, progress=False)
        info = summary["distributed"]
        rows.append(
            {
                "mode": mode,
                "seed": seed,
                "seconds": summary["train_seconds"],
                "samples_per_s": info["samples_per_second"],
                "setup_seconds": info["setup_seconds"],
                "units_busy": info["units_busy_on_average"],
                "test_accuracy": summary["test_accuracy"],
                "restarts": len(info["restarts"]),
                "restart_records": info["restarts"],
                "bytes": info["bytes"],
                "load_before": load_before,
                "load_after": load(),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--substrate", default="crossbar")
    parser.add_argument("--kill", action="store_true", help="also run the killed-actor drill")
    parser.add_argument("--kill-unit", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of the sequential run"
    )
    parser.add_argument(
        "--rule",
        default="{}",
        help='PIB settings as JSON, e.g. \'{"estimator": {"alpha": 2, '
        '"solver": "exact"}}\' (default: the rule\'s defaults)',
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/distributed"))
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_distributed_") as tmp:
        for seed in args.seeds:
            rows.extend(one_seed(args, seed, Path(tmp)))
            print(json.dumps(rows[-1 - args.kill :], default=str)[:400], flush=True)
    ray.shutdown()

    def by(mode: str, key: str) -> list[float]:
        return [r[key] for r in rows if r["mode"] == mode]

    ratios = [
        p / s
        for p, s in zip(
            by("pipelined", "samples_per_s"), by("sequential", "samples_per_s"), strict=True
        )
    ]
    gaps = [
        100 * (p - s)
        for p, s in zip(
            by("pipelined", "test_accuracy"), by("sequential", "test_accuracy"), strict=True
        )
    ]
    result: dict[str, Any] = {
        "machine": machine(),
        "cpus_given_to_ray": args.cpus,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
        "speedup_median": statistics.median(ratios),
        "speedups": ratios,
        "accuracy_gap_points": gaps,
        "bytes_per_batch": next(r["bytes"] for r in rows if r["mode"] == "pipelined"),
    }
    if args.kill:
        result["killed_gap_points"] = [
            100 * (k - p)
            for k, p in zip(
                by("killed", "test_accuracy"), by("pipelined", "test_accuracy"), strict=True
            )
        ]
    table = markdown(
        rows,
        ["mode", "seed", "seconds", "samples_per_s", "test_accuracy", "restarts", "load_before"],
        {"seconds": ".2f", "samples_per_s": ".0f", "test_accuracy": ".4f"},
    )
    text = (
        f"{machine()}; Ray given {args.cpus} CPUs\n\n{table}\n\n"
        f"pipelined / sequential throughput: median {result['speedup_median']:.2f}x "
        f"({', '.join(f'{r:.2f}' for r in ratios)})\n"
        f"test accuracy, pipelined - sequential (points): {', '.join(f'{g:+.2f}' for g in gaps)}\n"
        + (
            "test accuracy, killed - pipelined (points): "
            + ", ".join(f"{g:+.2f}" for g in result["killed_gap_points"])
            + "\n"
            if args.kill
            else ""
        )
        + f"bytes per training batch: {json.dumps(result['bytes_per_batch'])}\n"
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "results.md").write_text(text)


if __name__ == "__main__":
    main()
