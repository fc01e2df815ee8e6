"""Learning rules: how a physical network's parameters change. One interface for every method.

Every module of this package is imported here, so a rule module that registers its rule
(:func:`~pnnkit.learning.registry.register`) is found without being listed anywhere else.
"""

from __future__ import annotations

import importlib
import pkgutil

from pnnkit.learning.backprop import Backprop
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.learning.dfa import DFA, DFAConfig
from pnnkit.learning.eqprop import EqProp, EqPropConfig
from pnnkit.learning.forward_forward import FFConfig, ForwardForward
from pnnkit.learning.hsic import HSICBottleneck, HSICConfig
from pnnkit.learning.insilico import InSilico, InSilicoConfig
from pnnkit.learning.multiview import MultiViewConfig, MultiViewPIB
from pnnkit.learning.optim import UpdateRule, cosine_lr
from pnnkit.learning.pat import PATConfig, PhysicsAware
from pnnkit.learning.pib import PIB, PIBConfig
from pnnkit.learning.readout import ReadoutOnly
from pnnkit.learning.registry import (
    RULES,
    Needs,
    RuleEntry,
    make_rule,
    register,
    rule_config,
    rule_entries,
    rule_entry,
)
from pnnkit.learning.spsa import SPSA, SPSAConfig
from pnnkit.learning.twins import NetworkTwin, TwinMismatch

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "DFA",
    "PIB",
    "RULES",
    "SPSA",
    "Backprop",
    "DFAConfig",
    "EqProp",
    "EqPropConfig",
    "FFConfig",
    "ForwardForward",
    "HSICBottleneck",
    "HSICConfig",
    "InSilico",
    "InSilicoConfig",
    "LearningRule",
    "MultiViewConfig",
    "MultiViewPIB",
    "Needs",
    "NetworkTwin",
    "PATConfig",
    "PIBConfig",
    "PhysicsAware",
    "ReadoutOnly",
    "RuleConfig",
    "RuleEntry",
    "SPSAConfig",
    "StepStats",
    "TwinMismatch",
    "UpdateRule",
    "cosine_lr",
    "make_rule",
    "register",
    "rule_config",
    "rule_entries",
    "rule_entry",
]
