"""Every training method under one interface: what each spends on the hardware, that the
model-free ones never use a model nor backpropagate through a measurement, and that each trains
and resumes on a network its needs allow (the refusals are in test_rule_contract)."""

from __future__ import annotations

import pytest

from pnnkit.errors import ConfigError
from pnnkit.learning import RULES, Needs, make_rule, rule_config
from pnnkit.network import PhysicalNetwork
from tests.fixtures.spies import batch
from tests.unit.test_rule_contract import allowed_network

#: physical passes per training sample and substrate, from each method's theory (the layered
#: methods whose count is known; eqprop's relaxations are tested below)
PASSES_PER_SAMPLE = {
    "pib": 1,  # one measurement per unit
    "hsic": 1,
    "dfa": 1,
    "pat": 1,  # forward in hardware, backward in the model
    "readout": 1,
    "ff": 2,  # a positive and a negative pass
    "spsa": 2,  # L(theta + eps D) and L(theta - eps D) per estimate
    "insilico": 0,  # trains on the twin
    "backprop": 0,
}
LAYERED = sorted(PASSES_PER_SAMPLE)


@pytest.mark.parametrize("method", LAYERED)
def test_physical_queries_per_sample_match_the_theory(method, tiny_network):
    x, y = batch(30)
    net = tiny_network()
    rule = make_rule(method, net, rule_config(method), total_steps=2)
    rule.train_step(x, y)
    for substrate in net.substrates():
        assert substrate.counters.physical_queries == PASSES_PER_SAMPLE[method] * 30
        assert substrate.counters.passes == PASSES_PER_SAMPLE[method]


@pytest.mark.parametrize("centred, passes", [(True, 3), (False, 2)])
def test_eqprop_spends_two_or_three_relaxations_per_sample(centred, passes):
    x, y = batch(30)
    net = PhysicalNetwork.build("resistive", 6, [10, 8], 3, seed=0)
    rule = make_rule("eqprop", net, rule_config("eqprop", {"centred": centred}), 1)
    rule.train_step(x, y)
    (substrate,) = net.substrates()
    assert substrate.counters.physical_queries == passes * 30


@pytest.mark.parametrize(
    "method", sorted(m for m, (cls, _) in RULES.items() if cls.needs == Needs(linear_stages=True))
)
def test_model_free_methods_never_use_a_model_nor_autograd_through_a_measurement(
    method, spy_network
):
    net = spy_network()  # SpySubstrate.twin() raises
    rule = make_rule(method, net, rule_config(method), total_steps=2)
    x, y = batch(30)
    for _ in range(2):
        rule.train_step(x.clone().requires_grad_(True), y)
    rule.predict(x)
    for unit in net.units:
        assert unit.stage.grad_enabled_during_measure
        assert not any(unit.stage.grad_enabled_during_measure)
        assert not any(unit.stage.input_required_grad)


def test_model_based_methods_are_those_that_declare_a_twin():
    for cls, _ in RULES.values():
        assert cls.model_free == (cls.needs.twin == "none")


def test_twin_based_methods_train_an_energy_based_network_through_its_model():
    net = PhysicalNetwork.build("resistive", 6, [8], 3, seed=0)
    x, y = batch(30)
    for method in sorted(m for m, (cls, _) in RULES.items() if cls.needs.twin != "none"):
        make_rule(method, net, rule_config(method), total_steps=1).train_step(x, y)


def test_a_refusal_is_a_config_error():
    net = PhysicalNetwork.build("crossbar", 6, [8], 3, seed=0)
    with pytest.raises(ConfigError, match="energy-based"):
        make_rule("eqprop", net, rule_config("eqprop"), total_steps=1)


@pytest.mark.parametrize("method", sorted(RULES))
def test_every_method_trains_and_resumes_on_its_substrate(method):
    """Two rules on identical networks; the second restored from the first's state after one
    step: the next step gives the same loss (checkpoints hold everything a rule needs)."""
    x, y = batch(30)
    pairs = []
    for _ in range(2):
        net = allowed_network(RULES[method][0].needs)
        pairs.append((net, make_rule(method, net, rule_config(method), total_steps=4)))
    (net_a, rule_a), (net_b, rule_b) = pairs
    rule_a.train_step(x, y)
    net_b.load_state_dict(net_a.state_dict())
    rule_b.load_state_dict(rule_a.state_dict())
    assert rule_a.train_step(x, y).loss == rule_b.train_step(x, y).loss
