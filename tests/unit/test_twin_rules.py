"""Rules that use a digital twin: in-silico + deploy, physics-aware training, the mismatch model."""

from __future__ import annotations

import pytest
import torch

from pnnkit.errors import ConfigError
from pnnkit.learning import (
    Backprop,
    InSilico,
    PhysicsAware,
    TwinMismatch,
    make_rule,
    rule_config,
)
from pnnkit.learning.registry import rule_entries
from pnnkit.learning.twins import mismatched
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import IdealLinear, linear_twin
from tests.fixtures.spies import tiny_network
from tests.unit.test_units import batch, physics_network

SGD = {"optimizer": "sgd", "lr": 0.1, "readout_lr": 0.1, "schedule": "constant"}
EXACT = {"mismatch": {"parameter_error": 0.0}}


def landed(net: PhysicalNetwork) -> list[torch.Tensor]:
    return [s.read_parameters() for s in net.substrates()]


@pytest.mark.parametrize("build", [lambda: physics_network(), lambda: tiny_network()])
def test_pat_with_an_exact_twin_equals_backprop(build):
    """Forward on the hardware + backward through an exact, noise-free twin is backprop
    (Wright et al. 2022): one SGD step lands the same parameters and readout."""
    x, y = batch()
    nets = [build(), build()]
    bp = Backprop(nets[0], rule_config("backprop", SGD), total_steps=1)
    pat = PhysicsAware(nets[1], rule_config("pat", {**SGD, **EXACT}), total_steps=1)
    loss_bp = bp.train_step(x, y).loss
    loss_pat = pat.train_step(x, y).loss
    bp.before_evaluation()
    assert loss_pat == pytest.approx(loss_bp, rel=1e-6)
    for a, b in zip(landed(nets[0]), landed(nets[1]), strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(nets[0].readout.weight, nets[1].readout.weight)


def test_pat_uses_measured_activations_forward_and_the_twin_backward():
    """With measurement noise, PAT's loss is the loss of the *measured* forward pass."""
    x, y = batch()
    net = physics_network(noise=0.3)
    pat = PhysicsAware(net, rule_config("pat", {**SGD, **EXACT}), total_steps=1)
    saved = [s.generator.get_state() for s in net.substrates()]
    loss = pat.train_step(x, y).loss
    twin_net = physics_network(noise=0.3)
    for s, state in zip(twin_net.substrates(), saved, strict=True):
        s.generator.set_state(state)
    measured = torch.nn.functional.cross_entropy(twin_net.logits(twin_net.forward(x)[-1]), y)
    assert loss == pytest.approx(float(measured.detach()), rel=1e-5)


def test_pat_spends_one_pass_per_substrate_and_sample():
    x, y = batch(n=20)
    net = physics_network()
    PhysicsAware(net, rule_config("pat"), total_steps=1).train_step(x, y)
    for substrate in net.substrates():
        assert substrate.counters.physical_queries == 20
        assert substrate.counters.passes == 1


def test_insilico_trains_on_the_twin_only_and_deploys_before_evaluation():
    x, y = batch()
    net = physics_network()
    before = landed(net)
    rule = InSilico(net, rule_config("insilico", SGD), total_steps=2)
    rule.train_step(x, y)
    rule.train_step(x, y)
    assert net.counters().physical_queries == 0
    for a, b in zip(before, landed(net), strict=True):
        torch.testing.assert_close(a, b)  # nothing written while training
    rule.before_evaluation()
    for a, w in zip(landed(net), rule.weights.values(), strict=True):
        torch.testing.assert_close(a, w.detach())


def test_insilico_without_mismatch_equals_backprop():
    x, y = batch()
    nets = [physics_network(), physics_network()]
    bp = Backprop(nets[0], rule_config("backprop", SGD), total_steps=1)
    ins = InSilico(nets[1], rule_config("insilico", {**SGD, **EXACT}), total_steps=1)
    for rule in (bp, ins):
        rule.train_step(x, y)
        rule.before_evaluation()
    for a, b in zip(landed(nets[0]), landed(nets[1]), strict=True):
        torch.testing.assert_close(a, b)


def test_mismatch_perturbs_parameters_and_gains_by_the_stated_amount():
    layer = IdealLinear(200, 300, seed=0)
    params = layer.read_parameters()
    x = torch.randn(64, 200)
    exact = linear_twin(x, params)
    wrong = mismatched(linear_twin, layer, TwinMismatch(parameter_error=0.1), index=0)(x, params)
    relative = (wrong - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()
    # parameter errors (10%) and gain errors (10%) are independent: about sqrt(2) * 10%
    assert 0.11 < float(relative) < 0.17
    same = mismatched(linear_twin, layer, TwinMismatch(parameter_error=0.0), index=0)
    assert same is linear_twin


def test_mismatch_draws_are_fixed_by_the_seed():
    layer = IdealLinear(5, 4, seed=0)
    x, params = torch.randn(3, 5), layer.read_parameters()
    a = mismatched(linear_twin, layer, TwinMismatch(seed=1), 0)(x, params)
    b = mismatched(linear_twin, layer, TwinMismatch(seed=1), 0)(x, params)
    c = mismatched(linear_twin, layer, TwinMismatch(seed=2), 0)(x, params)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_wrong_nonlinearity_adds_a_quadratic_response():
    layer = IdealLinear(5, 4, seed=0)
    x, params = torch.randn(30, 5), layer.read_parameters()
    exact = linear_twin(x, params)
    mismatch = TwinMismatch(parameter_error=0.0, nonlinearity=0.2)
    wrong = mismatched(linear_twin, layer, mismatch, 0)(x, params)
    rms = exact.pow(2).mean().sqrt()
    torch.testing.assert_close(wrong, exact + 0.2 * exact.square() / rms)


def test_twin_rules_refuse_substrates_without_a_model_and_bad_mismatch():
    net = PhysicalNetwork.build("scattering", 6, [8], 3, seed=0)
    net.units[0].physics.twin = lambda: None
    for method, rule in (("insilico", InSilico), ("pat", PhysicsAware)):
        with pytest.raises(ConfigError, match=rf"{method}.*scattering substrate has none"):
            rule(net, rule_config(method), total_steps=1)
    with pytest.raises(ConfigError, match=r"parameter_error = 1\.5"):
        rule_config("pat", {"mismatch": {"parameter_error": 1.5}})


def test_insilico_runs_on_the_crossbar_whose_twin_is_not_exact():
    x, y = batch()
    net = PhysicalNetwork.build("crossbar", 6, [8], 3, seed=0)
    with pytest.raises(ConfigError, match="exact differentiable model"):
        Backprop(net, rule_config("backprop"), total_steps=1)
    rule = InSilico(net, rule_config("insilico"), total_steps=1)
    assert rule.train_step(x, y).loss > 0


#: every registered rule that trains through a twin which may differ from the hardware
TWIN_RULES = sorted({e.method for e in rule_entries() if e.needs.twin == "any"})


@pytest.mark.parametrize("method", TWIN_RULES)
def test_twin_rules_resume_identically(method):
    x, y = batch()
    rules = []
    for _ in range(2):
        net = physics_network()
        rules.append(make_rule(method, net, rule_config(method), total_steps=4))
    rules[0].train_step(x, y)
    rules[1].network.load_state_dict(rules[0].network.state_dict())
    rules[1].load_state_dict(rules[0].state_dict())
    a, b = rules[0].train_step(x, y), rules[1].train_step(x, y)
    assert a.loss == b.loss
