"""Similarity matching: how far a batch's similarity structure is from the labels'.

Nokland & Eidnes, "Training neural networks with local error signals", ICML 2019 ("predsim"):
each hidden layer matches the cosine-similarity matrix of its (row-centred) outputs to that of
the one-hot labels. For a batch ``t`` ``(n, d)`` with rows centred over their features,
``c_i = t_i - mean_j t_ij``, and directions ``v_i = c_i / ||c_i||``,

    S(t) = v v^T,    L = ||S(t) - S(Y)||_F^2 / n^2,

where ``S(Y)`` is the same matrix of the one-hot labels: 1 on pairs of one class and
``-1 / (C - 1)`` across classes (``C`` classes). ``L`` is small when samples of a class point
the same way and samples of different classes are as far apart as C centred one-hot vectors.

Gradient, written out (no autograd): ``E = 2 (S - S(Y)) / n^2``, ``dL/dv = 2 E v``, through the
normalisation ``dL/dc_i = (g_i - v_i (v_i . g_i)) / ||c_i||`` and through the centring
``dL/dt = dL/dc - mean_j dL/dc_ij``. Cost: two ``n x n x d`` products.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pnnkit.errors import ShapeError
from pnnkit.info.kernels import NORM_EPS

__all__ = ["label_similarity", "similarity_matching"]


def label_similarity(y: Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``S(Y)`` of integer labels ``y`` (n,): cosine similarity of centred one-hot rows,
    1 within a class and ``-1 / (C - 1)`` across classes."""
    if y.dim() != 1:
        raise ShapeError(f"labels have shape {tuple(y.shape)}; expected (n,)")
    if num_classes < 2:
        raise ShapeError(f"similarity matching needs at least 2 classes, got {num_classes}")
    same = (y[:, None] == y[None, :]).to(dtype)
    across = -1.0 / (num_classes - 1)
    return same.mul_(1.0 - across).add_(across)


def similarity_matching(t: Tensor, target: Tensor) -> tuple[float, Tensor]:
    """``(L, dL/dt)`` of ``L = ||S(t) - target||_F^2 / n^2`` for a batch ``t`` (n, d) and a target
    similarity matrix (n, n), e.g. :func:`label_similarity`. Rows of ``t`` with no spread
    over their features have no direction; they get a zero gradient."""
    if t.dim() != 2 or target.shape != (t.shape[0], t.shape[0]):
        raise ShapeError(
            f"similarity matching needs t of shape (n, d) and a target of shape (n, n); got "
            f"{tuple(t.shape)} and {tuple(target.shape)}"
        )
    n = t.shape[0]
    with torch.no_grad():
        centred = t - t.mean(dim=1, keepdim=True)
        length = torch.linalg.vector_norm(centred, dim=1, keepdim=True).clamp_min_(NORM_EPS)
        v = centred / length
        error = torch.mm(v, v.T).sub_(target)
        loss = float(error.square().sum()) / n**2
        g_v = torch.mm(error, v).mul_(4.0 / n**2)  # 2 E v with E = 2 (S - target) / n^2
        g_c = g_v.sub_(v * (v * g_v).sum(dim=1, keepdim=True)).div_(length)
        g_c.mul_(length > NORM_EPS)  # a row with no spread has no direction to move
        return loss, g_c.sub_(g_c.mean(dim=1, keepdim=True))
