"""Learning rules: PIB's locality and exact local gradient, backprop against torch, optimisers."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.info import BottleneckEstimator, mutual_information, unit_normalize
from pnnkit.learning import (
    PIB,
    Backprop,
    RuleConfig,
    UpdateRule,
    cosine_lr,
    rule_config,
)
from pnnkit.learning.base import LocalReadout
from pnnkit.network import ACTIVATIONS, PhysicalNetwork
from pnnkit.physics import linear_twin
from tests.fixtures.configs import sgd
from tests.fixtures.spies import batch


def test_pib_never_measures_with_autograd_and_never_feeds_a_graph_downstream(spy_network):
    assert PIB.model_free
    net = spy_network()  # its twin() raises: PIB must never ask for a model
    rule = PIB(net, sgd("pib", lr=0.1), total_steps=3)
    x, y = batch(32)
    for _ in range(3):
        rule.train_step(x.requires_grad_(True), y)
    for unit in net.units:
        assert unit.stage.grad_enabled_during_measure == [False] * 3
        assert unit.stage.input_required_grad == [False] * 3


def test_no_gradient_flows_between_units(spy_network):
    """Unit 1's update is the same whatever unit 2 holds: nothing comes back from downstream."""
    x, y = batch(32)
    first, second = [], []
    for scale in (1.0, -50.0):
        net = spy_network()
        with torch.no_grad():
            net.units[1].stage.weight *= scale
        PIB(net, sgd("pib", lr=0.1), total_steps=1).train_step(x, y)
        first.append(net.units[0].stage.deltas[0])
        second.append(net.units[1].stage.deltas[0])
    torch.testing.assert_close(first[0], first[1], rtol=0, atol=0)
    # ... while unit 2's own update does depend on what it holds
    assert not torch.allclose(second[0], second[1])


@pytest.mark.parametrize("compress_against", ["input", "unit_input"])
def test_outer_product_update_is_the_exact_local_gradient(compress_against, spy_network):
    """On an ideal layer, PIB's outer-product update equals -lr * dL_k/dW by autograd through an
    exact model of that one unit (route (a) of pib.md is exact, not an approximation)."""
    x, y = batch(n=24)
    net = spy_network()
    # the bottleneck alone (the relevance terms' own test is in test_pib_relevance.py)
    config = sgd(
        "pib", lr=0.1, compress_against=compress_against, similarity_weight=0.0, head_weight=0.0
    )
    weights = [u.stage.read_parameters() for u in net.units]
    PIB(net, config, total_steps=1).train_step(x, y)
    est = config.estimator
    y_gram = est.label_gram(y, 3)
    h = x
    for unit, w in zip(net.units, weights, strict=False):
        w = w.clone().requires_grad_(True)
        t = torch.relu(linear_twin(h, w))
        x_gram = est.input_gram(x if compress_against == "input" else h)
        i_xt, i_ty = est.terms(x_gram, t, y_gram)
        loss = config.gamma * i_xt - config.beta * i_ty
        (grad,) = torch.autograd.grad(loss, w)
        torch.testing.assert_close(unit.stage.deltas[0], -config.lr * grad)
        h = t.detach()


def test_pib_records_information_terms_per_unit(spy_network):
    net = spy_network(widths=(10, 9, 8))
    stats = PIB(net, sgd("pib", lr=0.1), total_steps=1).train_step(*batch(32))
    assert len(stats.i_xt) == len(stats.i_ty) == 3
    assert all(v >= -1e-6 for v in stats.i_xt + stats.i_ty)


def test_pib_learns_a_separable_problem_on_ideal_units():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(3, 6, generator=g) * 3
    y = torch.arange(300) % 3
    x = centres[y] + torch.randn(300, 6, generator=g)
    net = PhysicalNetwork.build("ideal", 6, [16, 16], 3, seed=0)
    rule = PIB(net, rule_config("pib", {"lr": 0.01}), total_steps=150)
    for step in range(150):
        idx = torch.arange(step * 64, step * 64 + 64) % 300
        rule.train_step(x[idx], y[idx])
    assert (net.predict(x) == y).float().mean() > 0.95


