"""Physical substrates: what a physical system does to an input, and how it is programmed.

See :mod:`pnnkit.physics.base` for the protocol every substrate implements.
"""

from pnnkit.physics.base import (
    SUBSTRATES,
    Counters,
    Substrate,
    SubstrateConfig,
    linear_twin,
    make_substrate,
    register,
    with_bias_column,
)
from pnnkit.physics.crossbar import Crossbar, CrossbarConfig
from pnnkit.physics.ideal import IdealConfig, IdealLinear

__all__ = [
    "SUBSTRATES",
    "Counters",
    "Crossbar",
    "CrossbarConfig",
    "IdealConfig",
    "IdealLinear",
    "Substrate",
    "SubstrateConfig",
    "linear_twin",
    "make_substrate",
    "register",
    "with_bias_column",
]
