"""Matrix-based Renyi entropy, joint entropy and mutual information (in bits).

Sanchez Giraldo, Rao & Principe, "Measures of entropy from data using infinitely divisible
kernels", IEEE Trans. Inf. Theory 61:535 (2015). For a normalised Gram matrix ``A``
(symmetric positive semi-definite, ``tr(A) = 1``) with eigenvalues ``lambda_i``:

- ``S_a(A) = 1/(1-a) log2 sum_i lambda_i^a`` (a > 0, a != 1);
- ``S_1(A) = -sum_i lambda_i log2 lambda_i`` (the von Neumann / Shannon limit a -> 1);
- ``S_a(A, B) = S_a(A o B / tr(A o B))`` (o = elementwise product);
- ``I_a(A; B) = S_a(A) + S_a(B) - S_a(A, B)``.

For a = 2 no eigendecomposition is needed: ``sum_i lambda_i^2 = tr(A^2) = ||A||_F^2`` for a
symmetric A, so ``S_2(A) = -log2 ||A||_F^2`` costs O(n^2) instead of O(n^3).

All functions take ``(n, n)`` matrices or batches ``(..., n, n)`` (returning ``(...)``), run on
the input's device and dtype and are differentiable with autograd. The inputs are not
re-normalised: pass matrices from :func:`pnnkit.info.normalize_gram`.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor

from pnnkit.errors import ConfigError, ShapeError

__all__ = [
    "ENTROPY_ALGORITHMS",
    "check_alpha",
    "check_gram",
    "eig_tolerance",
    "entropy_from_power_sum",
    "joint_entropy",
    "mutual_information",
    "renyi2_entropy_and_grad",
    "renyi_entropy",
    "renyi_entropy_and_grad",
    "spectral_terms",
]

#: The algorithms :func:`renyi_entropy` knows (its ``algorithm`` argument).
ENTROPY_ALGORITHMS: tuple[str, ...] = ("auto", "eig", "frobenius")

_LN2 = math.log(2.0)


def check_gram(a: object, name: str) -> Tensor:
    """``a`` as a real floating-point square matrix ``(n, n)`` or batch ``(..., n, n)``, or a
    ShapeError naming ``name``."""
    if not isinstance(a, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(a).__name__}")
    if not a.is_floating_point():
        raise ShapeError(
            f"{name} has dtype {a.dtype}; a real floating-point Gram matrix is required"
        )
    if a.dim() < 2 or a.shape[-1] != a.shape[-2] or a.shape[-1] == 0:
        raise ShapeError(
            f"{name} has shape {tuple(a.shape)}; expected a non-empty square matrix (n, n) "
            "or a batch (..., n, n)"
        )
    return a


def _check_pair(a: object, b: object) -> tuple[Tensor, Tensor]:
    a = check_gram(a, "a")
    b = check_gram(b, "b")
    # broadcastable: equal sizes or a 1 in each trailing position (checked by hand: torch's
    # broadcast_shapes costs more than the order-2 entropy of a 256 x 256 matrix)
    ok = a.shape[-1] == b.shape[-1] and all(
        p == q or p == 1 or q == 1
        for p, q in zip(reversed(a.shape), reversed(b.shape), strict=False)
    )
    if not ok:
        raise ShapeError(
            f"a has shape {tuple(a.shape)} and b has shape {tuple(b.shape)}; they must be "
            "Gram matrices of the same n samples (equal or broadcastable shapes)"
        )
    return a, b


def check_alpha(alpha: object) -> float:
    """The Renyi order as a float, or a ConfigError unless it is a finite number > 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise ConfigError(f"alpha = {alpha!r} is invalid: must be a finite number > 0")
    value = float(alpha)
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"alpha = {alpha!r} is invalid: must be a finite number > 0")
    return value


def _resolve_algorithm(algorithm: object, alpha: float) -> str:
    if not isinstance(algorithm, str) or algorithm not in ENTROPY_ALGORITHMS:
        raise ConfigError(
            f"algorithm = {algorithm!r} is unknown; choose one of {', '.join(ENTROPY_ALGORITHMS)}"
        )
    if algorithm == "auto":
        return "frobenius" if alpha == 2.0 else "eig"
    if algorithm == "frobenius" and alpha != 2.0:
        raise ConfigError(
            f"algorithm = 'frobenius' needs alpha = 2, got alpha = {alpha!r}; "
            "use algorithm='eig' or 'auto' for other orders"
        )
    return algorithm