def test_backprop_matches_torch_autograd_on_the_same_mlp(tiny_network):
    x, y = batch(32)
    net = tiny_network()
    w = [u.stage.read_parameters() for u in net.units]
    reference = torch.nn.Sequential(
        torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 8), torch.nn.ReLU()
    )
    with torch.no_grad():
        for layer, weight in zip([reference[0], reference[2]], w, strict=False):
            layer.weight.copy_(weight[:, :-1])
            layer.bias.copy_(weight[:, -1])
    readout = torch.nn.Linear(8, 3)
    readout.load_state_dict(net.readout.state_dict())
    params = [*reference.parameters(), *readout.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    loss = F.cross_entropy(readout(F.normalize(reference(x), dim=1, eps=1e-8)), y)
    loss.backward()
    opt.step()
    config = rule_config(
        "backprop", {"optimizer": "sgd", "lr": 0.1, "readout_lr": 0.1, "schedule": "constant"}
    )
    rule = Backprop(net, config, total_steps=1)
    stats = rule.train_step(x, y)
    assert stats.loss == pytest.approx(float(loss.detach()))
    assert net.counters().physical_queries == 0  # trained on the twin alone...
    rule.before_evaluation()  # ... and deployed to the hardware to be evaluated
    for unit, layer in zip(net.units, [reference[0], reference[2]], strict=False):
        got = unit.stage.read_parameters()
        torch.testing.assert_close(got[:, :-1], layer.weight.detach())
        torch.testing.assert_close(got[:, -1], layer.bias.detach())


def test_backprop_refuses_a_substrate_without_an_exact_model():
    net = PhysicalNetwork.build("crossbar", 6, [8], 3)
    with pytest.raises(ConfigError, match=r"exact differentiable model.*crossbar"):
        Backprop(net, RuleConfig(), total_steps=1)


def test_adam_update_rule_matches_torch_adam():
    g = torch.Generator().manual_seed(0)
    param = torch.nn.Parameter(torch.zeros(4, 3))
    opt = torch.optim.Adam([param], lr=0.01)
    rule = UpdateRule("adam")
    total = torch.zeros(4, 3)
    for _ in range(5):
        grad = torch.randn(4, 3, generator=g)
        param.grad = grad.clone()
        opt.step()
        total += rule.delta(grad, 0.01)
    torch.testing.assert_close(total, param.detach())


def test_cosine_schedule_endpoints():
    assert cosine_lr(0.1, 0, 100) == pytest.approx(0.1)
    assert cosine_lr(0.1, 50, 100) == pytest.approx(0.05)
    assert cosine_lr(0.1, 100, 100) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("old", "solver"), [("closed_form", "exact"), ("autograd", "autograd"), ("lanczos", "lanczos")]
)
def test_config_files_with_the_old_estimator_names_keep_loading(old, solver):
    """``entropy_method`` (and its value ``closed_form``) is ``solver`` (``exact``) now; run
    folders and config files written before the rename read the same settings."""
    config = rule_config("pib", {"estimator": {"entropy_method": old}})
    assert config.estimator.solver == solver
    assert "entropy_method" not in config.to_dict()["estimator"]
    both = rule_config("pib", {"estimator": {"entropy_method": old, "solver": "lanczos"}})
    assert both.estimator.solver == "lanczos"  # the new name, given beside it, wins


def test_rule_config_errors_name_the_setting():
    with pytest.raises(ConfigError, match="beta = -1"):
        rule_config("pib", {"beta": -1})
    with pytest.raises(ConfigError, match=r"unknown PIBConfig field.*'betta'"):
        rule_config("pib", {"betta": 3})
    with pytest.raises(ConfigError, match="unknown BottleneckEstimator field"):
        rule_config("pib", {"estimator": {"width": 1}})
    with pytest.raises(ConfigError, match="unknown method 'magic'"):
        rule_config("magic")
    with pytest.raises(ConfigError, match="optimizer"):
        rule_config("backprop", {"optimizer": "lbfgs"})
    with pytest.raises(ConfigError, match=r"PIBConfig.lr = 'abc' is invalid: must be a number"):
        rule_config("pib", {"lr": "abc"})
    with pytest.raises(ConfigError, match="must be a finite number"):
        rule_config("pib", {"estimator": {"alpha": float("inf")}})
    with pytest.raises(ConfigError, match="expects a table"):
        rule_config("pib", {"estimator": 5})
    assert rule_config("pib", {"lr": "0.01", "estimator": {"alpha": "2"}}).estimator.alpha == 2.0


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_bottleneck_terms_are_the_two_mutual_informations(alpha):
    est = BottleneckEstimator(alpha=alpha)
    x, y = batch(n=20)
    t = torch.relu(torch.randn(20, 7))
    x_gram, y_gram = est.input_gram(x), est.label_gram(y, 3)
    i_xt, i_ty = est.terms(x_gram, t, y_gram)
    t_gram = est.output_gram(t)
    torch.testing.assert_close(i_xt, mutual_information(x_gram, t_gram, alpha))
    torch.testing.assert_close(i_ty, mutual_information(t_gram, y_gram, alpha))


