"""The contract every registered learning rule keeps, checked over the registry (a new rule is
picked up here with no list to edit): it builds on a network its declared needs allow, one step
changes the parameters and reports finite numbers, and a network its needs rule out is refused
with one message naming the problem."""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil

import pytest
import torch

import pnnkit.learning
from pnnkit.errors import ConfigError
from pnnkit.learning import LearningRule, Needs, RuleEntry, make_rule, rule_config, rule_entries
from pnnkit.network import PhysicalNetwork

ENTRIES = {f"{e.method}-{e.needs.task}": e for e in rule_entries()}


def allowed_network(needs: Needs, seed: int = 0) -> PhysicalNetwork:
    """A tiny network the declaration allows: one energy-based system, or layered crossbar
    units (linear stages, an approximate twin), ideal ones where an exact twin is needed."""
    substrate = "resistive" if needs.energy_based else "crossbar"
    if needs.twin == "exact":
        substrate = "ideal"
    return PhysicalNetwork.build(substrate, 6, [10, 8], 3, seed=seed)


def forbidden_networks(needs: Needs) -> list[tuple[PhysicalNetwork, str]]:
    """Networks the declaration rules out, each with what the refusal must mention."""
    out = []
    if needs.energy_based:
        out.append((PhysicalNetwork.build("crossbar", 6, [8], 3, seed=0), "energy-based"))
    if needs.linear_stages:
        out.append((PhysicalNetwork.build("resistive", 6, [8], 3, seed=0), "linear stage"))
    if needs.twin == "exact":
        out.append((PhysicalNetwork.build("crossbar", 6, [8], 3, seed=0), "exact"))
    if needs.twin == "any":
        net = PhysicalNetwork.build("scattering", 6, [8], 3, seed=0)
        net.units[0].physics.twin = lambda: None
        out.append((net, "differentiable model"))
    if not needs.pre_stages and not needs.energy_based:  # no physics to put one before
        net = PhysicalNetwork.build("diffractive", 6, [8], 3, pre_stage="ideal", seed=0)
        out.append((net, "pre-stage"))
    return out


def build(entry: RuleEntry, network: PhysicalNetwork, steps: int = 4) -> LearningRule:
    config = rule_config(entry.method, {}, entry.needs.task)
    return make_rule(entry.method, network, config, steps)


def tensors(state: object) -> list[torch.Tensor]:
    """Every tensor of a nested state (dicts, lists), in a fixed order, copied."""
    if isinstance(state, torch.Tensor):
        return [state.detach().clone()]
    if isinstance(state, dict):
        return [t for key in sorted(state, key=str) for t in tensors(state[key])]
    if isinstance(state, list | tuple):
        return [t for item in state for t in tensors(item)]
    return []


def batch(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 6, generator=g), torch.arange(n) % 3


def test_every_rule_class_in_the_package_is_registered() -> None:
    """Discovery: a rule module only has to register its rule."""
    registered = {e.rule_class for e in rule_entries()}
    for info in pkgutil.iter_modules(pnnkit.learning.__path__):
        module = importlib.import_module(f"pnnkit.learning.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            concrete = issubclass(cls, LearningRule) and not inspect.isabstract(cls)
            if concrete and cls.__module__ == module.__name__ and "needs" in vars(cls):
                assert cls in registered, f"{cls.__name__} declares its needs but is unregistered"


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_a_rule_trains_one_step_on_a_network_its_needs_allow(key: str) -> None:
    entry = ENTRIES[key]
    network = allowed_network(entry.needs)
    rule = build(entry, network)
    assert rule.model_free == (entry.needs.twin == "none")
    before = tensors(network.state_dict())
    x, y = batch()
    stats = rule.train_step(x, y if entry.needs.labels else None)
    after = tensors(network.state_dict())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), key
    assert math.isfinite(stats.loss) and math.isfinite(stats.readout_loss)
    assert all(math.isfinite(v) for v in [*stats.i_xt, *stats.i_ty])


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_a_rule_refuses_what_its_needs_rule_out_with_one_clear_message(key: str) -> None:
    entry = ENTRIES[key]
    forbidden = forbidden_networks(entry.needs)
    if not forbidden:
        pytest.skip(f"{key} needs nothing of the network")
    for network, mention in forbidden:
        with pytest.raises(ConfigError, match=rf"method '{entry.method}'.*{mention}"):
            build(entry, network)


def test_a_method_asked_for_a_task_it_does_not_serve_names_the_ones_that_do() -> None:
    with pytest.raises(ConfigError, match=r"invalid for task 'unsupervised'.*\['pib'\]"):
        rule_config("hsic", {}, "unsupervised")
    with pytest.raises(ConfigError, match="unknown method 'magic'"):
        rule_config("magic")
