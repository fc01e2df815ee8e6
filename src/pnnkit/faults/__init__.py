"""Fault models for physical substrates, a small spec language, and a training-time schedule.

See :mod:`pnnkit.faults.models` (what each fault does, with sources; the kinds live in
:mod:`pnnkit.faults.devices` and :mod:`pnnkit.faults.optics`), :mod:`pnnkit.faults.spec` (the
grammar) and :mod:`pnnkit.faults.schedule` (timing). A fault applies to every substrate with its
capability (:mod:`pnnkit.physics.capabilities`).
"""

from pnnkit.faults.base import Fault, derived_generator, derived_seed
from pnnkit.faults.devices import (
    DeadCols,
    DeadRows,
    Drift,
    ReadBursts,
    Stuck,
    Unresponsive,
    cluster_weights,
)
from pnnkit.faults.models import FAULT_KINDS
from pnnkit.faults.optics import DeadCamera, DeadSLM, HotCamera, PhaseDrift
from pnnkit.faults.schedule import FaultSchedule
from pnnkit.faults.spec import fault_dicts, format_faults, parse_faults

__all__ = [
    "FAULT_KINDS",
    "DeadCamera",
    "DeadCols",
    "DeadRows",
    "DeadSLM",
    "Drift",
    "Fault",
    "FaultSchedule",
    "HotCamera",
    "PhaseDrift",
    "ReadBursts",
    "Stuck",
    "Unresponsive",
    "cluster_weights",
    "derived_generator",
    "derived_seed",
    "fault_dicts",
    "format_faults",
    "parse_faults",
]