def test_data_driven_kernel_width_rules():
    t = torch.relu(torch.randn(30, 5, generator=torch.Generator().manual_seed(0)))
    fixed = BottleneckEstimator(sigma2=0.5).output_gram(t)
    median = BottleneckEstimator(sigma2=1.0, width_rule="median").output_gram(t)
    directions = torch.nn.functional.normalize(t, dim=1)
    sigma = torch.pdist(directions).median()  # odd count of pairs: the exact middle value
    expected = torch.exp(-(torch.cdist(directions, directions) ** 2) / (2 * sigma**2)) / 30
    torch.testing.assert_close(median, expected, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(fixed, median)
    with pytest.raises(ConfigError, match="width_rule = 'widest'"):
        rule_config("pib", {"estimator": {"width_rule": "widest"}})


@pytest.mark.parametrize("weighted", [False, True])
def test_local_readout_is_autograd_cross_entropy_with_torch_adam(weighted):
    """The written-out readout step equals autograd's gradient of the (weighted) mean
    cross-entropy of ``network.logits`` followed by torch's Adam, step after step (weights
    given in float64 for float32 features)."""
    g = torch.Generator().manual_seed(3)
    net = PhysicalNetwork.build("ideal", 6, [8], 4, seed=0)
    ref = torch.nn.Linear(8, 4)
    ref.load_state_dict(net.readout.state_dict())
    opt = torch.optim.Adam(ref.parameters(), lr=0.02)
    trainer = LocalReadout(net, lr=0.01)
    for _ in range(4):
        features = torch.relu(torch.randn(16, 8, generator=g))
        features[3] = 0.0  # a row too short to normalise
        y = torch.randint(0, 4, (16,), generator=g)
        w = torch.rand(16, generator=g, dtype=torch.float64) if weighted else torch.ones(16)
        with torch.no_grad():
            scores = net.logits(features)
        ce = F.cross_entropy(ref(unit_normalize(features)), y, reduction="none")
        torch.testing.assert_close(ref(unit_normalize(features)), scores)
        want = (w.float() * ce).sum() / w.float().sum()
        opt.zero_grad()
        want.backward()
        opt.step()
        got = trainer.train(features, y, 2.0, w if weighted else None)  # lr 0.01 x 2
        assert got == pytest.approx(float(want.detach()), rel=1e-6)
    torch.testing.assert_close(net.readout.weight, ref.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(net.readout.bias, ref.bias, atol=1e-6, rtol=1e-5)


def test_local_readout_continues_from_a_torch_adam_state():
    """Checkpoints written while the readout used torch.optim.Adam load and continue exactly as
    that optimiser would."""
    g = torch.Generator().manual_seed(4)
    net = PhysicalNetwork.build("ideal", 6, [8], 4, seed=0)
    ref = torch.nn.Linear(8, 4)
    ref.load_state_dict(net.readout.state_dict())
    opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    batches = [
        (torch.randn(12, 8, generator=g), torch.randint(0, 4, (12,), generator=g)) for _ in range(3)
    ]

    def torch_step(features, y):
        opt.zero_grad()
        F.cross_entropy(ref(unit_normalize(features)), y).backward()
        opt.step()

    for features, y in batches[:2]:
        torch_step(features, y)
    net.readout.load_state_dict(ref.state_dict())
    trainer = LocalReadout(net, lr=0.01)
    buffer = io.BytesIO()  # as a checkpoint holds it
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    trainer.load_state_dict(torch.load(buffer, weights_only=True))
    torch_step(*batches[2])
    trainer.train(*batches[2], 1.0)
    torch.testing.assert_close(net.readout.weight, ref.weight, atol=1e-6, rtol=1e-5)
    fresh = LocalReadout(net, lr=0.01)
    fresh.load_state_dict(torch.optim.Adam(torch.nn.Linear(8, 4).parameters()).state_dict())
    assert fresh.update.steps == 0 and fresh.update.m is None


@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_activation_derivatives_are_autograds(activation):
    f, f_prime = ACTIVATIONS[activation]
    z = torch.randn(50, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    z[0, :3] = 0.0  # the rectifier's kink: derivative 0, as (z > 0)
    leaf = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(leaf).sum(), leaf)
    torch.testing.assert_close(f_prime(z), grad)
