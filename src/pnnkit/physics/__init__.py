"""Physical substrates: what a physical system does to an input, and how it is programmed.

:mod:`pnnkit.physics.protocol` is the interface every substrate implements,
:mod:`pnnkit.physics.capabilities` what faults can happen to it, and
:mod:`pnnkit.physics.registry` the table of substrates by name. Every module of this package is
imported here (:func:`~pnnkit.physics.registry.discover`), so a substrate module registers
itself; nothing else lists it.
"""

from pnnkit.physics.counters import Counters

# The linear stages and the resistive network, importable from the package for convenience.
from pnnkit.physics.crossbar import Crossbar, CrossbarConfig
from pnnkit.physics.ideal import IdealConfig, IdealLinear
from pnnkit.physics.linear import linear_twin, with_bias_column
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import SUBSTRATES, discover, make_substrate, register
from pnnkit.physics.resistive import ResistiveConfig, ResistiveNetwork

discover()

__all__ = [
    "SUBSTRATES",
    "Counters",
    "Crossbar",
    "CrossbarConfig",
    "IdealConfig",
    "IdealLinear",
    "ResistiveConfig",
    "ResistiveNetwork",
    "Substrate",
    "SubstrateConfig",
    "linear_twin",
    "make_substrate",
    "register",
    "with_bias_column",
]
