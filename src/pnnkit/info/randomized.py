"""Randomized matrix-based Renyi entropy for large batches: stochastic Lanczos quadrature.

The exact entropy needs all eigenvalues of the ``n x n`` normalised Gram matrix (``O(n^3)``).
For ``p = tr f(A)`` with ``f(l) = l^alpha`` (``-l log2 l`` for ``alpha = 1``) this module uses
stochastic Lanczos quadrature (SLQ; Ubaru, Chen & Saad, "Fast estimation of tr(f(A)) via
stochastic Lanczos quadrature", SIAM J. Matrix Anal. Appl. 38:1075, 2017) with deflation:

- Hutch++ (Meyer, Musco, Musco & Woodruff, SOSA 2021): an orthonormal basis ``V`` of ``r``
  dominant directions (randomized subspace iteration on ``A``) is treated apart,
  ``tr f(A) = tr(V^T f(A) V) + tr(P f(A) P)`` with ``P = I - V V^T``, and only the second term
  is estimated by Hutchinson's estimator (Commun. Stat. Simul. Comput. 18:1059, 1989) with
  ``k`` Rademacher probes ``z``: ``E[(Pz)^T f(A) (Pz)] = tr(P f(A) P)``. A Gram matrix's few
  large eigenvalues (one per cluster of samples) no longer enter the probes' variance, and
  the estimate stays unbiased whatever ``V`` is;
- each quadratic form ``v^T f(A) v`` (the ``r`` basis vectors and the ``k`` projected probes)
  by ``m`` steps of Lanczos started at ``v / ||v||``, the ``m``-node Gauss quadrature of the
  spectral measure of ``A`` seen from ``v``: ``v^T f(A) v ~ ||v||^2 sum_j tau_j^2 f(theta_j)``,
  with ``theta_j`` the eigenvalues (Ritz values) of the ``m x m`` tridiagonal Lanczos matrix
  and ``tau_j`` the first components of its eigenvectors.

All ``r + k`` start vectors run together, so each Lanczos step is one product of ``A`` with an
``(n, r + k)`` block: ``O(m (r + k) n^2)`` in all instead of ``O(n^3)``, with full
reorthogonalisation (``O(m^2 (r + k) n)``), which keeps each basis orthogonal in float32.

Gradient. ``d tr f(A) / dA = f'(A)``; each quadratic form contributes ``f'(A) v v^T``
(symmetrised), where ``f'(A) v ~ ||v|| Q S diag(f'(theta)) S^T e_1`` comes from the same
Lanczos basis ``Q`` with no further product with ``A``. Weighted like the values
(``1`` for the columns of ``V``, ``1/k`` for the probes) the ``v v^T`` sum to ``I`` on average,
so the rank-``(r + k)`` estimate is unbiased up to the quadrature error, and noisy: a
stochastic gradient whose relative error is of order ``sqrt(n / k)`` on the part of the
spectrum outside ``V``. Ritz values at or below ``n * eps * theta_max`` count as 0 with zero
gradient, as the exact eigenvalue path does with eigenvalues.

Error: the probes' part falls as ``1 / sqrt(k)``; the quadrature error falls with ``m``
quickly for ``alpha >= 1`` and slowly for ``alpha < 1`` (``l^alpha`` is not smooth at 0, where
Gaussian Gram matrices have most of their eigenvalues); ``r`` should exceed the number of
clusters (classes) in the batch. The errors measured against the eigenvalue path for the
defaults and other ``(k, m, r)`` are in docs/BENCHMARKS.md (``benchmarks/perf/``).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info.entropy import (
    check_alpha,
    check_gram,
    entropy_from_power_sum,
    spectral_terms,
)

__all__ = [
    "DEFAULT_DEFLATION",
    "DEFAULT_PROBES",
    "DEFAULT_STEPS",
    "lanczos_quadrature",
    "rademacher_probes",
    "randomized_renyi_entropy",
    "randomized_renyi_entropy_and_grad",
    "range_basis",
]

#: Default number of Rademacher probes ``k`` (see docs/BENCHMARKS.md for the measured error).
DEFAULT_PROBES = 8
#: Default number of Lanczos steps ``m``.
DEFAULT_STEPS = 10
#: Default size ``r`` of the dominant subspace treated apart (Hutch++ deflation).
DEFAULT_DEFLATION = 16


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ConfigError(f"{name} = {value!r} is invalid: must be an integer >= 1")
    return int(value)


def rademacher_probes(
    n: int,
    probes: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``probes`` random sign vectors of length ``n``, as rows ``(probes, n)``.

    Drawn from ``generator`` (on its own device) or from torch's global generator on
    ``device``, then moved to ``device``.
    """
    draw_device = generator.device if generator is not None else device
    bits = torch.randint(0, 2, (probes, n), generator=generator, device=draw_device)
    return (2 * bits - 1).to(dtype=dtype, device=device)


