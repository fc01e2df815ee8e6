"""``memory``: peak memory of one unit's local loss, each measurement in a fresh process."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from pnnkit.info import BottleneckEstimator

from .harness import CLASSES, VARIANTS, WIDTH, clustered_batch, markdown, one_unit, write_csv


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(n: int, variant: str, device: torch.device) -> dict[str, Any]:
    """Peak memory of one call of the local loss, in a fresh process."""
    x, y, t = clustered_batch(n, device=str(device))
    base = BottleneckEstimator()
    x_gram, y_gram = base.input_gram(x), base.label_gram(y, CLASSES)
    run = one_unit(BottleneckEstimator(**VARIANTS[variant]), x_gram, t, y_gram)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
        before = _rss_kib("VmRSS")
        run()
        peak = (_rss_kib("VmHWM") - before) * 1024
    return {
        "n": n,
        "variant": variant,
        "peak MiB": peak / 2**20,
        "n x n float32": peak / (4 * n * n),
    }


def table_memory(args: argparse.Namespace, device: torch.device, env: str) -> None:
    rows = []
    root = str(Path(__file__).resolve().parents[2])  # where ``-m benchmarks.perf`` is found
    child_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
    }
    for n in args.sizes:
        for variant in VARIANTS:
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.perf",
                "memory-child",
                "--n",
                str(n),
                "--variant",
                variant,
                "--device",
                str(device),
                "--threads",
                str(args.threads),
            ]
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True, env=child_env
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1])
    cols = ["n", "variant", "peak MiB", "n x n float32"]
    print(
        f"\nPeak memory of one unit's local loss with gradient (width {WIDTH}, float32) above "
        f"the inputs; {env}\n"
    )
    print(markdown(rows, cols, {"peak MiB": ".1f", "n x n float32": ".1f"}))
    write_csv(rows, args.out / "perf_memory.csv", env)
