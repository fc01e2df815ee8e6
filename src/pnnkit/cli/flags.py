"""Flags shared by several verbs, each defined once here.

A flag whose ``dest`` is a field of the verb's config feeds :func:`pnnkit.cli.resolve.resolve_args`
when its value is not None: a verb that reads a ``--config`` file defaults such flags to None,
so that only the flags given explicitly override the file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def one_of(names: list[str]) -> str:
    """``a, b or c``: names for a help text."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def widths(example: str) -> Callable[[str], list[int]]:
    """The argparse type of ``--hidden``: comma-separated integers (``example`` in the error)."""

    def parse(text: str) -> list[int]:
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--hidden expects comma-separated integers such as {example}, got {text!r}"
            ) from None

    return parse


def add_hidden(parser: argparse.ArgumentParser, default: list[int] | None, help: str) -> None:
    """``--hidden W,W,...``: the widths of the units."""
    example = ",".join(str(w) for w in default) if default else "256,256"
    parser.add_argument("--hidden", type=widths(example), default=default, help=help)


def add_seed(parser: argparse.ArgumentParser, default: int | None, shown: int) -> None:
    """``--seed N``."""
    parser.add_argument("--seed", type=int, default=default, help=f"(default {shown})")


def add_out(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """``--out FOLDER``: where the verb writes."""
    parser.add_argument("--out", default=default, help=help)


def add_set(
    parser: argparse.ArgumentParser, help: str | None, *, dest: str = "set", flag: str = "--set"
) -> None:
    """``--set KEY=VALUE`` (repeatable): the language of :mod:`pnnkit.config.overrides`."""
    parser.add_argument(
        flag, action="append", default=[], dest=dest, metavar="KEY=VALUE", help=help
    )


def add_outputs(parser: argparse.ArgumentParser, json_help: str, *, overwrite: bool) -> None:
    """``--overwrite`` (when the verb writes one run folder), ``--json`` and ``--quiet``."""
    if overwrite:
        parser.add_argument(
            "--overwrite", action="store_true", help="replace a run already in the run folder"
        )
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_validation(
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


def print_result(result: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """``result`` as JSON on one line, or as ``text(result)``."""
    print(json.dumps(result) if as_json else text(result))
