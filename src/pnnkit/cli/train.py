"""``pnnkit train`` (a run, a resumed run, a distributed run) and ``pnnkit config`` (the
resolved config of the same settings)."""

from __future__ import annotations

import argparse
import json

from pnnkit.cli.flags import add_outputs, add_set, print_result
from pnnkit.cli.format import format_summary
from pnnkit.cli.resolve import resume_overrides, train_config
from pnnkit.cli.settings import add_train_settings
from pnnkit.errors import ConfigError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``config`` to the sub-command parsers ``verbs``."""
    train = verbs.add_parser("train", help="train a physical network, write a run folder")
    add_train_settings(train, download=True)
    train.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run in folder RUN from its checkpoint (after Ctrl-C, a crash or a "
        "guard stop); only --epochs, --max-bad-batches and --tensorboard may change",
    )
    train.add_argument(
        "--distributed",
        action="store_true",
        help="train every unit in its own Ray actor, batches pipelined through the chain "
        "(PIB; needs pnnkit[distributed]; docs/distributed.md)",
    )
    train.add_argument(
        "--address",
        help="with --distributed: the Ray cluster to join (auto, HOST:PORT or ray://...; "
        "default: start a local Ray instance)",
    )
    add_set(
        train,
        "with --distributed: a distributed setting, e.g. max_in_flight=6, "
        "checkpoint_every=20, unit_resources=[lab_a,lab_b] (repeatable)",
        dest="dist_set",
        flag="--dist-set",
    )
    add_outputs(train, "print the summary as JSON on the last line", overwrite=True)
    train.set_defaults(func=run_train)

    config = verbs.add_parser(
        "config",
        help="print the resolved config of train settings (--config file, flags, --set)",
        description="Print the config that pnnkit train would run with these settings, every "
        "default filled in, as TOML (loads back with pnnkit train --config) or JSON.",
    )
    config.add_argument(
        "--show",
        action="store_true",
        help="print the resolved config of these settings (the default action)",
    )
    config.add_argument(
        "--format",
        choices=("toml", "json"),
        default="toml",
        help="toml (default: loads back with --config) or json (the layout of a run's config.json)",
    )
    config.add_argument(
        "--fields",
        action="store_true",
        help="print the table of every train setting, its default and meaning (Markdown)",
    )
    add_train_settings(config, download=False)
    config.set_defaults(func=run_config)


def run_train(args: argparse.Namespace) -> int:
    """``pnnkit train``: a new run, a resumed one (``--resume``) or a distributed one."""
    from pnnkit.experiment import resume, train

    if (args.address or args.dist_set) and not args.distributed:
        raise ConfigError("--address and --dist-set apply to a run with --distributed")
    if args.resume is not None:
        if args.distributed:
            raise ConfigError(
                "--resume continues a run on this machine; a distributed run's checkpoint.pt "
                "resumes the same way: drop --distributed"
            )
        summary = resume(args.resume, overrides=resume_overrides(args), progress=not args.quiet)
    elif args.distributed:
        from pnnkit.config import resolve_config
        from pnnkit.distributed.config import DistributedConfig
        from pnnkit.distributed.driver import train_distributed

        summary = train_distributed(
            train_config(args),
            resolve_config(DistributedConfig, assignments=args.dist_set),
            address=args.address,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    else:
        summary = train(train_config(args), progress=not args.quiet, overwrite=args.overwrite)
    print_result(summary, args.json, format_summary)
    return 0


def run_config(args: argparse.Namespace) -> int:
    """``pnnkit config``: the resolved config (every default filled in), or the field table."""
    from pnnkit.config import dump_toml, file_layout, markdown_fields
    from pnnkit.experiment import TrainConfig

    if args.fields:
        print(markdown_fields(TrainConfig))
        return 0
    resolved = train_config(args).resolved()
    if args.format == "json":
        print(json.dumps(resolved, indent=2))
    else:
        header = (
            "pnnkit train config, resolved (every default filled in).\n"
            "Run it with: pnnkit train --config FILE  (flags and --set override it)"
        )
        print(dump_toml(file_layout(resolved, TrainConfig.LAYOUT), header=header), end="")
    return 0
