"""The information terms of the bottleneck from the unit's kernel matrix, and the parts of
their gradient with respect to it (see :mod:`pnnkit.info.bottleneck` for the maths)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.info.bottleneck.squares import Squares, log2_positive
from pnnkit.info.entropy import (
    eig_tolerance,
    entropy_from_power_sum,
    renyi_entropy_and_grad,
    spectral_terms,
)
from pnnkit.info.randomized import randomized_renyi_entropy_and_grad

__all__ = [
    "Parts",
    "Spec",
    "block_entropy",
    "joint",
    "label_blocks",
    "order2_terms",
    "spectral_bottleneck",
]

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


def block_entropy(
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
    tol = eig_tolerance(lam.reshape(-1), n)
    f, slope = spectral_terms(lam, alpha, tol)
    value, ds_dp = entropy_from_power_sum(f.sum(), alpha)
    if vec is None:
        return value, None
    grad_blocks = (vec * (slope * ds_dp).unsqueeze(-2)) @ vec.mT
    full = mat.new_zeros(n + 1, n + 1)
    full[rows, cols] = grad_blocks
    return value, full[:n, :n]


def joint(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``A o B / tr(A o B)`` and the trace."""
    ab = a * b
    tr = torch.diagonal(ab).sum()
    return ab / tr, tr


@dataclass
class Spec:
    """The settings of one bottleneck computation, checked (see
    :func:`pnnkit.info.bottleneck.bottleneck_terms`)."""

    alpha: float
    sigma2: float
    width_rule: str
    solver: str
    probes: int
    steps: int
    deflation: int
    generator: torch.Generator | None
    squares: Squares


#: dI/dK (off-diagonal) as ``sum_i (c_xt_i dI(X;T) + c_ty_i dI(T;Y)) M_i``: matrices with
#: their coefficients for each term, so that backward combines them in one pass
Parts = list[tuple[Tensor, Tensor | float, Tensor | float]]


def order2_terms(
    k2: Tensor, x: Tensor, y: Tensor, squares: Squares, need_grad: bool
) -> tuple[tuple[float, float], Parts | None]:
    """Order 2 from the squared kernel ``K o K`` (``A = K / n``): ``S_2(A) = -log2(||K||^2 / n^2)``,
    ``S_2(X,T) = -log2(||X o K||^2 / (n tr(X o A))^2)``, and the same for ``Y``, with
    ``n tr(X o A) = tr X`` as ``diag K = 1``.

    Everything is read from ``K o K``, ``X o X`` and ``Y o Y`` (``||X o K||^2 = <X o X, K o K>``),
    and the parts are those of ``dI/dK o K``, which is all backward needs:
    ``K o K o (c_T + c_X X o X + c_Y Y o Y)``; the first part is ``K o K`` itself, the others are
    multiplied by it in backward. The scalars are Python floats (one read-out of three sums):
    a few dozen operations on 0-d tensors would cost more than the ``n x n`` passes."""
    n = k2.shape[-1]
    x2, y2, x_const, y_const = squares.get(x, y)
    flat = k2.reshape(-1)
    sq_k, sq_xk, sq_yk = torch.stack(
        [flat.sum(), torch.dot(x2.reshape(-1), flat), torch.dot(y2.reshape(-1), flat)]
    ).tolist()
    s_t = 2 * math.log2(n) - log2_positive(sq_k, "||K||^2")
    i_xt = s_t + log2_positive(sq_xk, "||X o K||^2") - x_const
    i_ty = s_t + log2_positive(sq_yk, "||Y o K||^2") - y_const
    if not need_grad:
        return (i_xt, i_ty), None
    # dS_2(T)/dK = -2 K / (ln2 ||K||^2), dS_2(X,T)/dK = -2 X o X o K / (ln2 ||X o K||^2)
    c = 2.0 / _LN2
    return (i_xt, i_ty), [
        (k2, -c / sq_k, -c / sq_k),
        (x2, c / sq_xk, 0.0),
        (y2, 0.0, c / sq_yk),
    ]


def spectral_bottleneck(
    a: Tensor, x: Tensor, y: Tensor, spec: Spec, need_grad: bool
) -> tuple[tuple[Tensor, Tensor], Parts | None]:
    """``I(X;T)`` and ``I(T;Y)`` of any order from eigenvalues (per-class blocks where the
    pattern allows, one batched ``eigh`` otherwise) or, for ``solver="lanczos"``, by
    stochastic Lanczos quadrature; with ``need_grad`` the parts of ``dI/dK`` (off-diagonal)."""
    alpha = spec.alpha
    j1, c1 = joint(x, a)
    j2, c2 = joint(a, y)
    x_blocks, y_blocks = label_blocks(x), label_blocks(y)
    mats = {"t": a, "xt": j1, "ty": j2, "x": x, "y": y}
    blocks = {"t": None, "xt": x_blocks, "x": x_blocks, "ty": y_blocks, "y": y_blocks}
    wanted = {"t", "xt", "ty"} if need_grad else set()  # S(X), S(Y) are constants
    values: dict[str, Tensor] = {}
    grads: dict[str, Tensor] = {}
    for name, idx in blocks.items():
        if idx is not None:
            values[name], g = block_entropy(mats[name], idx, alpha, name in wanted)
            if g is not None:
                grads[name] = g
    dense = [name for name in mats if blocks[name] is None]
    if spec.solver == "lanczos":  # one call: the matrices share the probes
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
            f, _ = spectral_terms(lam, alpha, eig_tolerance(lam, a.shape[-1]))
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
