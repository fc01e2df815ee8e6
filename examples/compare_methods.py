"""Compare training methods on the same physical network: PIB, backprop, DFA and readout-only.

What it shows: how to swap the learning rule while keeping the hardware fixed, and why the
methods are compared on cost as well as accuracy. Each unit is a fixed multiply scattering
medium (SLM -> random transmission matrix -> camera, with shot and read noise; Popoff et al.,
PRL 104:100601, 2010) followed by a trainable digital linear stage. Every method gets an
identical fresh network (same seed: same medium, same noise stream):

* ``pib``: each unit's stage learns from its own measured output (no model of the medium);
* ``dfa``: direct feedback alignment, the readout error through fixed random matrices
  (Nøkland, NeurIPS 2016), also model-free;
* ``backprop``: end-to-end backpropagation through the medium's exact digital twin, deployed
  before evaluation: the digital ceiling, which real hardware never offers;
* ``readout``: the hardware stays at its random initial state and only the digital readout
  learns: the bar a method for the units must clear.

Default: digits, units 256,256, 30 epochs, about 20 s on one core; measured at seed 0:
backprop 0.93, PIB 0.91, DFA 0.86, readout 0.72 (docs/BENCHMARKS.md has 60-epoch numbers).
``--small``: one unit of 64, 4 epochs, a few seconds; accuracies about 0.6 (chance: 0.1), but
the ordering is not yet meaningful.

Run: ``python examples/compare_methods.py [--small] [--seed N] [--methods pib backprop ...]``
"""

from __future__ import annotations

import argparse
import math

import torch

from pnnkit.data import Dataset, load_dataset
from pnnkit.learning import RULES, make_rule, rule_config
from pnnkit.network import PhysicalNetwork


def train_one(method: str, data: Dataset, widths: list[int], epochs: int, seed: int) -> dict:
    """Train ``method`` on a fresh scattering network; its test accuracy and training costs."""
    torch.manual_seed(seed)
    network = PhysicalNetwork.build(
        "scattering", data.num_features, widths, data.num_classes, stage="ideal", seed=seed
    )
    # Centre and scale each camera pixel once, from 512 training samples (a fixed affine map,
    # not a model; the queries count as training cost).
    network.calibrate(data.x_train[:512])
    batch_size = 256
    steps_per_epoch = math.ceil(len(data.y_train) / batch_size)
    rule = make_rule(method, network, rule_config(method), total_steps=epochs * steps_per_epoch)
    shuffle = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(data.y_train), generator=shuffle).tensor_split(steps_per_epoch)
        for index in order:
            rule.train_step(data.x_train[index], data.y_train[index])
    rule.before_evaluation()  # backprop deploys its digital weights to the hardware here
    costs = network.counters()  # training costs, read before evaluation queries the hardware
    accuracy = float((rule.predict(data.x_test) == data.y_test).float().mean())
    return {
        "method": method,
        "model_free": RULES[method][0].model_free,
        "accuracy": accuracy,
        "queries": costs.physical_queries,
        "writes": costs.device_writes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["pib", "dfa", "backprop", "readout"])
    args = parser.parse_args()
    widths, epochs = ([64], 4) if args.small else ([256, 256], 30)
    data = load_dataset("digits", seed=args.seed)
    print(f"scattering medium + digital stage, units {widths}, {epochs} epochs, digits")
    print(f"{'method':<10}{'model-free':>11}{'test acc':>10}{'queries':>10}{'writes':>10}")
    for method in args.methods:
        r = train_one(method, data, widths, epochs, args.seed)
        print(
            f"{r['method']:<10}{'yes' if r['model_free'] else 'no':>11}{r['accuracy']:>10.4f}"
            f"{r['queries']:>10}{r['writes']:>10}"
        )


if __name__ == "__main__":
    main()
