"""The information-bottleneck terms of one unit, with a hand-written gradient.

For a measured batch ``t`` ``(n, d)``, the normalised Gram ``X`` of the input and ``Y`` of the
labels, PIB's local loss needs (docs/pib.md; Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf.
Theory 61:535, 2015)

    I(X;T) = S(X) + S(T) - S(X,T),    I(T;Y) = S(T) + S(Y) - S(T,Y),

with ``A = K / tr K``, ``K_ij = exp(-||u_i - u_j||^2 / (2 sigma^2))`` on the directions
``u_i = t_i / ||t_i||`` and ``S(A, B) = S(A o B / tr(A o B))``, and their gradient with respect
to ``t``. :func:`bottleneck_terms` computes both without an autograd graph over the ``n x n``
intermediates (autograd sees one node whose backward is written out here):

Forward. One product ``u u^T`` gives the distances (kernel widths from a data rule reuse them),
``S(T)`` is computed once for both terms, and the label terms use the block structure of
``Y``: for one-hot labels ``Y_ij = 0`` across classes, so ``A o Y`` is block diagonal and its
eigenvalues are those of the per-class blocks (``sum_c n_c^3`` instead of ``n^3``).

- ``alpha = 2``: ``S_2(M) = -log2 ||M||_F^2``, ``O(n^2)``, no eigendecomposition.
- ``alpha != 2``, ``method="exact"``: ``A`` and ``X o A`` in one batched ``eigh``.
- ``method="lanczos"``: ``S(T)``, ``S(X,T)`` and ``S(X)`` by stochastic Lanczos quadrature
  (:mod:`pnnkit.info.randomized`, shared probes), with its stochastic gradient.

Backward. The entropies give ``G = dL/dK`` (``A = K / n``): for ``alpha = 2``,
``dS_2(T)/dK = -2 K / (ln 2 ||K||_F^2)`` and ``dS_2(X,T)/dK = -2 X o X o K / (ln 2
||X o K||_F^2)``; otherwise ``V diag(dS/dlambda) V^T / n`` from the same ``eigh`` (times
``X / tr(X o A)`` elementwise for a joint term). Only off-diagonal entries matter: the
kernel's diagonal is 1 whatever ``t`` is, so ``tr K = n`` and ``tr(X o A)`` are constants.
Then ``G_D = G o K * (-1 / (2 sigma^2))`` (zero diagonal), ``dL/du = 4 (diag(G_D 1) u -
G_D u)`` (one more product, ``G_D`` being symmetric), and through the row normalisation
``dL/dt_i = (g_i - u_i (u_i . g_i)) / ||t_i||``. Cost for ``alpha = 2``: two
``n x n x d`` products and about ten elementwise passes over ``n x n`` (the squares of ``X``
and ``Y`` are formed once for all units of a step).

Only ``t`` is differentiated: the Gram matrices of ``X`` and ``Y`` are constants (an error is
raised if they require a gradient; use the autograd path of
:class:`pnnkit.learning.pib.BottleneckEstimator` for that).

Numerics: float32 is enough for ``alpha = 2`` (relative error of order 1e-6). For ``alpha < 1``
the eigenvalue paths drop eigenvalues at or below ``n * eps * lambda_max`` (as
:func:`pnnkit.info.renyi_entropy` does); in float32 at large ``n`` a Gram matrix whose
classes have collapsed has most of its eigenvalues below that threshold, and its entropy is
then underestimated (measured in docs/BENCHMARKS.md): use float64 there.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info.entropy import (
    _check_alpha,
    _eig_tolerance,
    entropy_from_power_sum,
    renyi_entropy_and_grad,
    spectral_terms,
)
from pnnkit.info.kernels import (
    NORM_EPS,
    WIDTH_RULES,
    gaussian_gram,
    kernel_width,
    pairwise_sq_distances,
)
from pnnkit.info.randomized import (
    DEFAULT_DEFLATION,
    DEFAULT_PROBES,
    DEFAULT_STEPS,
    randomized_renyi_entropy_and_grad,
)

__all__ = [
    "BOTTLENECK_METHODS",
    "bottleneck_gradient",
    "bottleneck_terms",
    "direction_gram",
    "label_blocks",
]

#: The methods :func:`bottleneck_terms` knows.
BOTTLENECK_METHODS: tuple[str, ...] = ("exact", "lanczos")

_LN2 = math.log(2.0)


def label_blocks(g: Tensor) -> Tensor | None:
    """The blocks of a Gram matrix whose nonzero pattern is "same class" (one-hot labels).

    Returns the member indices of each block as rows of a ``(C, m)`` tensor, padded with
    ``n`` (``m`` the largest block), or None when the pattern of ``g != 0`` is not an
    equivalence relation (a dense Gram matrix, for instance) or has a single block.
    """
    n = g.shape[-1]
    nonzero = g != 0
    first = torch.argmax(nonzero.to(torch.uint8), dim=-1)  # first nonzero column of each row
    if not bool((nonzero == (first.unsqueeze(0) == first.unsqueeze(1))).all()):
        return None
    _, group, counts = torch.unique(first, return_inverse=True, return_counts=True)
    if counts.numel() < 2:
        return None
    order = torch.argsort(group, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(n, device=g.device) - starts[group[order]]
    idx = torch.full((counts.numel(), int(counts.max())), n, dtype=torch.long, device=g.device)
    idx[group[order], position] = order
    return idx


def _block_entropy(
    mat: Tensor, idx: Tensor, alpha: float, need_grad: bool
) -> tuple[Tensor, Tensor | None]:
    """Exact entropy (and gradient) of a block-diagonal ``mat`` from its blocks ``idx``."""
    n = mat.shape[-1]
    padded = F.pad(mat, (0, 1, 0, 1))  # index n reads zeros
    rows, cols = idx.unsqueeze(-1), idx.unsqueeze(-2)
    blocks = padded[rows, cols]
    blocks = 0.5 * (blocks + blocks.mT)
    if need_grad:
        lam, vec = torch.linalg.eigh(blocks)
    else:
        lam, vec = torch.linalg.eigvalsh(blocks), None
    tol = _eig_tolerance(lam.reshape(-1), n)
    f, slope = spectral_terms(lam, alpha, tol)
    value, ds_dp = entropy_from_power_sum(f.sum(), alpha)
    if vec is None:
        return value, None
    grad_blocks = (vec * (slope * ds_dp).unsqueeze(-2)) @ vec.mT
    full = mat.new_zeros(n + 1, n + 1)
    full[rows, cols] = grad_blocks
    return value, full[:n, :n]


def _joint(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``A o B / tr(A o B)`` and the trace."""
    ab = a * b
    tr = torch.diagonal(ab).sum()
    return ab / tr, tr


