"""The bottleneck terms' written-out gradient: the kernel of the unit's directions, the forward
pass, its backward (see :mod:`pnnkit.info.bottleneck` for the maths), and the public entry
points :func:`bottleneck_terms` and :func:`bottleneck_gradient`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info.bottleneck.spectral import Parts, Spec, order2_terms, spectral_bottleneck
from pnnkit.info.bottleneck.squares import Squares
from pnnkit.info.entropy import check_alpha
from pnnkit.info.kernels import (
    NORM_EPS,
    WIDTH_RULES,
    gaussian_gram,
    kernel_width,
    pairwise_sq_distances,
)
from pnnkit.info.randomized import DEFAULT_DEFLATION, DEFAULT_PROBES, DEFAULT_STEPS

__all__ = ["BOTTLENECK_SOLVERS", "bottleneck_gradient", "bottleneck_terms", "direction_gram"]

#: The solvers :func:`bottleneck_terms` knows (those of
#: :class:`pnnkit.info.BottleneckEstimator` but ``autograd``).
BOTTLENECK_SOLVERS: tuple[str, ...] = ("exact", "lanczos")


def _kernel(
    u: Tensor, spec: Spec, short_rows: bool = True, power: int = 1
) -> tuple[Tensor, Tensor | float]:
    """Gaussian kernel of the rows of ``u`` raised elementwise to ``power``, and the kernel's
    ``-1 / (2 sigma^2)``.

    Fixed width: one fused product ``power * scale * (|u_i|^2 + |u_j|^2 - 2 u_i . u_j)`` (with
    ``|u_i|^2 = 1`` unless ``short_rows``: some rows were too short to normalise), exponentiated
    in place (``K^p = exp(p scale D)``: no pass for the power); entries above 1 (negative
    distances from round-off) are clipped to 1 and the diagonal is exactly 1. Data-driven
    width: the distances once, for the width and the kernel.
    """
    if spec.width_rule == "fixed":
        scale = -0.5 / spec.sigma2
        if short_rows:  # rows shorter than eps were scaled, not normalised: their own lengths
            sq = (u * u).sum(-1)
            base = sq.unsqueeze(1) + sq.unsqueeze(0)
        else:  # unit rows: D = 2 - 2 u u^T, with no n x n pass for the lengths
            base = u.new_full((1, 1), 2.0)
        exponent = power * scale
        k = torch.addmm(base, u, u.mT, beta=exponent, alpha=-2 * exponent)
        k.exp_().clamp_max_(1.0)
        k.diagonal().fill_(1.0)
        return k, scale
    d = pairwise_sq_distances(u)
    sigma = spec.sigma2**0.5 * kernel_width(u, spec.width_rule, sq_distances=d)
    k = gaussian_gram(u, sigma, sq_distances=d)
    return (k if power == 1 else k.pow_(power)), -0.5 / (sigma * sigma)


def direction_gram(samples: Tensor, sigma2: float, width_rule: str = "fixed") -> Tensor:
    """Normalised Gaussian Gram matrix of the length-normalised rows of ``samples`` ``(n, d)``
    (no gradient): the matrix :meth:`pnnkit.info.BottleneckEstimator.output_gram`
    builds, equal to round-off, with one fused product (see :func:`bottleneck_terms`)."""
    with torch.no_grad():
        raw = torch.linalg.vector_norm(samples, dim=-1, keepdim=True)
        spec = Spec(2.0, float(sigma2), width_rule, "exact", 1, 1, 0, None, Squares())
        short = bool((raw < NORM_EPS).any())
        k, _ = _kernel(samples / raw.clamp_min(NORM_EPS), spec, short_rows=short)
        return k.div_(k.shape[-1])


@dataclass
class _Saved:
    """What the gradient needs from a forward pass."""

    u: Tensor
    norm: Tensor
    #: the kernel ``K`` (order 2: ``K o K``)
    k: Tensor
    scale: Tensor | float
    parts: Parts
    #: order 2: the parts are of ``dI/dK o K`` and all but the first are multiplied by ``K o K``
    order2: bool
    #: some rows of ``t`` were too short to normalise (scaled by ``1 / eps`` instead)
    short_rows: bool


def _forward(
    t: Tensor, x_gram: Tensor, y_gram: Tensor, spec: Spec, need_grad: bool
) -> tuple[tuple[Tensor | float, Tensor | float], _Saved | None]:
    raw = torch.linalg.vector_norm(t, dim=-1, keepdim=True)
    norm = raw.clamp_min(NORM_EPS)
    u = t / norm
    short = bool((raw < NORM_EPS).any())
    order2 = spec.alpha == 2.0  # order 2 reads only K o K
    k, scale = _kernel(u, spec, short_rows=short, power=2 if order2 else 1)
    x, y = x_gram.to(k.dtype), y_gram.to(k.dtype)
    terms: tuple[Tensor | float, Tensor | float]
    if order2:
        terms, parts = order2_terms(k, x, y, spec.squares, need_grad)
    else:  # tr K = n: A = K / n is exactly normalize_gram(K)
        terms, parts = spectral_bottleneck(k / k.shape[-1], x, y, spec, need_grad)
    if parts is None:
        return terms, None
    return terms, _Saved(u, norm, k, scale, parts, order2, short)


def _backward(saved: _Saved, grad_xt: Tensor | float, grad_ty: Tensor | float) -> Tensor:
    """``dL/dt`` for ``L = grad_xt I(X;T) + grad_ty I(T;Y)``."""
    u, norm, k = saved.u, saved.norm, saved.k
    # dL/dD = dL/dK o K * (-1 / (2 sigma^2)): the kernel width's factor goes into the weights
    weights = [
        float((grad_xt * c_xt + grad_ty * c_ty) * saved.scale) for _, c_xt, c_ty in saved.parts
    ]
    if saved.order2:  # G o K = K o K o (w_T + w_X X o X + w_Y Y o Y)
        (k2, _, _), (x2, _, _), (y2, _, _) = saved.parts
        g_d = torch.mul(x2, weights[1]).add_(y2, alpha=weights[2]).add_(weights[0]).mul_(k2)
    else:
        g_d = torch.zeros_like(k)
        for (m, _, _), w in zip(saved.parts, weights, strict=True):
            g_d.add_(m, alpha=w)
        g_d.mul_(k)
    g_d.diagonal().zero_()  # the diagonal of K does not depend on t
    # D_ij = |u_i|^2 + |u_j|^2 - 2 u_i . u_j with G_D symmetric: dL/du = 4 (G_D 1 o u - G_D u),
    # then through u = t / max(|t|, eps): dL/dt = (I - u u^T) dL/du / |t| for a unit row,
    # dL/du / eps for a shorter row. On unit rows the G_D 1 o u term is radial and drops out:
    # dL/dt = -4 (G_D u - u (u . G_D u)) / |t|. In place from here: one new (n, d) array.
    g_u = torch.mm(g_d, u)
    if saved.short_rows:
        g_u.mul_(-4.0).addcmul_(u, g_d.sum(-1, keepdim=True), value=4.0)
        radial = (u * g_u).sum(-1, keepdim=True).mul_(norm > NORM_EPS)
        return g_u.addcmul_(u, radial, value=-1.0).div_(norm)
    radial = (u * g_u).sum(-1, keepdim=True)
    return g_u.addcmul_(u, radial, value=-1.0).div_(norm).mul_(-4.0)


class _BottleneckTerms(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, t: Tensor, x_gram: Tensor, y_gram: Tensor, spec: Spec
    ) -> tuple[Tensor, Tensor]:
        terms, ctx.saved = _forward(t, x_gram, y_gram, spec, bool(ctx.needs_input_grad[0]))
        i_xt, i_ty = (torch.as_tensor(v, dtype=t.dtype, device=t.device) for v in terms)
        return i_xt, i_ty

    @staticmethod
    def backward(ctx: Any, grad_xt: Tensor, grad_ty: Tensor) -> tuple[Tensor, None, None, None]:
        return _backward(ctx.saved, grad_xt, grad_ty), None, None, None


def _spec(
    x_gram: Tensor,
    t: Tensor,
    y_gram: Tensor,
    alpha: float,
    sigma2: float,
    width_rule: str,
    solver: str,
    probes: int,
    steps: int,
    deflation: int,
    generator: torch.Generator | None,
    squares: Squares | None,
) -> Spec:
    """Check the arguments of :func:`bottleneck_terms` and bundle the settings."""
    alpha = check_alpha(alpha)
    if solver not in BOTTLENECK_SOLVERS:
        raise ConfigError(
            f"solver = {solver!r} is unknown; choose one of {', '.join(BOTTLENECK_SOLVERS)}"
        )
    if width_rule not in ("fixed", *WIDTH_RULES):
        raise ConfigError(f"width_rule = {width_rule!r}; choices: {['fixed', *WIDTH_RULES]}")
    if not sigma2 > 0:
        raise ConfigError(f"sigma2 = {sigma2!r} is invalid: must be > 0")
    for name, value in (("x_gram", x_gram), ("t", t), ("y_gram", y_gram)):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            raise ShapeError(f"{name} must be a floating-point torch.Tensor")
    n = t.shape[0]
    if t.dim() != 2 or n < 2 or x_gram.shape != (n, n) or y_gram.shape != (n, n):
        raise ShapeError(
            f"t has shape {tuple(t.shape)}, x_gram {tuple(x_gram.shape)} and y_gram "
            f"{tuple(y_gram.shape)}; expected (n, d) with n >= 2 and (n, n) Gram matrices"
        )
    settings = (probes, steps, deflation, generator)
    return Spec(alpha, float(sigma2), width_rule, solver, *settings, squares or Squares())


def bottleneck_terms(
    x_gram: Tensor,
    t: Tensor,
    y_gram: Tensor,
    *,
    alpha: float,
    sigma2: float,
    width_rule: str = "fixed",
    solver: str = "exact",
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
    squares: Squares | None = None,
) -> tuple[Tensor, Tensor]:
    """``(I(X;T), I(T;Y))`` in bits for a batch, differentiable in ``t`` by a written-out
    backward (see the module docstring).

    ``x_gram``, ``y_gram``: normalised Gram matrices ``(n, n)`` of the input and the labels
    (constants); ``t``: the unit's measured outputs ``(n, d)``. The Gram matrix of ``t`` is the
    Gaussian kernel of width ``sqrt(sigma2)`` (times the ``width_rule`` distance if not
    ``"fixed"``) on length-normalised rows, normalised, as
    :meth:`pnnkit.info.BottleneckEstimator.output_gram` builds it. ``solver``:
    ``"exact"`` (Frobenius norms for ``alpha = 2``, else eigenvalues) or ``"lanczos"`` (the
    randomized estimator with ``probes``, ``steps``, ``deflation`` and ``generator``, see
    :func:`pnnkit.info.randomized.randomized_renyi_entropy_and_grad`; ``alpha = 2`` stays
    exact). ``squares``: the cache of the input and label Gram matrices' squares to reuse
    across the units of a step (:class:`~pnnkit.info.bottleneck.squares.Squares`; the
    estimator owns one), or None to form them afresh.
    """
    spec = _spec(
        x_gram,
        t,
        y_gram,
        alpha,
        sigma2,
        width_rule,
        solver,
        probes,
        steps,
        deflation,
        generator,
        squares,
    )
    if torch.is_grad_enabled() and (x_gram.requires_grad or y_gram.requires_grad):
        raise ConfigError(
            "bottleneck_terms differentiates in t only, and x_gram or y_gram requires a "
            "gradient; detach them, or use BottleneckEstimator(solver='autograd')"
        )
    return _BottleneckTerms.apply(t, x_gram, y_gram, spec)


def bottleneck_gradient(
    x_gram: Tensor,
    t: Tensor,
    y_gram: Tensor,
    gamma: float,
    beta: float,
    *,
    alpha: float,
    sigma2: float,
    width_rule: str = "fixed",
    solver: str = "exact",
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
    squares: Squares | None = None,
) -> tuple[Tensor, float, float]:
    """``dL/dt`` of PIB's local loss ``L = gamma I(X;T) - beta I(T;Y)``, with ``I(X;T)`` and
    ``I(T;Y)`` in bits: the backward of :func:`bottleneck_terms` run directly, with no autograd
    graph or tape (the same values; arguments as there; nothing is differentiated but ``t``)."""
    spec = _spec(
        x_gram,
        t,
        y_gram,
        alpha,
        sigma2,
        width_rule,
        solver,
        probes,
        steps,
        deflation,
        generator,
        squares,
    )
    with torch.no_grad():
        (i_xt, i_ty), saved = _forward(t.detach(), x_gram, y_gram, spec, need_grad=True)
        assert saved is not None
        grad = _backward(saved, gamma, -beta)
    return grad, float(i_xt), float(i_ty)
