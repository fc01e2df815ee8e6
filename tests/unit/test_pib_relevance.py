"""PIB's extra relevance terms (similarity matching, per-unit heads) and compression profiles:
gradients against autograd, locality, hardware cost and state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pnnkit.errors import ConfigError
from pnnkit.info import unit_normalize
from pnnkit.info.similarity import label_similarity, similarity_matching
from pnnkit.learning import PIB, rule_config
from pnnkit.learning.base import softmax_cross_entropy
from pnnkit.physics import linear_twin
from tests.fixtures.configs import sgd
from tests.fixtures.spies import batch


def centred_cosine(t: torch.Tensor) -> torch.Tensor:
    c = t - t.mean(dim=1, keepdim=True)
    v = c / c.norm(dim=1, keepdim=True)
    return v @ v.T


def test_label_similarity_is_the_cosine_of_centred_one_hot_rows():
    y = torch.tensor([0, 2, 1, 2, 0, 3])
    expected = centred_cosine(F.one_hot(y, 4).double())
    torch.testing.assert_close(label_similarity(y, 4, torch.float64), expected)
    assert label_similarity(y, 4)[0, 1] == pytest.approx(-1 / 3)


def test_similarity_matching_value_and_gradient_are_autograds():
    g = torch.Generator().manual_seed(3)
    t = torch.randn(20, 7, generator=g, dtype=torch.float64)
    target = label_similarity(torch.arange(20) % 4, 4, torch.float64)
    loss, grad = similarity_matching(t, target)
    leaf = t.clone().requires_grad_(True)
    reference = (centred_cosine(leaf) - target).square().mean()
    (expected,) = torch.autograd.grad(reference, leaf)
    assert loss == pytest.approx(float(reference.detach()), rel=1e-12)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy_gradients_are_autograds(weighted):
    g = torch.Generator().manual_seed(5)
    t = torch.randn(16, 6, generator=g, dtype=torch.float64)
    w = torch.randn(3, 6, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    y = torch.arange(16) % 3
    weights = torch.rand(16, generator=g, dtype=torch.float64) if weighted else None
    loss, grad_wb, grad_t = softmax_cross_entropy(w, b, t, y, weights=weights, feature_grad=True)
    leaves = [v.clone().requires_grad_(True) for v in (w, b, t)]
    per_sample = F.cross_entropy(
        unit_normalize(leaves[2]) @ leaves[0].T + leaves[1], y, reduction="none"
    )
    share = (
        torch.full((16,), 1 / 16, dtype=torch.float64)
        if weights is None
        else weights / weights.sum()
    )
    reference = (share * per_sample).sum()
    dw, db, dt = torch.autograd.grad(reference, leaves)
    assert loss == pytest.approx(float(reference.detach()), rel=1e-12)
    torch.testing.assert_close(grad_wb, torch.cat([dw, db[:, None]], 1))
    torch.testing.assert_close(grad_t, dt)


def test_update_with_every_relevance_term_is_the_exact_local_gradient(spy_network):
    """With the similarity and head terms on, the outer-product update of each unit is still
    -lr * dL_k/dW by autograd through an exact model of that unit alone."""
    x, y = batch(n=24)
    net = spy_network()
    config = sgd("pib", lr=0.1, similarity_weight=3.0, head_weight=2.0, gamma=0.5)
    rule = PIB(net, config, total_steps=1)
    g = torch.Generator().manual_seed(9)
    for k in range(2):  # non-zero heads, so that their term reaches the units
        rule.heads.weights[k].copy_(torch.randn(rule.heads.weights[k].shape, generator=g))
    heads = [w.clone() for w in rule.heads.weights]
    weights = [u.stage.read_parameters() for u in net.units]
    rule.train_step(x, y)
    est = config.estimator
    y_gram = est.label_gram(y, 3)
    target = label_similarity(y, 3)
    h = x
    for unit, w, head in zip(net.units, weights, heads, strict=True):
        w = w.clone().requires_grad_(True)
        t = torch.relu(linear_twin(h, w))
        i_xt, i_ty = est.terms(est.input_gram(x), t, y_gram)
        similarity = (centred_cosine(t) - target).square().mean()
        ce = F.cross_entropy(unit_normalize(t) @ head[:, :-1].T + head[:, -1], y)
        loss = 0.5 * i_xt - config.beta * i_ty + 3.0 * similarity + 2.0 * ce
        (grad,) = torch.autograd.grad(loss, w)
        torch.testing.assert_close(unit.stage.deltas[0], -config.lr * grad, rtol=1e-4, atol=1e-6)
        h = t.detach()


def test_heads_cost_no_physical_query_and_touch_no_hardware(spy_network):
    x, y = batch(32)
    counters, writes = [], []
    for head_weight in (0.0, 5.0):
        net = spy_network()  # its twin() raises
        rule = PIB(net, sgd("pib", lr=0.1, head_weight=head_weight), total_steps=4)
        for _ in range(4):
            rule.train_step(x, y)
        counters.append(net.counters())
        writes.append([len(u.stage.deltas) for u in net.units])
        if head_weight:
            assert all(w.abs().sum() > 0 for w in rule.heads.weights)  # the heads learned
    assert counters[0].physical_queries == counters[1].physical_queries
    assert counters[0].passes == counters[1].passes
    assert writes[0] == writes[1] == [4, 4]


def test_heads_are_saved_and_restored_exactly(spy_network):
    x, y = batch(32)
    net = spy_network()
    rule = PIB(net, sgd("pib", lr=0.1, head_weight=1.0, optimizer="adam"), total_steps=6)
    for _ in range(2):
        rule.train_step(x, y)
    state = rule.state_dict()
    other_net = spy_network()
    other_net.load_state_dict(net.state_dict())
    other = PIB(other_net, sgd("pib", lr=0.1, head_weight=1.0, optimizer="adam"), total_steps=6)
    other.load_state_dict(state)
    rule.train_step(x, y)
    other.train_step(x, y)
    for a, b in zip(rule.heads.weights, other.heads.weights, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gamma_profile_and_schedule(spy_network):
    net = spy_network(widths=(8, 8, 8, 8))
    rule = PIB(
        net, sgd("pib", lr=0.1, gamma=2.0, gamma_profile="rising", gamma_schedule="ramp"), 10
    )
    rule.step_count = 5
    assert [rule.unit_gamma(k) for k in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    rule.step_count = 20  # past the end: the ramp stays at its top
    assert rule.unit_gamma(0) == pytest.approx(0.5)
    plain = PIB(net, sgd("pib", lr=0.1, gamma=2.0), 10)
    assert [plain.unit_gamma(k) for k in range(4)] == [2.0] * 4


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"beta": 0.0, "similarity_weight": 0.0, "head_weight": 0.0}, "relevance term"),
        ({"head_weight": -1.0}, "head_weight"),
        ({"similarity_weight": float("nan")}, "similarity_weight"),
        ({"gamma_profile": "falling"}, "gamma_profile"),
        ({"gamma_schedule": "cosine"}, "gamma_schedule"),
    ],
)
def test_config_errors_name_the_setting(overrides, field):
    with pytest.raises(ConfigError, match=field):
        rule_config("pib", overrides)


def test_label_terms_refused_without_labels(spy_network):
    x, y = batch(32)
    net = spy_network()
    rule = PIB(net, sgd("pib", lr=0.1, head_weight=1.0), total_steps=1)
    y_gram = rule.config.estimator.label_gram(y, 3)
    with pytest.raises(ConfigError, match="need class labels"):
        rule.bottleneck_step(x, y_gram, lambda t: 0.0)


def test_rows_without_a_direction_get_no_gradient():
    t = torch.randn(6, 5, generator=torch.Generator().manual_seed(2))
    t[2] = 0.7  # no spread over the features
    t[4] = 0.0
    _, grad = similarity_matching(t, label_similarity(torch.arange(6) % 3, 3))
    assert torch.isfinite(grad).all()
    assert grad[2].abs().max() == 0 and grad[4].abs().max() == 0
    w, b = torch.randn(3, 5), torch.randn(3)
    _, _, grad_t = softmax_cross_entropy(w, b, t, torch.arange(6) % 3, feature_grad=True)
    assert grad_t[4].abs().max() == 0 and grad_t[2].abs().max() > 0


def test_reinforcement_learning_keeps_its_measured_pib_settings():
    from pnnkit.rl.config import RLConfig

    rule = RLConfig(method="pib").rule_config()
    assert (rule.head_weight, rule.similarity_weight, rule.beta, rule.lr) == (0, 0, 10, 3e-4)
    assert rule.readout_lr == 1e-2
    assert (rule.estimator.alpha, rule.estimator.solver) == (0.5, "autograd")
    tuned = RLConfig(method="pib", rule_options={"estimator": {"sigma2": 1.0}}).rule_config()
    assert tuned.estimator.alpha == 0.5 and tuned.estimator.sigma2 == 1.0


def test_a_checkpoint_from_before_the_relevance_terms_resumes_without_them(tmp_path):
    from pnnkit.experiment import TrainConfig, Trainer, train
    from pnnkit.results import RunFolder

    config = TrainConfig(
        dataset="iris", hidden=[8], epochs=2, batch_size=32, calibration_samples=32,
        info_samples=32, rule_options={"head_weight": 0.0, "similarity_weight": 0.0},
        out=str(tmp_path),
    )  # fmt: skip
    train(config, progress=False)
    folder = RunFolder(tmp_path)
    state = folder.load_checkpoint()
    for key in ("head_weight", "similarity_weight", "gamma_profile", "gamma_schedule"):
        del state["config"]["rule_options"][key]  # as an earlier version wrote it
    folder.save_checkpoint(state)
    resumed = Trainer.resume(tmp_path, overrides=["epochs=3"])
    assert resumed.rule.heads is None and resumed.rule.config.similarity_weight == 0
    resumed.train(progress=False)
    assert [m["epoch"] for m in folder.read_metrics()] == [1, 2, 3]


def test_heads_refuse_a_state_saved_without_them(spy_network):
    net = spy_network()
    state = PIB(net, sgd("pib", lr=0.1, head_weight=0.0), total_steps=1).state_dict()
    with pytest.raises(ConfigError, match="saved state has none"):
        PIB(spy_network(), sgd("pib", lr=0.1, head_weight=1.0), total_steps=1).load_state_dict(
            state
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_relevance_gradients_on_cuda_match_cpu():
    g = torch.Generator().manual_seed(11)
    t, y = torch.randn(64, 16, generator=g), torch.arange(64) % 4
    w, b = torch.randn(4, 16, generator=g), torch.randn(4, generator=g)
    dev = torch.device("cuda")
    cpu = similarity_matching(t, label_similarity(y, 4))
    gpu = similarity_matching(t.to(dev), label_similarity(y.to(dev), 4))
    assert gpu[1].device.type == "cuda" and gpu[0] == pytest.approx(cpu[0], rel=1e-5)
    torch.testing.assert_close(gpu[1].cpu(), cpu[1], rtol=1e-4, atol=1e-6)
    cpu_ce = softmax_cross_entropy(w, b, t, y, feature_grad=True)
    gpu_ce = softmax_cross_entropy(w.to(dev), b.to(dev), t.to(dev), y.to(dev), feature_grad=True)
    assert gpu_ce[0] == pytest.approx(cpu_ce[0], rel=1e-5)
    for got, want in zip(gpu_ce[1:], cpu_ce[1:], strict=True):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-6)


def test_label_similarity_is_formed_once_per_step_and_never_stale(spy_network):
    rule = PIB(spy_network(), sgd("pib", lr=0.1), total_steps=1)
    y = torch.arange(12) % 3
    first = rule.label_similarity(y, torch.float32)
    assert rule.label_similarity(y, torch.float32) is first  # the same labels: reused
    y[0] = 1  # changed in place: formed again
    torch.testing.assert_close(rule.label_similarity(y, torch.float32), label_similarity(y, 3))
    other = torch.arange(12) % 2
    torch.testing.assert_close(
        rule.label_similarity(other, torch.float32), label_similarity(other, 3)
    )