@dataclass
class _Spec:
    alpha: float
    sigma2: float
    width_rule: str
    method: str
    probes: int
    steps: int
    deflation: int
    generator: torch.Generator | None


#: dI/dK (off-diagonal) as ``sum_i (c_xt_i dI(X;T) + c_ty_i dI(T;Y)) M_i``: matrices with
#: their coefficients for each term, so that backward combines them in one pass
_Parts = list[tuple[Tensor, Tensor | float, Tensor | float]]


def _log2(value: float, what: str) -> float:
    """``log2`` of a positive quantity of the order-2 terms, or a ConfigError naming it."""
    if not value > 0:  # also NaN
        raise ConfigError(
            f"{what} is {value!r}; the Gram matrices must be normalised Gram matrices "
            "(positive diagonal, finite entries)"
        )
    return math.log2(value)


@dataclass
class _SquaresEntry:
    x: weakref.ref[Tensor]
    y: weakref.ref[Tensor]
    versions: tuple[int, int]
    value: tuple[Tensor, Tensor, float, float]


class _Squares:
    """``X o X`` and ``Y o Y`` with the constants order 2 reads from them, for the last
    ``(X, Y)`` pair seen: every unit of a step shares the step's input and label Gram
    matrices, so the squares are formed once per step instead of once per unit.

    The entry is keyed on the tensors themselves (weak references: it is dropped, with its
    arrays, when either matrix is freed) and their in-place version counters, so a matrix
    changed in place through torch, or a different one, is never served stale squares (writes
    that bypass the version counter, through ``.data`` or a shared NumPy buffer, are not seen).
    Inference-mode tensors have no version counter and are never cached."""

    def __init__(self) -> None:
        self._entry: _SquaresEntry | None = None

    def get(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, float, float]:
        """``(X o X, Y o Y, log2 ||X||^2 + 2 log2 tr X, log2 ||Y||^2 + 2 log2 tr Y)``."""
        cacheable = not (x.is_inference() or y.is_inference())
        entry = self._entry
        if (
            cacheable
            and entry is not None
            and entry.x() is x
            and entry.y() is y
            and entry.versions == (x._version, y._version)
        ):
            return entry.value
        x2, y2 = x * x, y * y
        sx, sy, tx, ty = torch.stack(
            [x2.sum(), y2.sum(), torch.diagonal(x).sum(), torch.diagonal(y).sum()]
        ).tolist()
        value = (
            x2,
            y2,
            _log2(sx, "||X||^2") + 2 * _log2(tx, "tr X"),
            _log2(sy, "||Y||^2") + 2 * _log2(ty, "tr Y"),
        )
        if cacheable:
            entry = _SquaresEntry(weakref.ref(x), weakref.ref(y), (x._version, y._version), value)
            self._entry = entry
            for key in (x, y):
                weakref.finalize(key, self._forget, entry)
        return value

    def _forget(self, entry: _SquaresEntry) -> None:
        if self._entry is entry:
            self._entry = None


