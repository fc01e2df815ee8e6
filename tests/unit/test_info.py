"""Tests of pnnkit.info: kernels, Gram matrices and the matrix-based Renyi entropy.

Closed forms from docs/pib.md section 1 and Sanchez Giraldo, Rao & Principe (IEEE Trans. Inf.
Theory 61:535, 2015). All in float64 unless a test is about float32.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info import (
    gaussian_gram,
    joint_entropy,
    kernel_width,
    linear_gram,
    mutual_information,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    renyi2_entropy_and_grad,
    renyi_entropy,
)
from tests.fixtures.info import F64, gauss, gen, randn

ALPHAS = (0.5, 1.0, 1.5, 2.0, 3.0)


def _renyi_of_distribution(p: np.ndarray, alpha: float) -> float:
    """Renyi entropy (bits) of a probability vector, written out by hand."""
    p = p[p > 0]
    if alpha == 1.0:
        return float(-(p * np.log2(p)).sum())
    return float(np.log2((p**alpha).sum()) / (1.0 - alpha))


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("algorithm", ["auto", "eig"])
def test_identical_samples_have_zero_entropy(alpha: float, algorithm: str) -> None:
    x = randn(1, 4).repeat(9, 1)
    a = gauss(x, 0.7)
    s = renyi_entropy(a, alpha, algorithm)
    assert s.shape == ()
    assert abs(s.item()) < 1e-10


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_identical_samples_zero_entropy_float32(alpha: float) -> None:
    x = torch.ones(16, 3, dtype=torch.float32)
    s = renyi_entropy(gauss(x), alpha, "eig")
    assert s.dtype == torch.float32
    assert abs(s.item()) < 1e-4


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_orthogonal_samples_have_entropy_log2_n(alpha: float, n: int) -> None:
    for x in (torch.eye(n, dtype=F64), one_hot(torch.arange(n), n, dtype=F64)):
        a = normalize_gram(linear_gram(x))
        for algorithm in ("auto", "eig"):
            s = renyi_entropy(a, alpha, algorithm)
            assert s.item() == pytest.approx(math.log2(n), abs=1e-10)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("counts", [(5, 2, 1), (10, 1, 3, 6), (7,)])
def test_label_kernel_entropy_is_renyi_entropy_of_class_proportions(
    alpha: float, counts: tuple[int, ...]
) -> None:
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=gen(1))]
    num_classes = len(counts) + 1  # one class absent from the batch
    lab = normalize_gram(linear_gram(one_hot(labels, num_classes, dtype=F64)))
    p = np.array(counts, dtype=np.float64) / sum(counts)
    expected = _renyi_of_distribution(p, alpha)
    assert renyi_entropy(lab, alpha, "eig").item() == pytest.approx(expected, abs=1e-10)
    assert renyi_entropy(lab, alpha, "auto").item() == pytest.approx(expected, abs=1e-10)


def test_renyi_entropy_of_proportions_is_not_trivially_log2_classes() -> None:
    # guards the previous test: unbalanced classes must give less than log2(C)
    lab = normalize_gram(linear_gram(one_hot(torch.tensor([0, 0, 0, 0, 0, 1, 2]), 3, F64)))
    assert renyi_entropy(lab, 2.0).item() < math.log2(3) - 0.3


# ----------------------------------------------------------------------- MI identities


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mutual_information_is_symmetric(alpha: float) -> None:
    a = gauss(randn(12, 3, seed=2), 1.2)
    b = gauss(randn(12, 5, seed=3), 2.0)
    assert mutual_information(a, b, alpha).item() == pytest.approx(
        mutual_information(b, a, alpha).item(), abs=1e-10
    )


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mutual_information_with_constant_kernel_is_zero(alpha: float) -> None:
    # A o (J/n) / tr(A o J/n) = A, and S(J/n) = 0 (one eigenvalue 1)
    n = 10
    a = gauss(randn(n, 3, seed=4), 1.0)
    const = torch.full((n, n), 1.0 / n, dtype=F64)
    assert renyi_entropy(const, alpha).item() == pytest.approx(0.0, abs=1e-10)
    assert joint_entropy(a, const, alpha).item() == pytest.approx(
        renyi_entropy(a, alpha).item(), abs=1e-9
    )
    assert mutual_information(a, const, alpha).item() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mutual_information_of_labels_with_a_label_gram_equals_its_entropy(alpha: float) -> None:
    # B is a Gaussian Gram of the one-hot labels: B_ij = 1 in-class, so L o B = L and
    # S(L, B) = S(L); hence I(L; B) = S(B) >= 0 and I(L; L) = S(L).
    labels = torch.tensor([0, 1, 1, 2, 0, 0, 2, 1, 0, 3, 3, 0])
    y = one_hot(labels, 4, dtype=F64)
    lab = normalize_gram(linear_gram(y))
    b = gauss(y, 0.9)
    s_b = renyi_entropy(b, alpha).item()
    assert s_b > 0.1
    assert mutual_information(lab, b, alpha).item() == pytest.approx(s_b, abs=1e-9)
    assert mutual_information(lab, lab, alpha).item() == pytest.approx(
        renyi_entropy(lab, alpha).item(), abs=1e-9
    )


@pytest.mark.parametrize("alpha", ALPHAS)
def test_joint_entropy_of_gaussian_gram_with_itself(alpha: float) -> None:
    # exp(-d/2s^2)^2 = exp(-d/(2 (s/sqrt2)^2)): S(G_s, G_s) = S(G_{s/sqrt2})
    x = randn(10, 2, seed=5)
    sigma = 1.3
    expected = renyi_entropy(gauss(x, sigma / math.sqrt(2.0)), alpha).item()
    a = gauss(x, sigma)
    assert joint_entropy(a, a, alpha).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("seed", range(4))
def test_mutual_information_bounds_for_unit_diagonal_kernels(alpha: float, seed: int) -> None:
    # For B with unit diagonal, eig(A o B) is majorised by eig(A) (Bapat & Sunder), and Renyi
    # entropy is Schur-concave: S(A, B) >= max(S(A), S(B)), i.e. I(A; B) <= min(S(A), S(B)).
    n = 14
    x = randn(n, 3, seed=10 + seed)
    t = x @ randn(3, 4, seed=20 + seed) + 0.5 * randn(n, 4, seed=30 + seed)
    labels = torch.randint(0, 3, (n,), generator=gen(40 + seed))
    grams = [gauss(x, 1.0), gauss(t, 2.0), normalize_gram(linear_gram(one_hot(labels, 3, F64)))]
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = grams[i], grams[j]
            mi = mutual_information(a, b, alpha).item()
            assert mi <= min(renyi_entropy(a, alpha).item(), renyi_entropy(b, alpha).item()) + 1e-9


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0, 50.0])
def test_entropy_between_zero_and_log2_n(alpha: float, sigma: float) -> None:
    n = 20
    for seed in range(3):
        a = gauss(randn(n, 3, seed=seed), sigma)
        s = renyi_entropy(a, alpha).item()
        assert -1e-10 <= s <= math.log2(n) + 1e-10


def test_entropy_grows_with_kernel_width_shrinking() -> None:
    x = randn(20, 3, seed=6)
    s = [renyi_entropy(gauss(x, w)).item() for w in (10.0, 1.0, 0.1)]
    assert s[0] < s[1] < s[2]
    assert s[2] == pytest.approx(math.log2(20), abs=1e-3)


def test_entropy_decreases_with_alpha() -> None:
    a = gauss(randn(15, 3, seed=7), 1.0)
    s = [renyi_entropy(a, al, "eig").item() for al in (0.5, 0.999, 1.0, 1.001, 2.0, 3.0)]
    assert all(u >= v - 1e-12 for u, v in itertools.pairwise(s))
    assert s[1] == pytest.approx(s[2], abs=1e-2)  # alpha -> 1 is continuous
    assert s[3] == pytest.approx(s[2], abs=1e-2)


# ------------------------------------------------------------ frobenius path vs eig path


@pytest.mark.parametrize("n", [2, 7, 32, 100])
def test_frobenius_equals_eig_for_alpha_2(n: int) -> None:
    for seed, sigma in ((0, 0.3), (1, 1.0), (2, 4.0)):
        a = gauss(randn(n, 4, seed=seed), sigma)
        frob = renyi_entropy(a, 2.0, "frobenius")
        eig = renyi_entropy(a, 2.0, "eig")
        assert frob.item() == pytest.approx(eig.item(), abs=1e-5)
        assert renyi_entropy(a).item() == frob.item()  # auto picks frobenius at alpha = 2


def test_frobenius_equals_eig_batched() -> None:
    x = randn(3, 4, 12, 5, seed=8)
    sigma = torch.linspace(0.3, 3.0, 12, dtype=F64).reshape(3, 4)
    a = normalize_gram(gaussian_gram(x, sigma))
    frob = renyi_entropy(a, 2.0, "frobenius")
    eig = renyi_entropy(a, 2.0, "eig")
    assert frob.shape == eig.shape == (3, 4)
    torch.testing.assert_close(frob, eig, atol=1e-5, rtol=0)
    for i in range(3):
        for j in range(4):
            single = normalize_gram(gaussian_gram(x[i, j], sigma[i, j].item()))
            assert eig[i, j].item() == pytest.approx(renyi_entropy(single, 2.0, "eig").item())


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_batched_eig_matches_single(alpha: float) -> None:
    a = gauss(randn(5, 9, 3, seed=9), 1.0)
    batch = renyi_entropy(a, alpha)
    single = torch.stack([renyi_entropy(a[i], alpha) for i in range(5)])
    torch.testing.assert_close(batch, single, atol=1e-10, rtol=0)
    b = gauss(randn(9, 2, seed=10), 1.0)  # broadcast one b against a batch of a
    mi = mutual_information(a, b, alpha)
    assert mi.shape == (5,)
    assert mi[3].item() == pytest.approx(mutual_information(a[3], b, alpha).item(), abs=1e-10)


def test_renyi2_entropy_and_grad_matches_autograd() -> None:
    for shape in ((7, 3), (2, 3, 9, 4)):
        x = randn(*shape, seed=11)
        a = gauss(x, 1.1).detach().requires_grad_(True)
        value, grad = renyi2_entropy_and_grad(a)
        ref = renyi_entropy(a, 2.0, "frobenius")
        (auto_grad,) = torch.autograd.grad(ref.sum(), a)
        torch.testing.assert_close(value, ref.detach(), atol=1e-12, rtol=0)
        torch.testing.assert_close(grad, auto_grad, atol=1e-12, rtol=1e-10)
        (eig_grad,) = torch.autograd.grad(renyi_entropy(a, 2.0, "eig").sum(), a)
        torch.testing.assert_close(grad, eig_grad, atol=1e-8, rtol=1e-6)


# -------------------------------------------------------------------------- gradients


def _x6() -> torch.Tensor:
    # distinct points so that the Gram matrices have non-degenerate eigenvalues
    return (randn(6, 3, seed=12) * 0.8).requires_grad_(True)


@pytest.mark.parametrize(
    ("alpha", "algorithm"),
    [(0.5, "eig"), (1.0, "eig"), (1.5, "eig"), (2.0, "eig"), (3.0, "eig"), (2.0, "frobenius")],
)
def test_gradcheck_entropy_through_gaussian_gram(alpha: float, algorithm: str) -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return renyi_entropy(normalize_gram(gaussian_gram(x, 1.0)), alpha, algorithm)

    assert torch.autograd.gradcheck(f, (_x6(),), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_gradcheck_entropy_wrt_gram_matrix(alpha: float) -> None:
    m = randn(5, 5, seed=13)
    a = (m @ m.T + 0.5 * torch.eye(5, dtype=F64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda g: renyi_entropy(g, alpha, "eig"), (a,), atol=1e-6)


@pytest.mark.parametrize(("alpha", "algorithm"), [(1.5, "eig"), (2.0, "auto"), (3.0, "eig")])
def test_gradcheck_mutual_information_through_gaussian_gram(alpha: float, algorithm: str) -> None:
    y = one_hot(torch.tensor([0, 1, 0, 2, 1, 2]), 3, dtype=F64)
    lab = normalize_gram(linear_gram(y))
    other = gauss(randn(6, 2, seed=14), 1.5)
    sigma = torch.tensor(0.9, dtype=F64, requires_grad=True)

    def f(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        a = normalize_gram(gaussian_gram(x, s))
        return torch.stack(
            [
                mutual_information(a, lab, alpha, algorithm),
                mutual_information(other, a, alpha, algorithm),
            ]
        )

    assert torch.autograd.gradcheck(f, (_x6(), sigma), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_gradient_finite_with_zero_eigenvalues(alpha: float) -> None:
    x = torch.zeros(8, 3, dtype=F64)
    x[4:] = 1.0  # two clusters: rank-2 Gram, six zero eigenvalues
    x.requires_grad_(True)
    s = renyi_entropy(gauss(x, 1.0), alpha, "eig")
    (g,) = torch.autograd.grad(s, x)
    assert torch.isfinite(g).all()
    # the rank-one all-equal case too, with a linear label kernel
    y = torch.ones(6, 2, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(renyi_entropy(normalize_gram(linear_gram(y)), alpha, "eig"), y)
    assert torch.isfinite(g).all()


# ----------------------------------------------------------------------------- errors


def test_shape_errors() -> None:
    sq = torch.eye(4, dtype=F64) / 4
    with pytest.raises(ShapeError, match=r"a has shape \(4, 3\)"):
        renyi_entropy(torch.ones(4, 3, dtype=F64))
    with pytest.raises(ShapeError, match=r"a has shape \(4,\)"):
        renyi_entropy(torch.ones(4, dtype=F64))
    with pytest.raises(ShapeError, match=r"a has shape \(4, 4\) and b has shape \(5, 5\)"):
        mutual_information(sq, torch.eye(5, dtype=F64) / 5)
    with pytest.raises(ShapeError, match=r"a has shape \(2, 4, 4\) and b has shape \(3, 4, 4\)"):
        joint_entropy(sq.expand(2, 4, 4), sq.expand(3, 4, 4))
    with pytest.raises(ShapeError, match=r"k has shape \(3, 2\).*square"):
        normalize_gram(torch.ones(3, 2))
    with pytest.raises(ShapeError, match=r"x has shape \(5,\)"):
        pairwise_sq_distances(torch.ones(5))
    with pytest.raises(ShapeError, match=r"n >= 2"):
        kernel_width(torch.ones(1, 3))
    with pytest.raises(ShapeError, match=r"labels have shape \(2, 2\)"):
        one_hot(torch.zeros(2, 2, dtype=torch.long), 3)
    with pytest.raises(ShapeError, match="dtype"):
        renyi_entropy(torch.eye(3, dtype=torch.long))


def test_config_errors() -> None:
    a = torch.eye(4, dtype=F64) / 4
    x = randn(5, 2)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=rf"alpha = {bad!r}.*> 0"):
            renyi_entropy(a, bad)
    with pytest.raises(ConfigError, match=r"'frobenius' needs alpha = 2, got alpha = 3"):
        renyi_entropy(a, 3.0, "frobenius")
    with pytest.raises(ConfigError, match=r"algorithm = 'svd'.*auto, eig, frobenius"):
        mutual_information(a, a, 2.0, "svd")
    with pytest.raises(ConfigError, match=r"rule = 'mode'.*median, mean, silverman"):
        kernel_width(x, "mode")
    with pytest.raises(ConfigError, match=r"scale = 0"):
        kernel_width(x, "mean", 0)
    with pytest.raises(ConfigError, match=r"kernel width 0\.0"):
        kernel_width(torch.zeros(5, 2))
    for bad in (0.0, -2.0):
        with pytest.raises(ConfigError, match=rf"sigma = {bad!r}.*positive"):
            gaussian_gram(x, bad)
    with pytest.raises(ConfigError, match="sigma"):
        gaussian_gram(x, torch.tensor(-1.0))
    with pytest.raises(ConfigError, match=r"trace -4\.0.*must be positive"):
        normalize_gram(-torch.eye(4))
    with pytest.raises(ConfigError, match=r"labels contain 3, outside the allowed range 0\.\.2"):
        one_hot(torch.tensor([0, 3, 1]), 3)
    with pytest.raises(ConfigError, match=r"labels contain -1"):
        one_hot(torch.tensor([0, -1]), 3)
    with pytest.raises(ConfigError, match="integer class indices"):
        one_hot(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ConfigError, match="num_classes = 0"):
        one_hot(torch.tensor([0]), 0)
