"""Results: run folders (their kind and files), reading them back, describing, comparing,
plotting and formatting them. Training code writes through :class:`RunFolder` and draws with
:mod:`pnnkit.results.plots`; nothing here imports training code, so reading results needs no
training package (and loads neither torch nor matplotlib until a plot is drawn)."""

from pnnkit.results.compare import compare, format_comparison
from pnnkit.results.describe import describe, describe_run, format_description
from pnnkit.results.folder import BENCH, FAULTS, KINDS, RL, TRAIN, RunFolder
from pnnkit.results.read import folder_kind
from pnnkit.results.redraw import plot

__all__ = [
    "BENCH",
    "FAULTS",
    "KINDS",
    "RL",
    "TRAIN",
    "RunFolder",
    "compare",
    "describe",
    "describe_run",
    "folder_kind",
    "format_comparison",
    "format_description",
    "plot",
]
