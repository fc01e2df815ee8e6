"""DFA, SPSA and the HSIC bottleneck: closed forms, unbiasedness, exact local gradients, costs."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.info import gaussian_gram, linear_gram
from pnnkit.learning.dfa import DFA, DFAConfig
from pnnkit.learning.hsic import (
    HSICBottleneck,
    HSICConfig,
    center,
    hsic,
    normalized_gram,
    normalized_hsic,
)
from pnnkit.learning.spsa import SPSA, SPSAConfig
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import linear_twin, with_bias_column
from tests.fixtures.spies import batch, spy_network


def clusters(n=300, d=6, classes=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g) * 3
    y = torch.arange(n) % classes
    return centres[y] + torch.randn(n, d, generator=g), y


def sgd(config_class, **values):
    return config_class(
        **{"optimizer": "sgd", "schedule": "constant", "lr": 0.1, "readout_lr": 0.1, **values}
    )


def train(rule, x, y, steps, size=64):
    for step in range(steps):
        idx = torch.arange(step * size, (step + 1) * size) % x.shape[0]
        rule.train_step(x[idx], y[idx])


def assert_resumes_identically(make_rule, x, y):
    """Rule B, restored from rule A's state (and its network from A's network), takes exactly
    A's next step. The states are deep-copied, as a checkpoint on disk would be."""
    net_a, net_b = spy_network(), spy_network(seed=7)
    rule_a, rule_b = make_rule(net_a, 0), make_rule(net_b, 3)
    for _ in range(2):
        rule_a.train_step(x, y)
    net_b.load_state_dict(copy.deepcopy(net_a.state_dict()))
    rule_b.load_state_dict(copy.deepcopy(rule_a.state_dict()))
    rule_a.train_step(x, y)
    rule_b.train_step(x, y)
    for unit_a, unit_b in zip(net_a.units, net_b.units, strict=True):
        torch.testing.assert_close(unit_a.stage.deltas[-1], unit_b.stage.deltas[-1], rtol=0, atol=0)
    torch.testing.assert_close(net_a.readout.weight, net_b.readout.weight, rtol=0, atol=0)


def assert_one_query_per_sample_and_unit(make_rule):
    net = spy_network(widths=(10, 9, 8))
    rule = make_rule(net)
    x, y = batch(n=20)
    for _ in range(2):
        rule.train_step(x.requires_grad_(True), y)
    for unit in net.units:
        assert unit.stage.counters.physical_queries == 2 * 20
        assert unit.stage.counters.passes == 2
        assert unit.stage.grad_during_measure == [False, False]


# --- DFA --------------------------------------------------------------------------------------


@pytest.mark.parametrize("derivative", ["periphery", "surrogate"])
def test_dfa_update_is_the_closed_form(derivative, tiny_batch):
    x, y = tiny_batch
    net = spy_network()
    weights = [u.stage.read_parameters() for u in net.units]
    readout_w, readout_b = net.readout.weight.detach().clone(), net.readout.bias.detach().clone()
    config = sgd(DFAConfig, derivative=derivative, seed=4)
    rule = DFA(net, config, total_steps=1)
    rule.train_step(x, y)
    # the feedback matrices, drawn as documented: N(0, 1/C) in unit order from the seed
    g = torch.Generator().manual_seed(4)
    feedback = [torch.randn(3, w.shape[0], generator=g) / 3**0.5 for w in weights]
    for drawn, saved in zip(feedback, rule.feedback, strict=True):
        torch.testing.assert_close(drawn, saved)
    inputs, pre, h = [], [], x
    for w in weights:
        inputs.append(h)
        pre.append(linear_twin(h, w))
        h = torch.relu(pre[-1])
    logits = F.normalize(h, dim=1) @ readout_w.T + readout_b
    error = (torch.softmax(logits, dim=1) - F.one_hot(y, 3).float()) / x.shape[0]
    for unit, b, p, z in zip(net.units, feedback, inputs, pre, strict=True):
        slope = (z > 0).float() if derivative == "periphery" else torch.ones_like(z)
        grad_w = ((error @ b) * slope).T @ torch.cat([p, torch.ones(len(p), 1)], dim=1)
        (delta,) = unit.stage.deltas
        torch.testing.assert_close(delta, -config.lr * grad_w)


