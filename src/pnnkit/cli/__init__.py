"""Command line: ``pnnkit <verb>``. Thin: parse, build a config (one resolver for every verb:
:mod:`pnnkit.cli.resolve`), run it, print the result. One module per group of verbs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pnnkit import __version__
from pnnkit.errors import PnnkitError, TrainingInterrupted


def build_parser() -> argparse.ArgumentParser:
    """The ``pnnkit`` command line: one sub-command per verb, each with its own flags."""
    from pnnkit.cli import bench, demo, device, results, rl, train

    parser = argparse.ArgumentParser(
        prog="pnnkit",
        description="Train deep physical neural networks in situ (Physical Information "
        "Bottleneck and the field's other methods).",
    )
    parser.add_argument("--version", action="version", version=f"pnnkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    train.add_verbs(verbs)
    rl.add_rl_parser(verbs)
    bench.add_verbs(verbs)
    demo.add_verbs(verbs)
    results.add_verbs(verbs)
    device.add_verbs(verbs)
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