_SQUARES = _Squares()


def _order2_terms(
    k2: Tensor, x: Tensor, y: Tensor, need_grad: bool
) -> tuple[tuple[float, float], _Parts | None]:
    """Order 2 from the squared kernel ``K o K`` (``A = K / n``): ``S_2(A) = -log2(||K||^2 / n^2)``,
    ``S_2(X,T) = -log2(||X o K||^2 / (n tr(X o A))^2)``, and the same for ``Y``, with
    ``n tr(X o A) = tr X`` as ``diag K = 1``.

    Everything is read from ``K o K``, ``X o X`` and ``Y o Y`` (``||X o K||^2 = <X o X, K o K>``),
    and the parts are those of ``dI/dK o K``, which is all backward needs:
    ``K o K o (c_T + c_X X o X + c_Y Y o Y)``; the first part is ``K o K`` itself, the others are
    multiplied by it in backward. The scalars are Python floats (one read-out of three sums):
    a few dozen operations on 0-d tensors would cost more than the ``n x n`` passes."""
    n = k2.shape[-1]
    x2, y2, x_const, y_const = _SQUARES.get(x, y)
    flat = k2.reshape(-1)
    sq_k, sq_xk, sq_yk = torch.stack(
        [flat.sum(), torch.dot(x2.reshape(-1), flat), torch.dot(y2.reshape(-1), flat)]
    ).tolist()
    s_t = 2 * math.log2(n) - _log2(sq_k, "||K||^2")
    i_xt = s_t + _log2(sq_xk, "||X o K||^2") - x_const
    i_ty = s_t + _log2(sq_yk, "||Y o K||^2") - y_const
    if not need_grad:
        return (i_xt, i_ty), None
    # dS_2(T)/dK = -2 K / (ln2 ||K||^2), dS_2(X,T)/dK = -2 X o X o K / (ln2 ||X o K||^2)
    c = 2.0 / _LN2
    return (i_xt, i_ty), [
        (k2, -c / sq_k, -c / sq_k),
        (x2, c / sq_xk, 0.0),
        (y2, 0.0, c / sq_yk),
    ]


