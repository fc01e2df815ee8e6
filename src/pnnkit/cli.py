"""Command line: ``pnnkit <verb>``. Thin: parse, build a config, run it, print the result."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pnnkit import __version__
from pnnkit.errors import PnnkitError, TrainingInterrupted


def _hidden(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden expects comma-separated integers such as 256,256, got {text!r}"
        ) from None
    return widths


def _add_validation_arguments(
    parser: argparse.ArgumentParser, *, val_fraction: float | None, select: str | None
) -> None:
    """``--val-fraction`` and ``--select``, with these defaults (None: only an explicit flag
    overrides a ``--config`` file)."""
    from pnnkit.experiment import TrainConfig
    from pnnkit.experiment.config import SELECTIONS

    d = TrainConfig()
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=val_fraction,
        metavar="F",
        help=f"fraction of the training split held out for validation, stratified; 0 turns "
        f"it off (default {d.val_fraction}; the unsupervised task ignores it)",
    )
    parser.add_argument(
        "--select",
        choices=SELECTIONS,
        default=select,
        help="which epoch's test accuracy to report: the last (default) or that of the "
        "epoch with the best validation accuracy (best-val)",
    )


def _add_train_arguments(parser: argparse.ArgumentParser, *, run: bool = True) -> None:
    """The settings of a training run. A flag whose ``dest`` is a :class:`TrainConfig` field
    must default to None (``action="store_true", default=None`` for a switch): only the flags
    given explicitly override the ``--config`` file (see :func:`_explicit_settings`). ``run``
    adds the flags that act on the run itself rather than its config."""
    from pnnkit.experiment import TrainConfig
    from pnnkit.learning import RULES

    d = TrainConfig()
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read the settings from a TOML file, or the config.json of a run; the flags "
        "below and --set override it (see docs/configuration.md)",
    )
    parser.add_argument(
        "--task",
        help="supervised (default) or unsupervised (multi-view PIB: no labels in training; "
        "judged by a linear probe and k-means NMI against the raw input, PCA and the "
        "untrained network; method pib only)",
    )
    parser.add_argument(
        "--method",
        help=f"learning rule: {', '.join(sorted(RULES))} (default {d.method})",
    )
    parser.add_argument(
        "--substrate",
        help=f"physics of the units (default {d.substrate}); a non-linear one (scattering, "
        "mzi, ...) is followed in each unit by a trainable --stage",
    )
    parser.add_argument(
        "--stage",
        help=f"linear stage after non-linear physics: ideal or crossbar (default {d.stage})",
    )
    parser.add_argument(
        "--dataset",
        help="digits (default), iris, mnist1d, mnist5k, csv:PATH, npz:PATH, or mnist, "
        "fashion-mnist, cifar10 with --data-dir",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder holding the raw files of mnist, fashion-mnist or cifar10",
    )
    if run:
        parser.add_argument(
            "--download",
            action="store_true",
            help="download the raw files of mnist, fashion-mnist or cifar10 into --data-dir "
            "first (needs internet; never done otherwise)",
        )
    parser.add_argument("--label-column", help="label column of a CSV dataset")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="hardware faults to inject, e.g. 'stuck:0.2@epoch=30' or "
        "'dead_camera:0.1;phase_drift:0.02/epoch' (see pnnkit.faults.spec)",
    )
    _add_validation_arguments(parser, val_fraction=None, select=None)
    parser.add_argument("--epochs", type=int, help=f"(default {d.epochs})")
    parser.add_argument("--batch-size", type=int, help=f"(default {d.batch_size})")
    parser.add_argument("--seed", type=int, help=f"(default {d.seed})")
    parser.add_argument(
        "--hidden",
        type=_hidden,
        help="widths of the physical units, comma-separated (default 256,256)",
    )
    parser.add_argument("--out", help=f"run folder (default {d.out})")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,
        help="also log the per-epoch scalars to RUN/tensorboard/ (needs pnnkit[tensorboard])",
    )
    parser.add_argument(
        "--max-bad-batches",
        type=int,
        help=f"consecutive bad measurements (NaN, Inf, out of range) before the run stops "
        f"(default {d.max_bad_batches})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any setting: epochs=10, rule.beta=20, rule.estimator.sigma2=0.5, "
        "substrate.levels=128, substrate.name=mzi (repeatable; applied last)",
    )
    if run:
        parser.add_argument(
            "--resume",
            metavar="RUN",
            help="continue the run in folder RUN from its checkpoint (after Ctrl-C, a crash or a "
            "guard stop); only --epochs, --max-bad-batches and --tensorboard may change",
        )
        parser.add_argument(
            "--distributed",
            action="store_true",
            help="train every unit in its own Ray actor, batches pipelined through the chain "
            "(PIB; needs pnnkit[distributed]; docs/distributed.md)",
        )
        parser.add_argument(
            "--address",
            help="with --distributed: the Ray cluster to join (auto, HOST:PORT or ray://...; "
            "default: start a local Ray instance)",
        )
        parser.add_argument(
            "--dist-set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="with --distributed: a distributed setting, e.g. max_in_flight=6, "
            "checkpoint_every=20, unit_resources=[lab_a,lab_b] (repeatable)",
        )
        parser.add_argument(
            "--overwrite", action="store_true", help="replace a run already in the run folder"
        )
        parser.add_argument(
            "--json", action="store_true", help="print the summary as JSON on the last line"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")


_FOLDER_DATASETS = ("mnist", "fashion-mnist", "cifar10")


def _dataset_spec(dataset: str, data_dir: str | None, download: bool) -> str:
    """``mnist`` with ``--data-dir DIR [--download]`` -> ``mnist:DIR`` (downloading first)."""
    from pnnkit.data import download_dataset
    from pnnkit.errors import ConfigError

    if dataset not in _FOLDER_DATASETS:
        if data_dir or download:
            raise ConfigError(
                f"--data-dir and --download apply to {', '.join(_FOLDER_DATASETS)}, "
                f"not to --dataset {dataset}"
            )
        return dataset
    if not data_dir:
        raise ConfigError(
            f"--dataset {dataset} reads its raw files from a folder: add --data-dir DIR "
            f"(and --download to fetch them there, which needs internet)"
        )
    if download:
        download_dataset(dataset, data_dir)
    return f"{dataset}:{data_dir}"


def _explicit_settings(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The config fields of ``cls`` set by flags given on the command line (those not None)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in fields and v is not None}


def _config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`TrainConfig` of the command line: defaults < ``--config`` file < explicit
    flags < ``--set`` (validated)."""
    import dataclasses

    from pnnkit.configtools import resolve_config
    from pnnkit.experiment import TrainConfig

    config = resolve_config(
        TrainConfig,
        path=args.config,
        flags=_explicit_settings(args, TrainConfig),
        assignments=args.set,
    )
    dataset = _dataset_spec(config.dataset, args.data_dir, getattr(args, "download", False))
    return dataclasses.replace(config, dataset=dataset)


