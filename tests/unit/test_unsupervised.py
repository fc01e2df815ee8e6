"""Unsupervised multi-view PIB: exact local update, cost, no labels, views, task, evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pnnkit.config import build
from pnnkit.data import load_dataset
from pnnkit.errors import ConfigError
from pnnkit.experiment import TrainConfig
from pnnkit.experiment.evaluation import (
    Representation,
    kmeans_nmi,
    linear_probe,
    pca_representation,
    scores,
)
from pnnkit.info import gaussian_gram, mutual_information, normalize_gram, unit_normalize
from pnnkit.learning.multiview import (
    ImageLayout,
    MultiViewConfig,
    MultiViewPIB,
    Views,
    image_shape,
    view_terms,
)
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import SUBSTRATES, linear_twin
from pnnkit.physics.capabilities import EnergyBased, LinearStage
from pnnkit.physics.instrument import InstrumentSubstrate
from pnnkit.physics.measured import MeasuredSubstrate
from pnnkit.tasks.unsupervised import standardisation
from tests.fixtures.spies import batch as spy_batch
from tests.fixtures.spies import spy_network


def recording_network(widths=(10, 7), activation="tanh") -> PhysicalNetwork:
    """Spy units (they record their outputs and programs; their twin() raises), 5 inputs."""
    return spy_network(widths, in_features=5, activation=activation)


def batch(n=24, d=5, seed=0) -> torch.Tensor:
    return spy_batch(n, d, seed=seed)[0]


def sgd(**overrides) -> MultiViewConfig:
    values = {"optimizer": "sgd", "schedule": "constant", "lr": 0.1, **overrides}
    return build(MultiViewConfig, values)


@pytest.mark.parametrize("objective", ["instance", "views"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_update_is_the_exact_gradient_of_the_local_loss(objective, activation):
    """On ideal layers the two passes' outer products equal -lr * dL_k/dW by autograd through
    an exact model of the unit, for every unit (with its input the previous unit's two views)."""
    x = batch()
    net = recording_network(activation=activation)
    config = sgd(objective=objective, augment="noise", gamma=0.3)
    rule = MultiViewPIB(net, config, total_steps=1, seed=5)
    weights = [u.stage.read_parameters() for u in net.units]
    views_state = rule.views.generator.get_state()
    rule.train_step(x, None)
    replay = Views(config, 0, None)
    replay.generator.set_state(views_state)
    h1, h2 = replay(x)
    x_gram = config.estimator.input_gram(x)
    f = net.units[0].f
    for unit, w in zip(net.units, weights, strict=True):
        w = w.clone().requires_grad_(True)
        t1, t2 = f(linear_twin(h1, w)), f(linear_twin(h2, w))
        loss = rule.local_loss(view_terms(config.estimator, objective, x_gram, t1, t2))
        (grad,) = torch.autograd.grad(loss, w)
        assert unit.stage.deltas[0].abs().max() > 0
        torch.testing.assert_close(unit.stage.deltas[0], -config.lr * grad)
        h1, h2 = t1.detach(), t2.detach()


#: every registered substrate a layered network can be built of by name with its default config
#: (a recording and an instrument's driver cannot be named; an energy-based system has no stage)
BY_NAME = sorted(
    name
    for name, cls in SUBSTRATES.items()
    if not issubclass(cls, EnergyBased | MeasuredSubstrate | InstrumentSubstrate)
)


@pytest.mark.parametrize("substrate", BY_NAME)
def test_two_queries_per_unit_and_sample(substrate):
    n = 20
    net = PhysicalNetwork.build(substrate, 6, [8, 5], 3, seed=0)
    rule = MultiViewPIB(net, sgd(), total_steps=2)
    for _ in range(2):
        rule.train_step(batch(n, 6), None)
    hardware = net.substrates()
    # two units: each a linear stage, or a fixed physical system and the ideal stage after it
    assert len(hardware) == (2 if issubclass(SUBSTRATES[substrate], LinearStage) else 4)
    for s in hardware:
        assert (s.counters.physical_queries, s.counters.passes) == (2 * 2 * n, 2 * 2)


def test_identical_views_on_a_noiseless_substrate():
    """augment = none on an ideal layer: both passes measure the same outputs; the instance
    estimate of the shared information is then S(T), the views estimate 2 S(T) - S(T, T)."""
    x = batch()
    net = recording_network(widths=(9,))
    config = sgd(augment="none")
    MultiViewPIB(net, config, total_steps=1).train_step(x, None)
    first, second = net.units[0].stage.outputs
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    est = config.estimator
    t = torch.tanh(first)
    x_gram = est.input_gram(x)
    gram = est.output_gram(t)
    s_t = _entropy(gram, est.alpha)
    instance = view_terms(est, "instance", x_gram, t, t).views
    assert float(instance) == pytest.approx(s_t, rel=1e-5)
    # the joint of a Gaussian Gram with itself is the Gram at width sigma / sqrt(2)
    narrow = normalize_gram(gaussian_gram(unit_normalize(t), math.sqrt(est.sigma2 / 2)))
    expected = 2 * s_t - _entropy(narrow, est.alpha)
    views = view_terms(est, "views", x_gram, t, t).views
    assert float(views) == pytest.approx(expected, rel=1e-5)
    assert float(views) == pytest.approx(float(mutual_information(gram, gram, est.alpha)))
    assert float(views) < s_t


def _entropy(gram: torch.Tensor, alpha: float) -> float:
    lam = torch.linalg.eigvalsh(gram.double()).clamp_min(0)
    return float(torch.log2((lam**alpha).sum()) / (1 - alpha))


def test_the_substrate_noise_alone_makes_two_different_views():
    net = PhysicalNetwork.build("crossbar", 5, [6], 3, seed=0)
    outputs = []
    measure = net.units[0].measure

    def recording(h):
        out = measure(h)
        outputs.append(out.z)
        return out

    net.units[0].measure = recording
    MultiViewPIB(net, sgd(augment="none"), total_steps=1).train_step(batch(), None)
    assert len(outputs) == 2 and not torch.equal(*outputs)


def test_rule_is_model_free_and_refuses_units_without_a_linear_stage():
    assert MultiViewPIB.model_free
    net = recording_network()  # twin() raises
    MultiViewPIB(net, sgd(), total_steps=1).train_step(batch(), None)
    resistive = PhysicalNetwork.build("resistive", 5, [4, 3], 3)
    with pytest.raises(ConfigError, match="linear stage"):
        MultiViewPIB(resistive, sgd(), total_steps=1)


def test_state_dict_round_trip_resumes_identically():
    x0, x1 = batch(seed=0), batch(seed=1)
    first = recording_network()
    rule = MultiViewPIB(first, sgd(optimizer="adam", augment="noise"), total_steps=4, seed=3)
    rule.train_step(x0, None)
    second = recording_network()
    second.load_state_dict(first.state_dict())
    resumed = MultiViewPIB(second, sgd(optimizer="adam", augment="noise"), total_steps=4)
    resumed.load_state_dict(rule.state_dict())
    rule.train_step(x1, None)
    resumed.train_step(x1, None)
    for a, b in zip(first.units, second.units, strict=True):
        torch.testing.assert_close(a.stage.deltas[-1], b.stage.deltas[-1], rtol=0, atol=0)


def test_image_shape_is_read_from_pixel_names():
    digits = load_dataset("digits")
    assert image_shape(digits.feature_names) == (8, 8)
    assert image_shape(load_dataset("iris").feature_names) is None
    assert image_shape(["pixel_0_0", "pixel_1_0", "pixel_0_1", "pixel_1_1"]) is None
    assert image_shape(["pixel_0_0", "pixel_0_1", "pixel_1_0", "pixel_1_1"]) == (2, 2)


def test_shift_views_move_pixels_and_fill_with_black():
    """A single lit pixel in the middle of a 5x5 image lands within one pixel of where it was,
    with its value; the image's other pixels are black (0 in pixel units)."""
    mean, scale = torch.full((25,), 0.3), torch.full((25,), 2.0)
    pixels = torch.zeros(200, 25)
    pixels[:, 12] = 7.0  # row 2, column 2
    x = (pixels - mean) / scale
    views = Views(sgd(augment="shift"), 0, ImageLayout((5, 5), mean, scale))
    moved = views.one(x) * scale + mean
    lit = moved.argmax(dim=1)
    rows, cols = lit // 5, lit % 5
    assert rows.sub(2).abs().max() <= 1 and cols.sub(2).abs().max() <= 1
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == 9  # all 9 offsets drawn
    torch.testing.assert_close(moved.sum(dim=1), torch.full((200,), 7.0))
    # a pixel at the border can leave the image: uncovered pixels are black
    corner = torch.zeros(200, 25)
    corner[:, 0] = 7.0
    out = views.one((corner - mean) / scale) * scale + mean
    assert set(out.sum(dim=1).round().tolist()) == {0.0, 7.0}


def test_standardisation_undoes_the_loader():
    raw = load_dataset("digits", standardize=False)
    data = load_dataset("digits")
    mean, scale = standardisation(raw.x_train)
    torch.testing.assert_close(data.x_test * scale + mean, raw.x_test, atol=1e-4, rtol=1e-5)


def test_config_errors_name_the_setting():
    with pytest.raises(ConfigError, match=r"backprop.*'unsupervised'.*'pib'"):
        TrainConfig(task="unsupervised", method="backprop").validate()
    with pytest.raises(ConfigError, match=r"task = 'selfish'"):
        TrainConfig(task="selfish").validate()
    with pytest.raises(ConfigError, match=r"augment = 'blur'"):
        build(MultiViewConfig, {"augment": "blur"})
    with pytest.raises(ConfigError, match=r"objective = 'x'"):
        build(MultiViewConfig, {"objective": "x"})
    with pytest.raises(ConfigError, match=r"gamma = -1"):
        build(MultiViewConfig, {"gamma": -1})
    with pytest.raises(ConfigError, match=r"dropout = 1.0"):
        build(MultiViewConfig, {"dropout": 1.0})
    with pytest.raises(ConfigError, match=r"max_shift = 0"):
        build(MultiViewConfig, {"max_shift": 0})
    with pytest.raises(ConfigError, match=r"unknown MultiViewConfig field.*'beta'"):
        TrainConfig(task="unsupervised", rule_options={"beta": 3}).validate()
    with pytest.raises(ConfigError, match=r"shift.*pixel_R_C"):
        Views(sgd(augment="shift"), 0, None)
    assert Views(sgd(augment="auto"), 0, None).kind == "noise"


def test_rule_options_of_the_task_come_from_the_multiview_config():
    config = TrainConfig(task="unsupervised").with_overrides(
        ["rule.gamma=0.5", "rule.estimator.alpha=0.5", "rule.augment=noise"]
    )
    options = config.resolved()["rule_options"]
    assert (options["gamma"], options["augment"], options["estimator"]["alpha"]) == (
        0.5,
        "noise",
        0.5,
    )
    assert "beta" not in options and "objective" in options


def test_probe_and_nmi_on_separable_blobs():
    g = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = np.arange(300) % 3
    x = centres[y] + g.normal(size=(300, 2))
    labels = torch.from_numpy(y)
    rep = Representation(x[:200], x[200:])
    assert linear_probe(rep, labels[:200], labels[200:]) == 1.0
    assert kmeans_nmi(x[200:], labels[200:], 3) == pytest.approx(1.0)


def test_probe_nmi_and_pca_agree_with_sklearn_directly():
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.preprocessing import StandardScaler

    g = np.random.default_rng(1)
    x = g.normal(size=(160, 6))
    y = (x[:, 0] + 0.8 * g.normal(size=160) > 0).astype(np.int64) + (x[:, 1] > 0.5)
    labels = torch.from_numpy(y)
    rep = Representation(x[:100], x[100:])
    scaler = StandardScaler().fit(x[:100])
    direct = LogisticRegression(max_iter=2000, random_state=0).fit(
        scaler.transform(x[:100]), y[:100]
    )
    assert linear_probe(rep, labels[:100], labels[100:]) == pytest.approx(
        direct.score(scaler.transform(x[100:]), y[100:])
    )
    clusters = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(x[100:])
    assert kmeans_nmi(x[100:], labels[100:], 3) == pytest.approx(
        normalized_mutual_info_score(y[100:], clusters)
    )
    both = scores(rep, labels[:100], labels[100:], 3)
    assert both["nmi"] == pytest.approx(kmeans_nmi(x, labels, 3))  # clusters all samples
    assert both["probe"] == pytest.approx(direct.score(scaler.transform(x[100:]), y[100:]))
    xt = torch.from_numpy(x)
    pca = pca_representation(xt[:100], xt[100:], 3)
    reference = PCA(n_components=3, random_state=0).fit(x[:100])
    np.testing.assert_allclose(np.abs(pca.test), np.abs(reference.transform(x[100:])), atol=1e-8)
    assert pca_representation(xt[:100], xt[100:], 50).train.shape == (100, 6)  # capped at d
