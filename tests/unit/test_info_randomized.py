"""Tests of the randomized (stochastic Lanczos quadrature) entropy and its use as the
bottleneck's ``lanczos`` solver, against matrices with known spectra and the exact solver."""

from __future__ import annotations

import math

import pytest
import torch

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info import (
    BottleneckEstimator,
    lanczos_quadrature,
    rademacher_probes,
    randomized_renyi_entropy,
    randomized_renyi_entropy_and_grad,
    renyi_entropy,
    renyi_entropy_and_grad,
)
from tests.fixtures.info import (
    CUDA,
    F64,
    batch,
    fast_terms,
    gauss,
    gen,
    known_spectrum,
    label_gram,
    randn,
    renyi_of,
)

# ---------------------------------------------------------------- randomized estimator


def test_lanczos_with_n_steps_is_exact_for_each_probe() -> None:
    lam = torch.linspace(0.01, 1.0, 20, dtype=F64)
    a = known_spectrum(lam, seed=14)
    z = rademacher_probes(20, 3, dtype=F64, generator=gen(15))
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
    a = known_spectrum(lam, seed=16)
    z = rademacher_probes(30, 4, dtype=F64, generator=gen(17))
    theta, vecs, basis = lanczos_quadrature(a.unsqueeze(0), z, steps=12)
    assert torch.isfinite(theta).all() and torch.isfinite(basis).all()
    assert (basis[0, :, 3:] == 0).all()  # the Krylov spaces end after 3 vectors
    tau = vecs[0, :, 0, :]
    w, v = torch.linalg.eigh(a)
    for alpha in (0.5, 3.0):
        quad = (tau**2 * theta[0].clamp_min(0) ** alpha).sum(-1) * 30
        exact = (((z @ v) ** 2) * w.clamp_min(0) ** alpha).sum(-1)
        torch.testing.assert_close(quad, exact, atol=1e-9, rtol=1e-9)
        _, grad = randomized_renyi_entropy_and_grad(a, alpha, steps=12, generator=gen(18))
        assert torch.isfinite(grad).all()


def test_deflation_makes_a_low_rank_spectrum_exact() -> None:
    lam = torch.zeros(50, dtype=F64)
    lam[:5] = torch.tensor([0.4, 0.25, 0.15, 0.12, 0.08], dtype=F64)
    a = known_spectrum(lam, seed=18)
    for alpha in (0.5, 1.0, 3.0):
        value, _ = randomized_renyi_entropy_and_grad(
            a, alpha, probes=2, steps=8, deflation=6, generator=gen(19)
        )
        assert value.item() == pytest.approx(renyi_of(lam, alpha), abs=1e-8)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_randomized_entropy_within_tolerance_on_a_known_spectrum(alpha: float) -> None:
    n = 300
    lam = torch.cat([torch.tensor([0.2, 0.1, 0.05]), torch.linspace(1e-4, 2e-3, n - 3)])
    lam = (lam / lam.sum()).to(F64)
    a = known_spectrum(lam, seed=20)
    exact = renyi_of(lam, alpha)
    values = [randomized_renyi_entropy(a, alpha, generator=gen(seed)).item() for seed in range(8)]
    errors = [abs(v - exact) / exact for v in values]
    assert max(errors) < 0.03
    assert abs(sum(values) / len(values) - exact) / exact < 0.01  # no visible bias
    assert len(set(values)) == len(values)  # the seeds do change the probes


def test_randomized_matches_exact_on_a_gaussian_gram_and_is_reproducible() -> None:
    a = gauss(randn(400, 30, seed=21), 6.0)
    exact = renyi_entropy(a, 0.5, "eig").item()
    torch.manual_seed(3)
    first = randomized_renyi_entropy(a, 0.5).item()
    torch.manual_seed(3)
    assert randomized_renyi_entropy(a, 0.5).item() == first  # the global generator
    assert first == pytest.approx(exact, rel=0.01)
    single = randomized_renyi_entropy(a.float(), 0.5, generator=gen(4))
    assert single.dtype == torch.float32
    assert single.item() == pytest.approx(exact, rel=0.01)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_randomized_gradient_is_unbiased(alpha: float) -> None:
    a = gauss(randn(40, 3, seed=22), 1.0)
    _, exact = renyi_entropy_and_grad(a, alpha)
    _, estimate = randomized_renyi_entropy_and_grad(
        a, alpha, probes=3000, steps=20, deflation=4, generator=gen(23)
    )
    # Monte-Carlo error of a rank-k estimate of an n x n matrix: about sqrt(n / k) = 0.12
    assert ((estimate - exact).norm() / exact.norm()).item() < 0.2
    torch.testing.assert_close(estimate, estimate.mT)


