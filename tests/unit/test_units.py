"""Units with fixed physics in front of a linear stage (route (b)), the readout-only baseline,
and backprop through the twins of physics and stages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.learning import PIB, Backprop, ReadoutOnly, rule_config
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics import IdealLinear, Substrate, SubstrateConfig, linear_twin


@dataclass
class TanhConfig(SubstrateConfig):
    noise: float = 0.0


class TanhPhysics(Substrate[TanhConfig]):
    """Test physics: ``p = tanh(x A + b)`` with a hidden fixed ``A`` and programmable ``b``."""

    name = "tanh-test"
    config_class = TanhConfig
    exact_twin = True

    def __init__(self, in_features, out_features, *, seed=0, config=None, forbid_twin=False):
        self.forbid_twin = forbid_twin
        super().__init__(in_features, out_features, seed=seed, config=config)

    def _build(self):
        self._a = torch.randn(self.in_features, self.out_features, generator=self.generator)
        self.b = torch.zeros(self.out_features)
        self.programmed = 0

    def parameter_shape(self):
        return (self.out_features,)

    def _measure(self, x):
        p = torch.tanh(x @ self._a + self.b)
        return p + self._config.noise * torch.randn(p.shape, generator=self.generator)

    def _program(self, delta):
        self.programmed += 1
        self.b = self.b + delta

    def _read_parameters(self):
        return self.b.clone()

    def twin(self):
        if self.forbid_twin:
            raise AssertionError("a model-free rule asked for a model of the physics")
        return lambda x, b: torch.tanh(x @ self._a + b)

    def _physical_state(self):
        return {"a": self._a, "b": self.b}

    def _load_physical_state(self, state):
        self._a, self.b = state["a"].clone(), state["b"].clone()


def physics_network(forbid_twin=False, noise=0.0) -> PhysicalNetwork:
    units = []
    for k, (n_in, width) in enumerate([(6, 10), (8, 9)]):
        physics = TanhPhysics(
            n_in, width, seed=k, config=TanhConfig(noise=noise), forbid_twin=forbid_twin
        )
        units.append(Unit(IdealLinear(width, 8 if k == 0 else 7, seed=10 + k), "relu", physics))
    return PhysicalNetwork(units, 3)


def batch(n=24):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 6, generator=g), torch.arange(n) % 3


def test_unit_validation_names_the_problem():
    with pytest.raises(ConfigError, match="must be a linear substrate"):
        Unit(TanhPhysics(3, 3))
    with pytest.raises(ConfigError, match="gives 4 outputs but the ideal stage takes 5"):
        Unit(IdealLinear(5, 2), physics=TanhPhysics(3, 4))


def test_pib_trains_the_stage_behind_unmodelled_physics_with_the_exact_local_gradient():
    """Route (b): the stage's update is -lr * dL_k/dW computed from the measured physics output,
    with no model of the physics (its twin raises) and the physics never programmed."""
    net = physics_network(forbid_twin=True, noise=0.05)
    config = rule_config(
        "pib",
        {"optimizer": "sgd", "schedule": "constant", "lr": 0.1, "similarity_weight": 0.0},
    )
    x, y = batch()
    # replay what the hardware will measure: same generators, same noise
    states = [u.physics.generator.get_state() for u in net.units]
    weights = [u.stage.read_parameters() for u in net.units]
    h, expected = x, []
    est = config.estimator
    for unit, w in zip(net.units, weights, strict=True):
        p = unit.physics._measure(h)
        w = w.clone().requires_grad_(True)
        t = torch.relu(linear_twin(p, w))
        i_xt, i_ty = est.terms(est.input_gram(x), t, est.label_gram(y, 3))
        (grad,) = torch.autograd.grad(config.gamma * i_xt - config.beta * i_ty, w)
        expected.append(-config.lr * grad)
        h = t.detach()
    for unit, state in zip(net.units, states, strict=True):
        unit.physics.generator.set_state(state)
    PIB(net, config, total_steps=1).train_step(x, y)
    for unit, w, delta in zip(net.units, weights, expected, strict=True):
        torch.testing.assert_close(unit.stage.read_parameters() - w, delta)
        assert unit.physics.programmed == 0
        assert unit.physics.counters.physical_queries == 24  # one query per sample


def test_readout_only_leaves_the_hardware_alone():
    net = physics_network(forbid_twin=True)
    before = [u.stage.read_parameters() for u in net.units]
    readout = net.readout.weight.detach().clone()
    rule = ReadoutOnly(net, rule_config("readout"), total_steps=5)
    for _ in range(5):
        rule.train_step(*batch())
    for unit, w in zip(net.units, before, strict=True):
        torch.testing.assert_close(unit.stage.read_parameters(), w, rtol=0, atol=0)
        assert unit.stage.counters.device_writes == 0
        assert unit.physics.counters.physical_queries == 5 * 24
    assert not torch.allclose(net.readout.weight, readout)


def test_backprop_trains_physics_parameters_and_stages_through_their_twins():
    net = physics_network()
    x, y = batch()
    params = {
        "b": [u.physics.read_parameters().requires_grad_(True) for u in net.units],
        "w": [u.stage.read_parameters().requires_grad_(True) for u in net.units],
    }
    readout = torch.nn.Linear(7, 3)
    readout.load_state_dict(net.readout.state_dict())
    h = x
    for unit, b, w in zip(net.units, params["b"], params["w"], strict=True):
        h = torch.relu(linear_twin(torch.tanh(h @ unit.physics._a + b), w))
    loss = F.cross_entropy(readout(F.normalize(h, dim=1, eps=1e-8)), y)
    grads = torch.autograd.grad(loss, params["b"] + params["w"])
    config = rule_config(
        "backprop", {"optimizer": "sgd", "lr": 0.1, "readout_lr": 0.1, "schedule": "constant"}
    )
    rule = Backprop(net, config, total_steps=1)
    rule.train_step(x, y)
    rule.before_evaluation()
    landed = [u.physics.read_parameters() for u in net.units]
    landed += [u.stage.read_parameters() for u in net.units]
    for value, start, grad in zip(landed, params["b"] + params["w"], grads, strict=True):
        torch.testing.assert_close(value, start.detach() - 0.1 * grad)


def test_network_state_round_trip_includes_the_physics():
    a, b = physics_network(), physics_network()
    a.units[0].physics.program(torch.ones(10))
    b.load_state_dict(a.state_dict())
    x, _ = batch()
    torch.testing.assert_close(a.forward(x)[-1], b.forward(x)[-1])


def test_spsa_estimates_of_the_local_loss_align_with_its_gradient():
    """Route (c): the mean of many SPSA estimates points along dL_k/dtheta (cosine > 0.9)."""
    torch.manual_seed(0)
    net = physics_network()
    unit = net.units[0]
    rule = PIB(net, rule_config("pib", {"physics_lr": 0.01, "spsa_epsilon": 1e-3}), 1)
    x, y = batch(n=40)
    est = rule.config.estimator
    x_gram, y_gram = est.input_gram(x), est.label_gram(y, 3)
    theta = unit.physics.read_parameters().requires_grad_(True)
    t = torch.relu(linear_twin(unit.physics.twin()(x, theta), unit.stage.read_parameters()))
    i_xt, i_ty = est.terms(x_gram, t, y_gram)
    (exact,) = torch.autograd.grad(rule.config.gamma * i_xt - rule.config.beta * i_ty, theta)
    estimates = torch.stack([rule.spsa_gradient(unit, x, x_gram, y_gram) for _ in range(400)])
    cosine = F.cosine_similarity(estimates.mean(0), exact, dim=0)
    assert cosine > 0.9
    torch.testing.assert_close(unit.physics.read_parameters(), theta.detach(), atol=1e-5, rtol=0)


def test_spsa_costs_two_extra_passes_per_unit_and_is_off_by_default():
    x, y = batch()
    for physics_lr, passes in ((0.0, 1), (0.01, 3)):
        net = physics_network()
        PIB(net, rule_config("pib", {"physics_lr": physics_lr}), 1).train_step(x, y)
        for unit in net.units:
            assert unit.physics.counters.physical_queries == passes * 24
            assert unit.physics.programmed == (0 if physics_lr == 0 else 4)


def test_calibration_centres_and_scales_the_physics_output_for_the_stage():
    net = physics_network(noise=0.0)
    x, _ = batch(n=200)
    net.calibrate(x)
    p = net.units[0].measure(x).p
    torch.testing.assert_close(p.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(p.std(0), torch.ones(10), atol=1e-4, rtol=0)
    assert net.units[1].p_mean is not None  # every unit with physics is calibrated
    restored = physics_network(noise=0.0)
    restored.load_state_dict(net.state_dict())
    torch.testing.assert_close(restored.forward(x)[-1], net.forward(x)[-1])


def test_networks_without_physics_spend_nothing_on_calibration():
    net = PhysicalNetwork.build("ideal", 6, [5, 4], 3)
    net.calibrate(batch()[0])
    assert net.counters().physical_queries == 0
