"""Hardware faults mid-training: devices of the crossbar get stuck, PIB trains through them.

What it shows: the fault API by hand (:class:`pnnkit.faults.FaultSchedule`, the same spec
language as ``pnnkit train --faults``) and why in-situ training tolerates faults. A network of
two crossbar units trains with PIB; at the start of epoch ``E`` a share of all devices (30% by
default) gets stuck at the conductance bounds, half at G_min and half at G_max, as in the
stuck-at fault model of RRAM arrays (e.g. Chen et al., "RRAM defect modeling and failure
analysis based on march test and a novel squeeze-search scheme", IEEE Trans. Comput. 64:180,
2015). The stuck devices ignore programming pulses from then on.

Accuracy is printed three times: just before the faults, just after them (what the hardware
would keep if nothing retrained it, as for weights trained in silico and deployed once), and
at the end, after PIB kept training on the faulty hardware: the rule only sees what the
hardware measures, so the healthy devices learn to compensate. The learning rate is constant
here: with the default cosine decay the rate is already low when faults arrive mid-run, and
recovery is slower (docs/BENCHMARKS.md, issue 6). Evaluations are counted apart from training
and leave the hardware's random streams untouched.

Default: digits, units 128,128, 40 epochs, faults at epoch 20, about 10 s on one core;
measured at seed 0: 0.947 before the faults, 0.487 just after, 0.958 at the end.
``--small``: one unit of 32, 6 epochs, faults at epoch 4, a few seconds.

Run: ``python examples/fault_injection.py [--small] [--seed N] [--rate 0.3]``
"""

from __future__ import annotations

import argparse
import math

import torch

from pnnkit.data import load_dataset
from pnnkit.experiment.evaluation import evaluation_apart
from pnnkit.faults import FaultSchedule
from pnnkit.learning import LearningRule, make_rule, rule_config
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Counters


def test_accuracy(rule: LearningRule, x: torch.Tensor, y: torch.Tensor, tally: Counters) -> float:
    """Accuracy on ``(x, y)``; its queries go to ``tally``, not to the training counters."""
    with evaluation_apart(rule.network, tally):
        return float((rule.predict(x) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.3, help="share of devices stuck")
    args = parser.parse_args()
    widths, epochs, fault_epoch = ([32], 6, 4) if args.small else ([128, 128], 40, 20)
    torch.manual_seed(args.seed)
    data = load_dataset("digits", seed=args.seed)
    network = PhysicalNetwork.build(
        "crossbar", data.num_features, widths, data.num_classes, seed=args.seed
    )
    batch_size = 256
    steps_per_epoch = math.ceil(len(data.y_train) / batch_size)
    config = rule_config("pib", {"schedule": "constant"})
    rule = make_rule("pib", network, config, total_steps=epochs * steps_per_epoch)
    schedule = FaultSchedule(f"stuck:{args.rate}@epoch={fault_epoch}", seed=args.seed)
    schedule.check(network)  # refuses a fault the network's substrates do not have
    evaluation = Counters()
    shuffle = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, epochs + 1):
        if epoch == fault_epoch:
            before = test_accuracy(rule, data.x_test, data.y_test, evaluation)
        for record in schedule.apply(network, epoch, epochs):  # nothing until fault_epoch
            print(
                f"epoch {epoch}: {record['kind']} injected into unit {record['unit']} "
                f"({record['name']}): {record['affected']} devices"
            )
        if epoch == fault_epoch:
            after = test_accuracy(rule, data.x_test, data.y_test, evaluation)
        order = torch.randperm(len(data.y_train), generator=shuffle).tensor_split(steps_per_epoch)
        for index in order:
            rule.train_step(data.x_train[index], data.y_train[index])
        acc = test_accuracy(rule, data.x_test, data.y_test, evaluation)
        print(f"epoch {epoch:3d}  test accuracy {acc:.4f}")
    print(f"accuracy before faults {before:.4f}")
    print(f"accuracy just after faults {after:.4f}")
    print(f"accuracy at the end {acc:.4f}")
    costs = network.counters()
    print(f"physical queries {costs.physical_queries} (evaluation: {evaluation.physical_queries})")


if __name__ == "__main__":
    main()