def lanczos_quadrature(a: Tensor, starts: Tensor, steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """Lanczos on symmetric matrices ``a`` ``(b, n, n)`` from start vectors ``starts``
    (``(s, n)`` shared by the batch, or ``(b, s, n)``), all run together.

    Returns the Gauss quadrature of each start vector's spectral measure and the basis:
    ``theta`` ``(b, s, m)`` (Ritz values), ``vecs`` ``(b, s, m, m)`` (eigenvectors of the
    tridiagonal matrices: ``tau_j = vecs[..., 0, j]``, and
    ``v^T f(A) v ~ ||v||^2 sum_j tau_j^2 f(theta_j)``) and ``basis`` ``(b, s, m, n)``
    (orthonormal Lanczos vectors), ``m = min(steps, n)``. Each new vector is reorthogonalised
    against all earlier ones of its start vector (full reorthogonalisation). When a Krylov
    space is exhausted (``beta_j <= n eps ||A||_F``) the remaining vectors are zero and the
    tridiagonal matrix decouples, so the extra nodes carry zero weight. ``a`` is read as given
    (``q @ a``): it must be symmetric, as Gram matrices are.
    """
    b, n, _ = a.shape
    count = starts.shape[-2]
    m = min(steps, n)
    tol = n * torch.finfo(a.dtype).eps * torch.linalg.matrix_norm(a).reshape(b, 1, 1)
    basis = a.new_zeros(b, count, m, n)
    alphas = a.new_zeros(b, count, m)
    betas = a.new_zeros(b, count, m - 1)
    q = starts.expand(b, count, n)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    q_prev = torch.zeros_like(q)
    beta_prev = a.new_zeros(b, count, 1)
    for j in range(m):
        basis[:, :, j] = q
        w = q @ a  # rows: (A q)^T, A symmetric
        alpha_j = (q * w).sum(-1, keepdim=True)
        alphas[:, :, j] = alpha_j.squeeze(-1)
        if j == m - 1:
            break
        w = w - alpha_j * q - beta_prev * q_prev
        done = basis[:, :, : j + 1]
        w = w - ((done @ w.unsqueeze(-1)).mT @ done).squeeze(-2)
        beta_j = torch.linalg.vector_norm(w, dim=-1, keepdim=True)
        alive = beta_j > tol
        beta_j = torch.where(alive, beta_j, torch.zeros_like(beta_j))
        q_prev, q = q, torch.where(alive, w / torch.where(alive, beta_j, 1.0), 0.0)
        betas[:, :, j] = beta_j.squeeze(-1)
        beta_prev = beta_j
    tri = torch.diag_embed(alphas) + torch.diag_embed(betas, 1) + torch.diag_embed(betas, -1)
    theta, vecs = torch.linalg.eigh(tri)
    return theta, vecs, basis


def range_basis(a: Tensor, omega: Tensor, power_steps: int = 1) -> Tensor:
    """Orthonormal basis ``(b, r, n)`` (as rows) of the range of ``A^(power_steps + 1) omega``
    for symmetric ``a`` ``(b, n, n)`` and a start block ``omega`` ``(r, n)``: randomized
    subspace iteration (Halko, Martinsson & Tropp, SIAM Rev. 53:217, 2011), which finds the
    dominant eigenspace."""
    y = omega.expand(a.shape[0], *omega.shape) @ a
    for _ in range(power_steps):
        y = torch.linalg.qr(y.mT).Q.mT @ a
    return torch.linalg.qr(y.mT).Q.mT


def randomized_renyi_entropy_and_grad(
    a: Tensor,
    alpha: float,
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    *,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
    need_grad: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """SLQ estimate of ``S_alpha(A)`` in bits and a stochastic estimate of ``dS_alpha/dA``.

    ``a``: normalised Gram matrices ``(n, n)`` or ``(..., n, n)``, symmetric (all matrices of
    a batch share the random draws: common random numbers, so that differences of entropies,
    as in mutual information, are less noisy). ``probes`` (``k``) Rademacher vectors and the
    ``deflation`` (``r``) start vectors of the subspace iteration come from ``generator`` or
    torch's global generator; ``steps`` (``m``) Lanczos steps. Returns the values ``(...)``
    and, if ``need_grad``, the gradient estimate, shaped like ``a`` (symmetric), else None.
    No autograd graph is built.
    """
    a = check_gram(a, "a")
    alpha = check_alpha(alpha)
    probes = _check_count(probes, "probes")
    steps = _check_count(steps, "steps")
    if isinstance(deflation, bool) or not isinstance(deflation, Integral) or deflation < 0:
        raise ConfigError(f"deflation = {deflation!r} is invalid: must be an integer >= 0")
    if a.dtype not in (torch.float32, torch.float64):
        raise ConfigError(f"a has dtype {a.dtype}; the randomized estimator needs float32/64")
    n = a.shape[-1]
    batch = a.shape[:-2]
    r = min(int(deflation), n - 1)
    with torch.no_grad():
        flat = a.detach().reshape(-1, n, n)
        draws = rademacher_probes(
            n, probes + r, dtype=a.dtype, device=a.device, generator=generator
        )
        z = draws[:probes].expand(flat.shape[0], probes, n)
        weights = a.new_full((probes,), 1.0 / probes)
        if r > 0:  # Hutch++: V^T f(A) V exactly (up to quadrature), probes on the rest
            vec = range_basis(flat, draws[probes:])
            z = z - (z @ vec.mT) @ vec
            z = torch.cat([vec, z], dim=-2)
            weights = torch.cat([weights.new_ones(r), weights])
        theta, vecs, basis = lanczos_quadrature(flat, z, steps)
        top = theta.amax(dim=(-2, -1)).clamp_min(0.0).reshape(-1, 1, 1)
        f, slope = spectral_terms(theta, alpha, top * (n * torch.finfo(a.dtype).eps))
        tau = vecs[..., 0, :]  # (b, s, m)
        z_norm = torch.linalg.vector_norm(z, dim=-1)  # (b, s)
        quad = (tau * tau * f).sum(-1) * z_norm.square()  # v^T f(A) v for each start vector
        value, ds_dp = entropy_from_power_sum(quad @ weights, alpha)
        if not need_grad:
            return value.reshape(batch), None
        # d(v^T f(A) v) ~ f'(A) v v^T, f'(A) v ~ ||v|| Q S diag(f'(theta)) S^T e_1: its
        # weighted sum is an unbiased estimate of f'(A) (sum of the weighted v v^T: I on average)
        coef = (vecs @ (slope * tau).unsqueeze(-1)).squeeze(-1) * (z_norm * weights).unsqueeze(-1)
        w = (coef.unsqueeze(-2) @ basis).squeeze(-2)  # (b, s, n)
        outer = w.mT @ z
        grad = (outer + outer.mT) * (0.5 * ds_dp).reshape(-1, 1, 1)
    return value.reshape(batch), grad.reshape(a.shape)


class _RandomizedEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, options: dict[str, Any]) -> Tensor:
        value, grad = randomized_renyi_entropy_and_grad(
            a, need_grad=ctx.needs_input_grad[0], **options
        )
        if grad is not None:
            ctx.save_for_backward(grad)
        return value

    @staticmethod
    def backward(ctx: Any, grad_value: Tensor) -> tuple[Tensor, None]:
        (grad,) = ctx.saved_tensors
        return grad_value.unsqueeze(-1).unsqueeze(-1) * grad, None


def randomized_renyi_entropy(
    a: Tensor,
    alpha: float = 0.5,
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    *,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
) -> Tensor:
    """SLQ estimate of the matrix-based Renyi entropy ``S_alpha(A)`` in bits.

    Differentiable: autograd receives the stochastic gradient estimate of
    :func:`randomized_renyi_entropy_and_grad` (drawn with the same probes as the value).
    See the module docstring for the method, its cost and its error.
    """
    options = {
        "alpha": alpha,
        "probes": probes,
        "steps": steps,
        "deflation": deflation,
        "generator": generator,
    }
    return _RandomizedEntropy.apply(a, options)
