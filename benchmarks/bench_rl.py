"""Reinforcement learning benchmark: PIB-trained physical policies against REINFORCE.

Runs ``pnnkit.tasks.rl.run_rl`` for every (method, seed) of one environment, ``--workers`` runs at a
time in separate processes with one torch thread each, and appends one JSON line per run to
``OUT/results.jsonl`` (the run's label, overrides and summary; run folders under ``OUT/runs``).
``--table`` prints the markdown table of everything recorded in ``OUT/results.jsonl``, one row
per (label, env, method), with per-seed values. What docs/BENCHMARKS.md reports:

    python benchmarks/bench_rl.py --env CartPole-v1 --methods pib reinforce --seeds 0 1 2
    python benchmarks/bench_rl.py --env Acrobot-v1 --methods pib --seeds 0
    python benchmarks/bench_rl.py --table

Ablations use ``--label NAME --set KEY=VALUE`` (the keys of ``pnnkit rl --set``), e.g.
``--label readout-only --set unit_steps=0``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).parent / "results" / "rl"


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One run in a worker process (one torch thread)."""
    import torch

    torch.set_num_threads(1)
    from pnnkit.rl import RLConfig
    from pnnkit.tasks.rl import run_rl

    config = RLConfig(
        env=job["env"],
        method=job["method"],
        seed=job["seed"],
        episodes=job["episodes"],
        out=job["run_dir"],
    ).with_overrides(job["overrides"])
    summary = run_rl(config, progress=False, overwrite=True)
    return {**{k: job[k] for k in ("label", "overrides")}, "summary": summary}


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: one line per (label, env, method), per-seed values and means. "last
    evaluation" is the periodic evaluation at which training stopped (for a solved run that
    stopped, the one that reached the threshold); "final policy, fresh" is the summary's
    ``mean_return``, 100 further episodes of the final policy. Means are over the seeds with a
    value (the solved ones for the costs to solve)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        s = row["summary"]
        groups.setdefault((row["label"], s["env"], s["method"]), []).append(s)
    lines = [
        "| run | env | seeds | solved | episodes to solve | physical queries to solve "
        "| policy samples to solve | last evaluation (100 ep.) | final policy, fresh 100 ep. "
        "| physical queries in all | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, env, _), runs in groups.items():
        runs.sort(key=lambda s: s["seed"])
        solved = [s for s in runs if s["solved"]]

        def each(key: str, fmt: str, mean: bool = False, runs: list = runs) -> str:
            values = [s[key] for s in runs]
            text = " / ".join("-" if v is None else format(v, fmt) for v in values)
            known = [v for v in values if v is not None]
            if mean and len(values) > 1 and known:
                text += f" (mean {format(statistics.mean(known), fmt)})"
            return text

        lines.append(
            f"| {label} | {env} | {' '.join(str(s['seed']) for s in runs)} "
            f"| {len(solved)}/{len(runs)} | {each('episodes_to_solve', ',.0f', True)} "
            f"| {each('queries_to_solve', ',.0f', True)} "
            f"| {each('policy_samples_to_solve', ',.0f', True)} "
            f"| {each('last_eval_mean_return', '.1f')} "
            f"| {each('mean_return', '.1f', True)} "
            f"| {each('physical_queries', ',.0f')} | {each('wall_seconds', '.0f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--methods", nargs="+", default=["pib", "reinforce"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=1000, help="training budget")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--label", default=None, help="name of the row (default: the method)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--table", action="store_true", help="print the table of recorded runs")
    args = parser.parse_args()
    results = args.out / "results.jsonl"
    if args.table:
        rows = [json.loads(line) for line in results.read_text().splitlines() if line]
        print(table(rows))
        return
    jobs = []
    for method in args.methods:
        label = args.label or method
        for seed in args.seeds:
            run_dir = args.out / "runs" / f"{label}-{args.env}-{method}-seed{seed}"
            jobs.append(
                {
                    "label": label,
                    "env": args.env,
                    "method": method,
                    "seed": seed,
                    "episodes": args.episodes,
                    "overrides": args.set,
                    "run_dir": str(run_dir),
                }
            )
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(run_one, jobs):
            s = row["summary"]
            with results.open("a") as stream:
                stream.write(json.dumps(row) + "\n")
            print(
                f"{row['label']:>14} {s['env']} seed {s['seed']}: solved at "
                f"{s['episodes_to_solve']} episodes, final mean return {s['mean_return']:.1f}, "
                f"{s['physical_queries']:,} physical queries, {s['wall_seconds']:.0f} s",
                flush=True,
            )
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
