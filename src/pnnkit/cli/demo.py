"""``pnnkit demo``: PIB on a simulated crossbar against backprop on an ideal layer, on digits."""

from __future__ import annotations

import argparse
from pathlib import Path

from pnnkit.cli.flags import add_out, add_seed


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the sub-command parsers ``verbs``."""
    demo = verbs.add_parser(
        "demo", help="PIB on a simulated crossbar vs backprop on an ideal layer, on digits"
    )
    add_out(demo, "runs/demo", "parent folder of the two runs")
    add_seed(demo, 0, 0)
    demo.add_argument("--epochs", type=int, default=None, help="(default: the train default)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Train the two runs and print them side by side."""
    from pnnkit.experiment import TrainConfig, train
    from pnnkit.learning import PIBConfig

    root = Path(args.out)
    rows = []
    for method, substrate in (("pib", "crossbar"), ("backprop", "ideal")):
        config = TrainConfig(
            method=method,
            substrate=substrate,
            seed=args.seed,
            epochs=TrainConfig().epochs if args.epochs is None else args.epochs,
            out=str(root / f"{method}-{substrate}"),
        )
        rows.append(train(config, progress=not args.quiet, overwrite=True))
    print()
    print(
        f"pnnkit demo: sklearn digits, 25% test split ({TrainConfig().val_fraction:.0%} of "
        f"the rest for validation), units 256,256, seed {args.seed}"
    )
    pib = PIBConfig()
    print(
        f"PIB: Renyi order {pib.estimator.alpha:g} ({pib.estimator.solver}), beta "
        f"{pib.beta:g}, gamma {pib.gamma:g}, per-unit heads {pib.head_weight:g}, similarity "
        f"{pib.similarity_weight:g}, lr {pib.lr:g} (chosen on validation: docs/pib.md)"
    )
    header = (
        f"{'method':<10}{'substrate':<11}{'val acc':>9}{'test acc':>9}{'queries':>12}"
        f"{'writes':>14}{'wall s':>8}"
    )
    print(header)
    print("-" * len(header))
    for s in rows:
        val = "-" if s.get("val_accuracy") is None else f"{s['val_accuracy']:.4f}"
        print(
            f"{s['method']:<10}{s['substrate']:<11}{val:>9}{s['test_accuracy']:>9.4f}"
            f"{s['physical_queries']:>12,}{s['device_writes']:>14,}{s['wall_seconds']:>8.1f}"
        )
    print()
    print("backprop trains on an exact digital model: it spends no physical queries.")
    for s in rows:
        print(f"plots of {s['method']}: {', '.join(s['plots'])}")
    return 0