def _spectral_terms(
    a: Tensor, x: Tensor, y: Tensor, spec: _Spec, need_grad: bool
) -> tuple[tuple[Tensor, Tensor], _Parts | None]:
    alpha = spec.alpha
    j1, c1 = _joint(x, a)
    j2, c2 = _joint(a, y)
    x_blocks, y_blocks = label_blocks(x), label_blocks(y)
    mats = {"t": a, "xt": j1, "ty": j2, "x": x, "y": y}
    blocks = {"t": None, "xt": x_blocks, "x": x_blocks, "ty": y_blocks, "y": y_blocks}
    wanted = {"t", "xt", "ty"} if need_grad else set()  # S(X), S(Y) are constants
    values: dict[str, Tensor] = {}
    grads: dict[str, Tensor] = {}
    for name, idx in blocks.items():
        if idx is not None:
            values[name], g = _block_entropy(mats[name], idx, alpha, name in wanted)
            if g is not None:
                grads[name] = g
    dense = [name for name in mats if blocks[name] is None]
    if spec.method == "lanczos":  # one call: the matrices share the probes
        vals, grad = randomized_renyi_entropy_and_grad(
            torch.stack([mats[name] for name in dense]),
            alpha,
            spec.probes,
            spec.steps,
            deflation=spec.deflation,
            generator=spec.generator,
            need_grad=bool(wanted),
        )
        for i, name in enumerate(dense):
            values[name] = vals[i]
            if grad is not None and name in wanted:
                grads[name] = grad[i]
    else:
        with_grad = [name for name in dense if name in wanted]
        if with_grad:  # one batched eigh
            vals, grad = renyi_entropy_and_grad(
                torch.stack([mats[name] for name in with_grad]), alpha
            )
            for i, name in enumerate(with_grad):
                values[name], grads[name] = vals[i], grad[i]
        without = [name for name in dense if name not in wanted]
        if without:
            stack = torch.stack([mats[name] for name in without])
            lam = torch.linalg.eigvalsh(0.5 * (stack + stack.mT))
            f, _ = spectral_terms(lam, alpha, _eig_tolerance(lam, a.shape[-1]))
            vals, _ = entropy_from_power_sum(f.sum(-1), alpha)
            for i, name in enumerate(without):
                values[name] = vals[i]
    i_xt = values["x"] + values["t"] - values["xt"]
    i_ty = values["t"] + values["y"] - values["ty"]
    if not need_grad:
        return (i_xt, i_ty), None
    # off-diagonal dI/dK = dI/dA / n; the joints' trace normalisation only touches the diagonal
    n = a.shape[-1]
    return (i_xt, i_ty), [
        (grads["t"], 1.0 / n, 1.0 / n),
        (x * grads["xt"], -1.0 / (n * c1), 0.0),
        (y * grads["ty"], 0.0, -1.0 / (n * c2)),
    ]