def test_randomized_autograd_wrapper_returns_its_gradient_estimate() -> None:
    a = gauss(randn(3, 30, 3, seed=24), 1.0).requires_grad_(True)
    value = randomized_renyi_entropy(a, 0.5, generator=gen(25))
    (grad,) = torch.autograd.grad(value @ torch.tensor([1.0, -2.0, 0.5], dtype=F64), a)
    ref_value, ref_grad = randomized_renyi_entropy_and_grad(a.detach(), 0.5, generator=gen(25))
    torch.testing.assert_close(value.detach(), ref_value, rtol=0, atol=0)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=F64).reshape(3, 1, 1)
    torch.testing.assert_close(grad, weights * ref_grad, rtol=1e-12, atol=1e-12)


def test_randomized_errors() -> None:
    a = gauss(randn(10, 2, seed=26))
    with pytest.raises(ConfigError, match="probes = 0"):
        randomized_renyi_entropy(a, 0.5, probes=0)
    with pytest.raises(ConfigError, match=r"steps = 1\.5"):
        randomized_renyi_entropy(a, 0.5, steps=1.5)
    with pytest.raises(ConfigError, match="deflation = -1"):
        randomized_renyi_entropy(a, 0.5, deflation=-1)
    with pytest.raises(ShapeError, match=r"a has shape \(10, 9\)"):
        randomized_renyi_entropy(a[:, :-1], 0.5)


def test_lanczos_bottleneck_close_to_exact() -> None:
    x, y, t = batch(n=200, width=16, classes=4, seed=27)
    est = BottleneckEstimator(alpha=0.5)
    x_gram, y_gram = est.input_gram(x), label_gram(y, 4)
    ref = fast_terms(x_gram, t, y_gram, alpha=0.5, sigma2=0.5)
    torch.manual_seed(0)
    for _ in range(4):
        got = fast_terms(x_gram, t, y_gram, alpha=0.5, sigma2=0.5, solver="lanczos")
        # differences of entropies: the entropies' errors (a fraction of a bit) add up
        assert got[0].item() == pytest.approx(ref[0].item(), abs=0.2)
        assert got[1].item() == pytest.approx(ref[1].item(), abs=0.2)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_lanczos_bottleneck_gradient_points_the_exact_way_with_many_probes(alpha: float) -> None:
    """Unbiased but noisy: the error of the rank-k gradient falls as sqrt(n / k)."""
    x, y, t = batch(n=60, width=8, classes=3, seed=28)
    x_gram, y_gram = gauss(x, 2.0), label_gram(y, 3)
    ref = fast_terms(x_gram, t, y_gram, alpha=alpha, sigma2=0.5)
    got = fast_terms(
        x_gram,
        t,
        y_gram,
        alpha=alpha,
        sigma2=0.5,
        solver="lanczos",
        probes=3000,
        steps=15,
        generator=gen(29),
    )
    cosine = (got[2] * ref[2]).sum() / (got[2].norm() * ref[2].norm())
    assert cosine.item() > 0.9
    projection = (got[2] * ref[2]).sum() / ref[2].square().sum()  # 1 if unbiased
    assert projection.item() == pytest.approx(1.0, abs=0.1)
    assert got[0].item() == pytest.approx(ref[0].item(), abs=0.02)


def test_lanczos_solver_at_order_2_is_the_exact_frobenius_path() -> None:
    x, y, t = batch(seed=30)
    x_gram, y_gram = gauss(x), label_gram(y, 3)
    exact = fast_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5)
    lanczos = fast_terms(x_gram, t, y_gram, alpha=2.0, sigma2=0.5, solver="lanczos")
    for got, want in zip(lanczos, exact, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@CUDA
def test_randomized_entropy_on_cuda() -> None:
    a = gauss(randn(300, 5, seed=30), 1.2).float().cuda()
    exact = renyi_entropy(a.double().cpu(), 0.5, "eig").item()
    value, grad = randomized_renyi_entropy_and_grad(
        a, 0.5, generator=torch.Generator(device="cuda").manual_seed(0)
    )
    assert value.device.type == "cuda" and grad.device.type == "cuda"
    assert value.item() == pytest.approx(exact, rel=0.02)
    torch.manual_seed(1)
    est = BottleneckEstimator(alpha=0.5, solver="lanczos")
    _, y, t = batch(n=300, width=8, classes=5, seed=31)
    t = t.float().cuda().requires_grad_(True)
    i_xt, i_ty = est.terms(a, t, label_gram(y, 5, torch.float32).cuda())
    (g,) = torch.autograd.grad(i_xt - 10 * i_ty, t)
    assert g.device.type == "cuda" and torch.isfinite(g).all()


def test_math_of_known_spectrum_helper() -> None:
    lam = torch.tensor([0.5, 0.25, 0.25], dtype=F64)
    assert renyi_of(lam, 2.0) == pytest.approx(-math.log2(0.375))
    a = known_spectrum(lam, seed=32)
    torch.testing.assert_close(torch.linalg.eigvalsh(a), lam.sort().values, atol=1e-12, rtol=0)