def _frobenius_entropy(a: Tensor) -> Tensor:
    """``S_2(A) = -log2 ||A||_F^2``."""
    return -torch.log2((a * a).sum(dim=(-2, -1)))


def _eig_entropy(a: Tensor, alpha: float) -> Tensor:
    """Renyi entropy of order ``alpha`` from the eigenvalues of ``(A + A^T) / 2``.

    Eigenvalues at or below the numerical-rank tolerance ``n * eps * lambda_max`` (round-off
    of zero eigenvalues, negative ones included) count as exactly 0 and get zero gradient,
    so ``0^a = 0``, ``0 log 0 = 0`` and the backward pass stays finite for ``a <= 1``.
    """
    n = a.shape[-1]
    work = a if a.dtype in (torch.float32, torch.float64) else a.to(torch.float32)
    lam = torch.linalg.eigvalsh(0.5 * (work + work.mT))
    with torch.no_grad():
        lam_max = lam.amax(dim=-1, keepdim=True).clamp_min(0.0)
        keep = lam > lam_max * (n * torch.finfo(lam.dtype).eps)
    safe = torch.where(keep, lam, torch.ones_like(lam))
    zero = torch.zeros_like(lam)
    if alpha == 1.0:
        s = torch.where(keep, -safe * torch.log2(safe), zero).sum(dim=-1)
    else:
        s = torch.log2(torch.where(keep, safe.pow(alpha), zero).sum(dim=-1)) / (1.0 - alpha)
    return s.to(a.dtype)


def renyi_entropy(a: Tensor, alpha: float = 2.0, algorithm: str = "auto") -> Tensor:
    """Matrix-based Renyi entropy of order ``alpha`` in bits (Sanchez Giraldo et al. 2015).

    ``S_a(A) = 1/(1-a) log2 sum_i lambda_i(A)^a``; ``alpha = 1`` gives the von Neumann limit
    ``-sum_i lambda_i log2 lambda_i``. ``a``: a normalised Gram matrix ``(n, n)`` or a batch
    ``(..., n, n)``; returns a tensor of shape ``(...)``.

    ``algorithm``: ``"eig"`` (``torch.linalg.eigvalsh``, any ``alpha > 0``), ``"frobenius"``
    (``-log2 ||A||_F^2``, only ``alpha = 2``, no eigendecomposition) or ``"auto"``
    (frobenius for ``alpha = 2``, else eig). For a symmetric ``A`` both give the same value.
    """
    a = check_gram(a, "a")
    alpha = check_alpha(alpha)
    algorithm = _resolve_algorithm(algorithm, alpha)
    if algorithm == "frobenius":
        return _frobenius_entropy(a)
    return _eig_entropy(a, alpha)


def _joint_matrix(a: Tensor, b: Tensor) -> Tensor:
    ab = a * b
    tr = torch.diagonal(ab, dim1=-2, dim2=-1).sum(-1)
    return ab / tr.unsqueeze(-1).unsqueeze(-1)


def joint_entropy(a: Tensor, b: Tensor, alpha: float = 2.0, algorithm: str = "auto") -> Tensor:
    """Matrix-based joint Renyi entropy ``S_a(A, B) = S_a(A o B / tr(A o B))`` in bits.

    ``a``, ``b``: normalised Gram matrices of the same n samples (equal or broadcastable
    batch shapes). See :func:`renyi_entropy` for ``alpha`` and ``algorithm``.
    """
    a, b = _check_pair(a, b)
    alpha = check_alpha(alpha)
    algorithm = _resolve_algorithm(algorithm, alpha)
    return renyi_entropy(_joint_matrix(a, b), alpha, algorithm)


def mutual_information(a: Tensor, b: Tensor, alpha: float = 2.0, algorithm: str = "auto") -> Tensor:
    """Matrix-based Renyi mutual information ``I_a(A; B) = S_a(A) + S_a(B) - S_a(A, B)``.

    In bits. For Gram matrices with a constant diagonal (Gaussian kernels, one-hot label
    kernels) it lies between 0 and ``min(S_a(A), S_a(B))`` (Sanchez Giraldo et al. 2015).
    """
    a, b = _check_pair(a, b)
    alpha = check_alpha(alpha)
    algorithm = _resolve_algorithm(algorithm, alpha)
    return (
        renyi_entropy(a, alpha, algorithm)
        + renyi_entropy(b, alpha, algorithm)
        - renyi_entropy(_joint_matrix(a, b), alpha, algorithm)
    )


