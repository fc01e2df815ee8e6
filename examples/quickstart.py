"""Quickstart: train a physical network on a simulated memristive crossbar with PIB, by hand.

What it shows: the Python API end to end, without the run machinery of ``pnnkit train``.
Load a dataset, build a network of crossbar units (each a differential-pair RRAM array with
read noise, 8-bit converters and pulsed, noisy programming), build the PIB rule, run the
training loop, predict through the hardware, and read what training cost the hardware:
physical queries (samples x passes) and device writes.

PIB trains each unit from its own measured output with the local loss
``gamma I(X;T_k) - beta I(T_k;Y)`` (Wang et al., arXiv 2602.09569, 2026; docs/pib.md). No
digital model of the crossbar is used: the rule only measures and programs.

Default: digits, units 128,128, 30 epochs, about 10 s on one core, test accuracy about 0.94.
``--small``: one unit of 32, 5 epochs, about a second, test accuracy about 0.75 (chance: 0.1).

Run: ``python examples/quickstart.py [--small] [--seed N]``
"""

from __future__ import annotations

import argparse
import math

import torch

from pnnkit.data import load_dataset
from pnnkit.learning import make_rule, rule_config
from pnnkit.network import PhysicalNetwork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    widths, epochs, batch_size = ([32], 5, 128) if args.small else ([128, 128], 30, 256)
    torch.manual_seed(args.seed)

    # sklearn's 8x8 digits, standardised on a stratified 75/25 training split
    data = load_dataset("digits", seed=args.seed)
    network = PhysicalNetwork.build(
        "crossbar", data.num_features, widths, data.num_classes, seed=args.seed
    )
    steps_per_epoch = math.ceil(len(data.y_train) / batch_size)
    rule = make_rule("pib", network, rule_config("pib"), total_steps=epochs * steps_per_epoch)

    shuffle = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(data.y_train), generator=shuffle).tensor_split(steps_per_epoch)
        for index in order:
            stats = rule.train_step(data.x_train[index], data.y_train[index])
        # the information plane of the last unit on the last batch, in bits
        print(
            f"epoch {epoch:3d}  local loss {stats.loss:8.3f}  "
            f"I(X;T) {stats.i_xt[-1]:.3f}  I(T;Y) {stats.i_ty[-1]:.3f}  "
            f"readout loss {stats.readout_loss:.3f}"
        )

    training = network.counters()  # read before evaluating: evaluation queries the hardware too
    accuracy = float((rule.predict(data.x_test) == data.y_test).float().mean())
    print(f"test accuracy {accuracy:.4f}")
    print(f"physical queries {training.physical_queries}")
    print(f"device writes {training.device_writes}")
    per_sample = training.physical_queries / (epochs * len(data.y_train))
    print(f"queries per training sample and epoch {per_sample:.1f} (one per unit)")


if __name__ == "__main__":
    main()
