"""Forward-forward: exact local outer-product updates, two passes per sample, goodness inference."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.learning.forward_forward import FFConfig, ForwardForward
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics import linear_twin
from tests.fixtures.spies import EnergySpy, batch


def sgd(**overrides) -> FFConfig:
    return FFConfig(**{"optimizer": "sgd", "schedule": "constant", "lr": 0.05, **overrides})


def reference_goodness(kind: str, t: torch.Tensor, zeta: torch.Tensor) -> torch.Tensor:
    """The documented goodness, written out independently of the rule."""
    if kind == "energy":
        return (t**2).sum(dim=1) / t.shape[1]
    return F.cosine_similarity(t.abs(), zeta.expand_as(t), dim=1)


def next_input(t: torch.Tensor, normalize: bool) -> torch.Tensor:
    return F.normalize(t, dim=1) * t.shape[1] ** 0.5 if normalize else t


@pytest.mark.parametrize(
    ("goodness", "embedding", "normalize"),
    [("cosine", "replace", True), ("energy", "superpose", False), ("cosine", "superpose", False)],
)
def test_outer_product_update_is_the_exact_gradient_of_each_units_loss(
    goodness, embedding, normalize, spy_network, tiny_batch
):
    """On ideal layers the programmed change is -lr * dL_k/dW by autograd through an exact
    model of unit k alone, its inputs being the (detached) outputs of the unit before."""
    x, y = tiny_batch
    net = spy_network()
    config = sgd(goodness=goodness, label_embedding=embedding, normalize_between=normalize)
    rule = ForwardForward(net, config, total_steps=1)
    weights = [u.stage.read_parameters() for u in net.units]
    before = rule.generator.get_state()
    rule.train_step(x, y)
    rule.generator.set_state(before)
    y_neg = rule.negative_labels(y)
    assert (y_neg != y).all()
    h_pos, h_neg = rule.embed(x, y), rule.embed(x, y_neg)
    for unit, w, zeta in zip(net.units, weights, rule.zetas, strict=True):
        w = w.clone().requires_grad_(True)
        t_pos, t_neg = torch.relu(linear_twin(h_pos, w)), torch.relu(linear_twin(h_neg, w))
        margin = reference_goodness(goodness, t_pos, zeta) - reference_goodness(
            goodness, t_neg, zeta
        )
        loss = torch.log1p(torch.exp(-config.theta * margin)).mean()
        (grad,) = torch.autograd.grad(loss, w)
        assert len(unit.stage.deltas) == 1
        torch.testing.assert_close(unit.stage.deltas[0], -config.lr * grad)
        assert grad.abs().sum() > 0
        h_pos, h_neg = next_input(t_pos.detach(), normalize), next_input(t_neg.detach(), normalize)


@pytest.mark.parametrize("goodness", ["cosine", "energy"])
def test_a_small_step_widens_every_units_margin(goodness, spy_network):
    """The update moves g+ - g- up: each unit, given the inputs it had, separates positive from
    negative data better after the step (and its loss falls). At a small theta the loss is
    nearly linear in the margin, so its mean, not only a weighted one, must grow."""
    x, y = batch(n=48)
    net = spy_network()
    rule = ForwardForward(net, sgd(goodness=goodness, lr=0.05, theta=0.2), total_steps=1)
    before = rule.generator.get_state()
    weights = [u.stage.read_parameters() for u in net.units]
    rule.train_step(x, y)
    rule.generator.set_state(before)
    h_pos, h_neg = rule.embed(x, y), rule.embed(x, rule.negative_labels(y))
    for k, (unit, w_old) in enumerate(zip(net.units, weights, strict=True)):
        w_new = unit.stage.read_parameters()
        margins, losses = [], []
        for w in (w_old, w_new):
            t_pos, t_neg = torch.relu(linear_twin(h_pos, w)), torch.relu(linear_twin(h_neg, w))
            margins.append(float((rule.goodness(k, t_pos) - rule.goodness(k, t_neg)).mean()))
            losses.append(float(rule.unit_loss(k, t_pos, t_neg)))
        assert margins[1] > margins[0]
        assert losses[1] < losses[0]
        t_pos, t_neg = torch.relu(linear_twin(h_pos, w_old)), torch.relu(linear_twin(h_neg, w_old))
        h_pos, h_neg = rule.pass_on(t_pos), rule.pass_on(t_neg)


def test_two_passes_per_sample_and_substrate_model_free_and_without_autograd(spy_substrate):
    """Training measures every substrate exactly twice per sample (positive, negative), fixed
    physics in front of a stage included; inference costs C passes per sample; no twin is ever
    asked for and no measurement runs with autograd."""
    assert ForwardForward.model_free
    physics = spy_substrate(6, 9, seed=5)  # stands in for fixed physics: measured, never modelled
    units = [
        Unit(spy_substrate(9, 12, seed=1), physics=physics),
        Unit(spy_substrate(12, 8, seed=2)),
    ]
    net = PhysicalNetwork(units, 3)
    rule = ForwardForward(net, FFConfig(), total_steps=3)
    x, y = batch(n=20)
    for _ in range(3):
        rule.train_step(x.requires_grad_(True), y)
    substrates = net.substrates()
    assert len(substrates) == 3
    for s in substrates:
        assert s.counters.physical_queries == 2 * 20 * 3
        assert s.counters.passes == 2 * 3
        assert s.grad_enabled_during_measure == [False] * 6
        assert s.input_required_grad == [False] * 6
    assert physics.deltas == []  # the physics is not trained, only the stages
    assert [len(u.stage.deltas) for u in units] == [3, 3]
    rule.predict(x[:7])
    for s in substrates:
        assert s.counters.physical_queries == 2 * 20 * 3 + 3 * 7
        assert s.counters.passes == 2 * 3 + 3


def test_label_embeddings_do_what_the_docstring_says(spy_network):
    x, y = batch(n=9, d=6)
    net = spy_network()
    replace = ForwardForward(net, FFConfig(label_scale=2.5), total_steps=1)
    out = replace.embed(x, y)
    torch.testing.assert_close(out[:, :3], 2.5 * F.one_hot(y, 3).float())
    torch.testing.assert_close(out[:, 3:], x[:, 3:])
    superpose = ForwardForward(
        net, FFConfig(label_embedding="superpose", label_scale=0.5), total_steps=1
    )
    out = superpose.embed(x, y)
    pattern = ((out - x) / 0.5).round()
    torch.testing.assert_close(out, x + 0.5 * pattern)
    assert set(pattern.unique().tolist()) == {-1.0, 1.0}  # every feature moves, by +-scale
    for c in range(3):
        rows = pattern[y == c]
        torch.testing.assert_close(rows, rows[:1].expand_as(rows))  # one fixed pattern a class
    assert len({tuple(pattern[y == c][0].tolist()) for c in range(3)}) == 3
    torch.testing.assert_close(superpose.embed(x, y), out)  # fixed across calls
    assert superpose.embed(x, y).data_ptr() != x.data_ptr()
    assert replace.embed(x, y).data_ptr() != x.data_ptr()


def test_wrong_labels_are_uniform_over_the_wrong_classes(spy_network):
    rule = ForwardForward(spy_network(classes=4, in_features=6), FFConfig(), total_steps=1)
    y = torch.zeros(8000, dtype=torch.long)
    neg = rule.negative_labels(y)
    counts = torch.bincount(neg, minlength=4).float()
    assert counts[0] == 0
    torch.testing.assert_close(counts[1:] / 8000, torch.full((3,), 1 / 3), atol=0.02, rtol=0)


def test_goodness_directions_are_nonnegative_unit_vectors(spy_network):
    rule = ForwardForward(spy_network(), FFConfig(), total_steps=1)
    for zeta, width in zip(rule.zetas, (12, 8), strict=True):
        assert zeta.shape == (width,)
        assert (zeta >= 0).all()
        assert float(zeta.norm()) == pytest.approx(1.0)


@pytest.mark.parametrize("skip_first", [False, True])
def test_predict_is_the_label_of_largest_summed_goodness(skip_first, spy_network):
    x, y, _ = gaussian_classes(n=40, d=6)
    net = spy_network(widths=(12, 10, 8))
    rule = ForwardForward(net, FFConfig(skip_first_goodness=skip_first), total_steps=10)
    for _ in range(10):  # a little training, so that the answer differs between samples
        rule.train_step(x, y)
    weights = [u.stage.read_parameters() for u in net.units]
    scores = torch.zeros(40, 3)
    for c in range(3):
        h = x.clone()
        h[:, :3] = 3.0 * F.one_hot(torch.full((40,), c), 3).float()
        for k, (w, zeta) in enumerate(zip(weights, rule.zetas, strict=True)):
            t = torch.relu(linear_twin(h, w))
            if k > 0 or not skip_first:
                scores[:, c] += reference_goodness("cosine", t, zeta)
            h = next_input(t, True)
    torch.testing.assert_close(rule.label_goodness(x), scores)
    expected = scores.argmax(dim=1)
    assert len(expected.unique()) > 1  # the check is not trivial
    torch.testing.assert_close(rule.predict(x, batch_size=16), expected)


def gaussian_classes(n=600, d=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, d, generator=g) * 2
    y = torch.arange(n) % 3
    return centres[y] + torch.randn(n, d, generator=g), y, g


def test_learns_three_gaussian_classes():
    x, y, g = gaussian_classes()
    net = PhysicalNetwork.build("ideal", 12, [32, 32], 3, seed=0)
    steps = 100
    rule = ForwardForward(net, FFConfig(), total_steps=steps)
    for step in range(steps):
        idx = torch.arange(step * 64, step * 64 + 64) % 600
        rule.train_step(x[idx], y[idx])
    x_test, y_test = x[::2] + 0.3 * torch.randn(300, 12, generator=g), y[::2]
    assert (rule.predict(x_test) == y_test).float().mean() > 0.9


@pytest.mark.parametrize("embedding", ["replace", "superpose"])
def test_state_dict_round_trip_resumes_identically(embedding, spy_network, tiny_batch):
    x, y = tiny_batch
    net_a = spy_network()
    rule_a = ForwardForward(net_a, FFConfig(label_embedding=embedding), total_steps=10)
    for _ in range(2):
        rule_a.train_step(x, y)
    net_b = spy_network(seed=7)
    net_b.load_state_dict(copy.deepcopy(net_a.state_dict()))
    rule_b = ForwardForward(net_b, FFConfig(label_embedding=embedding, seed=99), total_steps=10)
    rule_b.load_state_dict(copy.deepcopy(rule_a.state_dict()))
    assert rule_b.step_count == 2
    rule_a.train_step(x, y)
    rule_b.train_step(x, y)
    for ua, ub in zip(net_a.units, net_b.units, strict=True):
        torch.testing.assert_close(ub.stage.deltas[-1], ua.stage.deltas[-1], rtol=0, atol=0)
    torch.testing.assert_close(rule_b.predict(x), rule_a.predict(x))
    other = ForwardForward(
        spy_network(),
        FFConfig(label_embedding="superpose" if embedding == "replace" else "replace"),
        total_steps=1,
    )
    with pytest.raises(ConfigError, match="label_embedding"):
        other.load_state_dict(rule_a.state_dict())


def test_seed_fixes_the_rules_random_draws(spy_network):
    net = spy_network()
    a = ForwardForward(net, FFConfig(seed=3), total_steps=1)
    b = ForwardForward(net, FFConfig(seed=3), total_steps=1)
    c = ForwardForward(net, FFConfig(seed=4), total_steps=1)
    torch.testing.assert_close(a.zetas[0], b.zetas[0])
    assert not torch.allclose(a.zetas[0], c.zetas[0])
    derived = [ForwardForward(spy_network(seed=s), FFConfig(), total_steps=1) for s in (0, 0, 1)]
    torch.testing.assert_close(derived[0].zetas[0], derived[1].zetas[0])
    assert not torch.allclose(derived[0].zetas[0], derived[2].zetas[0])


def test_config_errors_name_the_setting(spy_network):
    for values, message in [
        ({"theta": 0.0}, "theta = 0.0"),
        ({"goodness": "entropy"}, r"goodness = 'entropy'; choices"),
        ({"label_embedding": "append"}, r"label_embedding = 'append'; choices"),
        ({"label_scale": -1.0}, "label_scale = -1.0"),
        ({"seed": -2}, "seed = -2"),
        ({"normalize_between": "yes"}, "normalize_between"),
    ]:
        with pytest.raises(ConfigError, match=message):
            FFConfig(**values).validate()
    with pytest.raises(ConfigError, match=r"only 2.*superpose"):
        ForwardForward(spy_network(in_features=2), FFConfig(), total_steps=1)
    ForwardForward(spy_network(in_features=2), FFConfig(label_embedding="superpose"), 1)
    with pytest.raises(ConfigError, match="skip_first_goodness"):
        ForwardForward(spy_network(widths=(8,)), FFConfig(skip_first_goodness=True), 1)
    energy_net = PhysicalNetwork([Unit(None, "identity", EnergySpy(6, 8))], 3)
    with pytest.raises(ConfigError, match=r"no linear stage|has none"):
        ForwardForward(energy_net, FFConfig(), total_steps=1)
