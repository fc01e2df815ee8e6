"""Tests of the fast information estimators (issue 8): closed-form gradients, the bottleneck terms
with a written-out backward, label blocks, and the estimator's solvers (the randomized entropy is
in test_info_randomized).

References are the exact eigenvalue path of :func:`pnnkit.info.renyi_entropy` differentiated by
autograd, finite differences (gradcheck, float64) and matrices with known spectra.
"""

from __future__ import annotations

import pytest
import torch

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info import (
    BottleneckEstimator,
    Squares,
    bottleneck_gradient,
    bottleneck_terms,
    direction_gram,
    gaussian_gram,
    kernel_width,
    label_blocks,
    linear_gram,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    renyi_entropy,
    renyi_entropy_and_grad,
    unit_normalize,
)
from pnnkit.learning import PIB, rule_config
from pnnkit.network import PhysicalNetwork
from tests.fixtures.info import (
    CUDA,
    F64,
    batch,
    fast_terms,
    gauss,
    gen,
    label_gram,
    labels,
    randn,
    reference_terms,
)

# ------------------------------------------------------------ exact closed-form gradients


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_renyi_entropy_and_grad_matches_autograd_through_eig(alpha: float) -> None:
    a = gauss(randn(3, 12, 4, seed=1), 1.2).requires_grad_(True)
    value, grad = renyi_entropy_and_grad(a, alpha)
    ref = renyi_entropy(a, alpha, "eig")
    (auto,) = torch.autograd.grad(ref.sum(), a)
    assert value.shape == (3,) and grad.shape == a.shape
    torch.testing.assert_close(value, ref.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(grad, auto, atol=1e-8, rtol=1e-7)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_renyi_entropy_and_grad_against_finite_differences(alpha: float) -> None:
    m = randn(6, 6, seed=2)
    a = m @ m.T / 6 + 0.2 * torch.eye(6, dtype=F64)
    a = a / torch.trace(a)
    _, grad = renyi_entropy_and_grad(a, alpha)
    direction = randn(6, 6, seed=3)
    direction = direction + direction.T
    h = 1e-6
    plus = renyi_entropy(a + h * direction, alpha, "eig")
    minus = renyi_entropy(a - h * direction, alpha, "eig")
    assert ((plus - minus) / (2 * h)).item() == pytest.approx((grad * direction).sum().item())


# ------------------------------------------------------------------------ label blocks


def test_label_blocks_find_the_classes_of_unsorted_labels() -> None:
    y = torch.tensor([2, 0, 2, 1, 0, 2, 1])
    idx = label_blocks(label_gram(y, 3))
    assert idx is not None and idx.shape == (3, 3)
    groups = sorted(sorted(v for v in row.tolist() if v < 7) for row in idx)
    assert groups == [[0, 2, 5], [1, 4], [3, 6]]
    assert sorted(idx.flatten().tolist()).count(7) == 2  # padding of the two short blocks


def test_label_blocks_refuse_dense_single_and_non_transitive_patterns() -> None:
    assert label_blocks(gauss(randn(6, 2, seed=4))) is None
    assert label_blocks(label_gram(torch.zeros(5, dtype=torch.long), 2)) is None
    chain = torch.eye(4, dtype=F64)  # 0~1, 1~2 but not 0~2
    chain[0, 1] = chain[1, 0] = chain[1, 2] = chain[2, 1] = 0.5
    assert label_blocks(chain) is None


# ------------------------------------------------------------- bottleneck terms (exact)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("width_rule", ["fixed", "median"])
def test_bottleneck_terms_match_the_autograd_estimator(alpha: float, width_rule: str) -> None:
    est = BottleneckEstimator(alpha=alpha, width_rule=width_rule)
    x, y, t = batch(seed=5)
    t[4] = 0.0  # a dead output row: unit_normalize's eps branch
    x_gram, y_gram = est.input_gram(x), label_gram(y, 3)
    ref = reference_terms(est, x_gram, t, y_gram, gamma=1.3)
    fast = fast_terms(x_gram, t, y_gram, gamma=1.3, alpha=alpha, sigma2=0.5, width_rule=width_rule)
    torch.testing.assert_close(fast[0], ref[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(fast[1], ref[1], atol=1e-12, rtol=0)
    torch.testing.assert_close(fast[2], ref[2], atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
@pytest.mark.parametrize("dead_row", [False, True])
def test_bottleneck_gradient_is_the_autograd_gradient_of_the_local_loss(
    alpha: float, dead_row: bool
) -> None:
    """The direct path (no tape) gives the values and ``dL/dt`` of autograd through the
    estimator, with and without a row too short to normalise."""
    est = BottleneckEstimator(alpha=alpha)
    x, y, t = batch(seed=7)
    if dead_row:
        t[2] = 0.0
    x_gram, y_gram = est.input_gram(x), label_gram(y, 3)
    ref = reference_terms(est, x_gram, t, y_gram, gamma=0.7, beta=4.0)
    grad, i_xt, i_ty = bottleneck_gradient(x_gram, t, y_gram, 0.7, 4.0, alpha=alpha, sigma2=0.5)
    assert not grad.requires_grad
    assert i_xt == pytest.approx(float(ref[0]), abs=1e-12)
    assert i_ty == pytest.approx(float(ref[1]), abs=1e-12)
    torch.testing.assert_close(grad, ref[2], atol=1e-9, rtol=1e-9)
    closed = BottleneckEstimator(alpha=alpha, solver="exact")
    again = closed.loss_gradient(x_gram, t, y_gram, 0.7, 4.0)
    torch.testing.assert_close(again[0], grad, atol=0, rtol=0)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_bottleneck_terms_with_dense_label_and_block_input_grams(alpha: float) -> None:
    """No block structure in Y (a Gaussian Gram), block structure in X (one-hot inputs)."""
    est = BottleneckEstimator(alpha=alpha)
    _, y, t = batch(n=18, seed=6)
    x_gram = label_gram(y, 3)
    y_gram = gauss(randn(18, 2, seed=7), 0.8)
    ref = reference_terms(est, x_gram, t, y_gram)
    fast = fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    for got, want in zip(fast, ref, strict=True):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_bottleneck_gradient_passes_gradcheck(alpha: float) -> None:
    _, y, _ = batch(n=8)
    x_gram = gauss(randn(8, 3, seed=8), 1.0)
    y_gram = label_gram(y, 3)
    t = (torch.relu(randn(8, 4, seed=9)) + 0.1).requires_grad_(True)

    def f(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return bottleneck_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)

    assert torch.autograd.gradcheck(f, (t,), eps=1e-6, atol=1e-6)


def test_bottleneck_terms_without_gradient_and_estimator_routing() -> None:
    x, y, t = batch(seed=10)
    torch.manual_seed(0)  # the lanczos probes
    for solver in ("exact", "lanczos"):
        est = BottleneckEstimator(alpha=0.5, solver=solver)
        x_gram, y_gram = est.input_gram(x), label_gram(y, 3)
        with torch.no_grad():
            i_xt, i_ty = est.terms(x_gram, t, y_gram)
        ref = reference_terms(est, x_gram, t, y_gram)
        tol = 1e-10 if solver == "exact" else 0.2  # bits
        assert i_ty.item() == pytest.approx(ref[1].item(), abs=tol)
        assert not i_xt.requires_grad


def test_bottleneck_terms_float32_agree_with_float64() -> None:
    x, y, t = batch(n=64, width=16, classes=4, seed=11)
    est = BottleneckEstimator(alpha=2.0)
    for alpha in (2.0, 0.5):
        results = []
        for dtype in (torch.float32, F64):
            x_gram = est.input_gram(x.to(dtype))
            y_gram = label_gram(y, 4, dtype)
            results.append(fast_terms(x_gram, t.to(dtype), y_gram, alpha=alpha, sigma2=0.5))
        (a32, b32, g32), (a64, b64, g64) = results
        assert a32.dtype == torch.float32 and g32.dtype == torch.float32
        assert a32.item() == pytest.approx(a64.item(), rel=1e-4, abs=1e-5)
        assert b32.item() == pytest.approx(b64.item(), rel=1e-4, abs=1e-5)
        assert ((g32.double() - g64).norm() / g64.norm()).item() < 1e-3


def test_bottleneck_terms_errors() -> None:
    x, y, t = batch()
    x_gram, y_gram = gauss(x), label_gram(y, 3)
    with pytest.raises(ConfigError, match="differentiates in t only"):
        bottleneck_terms(x_gram.requires_grad_(True), t, y_gram, alpha=2.0, sigma2=0.5)
    x_gram = x_gram.detach()
    with pytest.raises(ConfigError, match=r"solver = 'svd' is unknown.*exact, lanczos"):
        bottleneck_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5, solver="svd")
    with pytest.raises(ConfigError, match="width_rule = 'widest'"):
        bottleneck_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5, width_rule="widest")
    with pytest.raises(ConfigError, match="sigma2 = 0"):
        bottleneck_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0)
    with pytest.raises(ConfigError, match="alpha = -1"):
        bottleneck_terms(x_gram, t, y_gram, alpha=-1, sigma2=0.5)
    with pytest.raises(ShapeError, match=r"t has shape \(23, 7\)"):
        bottleneck_terms(x_gram, t[:-1], y_gram, alpha=2.0, sigma2=0.5)


# ------------------------------------------------------------------ kernels, one pass


def test_kernel_width_and_gram_from_given_distances() -> None:
    x = randn(15, 4, seed=12)
    d = pairwise_sq_distances(x)
    for rule in ("median", "mean"):
        assert kernel_width(x, rule, sq_distances=d).item() == kernel_width(x, rule).item()
    torch.testing.assert_close(
        gaussian_gram(x, 0.7, sq_distances=d), gaussian_gram(x, 0.7), rtol=0, atol=0
    )
    with pytest.raises(ShapeError, match=r"sq_distances has shape \(14, 14\)"):
        gaussian_gram(x, 0.7, sq_distances=d[:-1, :-1])


@pytest.mark.parametrize("width_rule", ["fixed", "median"])
def test_direction_gram_equals_the_estimator_gram(width_rule: str) -> None:
    t = torch.relu(randn(40, 6, seed=14))
    t[3] = 0.0
    est = BottleneckEstimator(sigma2=0.7, width_rule=width_rule)
    fast = BottleneckEstimator(sigma2=0.7, width_rule=width_rule, solver="exact")
    torch.testing.assert_close(fast.output_gram(t), est.output_gram(t), atol=1e-15, rtol=1e-12)
    torch.testing.assert_close(direction_gram(t, 0.7, width_rule), est.output_gram(t))
    assert (torch.diagonal(fast.input_gram(t)) == 1 / 40).all()
    leaf = t.clone().requires_grad_(True)  # a caller differentiating the Gram keeps its graph
    (grad,) = torch.autograd.grad(fast.output_gram(leaf).square().sum(), leaf)
    assert grad.abs().sum() > 0


def test_estimator_gram_with_data_width_is_unchanged() -> None:
    t = torch.relu(randn(30, 5, seed=13, dtype=torch.float32))
    gram = BottleneckEstimator(sigma2=1.0, width_rule="median").output_gram(t)
    u = unit_normalize(t)
    expected = normalize_gram(gaussian_gram(u, kernel_width(u, "median")))
    torch.testing.assert_close(gram, expected, rtol=0, atol=0)


# ------------------------------------------------------------------ the PIB estimator


def test_estimator_config_checks() -> None:
    with pytest.raises(ConfigError, match=r"solver = 'fast'.*autograd"):
        rule_config("pib", {"estimator": {"solver": "fast"}})
    with pytest.raises(ConfigError, match="probes = 0 is invalid: must be an integer >= 1"):
        rule_config("pib", {"estimator": {"probes": 0}})
    with pytest.raises(ConfigError, match="deflation = -2"):
        rule_config("pib", {"estimator": {"deflation": -2}})
    config = rule_config("pib", {"estimator": {"solver": "lanczos", "probes": "4"}})
    assert config.estimator.probes == 4
    assert BottleneckEstimator().solver == "exact"


def test_pib_step_with_closed_form_equals_autograd_step() -> None:
    g = gen(28)
    x, y = torch.randn(48, 6, generator=g), torch.arange(48) % 3
    deltas = []
    for solver in ("autograd", "exact"):
        net = PhysicalNetwork.build("ideal", 6, [10, 8], 3, seed=0)
        before = [u.stage.read_parameters().clone() for u in net.units]
        config = rule_config(
            "pib",
            {
                "optimizer": "sgd",
                "schedule": "constant",
                "lr": 0.1,
                "estimator": {"solver": solver},
            },
        )
        stats = PIB(net, config, total_steps=1).train_step(x, y)
        deltas.append(
            [u.stage.read_parameters() - w for u, w in zip(net.units, before, strict=True)]
        )
        deltas[-1].append(torch.tensor(stats.i_xt + stats.i_ty))
    for got, want in zip(deltas[1], deltas[0], strict=True):  # float32 round-off apart
        assert ((got - want).norm() / want.norm()).item() < 1e-4


# ------------------------------------------------------------------------------- CUDA


@CUDA
@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_bottleneck_terms_on_cuda_match_cpu(alpha: float) -> None:
    x, y, t = batch(n=64, width=16, classes=4, seed=29)
    x_gram, y_gram = gauss(x), label_gram(y, 4)
    cpu = fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    dev = torch.device("cuda")
    gpu = fast_terms(x_gram.to(dev), t.to(dev), y_gram.to(dev), alpha=alpha, sigma2=0.5)
    for got, want in zip(gpu, cpu, strict=True):
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), want, atol=1e-8, rtol=1e-6)


