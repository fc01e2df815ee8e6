"""The rule registry: every learning rule, its config class, and what it needs.

A rule module registers its rule with :func:`register` (``@register(ItsConfig)`` on the class);
:mod:`pnnkit.learning` imports every module of the package, so a new rule is its module and one
row of docs/methods.md. Each rule declares its :class:`Needs` (a differentiable twin, a linear
stage in every unit, one energy-based system, class labels); :meth:`Needs.refusal` turns a
network the declaration rules out into one message naming what is missing and what to use
instead, checked once, when the rule is built (:class:`~pnnkit.learning.base.LearningRule`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pnnkit.config import build
from pnnkit.errors import ConfigError
from pnnkit.network import PhysicalNetwork

if TYPE_CHECKING:
    from pnnkit.learning.base import LearningRule, RuleConfig

__all__ = [
    "RULES",
    "TASKS",
    "Needs",
    "RuleEntry",
    "make_rule",
    "register",
    "rule_config",
    "rule_entries",
    "rule_entry",
]

#: The twin a rule may need: none, any differentiable model, or an exact one.
TWINS: tuple[str, ...] = ("none", "any", "exact")
#: The tasks a rule can serve; ``unsupervised`` rules get no labels.
TASKS: tuple[str, ...] = ("supervised", "unsupervised")


@dataclass(frozen=True)
class Needs:
    """What a rule needs from the network and the task.

    ``twin``: ``none`` (model-free), ``any`` (a differentiable model of every substrate,
    however wrong) or ``exact`` (a model equal to the hardware). ``linear_stages``: every unit
    ends in a programmable linear stage (rules that update by outer products). ``energy_based``:
    the network is one energy-based system that relaxes to a minimum of its energy
    (equilibrium propagation). ``labels``: the rule trains on class labels (supervised task).
    ``pre_stages``: the rule can train (or, training no hardware, leaves as built) a linear
    pre-stage in front of a unit's physics; a rule without it refuses such networks rather
    than silently leave the pre-stage untrained.
    """

    twin: str = "none"
    linear_stages: bool = False
    energy_based: bool = False
    labels: bool = True
    pre_stages: bool = False

    def __post_init__(self) -> None:
        if self.twin not in TWINS:
            raise ValueError(f"Needs.twin = {self.twin!r}; choices: {list(TWINS)}")

    @property
    def model_free(self) -> bool:
        """True when the rule never uses a digital model of the physics."""
        return self.twin == "none"

    @property
    def task(self) -> str:
        """The task the rule serves."""
        return "supervised" if self.labels else "unsupervised"

    def refusal(self, method: str, network: PhysicalNetwork) -> str | None:
        """Why rule ``method`` cannot train ``network``, or None when it can."""
        if self.energy_based:
            units = network.units
            system = units[0].physics if len(units) == 1 else None
            if (
                system is None
                or units[0].stage is not None
                or not system.energy_based
                or not hasattr(system, "relax")
            ):
                kinds = [s.name for s in network.substrates()]
                return (
                    f"method {method!r} trains one energy-based physical system (a network "
                    f"that relaxes to a minimum of its energy, e.g. --substrate resistive), and "
                    f"this network is {len(units)} unit(s) of {kinds}; use --substrate "
                    f"resistive, or --method pib or backprop for feed-forward substrates"
                )
        if not self.pre_stages and any(u.pre is not None for u in network.units):
            return (
                f"method {method!r} does not train a pre-stage in front of the physics; use "
                f"--method pib, backprop, insilico, pat or readout, or drop --pre-stage"
            )
        if self.linear_stages:
            for unit in network.units:
                if unit.stage is None:
                    kind = unit.physics.name if unit.physics is not None else "?"
                    return (
                        f"method {method!r} trains the linear stage of each unit, and the "
                        f"{kind} substrate has none (it is energy-based); use --method "
                        f"eqprop or backprop"
                    )
        for substrate in network.substrates() if self.twin != "none" else []:
            if self.twin == "exact" and not substrate.exact_twin:
                return (
                    f"method {method!r} needs an exact differentiable model of the substrate, "
                    f"and the {substrate.name} substrate has none; use --substrate ideal for "
                    f"the digital reference, --method insilico to train on its approximate "
                    f"model, or a model-free method such as --method pib"
                )
            if self.twin == "any" and substrate.twin() is None:
                return (
                    f"method {method!r} needs a differentiable model of the substrate, and the "
                    f"{substrate.name} substrate has none; use a model-free method such as "
                    f"--method pib"
                )
        return None


@dataclass(frozen=True)
class RuleEntry:
    """One registered rule: its class and its config class (the task is its needs')."""

    method: str
    rule_class: type[LearningRule]
    config_class: type[RuleConfig]

    @property
    def needs(self) -> Needs:
        """What the rule needs (its class's declaration)."""
        return self.rule_class.needs


#: (method, task) -> the registered rule
_REGISTRY: dict[tuple[str, str], RuleEntry] = {}
#: method name -> (rule class, its config class): the supervised rules (``--method``)
RULES: dict[str, tuple[type[LearningRule], type[RuleConfig]]] = {}

R = TypeVar("R", bound="type[LearningRule]")


def register(config_class: type[RuleConfig]) -> Callable[[R], R]:
    """Class decorator: register a rule under its ``name`` for the task its ``needs`` says,
    with ``config_class`` as its settings."""

    def add(rule_class: R) -> R:
        key = (rule_class.name, rule_class.needs.task)
        if key in _REGISTRY:
            raise ValueError(f"rule {key[0]!r} registered twice for the {key[1]} task")
        _REGISTRY[key] = RuleEntry(rule_class.name, rule_class, config_class)
        if key[1] == "supervised":
            RULES[rule_class.name] = (rule_class, config_class)
        return rule_class

    return add


def rule_entries() -> list[RuleEntry]:
    """Every registered rule, for every task (the unsupervised variant of a method too)."""
    return list(_REGISTRY.values())


def rule_entry(method: str, task: str = "supervised") -> RuleEntry:
    """The rule registered as ``method`` for ``task``, or a ConfigError naming the choices."""
    entry = _REGISTRY.get((method, task))
    if entry is not None:
        return entry
    served = sorted(m for m, t in _REGISTRY if t == task)
    if any(m == method for m, _ in _REGISTRY):
        raise ConfigError(
            f"method = {method!r} is invalid for task {task!r}: it supports method(s) {served}"
        )
    raise ConfigError(f"unknown method {method!r}; choices: {served}")


def rule_config(
    method: str, values: dict[str, Any] | None = None, task: str = "supervised"
) -> RuleConfig:
    """The typed, validated config of ``method`` with ``values`` overriding its defaults."""
    return build(rule_entry(method, task).config_class, values or {})


def make_rule(
    method: str, network: PhysicalNetwork, config: RuleConfig, total_steps: int, **options: Any
) -> LearningRule:
    """Build the rule called ``method`` for ``network`` (the task follows from the config's
    class); ``options`` go to rules that take more (the unsupervised rule's image layout)."""
    for (name, _), entry in _REGISTRY.items():
        if name == method and isinstance(config, entry.config_class):
            return entry.rule_class(network, config, total_steps, **options)
    entry = rule_entry(method)
    raise ConfigError(f"method {method!r} needs a {entry.config_class.__name__}")
