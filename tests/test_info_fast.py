"""Tests of the fast information estimators (issue 8): closed-form gradients, the bottleneck terms
with a written-out backward, label blocks, and the randomized (stochastic Lanczos) entropy.

References are the exact eigenvalue path of :func:`pnnkit.info.renyi_entropy` differentiated by
autograd, finite differences (gradcheck, float64) and matrices with known spectra.
"""

from __future__ import annotations

import math

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
    lanczos_quadrature,
    linear_gram,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    rademacher_probes,
    randomized_renyi_entropy,
    randomized_renyi_entropy_and_grad,
    renyi_entropy,
    renyi_entropy_and_grad,
    unit_normalize,
)
from pnnkit.learning import PIB, rule_config
from pnnkit.network import PhysicalNetwork

F64 = torch.float64
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _gauss(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    return normalize_gram(gaussian_gram(x, sigma))


def _labels(n: int, classes: int, seed: int = 0) -> torch.Tensor:
    return torch.randperm(n, generator=_gen(seed)) % classes  # unsorted classes


def _label_gram(y: torch.Tensor, classes: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return normalize_gram(linear_gram(one_hot(y, classes, dtype)))


def _known_spectrum(lam: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``Q diag(lam) Q^T`` with a random orthogonal ``Q``."""
    q, _ = torch.linalg.qr(_randn(lam.numel(), lam.numel(), seed=seed, dtype=lam.dtype))
    a = (q * lam) @ q.T
    return 0.5 * (a + a.T)


def _renyi_of(lam: torch.Tensor, alpha: float) -> float:
    lam = lam[lam > 0]
    if alpha == 1.0:
        return float(-(lam * torch.log2(lam)).sum())
    return float(torch.log2((lam**alpha).sum()) / (1 - alpha))


def _batch(n: int = 24, d: int = 5, width: int = 7, classes: int = 3, seed: int = 0):
    x = _randn(n, d, seed=seed)
    y = _labels(n, classes, seed)
    t = torch.relu(_randn(n, width, seed=seed + 1) + 0.3)
    return x, y, t


def _reference_terms(est, x_gram, t, y_gram, gamma=1.0, beta=10.0):
    """Values and gradient of the bottleneck loss by the autograd path."""
    auto = BottleneckEstimator(est.alpha, est.sigma2, est.x_sigma2, est.width_rule)
    leaf = t.detach().clone().requires_grad_(True)
    i_xt, i_ty = auto.terms(x_gram, leaf, y_gram)
    (grad,) = torch.autograd.grad(gamma * i_xt - beta * i_ty, leaf)
    return i_xt.detach(), i_ty.detach(), grad


def _fast_terms(x_gram, t, y_gram, gamma=1.0, beta=10.0, **kwargs):
    leaf = t.detach().clone().requires_grad_(True)
    i_xt, i_ty = bottleneck_terms(x_gram, leaf, y_gram, **kwargs)
    (grad,) = torch.autograd.grad(gamma * i_xt - beta * i_ty, leaf)
    return i_xt.detach(), i_ty.detach(), grad


# ------------------------------------------------------------ exact closed-form gradients


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_renyi_entropy_and_grad_matches_autograd_through_eig(alpha: float) -> None:
    a = _gauss(_randn(3, 12, 4, seed=1), 1.2).requires_grad_(True)
    value, grad = renyi_entropy_and_grad(a, alpha)
    ref = renyi_entropy(a, alpha, "eig")
    (auto,) = torch.autograd.grad(ref.sum(), a)
    assert value.shape == (3,) and grad.shape == a.shape
    torch.testing.assert_close(value, ref.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(grad, auto, atol=1e-8, rtol=1e-7)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_renyi_entropy_and_grad_against_finite_differences(alpha: float) -> None:
    m = _randn(6, 6, seed=2)
    a = m @ m.T / 6 + 0.2 * torch.eye(6, dtype=F64)
    a = a / torch.trace(a)
    _, grad = renyi_entropy_and_grad(a, alpha)
    direction = _randn(6, 6, seed=3)
    direction = direction + direction.T
    h = 1e-6
    plus = renyi_entropy(a + h * direction, alpha, "eig")
    minus = renyi_entropy(a - h * direction, alpha, "eig")
    assert ((plus - minus) / (2 * h)).item() == pytest.approx((grad * direction).sum().item())


# ------------------------------------------------------------------------ label blocks


def test_label_blocks_find_the_classes_of_unsorted_labels() -> None:
    y = torch.tensor([2, 0, 2, 1, 0, 2, 1])
    idx = label_blocks(_label_gram(y, 3))
    assert idx is not None and idx.shape == (3, 3)
    groups = sorted(sorted(v for v in row.tolist() if v < 7) for row in idx)
    assert groups == [[0, 2, 5], [1, 4], [3, 6]]
    assert sorted(idx.flatten().tolist()).count(7) == 2  # padding of the two short blocks


def test_label_blocks_refuse_dense_single_and_non_transitive_patterns() -> None:
    assert label_blocks(_gauss(_randn(6, 2, seed=4))) is None
    assert label_blocks(_label_gram(torch.zeros(5, dtype=torch.long), 2)) is None
    chain = torch.eye(4, dtype=F64)  # 0~1, 1~2 but not 0~2
    chain[0, 1] = chain[1, 0] = chain[1, 2] = chain[2, 1] = 0.5
    assert label_blocks(chain) is None


# ------------------------------------------------------------- bottleneck terms (exact)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("width_rule", ["fixed", "median"])
def test_bottleneck_terms_match_the_autograd_estimator(alpha: float, width_rule: str) -> None:
    est = BottleneckEstimator(alpha=alpha, width_rule=width_rule)
    x, y, t = _batch(seed=5)
    t[4] = 0.0  # a dead output row: unit_normalize's eps branch
    x_gram, y_gram = est.input_gram(x), _label_gram(y, 3)
    ref = _reference_terms(est, x_gram, t, y_gram, gamma=1.3)
    fast = _fast_terms(x_gram, t, y_gram, gamma=1.3, alpha=alpha, sigma2=0.5, width_rule=width_rule)
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
    x, y, t = _batch(seed=7)
    if dead_row:
        t[2] = 0.0
    x_gram, y_gram = est.input_gram(x), _label_gram(y, 3)
    ref = _reference_terms(est, x_gram, t, y_gram, gamma=0.7, beta=4.0)
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
    _, y, t = _batch(n=18, seed=6)
    x_gram = _label_gram(y, 3)
    y_gram = _gauss(_randn(18, 2, seed=7), 0.8)
    ref = _reference_terms(est, x_gram, t, y_gram)
    fast = _fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    for got, want in zip(fast, ref, strict=True):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_bottleneck_gradient_passes_gradcheck(alpha: float) -> None:
    _, y, _ = _batch(n=8)
    x_gram = _gauss(_randn(8, 3, seed=8), 1.0)
    y_gram = _label_gram(y, 3)
    t = (torch.relu(_randn(8, 4, seed=9)) + 0.1).requires_grad_(True)

    def f(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return bottleneck_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)

    assert torch.autograd.gradcheck(f, (t,), eps=1e-6, atol=1e-6)


def test_bottleneck_terms_without_gradient_and_estimator_routing() -> None:
    x, y, t = _batch(seed=10)
    torch.manual_seed(0)  # the lanczos probes
    for solver in ("exact", "lanczos"):
        est = BottleneckEstimator(alpha=0.5, solver=solver)
        x_gram, y_gram = est.input_gram(x), _label_gram(y, 3)
        with torch.no_grad():
            i_xt, i_ty = est.terms(x_gram, t, y_gram)
        ref = _reference_terms(est, x_gram, t, y_gram)
        tol = 1e-10 if solver == "exact" else 0.2  # bits
        assert i_ty.item() == pytest.approx(ref[1].item(), abs=tol)
        assert not i_xt.requires_grad


def test_bottleneck_terms_float32_agree_with_float64() -> None:
    x, y, t = _batch(n=64, width=16, classes=4, seed=11)
    est = BottleneckEstimator(alpha=2.0)
    for alpha in (2.0, 0.5):
        results = []
        for dtype in (torch.float32, F64):
            x_gram = est.input_gram(x.to(dtype))
            y_gram = _label_gram(y, 4, dtype)
            results.append(_fast_terms(x_gram, t.to(dtype), y_gram, alpha=alpha, sigma2=0.5))
        (a32, b32, g32), (a64, b64, g64) = results
        assert a32.dtype == torch.float32 and g32.dtype == torch.float32
        assert a32.item() == pytest.approx(a64.item(), rel=1e-4, abs=1e-5)
        assert b32.item() == pytest.approx(b64.item(), rel=1e-4, abs=1e-5)
        assert ((g32.double() - g64).norm() / g64.norm()).item() < 1e-3


def test_bottleneck_terms_errors() -> None:
    x, y, t = _batch()
    x_gram, y_gram = _gauss(x), _label_gram(y, 3)
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
    x = _randn(15, 4, seed=12)
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
    t = torch.relu(_randn(40, 6, seed=14))
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
    t = torch.relu(_randn(30, 5, seed=13, dtype=torch.float32))
    gram = BottleneckEstimator(sigma2=1.0, width_rule="median").output_gram(t)
    u = unit_normalize(t)
    expected = normalize_gram(gaussian_gram(u, kernel_width(u, "median")))
    torch.testing.assert_close(gram, expected, rtol=0, atol=0)


# ---------------------------------------------------------------- randomized estimator


def test_lanczos_with_n_steps_is_exact_for_each_probe() -> None:
    lam = torch.linspace(0.01, 1.0, 20, dtype=F64)
    a = _known_spectrum(lam, seed=14)
    z = rademacher_probes(20, 3, dtype=F64, generator=_gen(15))
    theta, vecs, basis = lanczos_quadrature(a.unsqueeze(0), z, steps=20)
    tau = vecs[0, :, 0, :]
    quad = (tau**2 * theta[0].sqrt()).sum(-1) * (z * z).sum(-1)
    w, v = torch.linalg.eigh(a)
    exact = (((z @ v) ** 2) * w.sqrt()).sum(-1)  # z^T A^(1/2) z
    torch.testing.assert_close(quad, exact, atol=1e-9, rtol=1e-9)
    gram = basis[0] @ basis[0].mT  # orthonormal Lanczos vectors
    torch.testing.assert_close(gram, torch.eye(20, dtype=F64).expand(3, 20, 20), atol=1e-10, rtol=0)


def test_lanczos_breakdown_on_few_distinct_eigenvalues_stays_finite_and_exact() -> None:
    lam = torch.tensor([0.5, 0.3] + [0.2 / 28] * 28, dtype=F64)  # 3 distinct eigenvalues
    a = _known_spectrum(lam, seed=16)
    z = rademacher_probes(30, 4, dtype=F64, generator=_gen(17))
    theta, vecs, basis = lanczos_quadrature(a.unsqueeze(0), z, steps=12)
    assert torch.isfinite(theta).all() and torch.isfinite(basis).all()
    assert (basis[0, :, 3:] == 0).all()  # the Krylov spaces end after 3 vectors
    tau = vecs[0, :, 0, :]
    w, v = torch.linalg.eigh(a)
    for alpha in (0.5, 3.0):
        quad = (tau**2 * theta[0].clamp_min(0) ** alpha).sum(-1) * 30
        exact = (((z @ v) ** 2) * w.clamp_min(0) ** alpha).sum(-1)
        torch.testing.assert_close(quad, exact, atol=1e-9, rtol=1e-9)
        _, grad = randomized_renyi_entropy_and_grad(a, alpha, steps=12, generator=_gen(18))
        assert torch.isfinite(grad).all()


def test_deflation_makes_a_low_rank_spectrum_exact() -> None:
    lam = torch.zeros(50, dtype=F64)
    lam[:5] = torch.tensor([0.4, 0.25, 0.15, 0.12, 0.08], dtype=F64)
    a = _known_spectrum(lam, seed=18)
    for alpha in (0.5, 1.0, 3.0):
        value, _ = randomized_renyi_entropy_and_grad(
            a, alpha, probes=2, steps=8, deflation=6, generator=_gen(19)
        )
        assert value.item() == pytest.approx(_renyi_of(lam, alpha), abs=1e-8)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_randomized_entropy_within_tolerance_on_a_known_spectrum(alpha: float) -> None:
    n = 300
    lam = torch.cat([torch.tensor([0.2, 0.1, 0.05]), torch.linspace(1e-4, 2e-3, n - 3)])
    lam = (lam / lam.sum()).to(F64)
    a = _known_spectrum(lam, seed=20)
    exact = _renyi_of(lam, alpha)
    values = [randomized_renyi_entropy(a, alpha, generator=_gen(seed)).item() for seed in range(8)]
    errors = [abs(v - exact) / exact for v in values]
    assert max(errors) < 0.03
    assert abs(sum(values) / len(values) - exact) / exact < 0.01  # no visible bias
    assert len(set(values)) == len(values)  # the seeds do change the probes


def test_randomized_matches_exact_on_a_gaussian_gram_and_is_reproducible() -> None:
    a = _gauss(_randn(400, 30, seed=21), 6.0)
    exact = renyi_entropy(a, 0.5, "eig").item()
    torch.manual_seed(3)
    first = randomized_renyi_entropy(a, 0.5).item()
    torch.manual_seed(3)
    assert randomized_renyi_entropy(a, 0.5).item() == first  # the global generator
    assert first == pytest.approx(exact, rel=0.01)
    single = randomized_renyi_entropy(a.float(), 0.5, generator=_gen(4))
    assert single.dtype == torch.float32
    assert single.item() == pytest.approx(exact, rel=0.01)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_randomized_gradient_is_unbiased(alpha: float) -> None:
    a = _gauss(_randn(40, 3, seed=22), 1.0)
    _, exact = renyi_entropy_and_grad(a, alpha)
    _, estimate = randomized_renyi_entropy_and_grad(
        a, alpha, probes=3000, steps=20, deflation=4, generator=_gen(23)
    )
    # Monte-Carlo error of a rank-k estimate of an n x n matrix: about sqrt(n / k) = 0.12
    assert ((estimate - exact).norm() / exact.norm()).item() < 0.2
    torch.testing.assert_close(estimate, estimate.mT)


def test_randomized_autograd_wrapper_returns_its_gradient_estimate() -> None:
    a = _gauss(_randn(3, 30, 3, seed=24), 1.0).requires_grad_(True)
    value = randomized_renyi_entropy(a, 0.5, generator=_gen(25))
    (grad,) = torch.autograd.grad(value @ torch.tensor([1.0, -2.0, 0.5], dtype=F64), a)
    ref_value, ref_grad = randomized_renyi_entropy_and_grad(a.detach(), 0.5, generator=_gen(25))
    torch.testing.assert_close(value.detach(), ref_value, rtol=0, atol=0)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=F64).reshape(3, 1, 1)
    torch.testing.assert_close(grad, weights * ref_grad, rtol=1e-12, atol=1e-12)


def test_randomized_errors() -> None:
    a = _gauss(_randn(10, 2, seed=26))
    with pytest.raises(ConfigError, match="probes = 0"):
        randomized_renyi_entropy(a, 0.5, probes=0)
    with pytest.raises(ConfigError, match=r"steps = 1\.5"):
        randomized_renyi_entropy(a, 0.5, steps=1.5)
    with pytest.raises(ConfigError, match="deflation = -1"):
        randomized_renyi_entropy(a, 0.5, deflation=-1)
    with pytest.raises(ShapeError, match=r"a has shape \(10, 9\)"):
        randomized_renyi_entropy(a[:, :-1], 0.5)


def test_lanczos_bottleneck_close_to_exact() -> None:
    x, y, t = _batch(n=200, width=16, classes=4, seed=27)
    est = BottleneckEstimator(alpha=0.5)
    x_gram, y_gram = est.input_gram(x), _label_gram(y, 4)
    ref = _fast_terms(x_gram, t, y_gram, alpha=0.5, sigma2=0.5)
    torch.manual_seed(0)
    for _ in range(4):
        got = _fast_terms(x_gram, t, y_gram, alpha=0.5, sigma2=0.5, solver="lanczos")
        # differences of entropies: the entropies' errors (a fraction of a bit) add up
        assert got[0].item() == pytest.approx(ref[0].item(), abs=0.2)
        assert got[1].item() == pytest.approx(ref[1].item(), abs=0.2)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_lanczos_bottleneck_gradient_points_the_exact_way_with_many_probes(alpha: float) -> None:
    """Unbiased but noisy: the error of the rank-k gradient falls as sqrt(n / k)."""
    x, y, t = _batch(n=60, width=8, classes=3, seed=28)
    x_gram, y_gram = _gauss(x, 2.0), _label_gram(y, 3)
    ref = _fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    got = _fast_terms(
        x_gram,
        t,
        y_gram,
        alpha=alpha,
        sigma2=0.5,
        solver="lanczos",
        probes=3000,
        steps=15,
        generator=_gen(29),
    )
    cosine = (got[2] * ref[2]).sum() / (got[2].norm() * ref[2].norm())
    assert cosine.item() > 0.9
    projection = (got[2] * ref[2]).sum() / ref[2].square().sum()  # 1 if unbiased
    assert projection.item() == pytest.approx(1.0, abs=0.1)
    assert got[0].item() == pytest.approx(ref[0].item(), abs=0.02)


def test_lanczos_solver_at_order_2_is_the_exact_frobenius_path() -> None:
    x, y, t = _batch(seed=30)
    x_gram, y_gram = _gauss(x), _label_gram(y, 3)
    exact = _fast_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5)
    lanczos = _fast_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5, solver="lanczos")
    for got, want in zip(lanczos, exact, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


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
    g = _gen(28)
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
    x, y, t = _batch(n=64, width=16, classes=4, seed=29)
    x_gram, y_gram = _gauss(x), _label_gram(y, 4)
    cpu = _fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    dev = torch.device("cuda")
    gpu = _fast_terms(x_gram.to(dev), t.to(dev), y_gram.to(dev), alpha=alpha, sigma2=0.5)
    for got, want in zip(gpu, cpu, strict=True):
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), want, atol=1e-8, rtol=1e-6)


@CUDA
def test_randomized_entropy_on_cuda() -> None:
    a = _gauss(_randn(300, 5, seed=30), 1.2).float().cuda()
    exact = renyi_entropy(a.double().cpu(), 0.5, "eig").item()
    value, grad = randomized_renyi_entropy_and_grad(
        a, 0.5, generator=torch.Generator(device="cuda").manual_seed(0)
    )
    assert value.device.type == "cuda" and grad.device.type == "cuda"
    assert value.item() == pytest.approx(exact, rel=0.02)
    torch.manual_seed(1)
    est = BottleneckEstimator(alpha=0.5, solver="lanczos")
    _, y, t = _batch(n=300, width=8, classes=5, seed=31)
    t = t.float().cuda().requires_grad_(True)
    i_xt, i_ty = est.terms(a, t, _label_gram(y, 5, torch.float32).cuda())
    (g,) = torch.autograd.grad(i_xt - 10 * i_ty, t)
    assert g.device.type == "cuda" and torch.isfinite(g).all()


def test_math_of_known_spectrum_helper() -> None:
    lam = torch.tensor([0.5, 0.25, 0.25], dtype=F64)
    assert _renyi_of(lam, 2.0) == pytest.approx(-math.log2(0.375))
    a = _known_spectrum(lam, seed=32)
    torch.testing.assert_close(torch.linalg.eigvalsh(a), lam.sort().values, atol=1e-12, rtol=0)


def test_order2_squares_are_reused_only_for_the_same_unchanged_gram_matrices() -> None:
    """Units of a step share the input and label Gram matrices, so order 2 forms their squares
    once; a matrix changed in place, or another matrix, must not be served stale squares."""
    est = BottleneckEstimator(alpha=2.0)
    x, y, t = _batch(seed=11)
    x_gram, y_gram = est.input_gram(x), _label_gram(y, 3)

    squares = Squares()  # the cache an estimator owns

    def fast(xg):
        return bottleneck_gradient(xg, t, y_gram, 1.0, 5.0, alpha=2.0, sigma2=0.5, squares=squares)

    def reference(xg):
        return _reference_terms(est, xg, t, y_gram, gamma=1.0, beta=5.0)

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
    _, y, t = _batch(seed=13)
    with pytest.raises(ConfigError, match=r"\|\|X\|\|\^2 is 0"):
        bottleneck_gradient(
            torch.zeros(24, 24, dtype=F64), t, _label_gram(y, 3), 1.0, 5.0, alpha=2.0, sigma2=0.5
        )


def test_label_gram_is_the_normalised_linear_gram_of_one_hot_labels() -> None:
    y = _labels(30, 4, seed=12)
    want = normalize_gram(linear_gram(one_hot(y, 4)))
    torch.testing.assert_close(BottleneckEstimator.label_gram(y, 4), want, atol=0, rtol=0)
    with pytest.raises(ConfigError, match="labels contain 3"):
        BottleneckEstimator.label_gram(y, 3)
    with pytest.raises(ShapeError, match=r"labels have shape \(0,\)"):
        BottleneckEstimator.label_gram(y[:0], 4)