def test_order2_squares_are_reused_only_for_the_same_unchanged_gram_matrices() -> None:
    """Units of a step share the input and label Gram matrices, so order 2 forms their squares
    once; a matrix changed in place, or another matrix, must not be served stale squares."""
    est = BottleneckEstimator(alpha=2.0)
    x, y, t = batch(seed=11)
    x_gram, y_gram = est.input_gram(x), label_gram(y, 3)

    squares = Squares()  # the cache an estimator owns

    def fast(xg):
        return bottleneck_gradient(xg, t, y_gram, 1.0, 5.0, alpha=2.0, sigma2=0.5, squares=squares)

    def reference(xg):
        return reference_terms(est, xg, t, y_gram, gamma=1.0, beta=5.0)

    first = fast(x_gram)
    assert first[1] == pytest.approx(float(reference(x_gram)[0]), abs=1e-12)
    x_gram.mul_(0.5).add_(0.5 * torch.eye(x_gram.shape[0], dtype=F64) / x_gram.shape[0])
    changed = fast(x_gram)  # the same tensor object, changed in place
    ref = reference(x_gram)
    assert changed[1] == pytest.approx(float(ref[0]), abs=1e-12)
    torch.testing.assert_close(changed[0], ref[2], atol=1e-9, rtol=1e-9)
    assert changed[1] != pytest.approx(first[1], abs=1e-6)
    other = est.input_gram(x + 1.0)  # another tensor
    assert fast(other)[1] == pytest.approx(float(reference(other)[0]), abs=1e-12)
    y_gram.mul_(0.5).add_(0.5 * torch.eye(y_gram.shape[0], dtype=F64) / y_gram.shape[0])
    ref = reference(other)  # the label Gram changed in place
    assert fast(other)[2] == pytest.approx(float(ref[1]), abs=1e-12)
    with torch.inference_mode():  # no version counters: computed, never cached
        frozen_x, frozen_y = other.clone(), y_gram.clone()
    fast_on = bottleneck_gradient(
        frozen_x, t, frozen_y, 1.0, 5.0, alpha=2.0, sigma2=0.5, squares=squares
    )
    assert fast_on[1] == pytest.approx(float(ref[0]), abs=1e-12)
    terms = bottleneck_terms(frozen_x, t, frozen_y, alpha=2.0, sigma2=0.5, squares=squares)
    assert float(terms[1]) == pytest.approx(float(ref[1]), abs=1e-12)


def test_order2_names_a_degenerate_gram_matrix() -> None:
    _, y, t = batch(seed=13)
    with pytest.raises(ConfigError, match=r"\|\|X\|\|\^2 is 0"):
        bottleneck_gradient(
            torch.zeros(24, 24, dtype=F64), t, label_gram(y, 3), 1.0, 5.0, alpha=2.0, sigma2=0.5
        )


def test_label_gram_is_the_normalised_linear_gram_of_one_hot_labels() -> None:
    y = labels(30, 4, seed=12)
    want = normalize_gram(linear_gram(one_hot(y, 4)))
    torch.testing.assert_close(BottleneckEstimator.label_gram(y, 4), want, atol=0, rtol=0)
    with pytest.raises(ConfigError, match="labels contain 3"):
        BottleneckEstimator.label_gram(y, 3)
    with pytest.raises(ShapeError, match=r"labels have shape \(0,\)"):
        BottleneckEstimator.label_gram(y[:0], 4)
