"""``pnnkit rl``: train a policy on a gymnasium environment, write a run folder."""

from __future__ import annotations

import argparse

from pnnkit.cli.flags import add_hidden, add_out, add_outputs, add_seed, add_set, print_result
from pnnkit.cli.resolve import resolve_args


def add_rl_parser(verbs: argparse._SubParsersAction) -> None:
    """Add the ``rl`` verb (its arguments and ``func``) to the sub-command parsers ``verbs``."""
    from pnnkit.cli.flags import one_of
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
        "--method", default=d.method, help=f"{one_of(list(METHODS))} (default {d.method})"
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
    add_seed(parser, d.seed, d.seed)
    add_hidden(parser, d.hidden, "unit widths, comma-separated (64,64)")
    add_out(parser, d.out, f"run folder (default {d.out})")
    add_set(
        parser,
        "override any setting: signal=advantage, unit_steps=2, eval_every=32, "
        "stop_when_solved=false, rule.lr=0.001, rule.beta=20, substrate.levels=128 (repeatable)",
    )
    add_outputs(parser, "print the summary as JSON on the last line", overwrite=True)
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run ``pnnkit rl``; prints a readable summary, or JSON with ``--json``."""
    from pnnkit.results.format import format_rl_summary
    from pnnkit.rl.config import RLConfig
    from pnnkit.tasks.rl import run_rl

    config = resolve_args(RLConfig, args, args.set)
    summary = run_rl(config, progress=not args.quiet, overwrite=args.overwrite)
    print_result(summary, args.json, format_rl_summary)
    return 0