def _cmd_train(args: argparse.Namespace) -> int:
    from pnnkit.errors import ConfigError
    from pnnkit.experiment import resume, train

    if (args.address or args.dist_set) and not args.distributed:
        raise ConfigError("--address and --dist-set apply to a run with --distributed")
    if args.resume is not None:
        if args.distributed:
            raise ConfigError(
                "--resume continues a run on this machine; a distributed run's checkpoint.pt "
                "resumes the same way: drop --distributed"
            )
        summary = resume(args.resume, overrides=_resume_overrides(args), progress=not args.quiet)
    elif args.distributed:
        from pnnkit.configtools import apply_overrides
        from pnnkit.distributed.config import DistributedConfig
        from pnnkit.distributed.driver import train_distributed

        options = DistributedConfig.from_dict(apply_overrides({}, args.dist_set))
        summary = train_distributed(
            _config_from_args(args),
            options,
            address=args.address,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    else:
        config = _config_from_args(args)
        summary = train(config, progress=not args.quiet, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(summary))
    else:
        print(_format_summary(summary))
    return 0


def _resume_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` plus the run flags a resumed run may change; any other setting is refused
    (the checkpoint fixes the run's config)."""
    from pnnkit.errors import ConfigError
    from pnnkit.experiment import TrainConfig

    given = _explicit_settings(args, TrainConfig)
    changeable = {"epochs", "tensorboard", "max_bad_batches"}
    refused = sorted(set(given) - changeable)
    for flag, used in (
        ("--config", args.config is not None),
        ("--data-dir", args.data_dir is not None),
        ("--download", getattr(args, "download", False)),
    ):
        if used:
            refused.insert(0, flag)
    if refused or args.overwrite:
        names = refused + (["--overwrite"] if args.overwrite else [])
        raise ConfigError(
            f"--resume continues a run with the config saved in its checkpoint; drop "
            f"{', '.join(names)} (only --epochs, --max-bad-batches and --tensorboard may change)"
        )
    flags = [f"{key}={str(value).lower()}" for key, value in given.items()]
    return flags + list(args.set)


def _cmd_config(args: argparse.Namespace) -> int:
    """``pnnkit config``: the resolved config (every default filled in), or the field table."""
    from pnnkit.configtools import dump_toml, file_layout, markdown_fields
    from pnnkit.experiment import TrainConfig

    if args.fields:
        print(markdown_fields(TrainConfig))
        return 0
    resolved = _config_from_args(args).resolved()
    if args.format == "json":
        print(json.dumps(resolved, indent=2))
    else:
        header = (
            "pnnkit train config, resolved (every default filled in).\n"
            "Run it with: pnnkit train --config FILE  (flags and --set override it)"
        )
        print(dump_toml(file_layout(resolved), header=header), end="")
    return 0


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show",
        action="store_true",
        help="print the resolved config of these settings (the default action)",
    )
    parser.add_argument(
        "--format",
        choices=("toml", "json"),
        default="toml",
        help="toml (default: loads back with --config) or json (the layout of a run's config.json)",
    )
    parser.add_argument(
        "--fields",
        action="store_true",
        help="print the table of every train setting, its default and meaning (Markdown)",
    )
    _add_train_arguments(parser, run=False)


def _cmd_show(args: argparse.Namespace) -> int:
    from pnnkit.results import describe, format_description

    info = describe(args.folder)
    print(json.dumps(info, indent=2) if args.json else format_description(info))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from pnnkit.results import plot

    for path in plot(args.folder, out=args.out):
        print(path)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from pnnkit.results import compare, format_comparison

    result = compare(args.folders, plot_path=args.out)
    print(json.dumps(result, indent=2) if args.json else format_comparison(result))
    return 0


def _add_results_verbs(verbs: argparse._SubParsersAction) -> None:
    show = verbs.add_parser(
        "show",
        help="summarise a run folder (finished or not), or a bench or fault-sweep folder",
    )
    show.add_argument("folder", metavar="RUN", help="run, bench or fault-sweep folder")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=_cmd_show)
    plot = verbs.add_parser(
        "plot",
        help="(re)draw the plots of a run (learning curves, information plane, fault "
        "recovery) or of a bench or fault-sweep folder",
    )
    plot.add_argument("folder", metavar="RUN", help="run, bench or fault-sweep folder")
    plot.add_argument("--out", metavar="DIR", help="folder for the plots (default: RUN itself)")
    plot.set_defaults(func=_cmd_plot)
    compare = verbs.add_parser(
        "compare",
        help="compare runs side by side: a table and their accuracy curves in one plot",
    )
    compare.add_argument(
        "folders",
        metavar="RUN",
        nargs="+",
        help="run folders (a bench or fault-sweep folder stands for all its runs)",
    )
    compare.add_argument("--json", action="store_true", help="print the table as JSON")
    compare.add_argument(
        "--out",
        metavar="FILE.png",
        default=None,
        help="also draw the runs' accuracy curves in one plot, written to this PNG file",
    )
    compare.set_defaults(func=_cmd_compare)


def _format_summary(s: dict[str, Any]) -> str:
    if s.get("task") == "unsupervised":
        return _format_unsupervised(s)
    test = f"{s['test_accuracy']:.4f}"
    if s.get("select") == "best-val":
        test += (
            f" (epoch {s['selected_epoch']}, best validation; last epoch "
            f"{s['last_test_accuracy']:.4f})"
        )
    val = []
    if s.get("val_accuracy") is not None:
        val = [
            f"  val accuracy       {s['val_accuracy']:.4f} (best {s['best_val_accuracy']:.4f}, "
            f"epoch {s['best_val_epoch']})"
        ]
    return "\n".join(
        [
            f"{s['method']} on {s['substrate']}, {s['dataset']}, seed {s['seed']}",
            f"  test accuracy      {test}",
            *val,
            f"  train accuracy     {s['train_accuracy']:.4f}",
            f"  physical queries   {s['physical_queries']:,}",
            f"  device writes      {s['device_writes']:,}",
            f"  wall time          {s['wall_seconds']:.1f} s",
            f"  run folder         {s['run_dir']}",
        ]
    )


def _format_unsupervised(s: dict[str, Any]) -> str:
    u = s["unsupervised"]
    names = {
        "learned": "trained network",
        "untrained": "untrained network",
        "raw": "raw input",
        "pca": f"PCA to {u['pca_width']}",
    }
    rows = [
        f"  {names[k]:<20}{u['probe'][k]:>8.4f}{u['nmi'][k]:>8.3f}"
        for k in ("learned", "untrained", "raw", "pca")
    ]
    return "\n".join(
        [
            f"unsupervised {s['method']} on {s['substrate']}, {s['dataset']}, seed {s['seed']}",
            f"  {'representation':<20}{'probe':>8}{'NMI':>8}   (probe: test split; "
            f"NMI: all samples)",
            *rows,
            f"  physical queries   {s['physical_queries']:,} (evaluation: "
            f"{s['evaluation_queries']:,})",
            f"  device writes      {s['device_writes']:,}",
            f"  wall time          {s['wall_seconds']:.1f} s",
            f"  run folder         {s['run_dir']}",
        ]
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from pnnkit.experiment import TrainConfig, train
    from pnnkit.learning import rule_config

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
    pib = rule_config("pib")
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


def _cmd_bench(args: argparse.Namespace) -> int:
    from pnnkit.experiment.bench import BenchConfig, run_bench
    from pnnkit.results.format import bench_table

    d = BenchConfig()
    config = BenchConfig(
        methods=args.methods or d.methods,
        substrates=args.substrates or d.substrates,
        datasets=args.datasets or d.datasets,
        seeds=args.seeds or d.seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=args.hidden,
        stage=args.stage,
        val_fraction=args.val_fraction,
        select=args.select,
        overrides=args.set,
        workers=args.workers,
        out=args.out,
    )
    result = run_bench(config, progress=not args.quiet)
    if args.json:
        print(json.dumps(result))
    else:
        print(bench_table(result["cells"], result["skipped"]))
        print(f"\n{len(result['runs'])} runs in {result['wall_seconds']:.0f} s; files:")
        for path in result["files"].values():
            print(f"  {path}")
    return 0


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from pnnkit.experiment.bench import BenchConfig

    d = BenchConfig()
    parser.add_argument(
        "--methods", nargs="+", help=f"methods to compare (default: {' '.join(d.methods)})"
    )
    parser.add_argument(
        "--substrates", nargs="+", help=f"substrates (default: {' '.join(d.substrates)})"
    )
    parser.add_argument("--datasets", nargs="+", help="datasets (default: digits)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: 0 1 2)")
    parser.add_argument("--epochs", type=int, default=d.epochs, help=f"(default {d.epochs})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--hidden", type=_hidden, default=d.hidden, help="unit widths (256,256)")
    parser.add_argument("--stage", default=d.stage, help="stage after non-linear physics")
    _add_validation_arguments(parser, val_fraction=d.val_fraction, select=d.select)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every run, as in train (e.g. rule.lr=0.001)",
    )
    parser.add_argument("--workers", type=int, default=d.workers, help="runs in parallel")
    parser.add_argument("--out", default=d.out, help=f"results folder (default {d.out})")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _cmd_faults(args: argparse.Namespace) -> int:
    from pnnkit.experiment.fault_sweep import FaultSweepConfig, run_fault_sweep
    from pnnkit.results.format import sweep_table

    d = FaultSweepConfig()
    config = FaultSweepConfig(
        kind=args.kind,
        rates=args.rates or d.rates,
        when=args.when,
        options=args.option,
        methods=args.methods or d.methods,
        substrate=args.substrate,
        dataset=args.dataset,
        seeds=args.seeds or d.seeds,
        epochs=args.epochs,
        hidden=args.hidden,
        val_fraction=args.val_fraction,
        select=args.select,
        overrides=args.set,
        workers=args.workers,
        out=args.out,
    )
    result = run_fault_sweep(config, progress=not args.quiet)
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


def _add_faults_arguments(parser: argparse.ArgumentParser) -> None:
    from pnnkit.experiment.fault_sweep import FaultSweepConfig

    d = FaultSweepConfig()
    parser.add_argument("--kind", default=d.kind, help=f"fault kind (default {d.kind})")
    parser.add_argument("--rates", type=float, nargs="+", help="fault rates (default 0 to 0.5)")
    parser.add_argument(
        "--when", default=d.when, help="start (default) or epoch=E: when the faults arrive"
    )
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="fault option"
    )
    parser.add_argument("--methods", nargs="+", help=f"(default: {' '.join(d.methods)})")
    parser.add_argument("--substrate", default=d.substrate, help=f"(default {d.substrate})")
    parser.add_argument("--dataset", default=d.dataset, help=f"(default {d.dataset})")
    parser.add_argument("--seeds", type=int, nargs="+", help="(default: 0 1 2)")
    parser.add_argument("--epochs", type=int, default=d.epochs, help=f"(default {d.epochs})")
    parser.add_argument("--hidden", type=_hidden, default=d.hidden, help="unit widths")
    _add_validation_arguments(parser, val_fraction=d.val_fraction, select=d.select)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=d.workers)
    parser.add_argument("--out", default=d.out, help=f"results folder (default {d.out})")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    """The ``pnnkit`` command line: one sub-command per verb, each with its own flags."""
    parser = argparse.ArgumentParser(
        prog="pnnkit",
        description="Train deep physical neural networks in situ (Physical Information "
        "Bottleneck and the field's other methods).",
    )
    parser.add_argument("--version", action="version", version=f"pnnkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    train = verbs.add_parser("train", help="train a physical network, write a run folder")
    _add_train_arguments(train)
    train.set_defaults(func=_cmd_train)
    config = verbs.add_parser(
        "config",
        help="print the resolved config of train settings (--config file, flags, --set)",
        description="Print the config that pnnkit train would run with these settings, every "
        "default filled in, as TOML (loads back with pnnkit train --config) or JSON.",
    )
    _add_config_arguments(config)
    config.set_defaults(func=_cmd_config)
    from pnnkit.rl.cli import add_rl_parser

    add_rl_parser(verbs)
    bench = verbs.add_parser(
        "bench", help="compare training methods on substrates and datasets over seeds"
    )
    _add_bench_arguments(bench)
    bench.set_defaults(func=_cmd_bench)
    faults = verbs.add_parser(
        "faults", help="sweep a fault kind over rates, comparing training methods"
    )
    _add_faults_arguments(faults)
    faults.set_defaults(func=_cmd_faults)
    demo = verbs.add_parser(
        "demo", help="PIB on a simulated crossbar vs backprop on an ideal layer, on digits"
    )
    demo.add_argument("--out", default="runs/demo", help="parent folder of the two runs")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--epochs", type=int, default=None, help="(default: the train default)")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_cmd_demo)
    _add_results_verbs(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pnnkit`` command. Project errors print one line, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PnnkitError as error:
        print(f"pnnkit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (pnnkit show RUN | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except TrainingInterrupted as interrupted:  # Ctrl-C in a training run: checkpoint saved
        print(f"pnnkit: {interrupted}", file=sys.stderr)
        return interrupted.exit_code
    except KeyboardInterrupt:
        print("pnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