def test_dfa_surrogate_and_periphery_agree_exactly_when_the_periphery_is_linear(tiny_batch):
    x, y = tiny_batch
    deltas = {}
    for derivative in ("periphery", "surrogate"):
        net = spy_network(activation="identity")
        DFA(net, sgd(DFAConfig, derivative=derivative), total_steps=1).train_step(x, y)
        deltas[derivative] = [u.stage.deltas[0] for u in net.units]
    for a, b in zip(deltas["periphery"], deltas["surrogate"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # ... and differ with a rectifier, whose measured derivative masks inactive outputs
    nets = [spy_network() for _ in range(2)]
    for net, derivative in zip(nets, ("periphery", "surrogate"), strict=True):
        DFA(net, sgd(DFAConfig, derivative=derivative), total_steps=1).train_step(x, y)
    assert not torch.allclose(nets[0].units[0].stage.deltas[0], nets[1].units[0].stage.deltas[0])


def test_dfa_costs_one_query_per_sample_and_unit_and_needs_no_model():
    assert DFA.model_free
    assert_one_query_per_sample_and_unit(lambda net: DFA(net, sgd(DFAConfig), total_steps=2))


def test_dfa_learns_a_separable_problem():
    x, y = clusters()
    net = PhysicalNetwork.build("ideal", 6, [16, 16], 3, seed=0)
    rule = DFA(net, DFAConfig(lr=0.01), total_steps=150)
    train(rule, x, y, 150)
    assert (net.predict(x) == y).float().mean() > 0.95


def test_dfa_state_round_trip_restores_the_feedback_matrices(tiny_batch):
    x, y = tiny_batch
    assert_resumes_identically(
        lambda net, seed: DFA(net, DFAConfig(lr=0.01, seed=seed), total_steps=10), x, y
    )


# --- SPSA -------------------------------------------------------------------------------------


def test_spsa_estimates_average_to_the_true_gradient():
    """The mean of many estimates is the autograd gradient through an exact model. A smooth
    periphery (tanh) keeps the loss differentiable: with a rectifier, a sample whose outputs
    are all zero has no direction, and the length normalisation before the readout jumps."""
    x, y = batch(n=16, d=3, classes=2)
    net = PhysicalNetwork.build("ideal", 3, [4, 4], 2, activation="tanh", seed=0)  # 36 params
    rule = SPSA(net, SPSAConfig(epsilon=0.01), total_steps=1)
    before = [s.read_parameters() for s in rule.targets]
    total = rule.estimate_gradient(x, y)
    # +eps, -2 eps, +eps lands back on an exact substrate (up to float round-off)
    for substrate, w in zip(rule.targets, before, strict=True):
        torch.testing.assert_close(substrate.read_parameters(), w, rtol=0, atol=1e-7)
    count = 4000
    for _ in range(count - 1):
        total = [a + b for a, b in zip(total, rule.estimate_gradient(x, y), strict=True)]
    estimate = torch.cat([t.flatten() / count for t in total])
    weights = [w.clone().requires_grad_(True) for w in before]
    with torch.enable_grad():
        h = x
        for w in weights:
            h = torch.tanh(linear_twin(h, w))
        loss = F.cross_entropy(net.logits(h), y)
        exact = torch.cat([g.flatten() for g in torch.autograd.grad(loss, weights)])
    assert float(F.cosine_similarity(estimate, exact, dim=0)) > 0.9
    assert float(estimate.norm() / exact.norm()) == pytest.approx(1.0, abs=0.2)


def test_spsa_costs_two_passes_per_estimate_and_substrate_and_needs_no_model():
    assert SPSA.model_free
    net = spy_network()
    rule = SPSA(net, sgd(SPSAConfig, estimates=3), total_steps=1)
    x, y = batch(n=10)
    rule.train_step(x, y)
    for unit in net.units:
        assert unit.stage.counters.physical_queries == 2 * 3 * 10
        assert unit.stage.counters.passes == 2 * 3
        assert not any(unit.stage.grad_during_measure)
        # three reprogrammings per estimate, then the update
        assert len(unit.stage.deltas) == 3 * 3 + 1


def test_spsa_trains_physics_parameters_only_when_asked():
    x, y = batch(n=8, d=4, classes=2)
    for include in (True, False):
        net = PhysicalNetwork.build("mzi", 4, [4], 2, seed=0)
        physics, stage = net.units[0].physics, net.units[0].stage
        rule = SPSA(net, SPSAConfig(include_physics=include), total_steps=1)
        assert rule.targets == ([physics, stage] if include else [stage])
        phases = physics.read_parameters()
        rule.train_step(x, y)
        assert physics.counters.physical_queries == stage.counters.physical_queries == 2 * 8
        assert torch.equal(physics.read_parameters(), phases) is not include


def test_spsa_lowers_the_loss_of_the_units_with_the_readout_frozen():
    """Only the unit learns (readout rate 1e-12); the readout is scaled up so that its fixed
    random directions can express a confident classifier."""
    x, y = clusters(n=120, d=4, seed=2)
    net = PhysicalNetwork.build("ideal", 4, [8], 3, seed=0)
    with torch.no_grad():
        net.readout.weight *= 10
    rule = SPSA(net, SPSAConfig(lr=0.03, readout_lr=1e-12, estimates=4), total_steps=150)

    def loss():
        with torch.no_grad():
            return float(F.cross_entropy(net.logits(net.forward(x)[-1]), y))

    start = loss()
    train(rule, x, y, 150, size=120)
    assert loss() < 0.4 * start
    assert (net.predict(x) == y).float().mean() > 0.9


def test_spsa_state_round_trip(tiny_batch):
    x, y = tiny_batch
    assert_resumes_identically(
        lambda net, seed: SPSA(net, SPSAConfig(lr=0.01, seed=seed), total_steps=10), x, y
    )


# --- HSIC -------------------------------------------------------------------------------------


def test_hsic_matches_the_double_sum_formula():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 3, generator=g), torch.randn(7, 2, generator=g)
    k, m = gaussian_gram(a, 1.3), linear_gram(b)
    n = 7
    total = 0.0
    for i in range(n):
        for j in range(n):
            total += float(k[i, j] * m[i, j])
            total -= 2 / n * float(k[i, j]) * float(m[j].sum())
    total += float(k.sum()) * float(m.sum()) / n**2
    assert float(hsic(k, m)) == pytest.approx(total / (n - 1) ** 2, rel=1e-5)
    h = torch.eye(n) - torch.ones(n, n) / n
    torch.testing.assert_close(center(k), h @ k @ h)
    eps = 1e-3
    kc, mc = h @ k @ h, h @ m @ h
    nocco = torch.trace(
        kc
        @ torch.linalg.inv(kc + eps * n * torch.eye(n))
        @ mc
        @ torch.linalg.inv(mc + eps * n * torch.eye(n))
    )
    assert float(normalized_hsic(k, m, "nocco", eps)) == pytest.approx(float(nocco), rel=1e-4)
    cka = torch.trace(kc @ mc) / (torch.trace(kc @ kc) * torch.trace(mc @ mc)).sqrt()
    assert float(normalized_hsic(k, m, "cka")) == pytest.approx(float(cka), rel=1e-5)


def test_normalised_hsic_is_small_for_independent_and_largest_for_identical_variables():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g)
    k_a, k_b = gaussian_gram(a, 1.0), gaussian_gram(b, 1.0)
    k_close = gaussian_gram(a + 0.1 * torch.randn(200, 2, generator=g), 1.0)
    assert float(hsic(k_a, k_b)) < 0.05 * float(hsic(k_a, k_close))
    assert float(normalized_hsic(k_a, k_b)) < 0.05
    assert float(normalized_hsic(k_a, k_close)) > 0.95
    assert float(normalized_hsic(k_a, k_a)) == pytest.approx(1.0, abs=1e-5)
    nocco = {
        name: float(normalized_hsic(k_a, k, "nocco"))
        for name, k in (("b", k_b), ("close", k_close), ("self", k_a))
    }
    assert nocco["close"] > 3 * nocco["b"]
    # Cauchy-Schwarz: nothing is more dependent on A than A itself (for the same kernel rank)
    assert (
        nocco["close"] <= (nocco["self"] * float(normalized_hsic(k_close, k_close, "nocco"))) ** 0.5
    )
    with pytest.raises(ConfigError, match="normalization = 'cca'"):
        normalized_gram(k_a, "cca")