def spectral_terms(lam: Tensor, alpha: float, tol: Tensor | float) -> tuple[Tensor, Tensor]:
    """``f(lambda)`` and ``f'(lambda)`` of the Renyi power sum, elementwise.

    ``f(l) = l^alpha`` (``alpha != 1``) or ``-l log2 l`` (``alpha = 1``); values at or below
    ``tol`` (round-off of zero eigenvalues) count as exactly 0, with ``f = f' = 0``, as in
    :func:`renyi_entropy`'s eigenvalue path. Shared by the exact and the randomized estimators.
    """
    keep = lam > tol
    safe = torch.where(keep, lam, torch.ones_like(lam))
    zero = torch.zeros_like(lam)
    if alpha == 1.0:
        log = torch.log2(safe)
        return torch.where(keep, -safe * log, zero), torch.where(keep, -(log + 1.0 / _LN2), zero)
    return (
        torch.where(keep, safe.pow(alpha), zero),
        torch.where(keep, alpha * safe.pow(alpha - 1.0), zero),
    )


def entropy_from_power_sum(p: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """``S_a`` from ``p = sum_i f(lambda_i)`` (see :func:`spectral_terms`) and ``dS_a / dp``."""
    if alpha == 1.0:
        return p, torch.ones_like(p)
    return torch.log2(p) / (1.0 - alpha), 1.0 / ((1.0 - alpha) * _LN2 * p)


def eig_tolerance(lam: Tensor, n: int) -> Tensor:
    """The numerical-rank threshold ``n * eps * lambda_max`` below which eigenvalues count as
    0 (round-off of zero eigenvalues)."""
    lam_max = lam.amax(dim=-1, keepdim=True).clamp_min(0.0)
    return lam_max * (n * torch.finfo(lam.dtype).eps)


def renyi_entropy_and_grad(a: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Renyi entropy of any order and its gradient ``dS_a/dA`` in closed form, without autograd.

    One ``torch.linalg.eigh`` per matrix (batched over ``(..., n, n)``; ``alpha = 2`` needs
    none, see :func:`renyi2_entropy_and_grad`): with ``A = V diag(lambda) V^T``,
    ``dS_a/dA = V diag(dS_a/dlambda) V^T``, where
    ``dS_a/dlambda_i = a lambda_i^(a-1) / ((1 - a) ln 2 sum_j lambda_j^a)`` and, for ``a = 1``,
    ``-(log2 lambda_i + 1/ln 2)``. Eigenvalues at or below ``n * eps * lambda_max`` count as 0
    and get zero gradient, as in :func:`renyi_entropy`. ``A`` is read through its symmetric
    part, so the gradient is symmetric. Float32 or float64.
    """
    a = check_gram(a, "a")
    alpha = check_alpha(alpha)
    if alpha == 2.0:
        return renyi2_entropy_and_grad(a)
    with torch.no_grad():
        work = a if a.dtype in (torch.float32, torch.float64) else a.to(torch.float32)
        lam, vec = torch.linalg.eigh(0.5 * (work + work.mT))
        f, slope = spectral_terms(lam, alpha, eig_tolerance(lam, a.shape[-1]))
        value, ds_dp = entropy_from_power_sum(f.sum(dim=-1), alpha)
        grad = (vec * (slope * ds_dp.unsqueeze(-1)).unsqueeze(-2)) @ vec.mT
    return value.to(a.dtype), grad.to(a.dtype)


def renyi2_entropy_and_grad(a: Tensor) -> tuple[Tensor, Tensor]:
    """Closed-form order-2 entropy and its gradient, without autograd.

    ``S_2(A) = -log2 ||A||_F^2`` and ``dS_2/dA = -2 A / (ln 2 ||A||_F^2)``. ``a``: ``(n, n)``
    or ``(..., n, n)``; returns the entropy ``(...)`` and the gradient, shaped like ``a``.
    """
    a = check_gram(a, "a")
    with torch.no_grad():
        sq = (a * a).sum(dim=(-2, -1), keepdim=True)
        value = -torch.log2(sq).squeeze(-1).squeeze(-1)
        grad = a * (-2.0 / _LN2) / sq
    return value, grad
