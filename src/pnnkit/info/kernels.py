"""Kernels and Gram matrices for the matrix-based Renyi entropy.

The matrix-based estimators (Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf. Theory 61:535,
2015) work on the Gram matrix ``K_ij = k(t_i, t_j)`` of a batch of n samples and on its
trace-normalised form ``A = K / tr(K)``. Everything here is a pure, vectorised torch function:
it runs on the input's device and dtype and is differentiable with autograd (except
:func:`kernel_width`, whose result is deliberately detached, and :func:`one_hot`).

Functions taking samples accept ``(n, d)`` and also batches ``(..., n, d)`` unless stated.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor

from pnnkit.errors import ConfigError, ShapeError

__all__ = [
    "WIDTH_RULES",
    "gaussian_gram",
    "kernel_width",
    "linear_gram",
    "normalize_gram",
    "one_hot",
    "pairwise_sq_distances",
    "unit_normalize",
]

#: The rules :func:`kernel_width` knows.
WIDTH_RULES: tuple[str, ...] = ("median", "mean", "silverman")


def _as_float(x: object, name: str, min_dim: int = 2) -> Tensor:
    """Check that ``x`` is a real tensor with at least ``min_dim`` dimensions; integer and
    boolean tensors are converted to the default floating dtype."""
    if not isinstance(x, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_complex():
        raise ShapeError(f"{name} has complex dtype {x.dtype}; only real tensors are allowed")
    if x.dim() < min_dim:
        shape = "(n, d) or (..., n, d)" if min_dim == 2 else f"at least {min_dim}-D"
        raise ShapeError(f"{name} has shape {tuple(x.shape)}; expected {shape}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def _check_positive_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{name} = {value!r} is invalid: must be a positive finite number")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{name} = {value!r} is invalid: must be a positive finite number")
    return v


def pairwise_sq_distances(x: Tensor) -> Tensor:
    """Squared Euclidean distances ``D_ij = ||x_i - x_j||^2`` of the rows of ``x``.

    Computed with matrix products, ``||x_i||^2 + ||x_j||^2 - 2 x_i . x_j`` (O(n^2 d) in one
    GEMM), clamped at 0 against round-off, with exact zeros on the diagonal.
    ``x``: ``(n, d)`` or ``(..., n, d)``; returns ``(n, n)`` or ``(..., n, n)``.
    """
    x = _as_float(x, "x")
    sq = (x * x).sum(dim=-1)
    d = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * (x @ x.mT)
    d = d.clamp_min(0.0)
    n = x.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    return d.masked_fill(eye, 0.0)


#: the shortest row :func:`unit_normalize` divides by its length (shorter rows are divided by this)
NORM_EPS = 1e-8


def unit_normalize(x: Tensor, eps: float = NORM_EPS) -> Tensor:
    """Rows (last dimension) divided by their L2 norm, ``x_i / max(||x_i||, eps)``.

    A row of zeros stays zero (no NaN, finite gradient). ``x``: ``(..., d)``, at least 1-D.
    """
    x = _as_float(x, "x", min_dim=1)
    eps = _check_positive_real(eps, "eps")
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x / norm.clamp_min(eps)


def gaussian_gram(
    x: Tensor, sigma: float | Tensor, *, sq_distances: Tensor | None = None
) -> Tensor:
    """Gaussian Gram matrix ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))``.

    The diagonal is exactly 1, so ``tr(K) = n``. ``sigma`` (the kernel width) must be > 0;
    it may be a float or a tensor (e.g. from :func:`kernel_width`, or learnable): a scalar,
    or for a batch ``x`` of shape ``(..., n, d)`` one width per matrix, shape ``(...)``.
    ``x``: ``(n, d)`` or ``(..., n, d)``. ``sq_distances``: ``pairwise_sq_distances(x)`` when
    the caller already has it (e.g. to set the width from the same distances), so that the
    distances are computed once.
    """
    x = _as_float(x, "x")
    if isinstance(sigma, Tensor):
        if sigma.is_complex() or sigma.numel() == 0:
            raise ConfigError(f"sigma = {sigma!r} is invalid: must be a positive finite number")
        ok = bool(torch.isfinite(sigma).all()) and bool((sigma > 0).all())
        if not ok:
            raise ConfigError(
                f"sigma = {sigma.detach().cpu().tolist()!r} is invalid: "
                "must be a positive finite number"
            )
        s = sigma.to(device=x.device, dtype=x.dtype)
        if s.numel() == 1:
            s = s.reshape(())
        elif tuple(s.shape) == tuple(x.shape[:-2]):  # one width per matrix of a batch
            s = s.unsqueeze(-1).unsqueeze(-1)
        else:
            raise ConfigError(
                f"sigma has shape {tuple(s.shape)}; expected a scalar or one width per "
                f"matrix of the batch {tuple(x.shape[:-2])}"
            )
        scale: Tensor | float = -0.5 / (s * s)
    else:
        width = _check_positive_real(sigma, "sigma")
        scale = -0.5 / (width * width)
    d = pairwise_sq_distances(x) if sq_distances is None else _check_distances(sq_distances, x)
    return torch.exp(d * scale)


def _check_distances(d: Tensor, x: Tensor) -> Tensor:
    n = x.shape[-2]
    if tuple(d.shape) != (*x.shape[:-2], n, n):
        raise ShapeError(
            f"sq_distances has shape {tuple(d.shape)}; expected {(*x.shape[:-2], n, n)} "
            f"for x of shape {tuple(x.shape)}"
        )
    return d


def linear_gram(x: Tensor) -> Tensor:
    """Linear-kernel Gram matrix ``K = x x^T``.

    For one-hot labels ``Y`` this is the label kernel ``L_ij = [y_i = y_j]``.
    ``x``: ``(n, d)`` or ``(..., n, d)``.
    """
    x = _as_float(x, "x")
    return x @ x.mT


def normalize_gram(k: Tensor) -> Tensor:
    """Trace-normalised Gram matrix ``A = K / tr(K)`` (Sanchez Giraldo et al. 2015, eq. for A).

    ``k``: ``(n, n)`` or a batch ``(..., n, n)``; each matrix is normalised by its own trace,
    which must be positive.
    """
    k = _as_float(k, "k")
    if k.shape[-1] != k.shape[-2] or k.shape[-1] == 0:
        raise ShapeError(
            f"k has shape {tuple(k.shape)}; expected a non-empty square matrix (n, n) "
            "or a batch (..., n, n)"
        )
    tr = torch.diagonal(k, dim1=-2, dim2=-1).sum(-1)
    if not bool((tr > 0).all()):
        bad = tr.detach().flatten().min().item()
        raise ConfigError(
            f"k has trace {bad!r}; the trace must be positive to normalise a Gram matrix"
        )
    return k / tr.unsqueeze(-1).unsqueeze(-1)


def kernel_width(
    x: Tensor, rule: str = "median", scale: float = 1.0, *, sq_distances: Tensor | None = None
) -> Tensor:
    """Kernel width sigma for :func:`gaussian_gram` from a heuristic rule, times ``scale``.

    Rules (``x`` is ``(n, d)``, n >= 2):

    - ``"median"``: median of the n(n-1)/2 pairwise distances ``||x_i - x_j||``, i < j
      (the mean of the two middle values when their count is even, as ``numpy.median``);
    - ``"mean"``: mean of the same pairwise distances;
    - ``"silverman"``: ``n^(-1/(4+d))``, the Silverman-like rule ``sigma = gamma n^(-1/(4+d))``
      used for matrix-based information-bottleneck estimates (e.g. Yu & Principe, 2019); here
      ``gamma = scale``. It does not look at the data values, so ``x`` should be on a known
      scale (standardised or length-normalised).

    Returns a detached 0-d tensor on ``x``'s device. The data-driven rules fail with
    :class:`ConfigError` when they give 0 (e.g. more than half of the samples coincide).
    ``sq_distances``: ``pairwise_sq_distances(x)`` if already computed (one distance pass
    serves both the width and :func:`gaussian_gram`).
    """
    if not isinstance(rule, str) or rule not in WIDTH_RULES:
        raise ConfigError(f"rule = {rule!r} is unknown; choose one of {', '.join(WIDTH_RULES)}")
    scale = _check_positive_real(scale, "scale")
    x = _as_float(x, "x")
    if x.dim() != 2:
        raise ShapeError(f"x has shape {tuple(x.shape)}; kernel_width expects (n, d)")
    n, d = x.shape
    if n < 2:
        raise ShapeError(f"x has shape {tuple(x.shape)}; kernel_width needs n >= 2 samples")
    x = x.detach()
    if rule == "silverman":
        return torch.tensor(scale * n ** (-1.0 / (4.0 + d)), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        iu = torch.triu_indices(n, n, offset=1, device=x.device)
        sq = pairwise_sq_distances(x) if sq_distances is None else _check_distances(sq_distances, x)
        dist = sq.detach()[iu[0], iu[1]].sqrt()
        if rule == "mean":
            width = dist.mean()
        else:
            v = torch.sort(dist).values
            m = v.numel()
            width = 0.5 * (v[(m - 1) // 2] + v[m // 2])
        width = width * scale
    if not bool(width > 0):
        raise ConfigError(
            f"rule = {rule!r} gave kernel width {width.item()!r} for x of shape {(n, d)} "
            "(too many coinciding samples); use another rule or a fixed width"
        )
    return width


def one_hot(labels: Tensor, num_classes: int, dtype: torch.dtype | None = None) -> Tensor:
    """One-hot encoding ``Y_ic = [labels_i = c]`` of integer labels ``(n,)`` as floats ``(n, C)``.

    ``dtype`` defaults to torch's default floating dtype; the device is that of ``labels``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes = {num_classes!r} is invalid: must be an integer >= 1")
    if not isinstance(labels, Tensor):
        raise ShapeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex():
        raise ConfigError(f"labels have dtype {labels.dtype}; integer class indices are required")
    if labels.dim() != 1:
        raise ShapeError(f"labels have shape {tuple(labels.shape)}; expected (n,)")
    if labels.numel() > 0:
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ConfigError(
                f"labels contain {bad}, outside the allowed range 0..{num_classes - 1} "
                f"(num_classes = {num_classes})"
            )
    out_dtype = dtype if dtype is not None else torch.get_default_dtype()
    return torch.nn.functional.one_hot(labels.long(), num_classes).to(out_dtype)
