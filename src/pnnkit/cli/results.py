"""``pnnkit show``, ``plot`` and ``compare``: read run, bench and fault-sweep folders."""

from __future__ import annotations

import argparse
import json

FOLDER_HELP = "run, bench or fault-sweep folder"


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``show``, ``plot`` and ``compare`` to the sub-command parsers ``verbs``."""
    show = verbs.add_parser(
        "show",
        help="summarise a run folder (finished or not), or a bench or fault-sweep folder",
    )
    show.add_argument("folder", metavar="RUN", help=FOLDER_HELP)
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=run_show)
    plot = verbs.add_parser(
        "plot",
        help="(re)draw the plots of a run (learning curves, information plane, fault "
        "recovery) or of a bench or fault-sweep folder",
    )
    plot.add_argument("folder", metavar="RUN", help=FOLDER_HELP)
    plot.add_argument("--out", metavar="DIR", help="folder for the plots (default: RUN itself)")
    plot.set_defaults(func=run_plot)
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
    compare.set_defaults(func=run_compare)


def run_show(args: argparse.Namespace) -> int:
    """``pnnkit show RUN``: the folder's description, as text or JSON."""
    from pnnkit.results import describe, format_description

    info = describe(args.folder)
    print(json.dumps(info, indent=2) if args.json else format_description(info))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    """``pnnkit plot RUN``: (re)draw the plots, print their paths."""
    from pnnkit.results import plot

    for path in plot(args.folder, out=args.out):
        print(path)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``pnnkit compare RUN...``: the runs side by side, as a table or JSON."""
    from pnnkit.results import compare, format_comparison

    result = compare(args.folders, plot_path=args.out)
    print(json.dumps(result, indent=2) if args.json else format_comparison(result))
    return 0
