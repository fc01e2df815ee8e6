"""Shared helpers of the information-estimator tests: seeded samples, Gram matrices, matrices
with a known spectrum, and the bottleneck terms by the autograd reference and the written-out
solver."""

from __future__ import annotations

import pytest
import torch

from pnnkit.info import (
    BottleneckEstimator,
    bottleneck_terms,
    gaussian_gram,
    linear_gram,
    normalize_gram,
    one_hot,
)

F64 = torch.float64
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


def gauss(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    return normalize_gram(gaussian_gram(x, sigma))


def labels(n: int, classes: int, seed: int = 0) -> torch.Tensor:
    return torch.randperm(n, generator=gen(seed)) % classes  # unsorted classes


def label_gram(y: torch.Tensor, classes: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return normalize_gram(linear_gram(one_hot(y, classes, dtype)))


def known_spectrum(lam: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``Q diag(lam) Q^T`` with a random orthogonal ``Q``."""
    q, _ = torch.linalg.qr(randn(lam.numel(), lam.numel(), seed=seed, dtype=lam.dtype))
    a = (q * lam) @ q.T
    return 0.5 * (a + a.T)


def renyi_of(lam: torch.Tensor, alpha: float) -> float:
    lam = lam[lam > 0]
    if alpha == 1.0:
        return float(-(lam * torch.log2(lam)).sum())
    return float(torch.log2((lam**alpha).sum()) / (1 - alpha))


def batch(n: int = 24, d: int = 5, width: int = 7, classes: int = 3, seed: int = 0):
    x = randn(n, d, seed=seed)
    y = labels(n, classes, seed)
    t = torch.relu(randn(n, width, seed=seed + 1) + 0.3)
    return x, y, t


def reference_terms(est, x_gram, t, y_gram, gamma=1.0, beta=10.0):
    """Values and gradient of the bottleneck loss by the autograd path."""
    auto = BottleneckEstimator(est.alpha, est.sigma2, est.x_sigma2, est.width_rule)
    leaf = t.detach().clone().requires_grad_(True)
    i_xt, i_ty = auto.terms(x_gram, leaf, y_gram)
    (grad,) = torch.autograd.grad(gamma * i_xt - beta * i_ty, leaf)
    return i_xt.detach(), i_ty.detach(), grad


def fast_terms(x_gram, t, y_gram, gamma=1.0, beta=10.0, **kwargs):
    leaf = t.detach().clone().requires_grad_(True)
    i_xt, i_ty = bottleneck_terms(x_gram, leaf, y_gram, **kwargs)
    (grad,) = torch.autograd.grad(gamma * i_xt - beta * i_ty, leaf)
    return i_xt.detach(), i_ty.detach(), grad