@pytest.mark.parametrize("normalization", ["cka", "nocco"])
def test_hsic_outer_product_update_is_the_exact_local_gradient(normalization, tiny_batch):
    x, y = tiny_batch
    net = spy_network()
    config = sgd(HSICConfig, normalization=normalization, beta=3.0, epsilon=1e-3)
    weights = [u.stage.read_parameters() for u in net.units]
    HSICBottleneck(net, config, total_steps=1).train_step(x, y)

    def m(k):
        return normalized_gram(k, normalization, 1e-3)

    m_x = m(gaussian_gram(F.normalize(x, dim=1), 0.5))
    m_y = m(linear_gram(F.one_hot(y, 3).float()))
    h = x
    for unit, w in zip(net.units, weights, strict=True):
        w = w.clone().requires_grad_(True)
        with torch.enable_grad():
            t = torch.relu(with_bias_column(h) @ w.T)
            m_t = m(gaussian_gram(F.normalize(t, dim=1, eps=1e-8), 0.5))
            loss = (m_x * m_t).sum() - 3.0 * (m_y * m_t).sum()
            (grad,) = torch.autograd.grad(loss, w)
        torch.testing.assert_close(unit.stage.deltas[0], -config.lr * grad, rtol=1e-4, atol=1e-7)
        h = t.detach()


