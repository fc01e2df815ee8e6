"""Learning rules: how a physical network's parameters change. One interface for every method."""

from __future__ import annotations

from typing import Any

from pnnkit.config import build
from pnnkit.errors import ConfigError
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
from pnnkit.learning.pib import PIB, BottleneckEstimator, PIBConfig
from pnnkit.learning.readout import ReadoutOnly
from pnnkit.learning.spsa import SPSA, SPSAConfig
from pnnkit.learning.twins import NetworkTwin, TwinMismatch
from pnnkit.network import PhysicalNetwork

#: method name -> (rule class, its config class)
RULES: dict[str, tuple[type[LearningRule], type[RuleConfig]]] = {
    "pib": (PIB, PIBConfig),
    "backprop": (Backprop, RuleConfig),
    "insilico": (InSilico, InSilicoConfig),
    "pat": (PhysicsAware, PATConfig),
    "ff": (ForwardForward, FFConfig),
    "dfa": (DFA, DFAConfig),
    "spsa": (SPSA, SPSAConfig),
    "hsic": (HSICBottleneck, HSICConfig),
    "eqprop": (EqProp, EqPropConfig),
    "readout": (ReadoutOnly, RuleConfig),
}


def rule_config(method: str, values: dict[str, Any] | None = None) -> RuleConfig:
    """The typed, validated config of ``method`` with ``values`` overriding its defaults."""
    if method not in RULES:
        raise ConfigError(f"unknown method {method!r}; choices: {sorted(RULES)}")
    return build(RULES[method][1], values or {})


def make_rule(
    method: str, network: PhysicalNetwork, config: RuleConfig, total_steps: int
) -> LearningRule:
    """Build the rule called ``method`` for ``network``."""
    rule_class, config_class = RULES[method]
    if not isinstance(config, config_class):
        raise ConfigError(f"method {method!r} needs a {config_class.__name__}")
    return rule_class(network, config, total_steps)


__all__ = [
    "DFA",
    "PIB",
    "RULES",
    "SPSA",
    "Backprop",
    "BottleneckEstimator",
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
    "NetworkTwin",
    "PATConfig",
    "PIBConfig",
    "PhysicsAware",
    "ReadoutOnly",
    "RuleConfig",
    "SPSAConfig",
    "StepStats",
    "TwinMismatch",
    "UpdateRule",
    "cosine_lr",
    "make_rule",
    "rule_config",
]
