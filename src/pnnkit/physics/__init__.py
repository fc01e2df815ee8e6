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
from pnnkit.physics.diffractive import DiffractiveConfig, DiffractiveStack
from pnnkit.physics.ideal import IdealConfig, IdealLinear
from pnnkit.physics.instrument import InstrumentConfig, InstrumentSubstrate
from pnnkit.physics.measured import MeasuredConfig, MeasuredSubstrate
from pnnkit.physics.mzi import MZIConfig, MZIMesh
from pnnkit.physics.oscillators import OscillatorConfig, OscillatorNetwork
from pnnkit.physics.resistive import ResistiveConfig, ResistiveNetwork
from pnnkit.physics.scattering import ScatteringConfig, ScatteringMedium

__all__ = [
    "SUBSTRATES",
    "Counters",
    "Crossbar",
    "CrossbarConfig",
    "DiffractiveConfig",
    "DiffractiveStack",
    "IdealConfig",
    "IdealLinear",
    "InstrumentConfig",
    "InstrumentSubstrate",
    "MZIConfig",
    "MZIMesh",
    "MeasuredConfig",
    "MeasuredSubstrate",
    "OscillatorConfig",
    "OscillatorNetwork",
    "ResistiveConfig",
    "ResistiveNetwork",
    "ScatteringConfig",
    "ScatteringMedium",
    "Substrate",
    "SubstrateConfig",
    "linear_twin",
    "make_substrate",
    "register",
    "with_bias_column",
]