def test_hsic_costs_one_query_per_sample_and_unit_and_needs_no_model():
    assert HSICBottleneck.model_free
    assert_one_query_per_sample_and_unit(
        lambda net: HSICBottleneck(net, sgd(HSICConfig), total_steps=2)
    )


def test_hsic_reports_both_dependences_per_unit_and_learns():
    x, y = clusters()
    net = PhysicalNetwork.build("ideal", 6, [16, 16], 3, seed=0)
    rule = HSICBottleneck(net, HSICConfig(lr=0.01), total_steps=100)
    stats = rule.train_step(x[:64], y[:64])
    assert len(stats.i_xt) == len(stats.i_ty) == 2
    assert all(0 <= v <= 1 for v in stats.i_xt + stats.i_ty)
    train(rule, x, y, 99)
    assert (net.predict(x) == y).float().mean() > 0.95


def test_hsic_state_round_trip(tiny_batch):
    x, y = tiny_batch
    assert_resumes_identically(
        lambda net, _: HSICBottleneck(net, HSICConfig(lr=0.01), total_steps=10), x, y
    )


# --- configs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DFAConfig(derivative="exact"), "derivative = 'exact'"),
        (lambda: DFAConfig(seed=-1), "seed = -1"),
        (lambda: DFAConfig(lr=0.0), "lr = 0.0"),
        (lambda: SPSAConfig(epsilon=0.0), "epsilon = 0.0"),
        (lambda: SPSAConfig(physics_epsilon=-1.0), "physics_epsilon = -1.0"),
        (lambda: SPSAConfig(estimates=0), "estimates = 0"),
        (lambda: SPSAConfig(physics_lr=0.0), "physics_lr = 0.0"),
        (lambda: SPSAConfig(include_physics="yes"), "include_physics = 'yes'"),
        (lambda: HSICConfig(beta=0.0), "beta = 0.0"),
        (lambda: HSICConfig(sigma_t=-0.5), "sigma_t = -0.5"),
        (lambda: HSICConfig(normalization="cca"), "normalization = 'cca'"),
        (lambda: HSICConfig(width_rule="widest"), "width_rule = 'widest'"),
    ],
)
def test_bad_settings_raise_config_errors_naming_them(make, message):
    with pytest.raises(ConfigError, match=message):
        make().validate()


def test_rules_refuse_a_network_without_linear_stages():
    net = PhysicalNetwork.build("resistive", 4, [6, 3], 2, seed=0)
    for rule, config in ((DFA, DFAConfig()), (SPSA, SPSAConfig()), (HSICBottleneck, HSICConfig())):
        with pytest.raises(ConfigError, match="has none"):
            rule(net, config, total_steps=1)
