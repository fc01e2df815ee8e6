"""The ``pnnkit rl`` verb: train a policy on a gymnasium environment, write a run folder.

The main command line (:mod:`pnnkit.cli`) adds the verb with :func:`add_rl_parser`; project
errors raised here are :class:`pnnkit.errors.PnnkitError` and print as one line there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pnnkit.errors import ConfigError


def _widths(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden expects comma-separated integers such as 64,64, got {text!r}"
        ) from None


def add_rl_parser(verbs: argparse._SubParsersAction) -> None:
    """Add the ``rl`` verb (its arguments and ``func``) to the sub-command parsers ``verbs``."""
    from pnnkit.rl.config import METHODS, RLConfig

    d = RLConfig()
    parser = verbs.add_parser(
        "rl",
        help="reinforcement learning: a physical policy trained by PIB (or the REINFORCE "
        "baseline) on a gymnasium environment",
        description="Train a policy on a gymnasium environment. The policy is a physical "
        "network trained by PIB from the actions of the elite episodes (--method pib), or a "
        "digital MLP trained by REINFORCE with backprop (--method reinforce). Prints the mean "
        "return of the final policy over 100 fresh greedy episodes (eval_episodes), the "
        "training episodes used, the episodes to solve and the physical queries spent; "
        "writes a run folder with metrics, checkpoint and the return curve (returns.png).",
    )
    parser.add_argument("--env", default=d.env, help=f"gymnasium environment (default {d.env})")
    parser.add_argument(
        "--method", default=d.method, help=f"{' or '.join(METHODS)} (default {d.method})"
    )
    parser.add_argument(
        "--substrate", default=d.substrate, help=f"physics of the units (default {d.substrate})"
    )
    parser.add_argument(
        "--stage", default=d.stage, help=f"linear stage after non-linear physics ({d.stage})"
    )
    parser.add_argument(
        "--episodes", type=int, default=d.episodes, help=f"training budget (default {d.episodes})"
    )
    parser.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    parser.add_argument(
        "--hidden", type=_widths, default=d.hidden, help="unit widths, comma-separated (64,64)"
    )
    parser.add_argument("--out", default=d.out, help=f"run folder (default {d.out})")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any setting: signal=advantage, unit_steps=2, eval_every=32, "
        "stop_when_solved=false, rule.lr=0.001, rule.beta=20, substrate.levels=128 (repeatable)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a run already in the run folder"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON on the last line"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_command)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~pnnkit.rl.config.RLConfig` the arguments describe (validated)."""
    from pnnkit.rl.config import RLConfig

    if not args.hidden:
        raise ConfigError("--hidden needs at least one width, e.g. 64,64")
    config = RLConfig(
        env=args.env,
        method=args.method,
        substrate=args.substrate,
        stage=args.stage,
        episodes=args.episodes,
        seed=args.seed,
        hidden=args.hidden,
        out=args.out,
    )
    return config.with_overrides(args.set)


def run_command(args: argparse.Namespace) -> int:
    """Run ``pnnkit rl``; prints a readable summary, or JSON with ``--json``."""
    from pnnkit.results.format import format_rl_summary
    from pnnkit.tasks.rl import run_rl

    summary = run_rl(config_from_args(args), progress=not args.quiet, overwrite=args.overwrite)
    print(json.dumps(summary) if args.json else format_rl_summary(summary))
    return 0