def _kernel(
    u: Tensor, spec: _Spec, short_rows: bool = True, power: int = 1
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
    (no gradient): the matrix :meth:`pnnkit.learning.pib.BottleneckEstimator.output_gram`
    builds, equal to round-off, with one fused product (see :func:`bottleneck_terms`)."""
    with torch.no_grad():
        raw = torch.linalg.vector_norm(samples, dim=-1, keepdim=True)
        spec = _Spec(2.0, float(sigma2), width_rule, "exact", 1, 1, 0, None)
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
    parts: _Parts
    #: order 2: the parts are of ``dI/dK o K`` and all but the first are multiplied by ``K o K``
    order2: bool
    #: some rows of ``t`` were too short to normalise (scaled by ``1 / eps`` instead)
    short_rows: bool


def _forward(
    t: Tensor, x_gram: Tensor, y_gram: Tensor, spec: _Spec, need_grad: bool
) -> tuple[tuple[Tensor | float, Tensor | float], _Saved | None]:
    raw = torch.linalg.vector_norm(t, dim=-1, keepdim=True)
    norm = raw.clamp_min(NORM_EPS)
    u = t / norm
    short = bool((raw < NORM_EPS).any())
    order2 = spec.alpha == 2.0  # order 2 reads only K o K
    k, scale = _kernel(u, spec, short_rows=short, power=2 if order2 else 1)
    x, y = x_gram.to(k.dtype), y_gram.to(k.dtype)
    if order2:
        terms, parts = _order2_terms(k, x, y, need_grad)
    else:  # tr K = n: A = K / n is exactly normalize_gram(K)
        terms, parts = _spectral_terms(k / k.shape[-1], x, y, spec, need_grad)
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
        ctx: Any, t: Tensor, x_gram: Tensor, y_gram: Tensor, spec: _Spec
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
    method: str,
    probes: int,
    steps: int,
    deflation: int,
    generator: torch.Generator | None,
) -> _Spec:
    """Check the arguments of :func:`bottleneck_terms` and bundle the settings."""
    alpha = _check_alpha(alpha)
    if method not in BOTTLENECK_METHODS:
        raise ConfigError(
            f"method = {method!r} is unknown; choose one of {', '.join(BOTTLENECK_METHODS)}"
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
    return _Spec(alpha, float(sigma2), width_rule, method, probes, steps, deflation, generator)


def bottleneck_terms(
    x_gram: Tensor,
    t: Tensor,
    y_gram: Tensor,
    *,
    alpha: float,
    sigma2: float,
    width_rule: str = "fixed",
    method: str = "exact",
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``(I(X;T), I(T;Y))`` in bits for a batch, differentiable in ``t`` by a written-out
    backward (see the module docstring).

    ``x_gram``, ``y_gram``: normalised Gram matrices ``(n, n)`` of the input and the labels
    (constants); ``t``: the unit's measured outputs ``(n, d)``. The Gram matrix of ``t`` is the
    Gaussian kernel of width ``sqrt(sigma2)`` (times the ``width_rule`` distance if not
    ``"fixed"``) on length-normalised rows, normalised, as
    :meth:`pnnkit.learning.pib.BottleneckEstimator.output_gram` builds it. ``method``:
    ``"exact"`` (Frobenius norms for ``alpha = 2``, else eigenvalues) or ``"lanczos"`` (the
    randomized estimator with ``probes``, ``steps``, ``deflation`` and ``generator``, see
    :func:`pnnkit.info.randomized.randomized_renyi_entropy_and_grad`; ``alpha = 2`` stays
    exact).
    """
    spec = _spec(
        x_gram, t, y_gram, alpha, sigma2, width_rule, method, probes, steps, deflation, generator
    )
    if torch.is_grad_enabled() and (x_gram.requires_grad or y_gram.requires_grad):
        raise ConfigError(
            "bottleneck_terms differentiates in t only, and x_gram or y_gram requires a "
            "gradient; detach them, or use BottleneckEstimator(entropy_method='autograd')"
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
    method: str = "exact",
    probes: int = DEFAULT_PROBES,
    steps: int = DEFAULT_STEPS,
    deflation: int = DEFAULT_DEFLATION,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, float, float]:
    """``dL/dt`` of PIB's local loss ``L = gamma I(X;T) - beta I(T;Y)``, with ``I(X;T)`` and
    ``I(T;Y)`` in bits: the backward of :func:`bottleneck_terms` run directly, with no autograd
    graph or tape (the same values; arguments as there; nothing is differentiated but ``t``)."""
    spec = _spec(
        x_gram, t, y_gram, alpha, sigma2, width_rule, method, probes, steps, deflation, generator
    )
    with torch.no_grad():
        (i_xt, i_ty), saved = _forward(t.detach(), x_gram, y_gram, spec, need_grad=True)
        assert saved is not None
        grad = _backward(saved, gamma, -beta)
    return grad, float(i_xt), float(i_ty)
