"""Training time of a default PIB run against backprop on the same network, one thread.

    python benchmarks/bench_train_time.py [--epochs 10] [--repeats 5] [--substrate ideal]

Runs ``pnnkit train --method pib`` and ``--method backprop`` (library defaults otherwise) back
to back in one process, ``--repeats`` times, alternating which goes first, and prints each
pair's ratio of ``train_seconds`` (the training loop, evaluations excluded) and their median.
Extra ``--set`` assignments apply to the PIB runs only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from pnnkit.experiment import TrainConfig, train


def train_seconds(method: str, substrate: str, epochs: int, sets: list[str], out: str) -> float:
    config = TrainConfig(method=method, substrate=substrate, epochs=epochs, out=out)
    return float(
        train(config.with_overrides(sets), progress=False, overwrite=True)["train_seconds"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--substrate", default="ideal")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            order = ("pib", "backprop") if repeat % 2 == 0 else ("backprop", "pib")
            seconds = {
                method: train_seconds(
                    method,
                    args.substrate,
                    args.epochs,
                    args.set if method == "pib" else [],
                    f"{folder}/{method}",
                )
                for method in order
            }
            ratios.append(seconds["pib"] / seconds["backprop"])
            print(
                f"repeat {repeat}: pib {seconds['pib']:.2f} s, backprop "
                f"{seconds['backprop']:.2f} s, ratio {ratios[-1]:.2f}",
                flush=True,
            )
    print(f"median ratio over {len(ratios)} pairs: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
