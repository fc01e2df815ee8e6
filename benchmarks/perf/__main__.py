"""The command line: ``python -m benchmarks.perf TABLE [options]`` (from the repository root)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from . import harness
from .epoch import table_epoch
from .local_loss import table_local_loss
from .memory import memory_child, table_memory
from .randomized import table_randomized
from .step import table_scaling, table_step
from .train_check import table_train_check

DESCRIPTION = (
    "Cost of PIB's digital work (issue 8): local loss, randomized entropy, training steps, memory."
)


TABLES = {
    "local-loss": table_local_loss,
    "randomized": table_randomized,
    "step": table_step,
    "scaling": table_scaling,
    "epoch": table_epoch,
    "memory": table_memory,
    "train-check": table_train_check,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=DESCRIPTION)
    parser.add_argument("table", choices=[*TABLES, "memory-child"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per variant")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds after which a timing loop stops early (>= 3 rounds)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="batch sizes n")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--seeds", type=int, default=8, help="probe seeds (randomized)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--epochs", type=int, default=30, help="train-check epochs")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="process CPU time (default on a CPU device) or wall time (default on CUDA)",
    )
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock = args.clock or ("cpu" if device.type == "cpu" else "wall")
    harness.CLOCK = time.process_time if clock == "cpu" else time.perf_counter
    if args.table == "memory-child":
        print(json.dumps(memory_child(args.n, args.variant, device)))
        return
    defaults = {
        "local-loss": (5, [256, 512, 1024, 2048]),
        "randomized": (7, None),
        "step": (30, None),
        "scaling": (7, None),
        "epoch": (3, None),
        "memory": (1, [1024, 2048, 4096]),
        "train-check": (1, None),
    }
    repeats, sizes = defaults[args.table]
    args.repeats = args.repeats or repeats
    args.sizes = args.sizes or sizes
    args.out.mkdir(parents=True, exist_ok=True)
    env = f"{harness.machine()}; clock: {clock}"
    print(env)
    TABLES[args.table](args, device, env)


if __name__ == "__main__":
    main()
