"""Fault models for physical substrates, a small spec language, and a training-time schedule.

See :mod:`pnnkit.faults.models` (what each fault does, with sources),
:mod:`pnnkit.faults.spec` (the grammar) and :mod:`pnnkit.faults.schedule` (timing).
"""

from pnnkit.faults.models import FAULT_KINDS, Fault
from pnnkit.faults.schedule import FaultSchedule
from pnnkit.faults.spec import fault_dicts, format_faults, parse_faults

__all__ = ["FAULT_KINDS", "Fault", "FaultSchedule", "fault_dicts", "format_faults", "parse_faults"]
