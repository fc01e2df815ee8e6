"""Tests of pnnkit.info's kernels: pairwise distances, Gaussian and linear Gram matrices, their
normalisation, and the data-driven kernel widths (against numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pnnkit.info import (
    gaussian_gram,
    kernel_width,
    linear_gram,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    unit_normalize,
)
from tests.fixtures.info import F64, gen, randn

# ----------------------------------------------------------------------------- kernels


def test_pairwise_sq_distances_matches_cdist() -> None:
    x = randn(30, 7, seed=15) * 3.0 + 1.0
    d = pairwise_sq_distances(x)
    torch.testing.assert_close(d, torch.cdist(x, x) ** 2, atol=1e-9, rtol=1e-9)
    assert (d >= 0).all()
    assert (torch.diagonal(d) == 0).all()
    xb = randn(2, 5, 3, seed=16)
    db = pairwise_sq_distances(xb)
    assert db.shape == (2, 5, 5)
    torch.testing.assert_close(db[1], torch.cdist(xb[1], xb[1]) ** 2, atol=1e-10, rtol=0)


def test_pairwise_sq_distances_exact_zero_for_duplicates_float32() -> None:
    x = (torch.randn(10, 64, generator=gen(17)) * 100).float()
    x[5] = x[2]
    d = pairwise_sq_distances(x)
    assert d.dtype == torch.float32
    assert (torch.diagonal(d) == 0).all() and (d >= 0).all()


def test_gaussian_gram_values() -> None:
    x = randn(6, 2, seed=18)
    k = gaussian_gram(x, 0.8)
    expected = torch.exp(-(torch.cdist(x, x) ** 2) / (2 * 0.8**2))
    torch.testing.assert_close(k, expected, atol=1e-12, rtol=1e-10)
    assert (torch.diagonal(k) == 1).all()
    torch.testing.assert_close(gaussian_gram(x, torch.tensor(0.8)), k)


def test_linear_gram_and_one_hot() -> None:
    labels = torch.tensor([2, 0, 2, 1])
    y = one_hot(labels, 4)
    assert y.dtype == torch.get_default_dtype()
    assert y.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]
    k = linear_gram(y)
    assert k.tolist() == (labels[:, None] == labels[None, :]).float().tolist()


def test_unit_normalize() -> None:
    x = randn(5, 4, seed=19)
    x[2] = 0.0
    x.requires_grad_(True)
    u = unit_normalize(x)
    norms = torch.linalg.vector_norm(u, dim=-1)
    torch.testing.assert_close(norms[[0, 1, 3, 4]], torch.ones(4, dtype=F64))
    assert (u[2] == 0).all()
    (g,) = torch.autograd.grad(u.sum(), x)
    assert torch.isfinite(g).all() and torch.isfinite(u).all()


@pytest.mark.parametrize("shape", [(5, 5), (3, 6, 6)])
def test_normalize_gram_has_unit_trace(shape: tuple[int, ...]) -> None:
    x = randn(*shape[:-1], 3, seed=20)
    a = normalize_gram(linear_gram(x) + 0.1)
    tr = torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(tr, torch.ones(shape[:-2], dtype=F64))


def _numpy_pdist(x: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(len(x), k=1)
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))[iu]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 11])
def test_kernel_width_rules_match_numpy(n: int) -> None:
    x = randn(n, 4, seed=21 + n)
    x_np = x.numpy()
    dist = _numpy_pdist(x_np)
    for scale in (1.0, 0.25):
        med = kernel_width(x, "median", scale)
        mean = kernel_width(x, "mean", scale)
        silv = kernel_width(x, "silverman", scale)
        assert med.shape == mean.shape == silv.shape == ()
        assert med.item() == pytest.approx(scale * float(np.median(dist)), rel=1e-10)
        assert mean.item() == pytest.approx(scale * float(np.mean(dist)), rel=1e-10)
        assert silv.item() == pytest.approx(scale * n ** (-1.0 / (4 + 4)), rel=1e-12)


def test_kernel_width_is_detached_and_keeps_dtype() -> None:
    x = torch.randn(12, 3, requires_grad=True)
    w = kernel_width(x)
    assert not w.requires_grad and w.dtype == torch.float32 and w.device == x.device
    assert kernel_width(x, scale=2.0).item() == pytest.approx(2 * w.item(), rel=1e-6)
