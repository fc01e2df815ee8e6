"""``pnnkit bench`` (methods compared on substrates and datasets over seeds) and
``pnnkit faults`` (a fault kind swept over rates)."""

from __future__ import annotations

import argparse
import json

from pnnkit.cli.flags import add_hidden, add_out, add_outputs, add_set, add_validation
from pnnkit.cli.resolve import resolve_args


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``bench`` and ``faults`` to the sub-command parsers ``verbs``."""
    from pnnkit.experiment.sweeps.bench import BenchConfig
    from pnnkit.experiment.sweeps.fault_sweep import FaultSweepConfig

    d = BenchConfig()
    bench = verbs.add_parser(
        "bench", help="compare training methods on substrates and datasets over seeds"
    )
    bench.add_argument(
        "--methods", nargs="+", help=f"methods to compare (default: {' '.join(d.methods)})"
    )
    bench.add_argument(
        "--substrates", nargs="+", help=f"substrates (default: {' '.join(d.substrates)})"
    )
    bench.add_argument("--datasets", nargs="+", help=f"datasets (default: {' '.join(d.datasets)})")
    _add_grid(bench, d.seeds, d.epochs, d.workers)
    bench.add_argument("--batch-size", type=int, default=d.batch_size)
    add_hidden(bench, d.hidden, "unit widths (256,256)")
    bench.add_argument("--stage", default=d.stage, help="stage after non-linear physics")
    add_validation(bench, val_fraction=d.val_fraction, select=d.select)
    add_set(bench, "a setting for every run, as in train (e.g. rule.lr=0.001)", dest="overrides")
    add_out(bench, d.out, f"results folder (default {d.out})")
    add_outputs(bench, "print the results as JSON", overwrite=False)
    bench.set_defaults(func=run_bench)

    f = FaultSweepConfig()
    faults = verbs.add_parser(
        "faults", help="sweep a fault kind over rates, comparing training methods"
    )
    faults.add_argument("--kind", default=f.kind, help=f"fault kind (default {f.kind})")
    faults.add_argument("--rates", type=float, nargs="+", help="fault rates (default 0 to 0.5)")
    faults.add_argument(
        "--when", default=f.when, help="start (default) or epoch=E: when the faults arrive"
    )
    add_set(faults, "fault option", dest="options", flag="--option")
    faults.add_argument("--methods", nargs="+", help=f"(default: {' '.join(f.methods)})")
    faults.add_argument("--substrate", default=f.substrate, help=f"(default {f.substrate})")
    faults.add_argument("--dataset", default=f.dataset, help=f"(default {f.dataset})")
    _add_grid(faults, f.seeds, f.epochs, f.workers)
    add_hidden(faults, f.hidden, "unit widths")
    add_validation(faults, val_fraction=f.val_fraction, select=f.select)
    add_set(faults, "a setting for every run, as in train", dest="overrides")
    add_out(faults, f.out, f"results folder (default {f.out})")
    add_outputs(faults, "print the results as JSON", overwrite=False)
    faults.set_defaults(func=run_faults)


def _add_grid(parser: argparse.ArgumentParser, seeds: list[int], epochs: int, workers: int) -> None:
    """``--seeds``, ``--epochs`` and ``--workers``: the shared size of a grid."""
    parser.add_argument(
        "--seeds", type=int, nargs="+", help=f"seeds (default: {' '.join(map(str, seeds))})"
    )
    parser.add_argument("--epochs", type=int, default=epochs, help=f"(default {epochs})")
    parser.add_argument("--workers", type=int, default=workers, help="runs in parallel")


def run_bench(args: argparse.Namespace) -> int:
    """``pnnkit bench``: the grid's table and the files it wrote, or JSON."""
    from pnnkit.experiment.sweeps import bench
    from pnnkit.results.format import bench_table

    result = bench.run_bench(resolve_args(bench.BenchConfig, args), progress=not args.quiet)
    if args.json:
        print(json.dumps(result))
    else:
        print(bench_table(result["cells"], result["skipped"]))
        print(f"\n{len(result['runs'])} runs in {result['wall_seconds']:.0f} s; files:")
        for path in result["files"].values():
            print(f"  {path}")
    return 0


def run_faults(args: argparse.Namespace) -> int:
    """``pnnkit faults``: the sweep's tables and the files it wrote, or JSON."""
    from pnnkit.experiment.sweeps import fault_sweep
    from pnnkit.results.format import sweep_table

    config = resolve_args(fault_sweep.FaultSweepConfig, args)
    result = fault_sweep.run_fault_sweep(config, progress=not args.quiet)
    if args.json:
        print(json.dumps(result))
    else:
        print(sweep_table(result["rows"]))
        if any(row.get("val_accuracy_mean") is not None for row in result["rows"]):
            print("\nvalidation accuracy:")
            print(sweep_table(result["rows"], "val_accuracy"))
        for path in result["files"].values():
            print(f"  {path}")
    return 0
