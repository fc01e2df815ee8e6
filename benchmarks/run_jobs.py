"""Run many ``pnnkit train`` jobs in parallel and append their numbers to a JSON-lines file.

    python benchmarks/run_jobs.py JOBS.json --workers 16 --out results.jsonl

A job is a dict: ``name`` (free text, carried into the results), ``method``, ``substrate``,
``dataset``, ``epochs``, ``seed`` and ``sets`` (``--set`` assignments such as
``rule.head_weight=10``, ``hidden=[512,512]``, ``faults=stuck:0.4`` or ``val_fraction=0.1``).
Each result row holds the job and the run's ``val_accuracy``, ``best_val_accuracy``,
``test_accuracy``, ``train_accuracy``, ``train_seconds``, ``physical_queries`` and, for the
unsupervised task, the probe and NMI gains. One torch thread per process. Other benchmark
scripts (sweep_pib.py, issue15_jobs.py) build the job lists.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

SUMMARY_KEYS = (
    "val_accuracy",
    "best_val_accuracy",
    "test_accuracy",
    "train_accuracy",
    "train_seconds",
    "physical_queries",
    "device_writes",
)


def named_assignments(text: str) -> tuple[str, list[str]]:
    """``NAME=KEY=VALUE;KEY=VALUE`` (a named list of ``--set`` assignments, as sweep_pib.py's
    ``--variant`` and issue15_jobs.py's ``--candidate`` take) -> ``(NAME, [KEY=VALUE, ...])``;
    ``;`` separates the assignments, since values such as ``hidden=[512,512]`` hold commas."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise SystemExit(f"expected NAME=KEY=VALUE[;KEY=VALUE], got {text!r}")
    return name.strip(), [a for a in rest.split(";") if a]


def run_one(job: dict[str, Any], folder: str) -> dict[str, Any]:
    """Train one job into ``folder``; returns the job with the summary's numbers."""
    import torch

    from pnnkit.experiment import TrainConfig, train

    torch.set_num_threads(1)
    config = TrainConfig(
        method=job.get("method", "pib"),
        substrate=job.get("substrate", "crossbar"),
        dataset=job.get("dataset", "digits"),
        epochs=job.get("epochs", 30),
        seed=job.get("seed", 0),
        out=folder,
    ).with_overrides(list(job.get("sets", [])))
    began = time.perf_counter()
    summary = train(config, progress=False, overwrite=True)
    row = {**job, **{k: summary.get(k) for k in SUMMARY_KEYS}}
    if "unsupervised" in summary:
        row["unsupervised"] = summary["unsupervised"]
    row["wall_seconds"] = time.perf_counter() - began
    return row


def run_all(
    jobs: list[dict[str, Any]], workers: int, results: Path, runs: Path
) -> Iterable[dict[str, Any]]:
    """Run ``jobs`` on ``workers`` processes, appending each result to ``results`` as it
    comes; yields the rows in completion order."""
    results.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool, results.open("a") as sink:
        futures = {
            pool.submit(run_one, job, str(runs / f"job{index:04d}")): job
            for index, job in enumerate(jobs)
        }
        for done, future in enumerate(as_completed(futures), 1):
            try:
                row = future.result()
            except Exception as error:  # one failed run must not lose the others
                row = {**futures[future], "error": f"{type(error).__name__}: {error}"}
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(
                f"[{done}/{len(jobs)}] {row.get('name', '')} seed {row.get('seed')}: "
                f"val {row.get('val_accuracy')} {row.get('error', '')}",
                flush=True,
            )
            yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jobs", type=Path, help="a JSON list of jobs")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/jobs.jsonl"))
    args = parser.parse_args()
    jobs = json.loads(args.jobs.read_text())
    for _ in run_all(jobs, args.workers, args.out, args.out.parent / f"{args.out.stem}-runs"):
        pass


if __name__ == "__main__":
    main()
