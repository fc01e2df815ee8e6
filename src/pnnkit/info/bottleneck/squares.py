"""The squares of a step's input and label Gram matrices, formed once for all its units.

Order 2 reads ``I(X;T)`` and ``I(T;Y)`` from ``K o K``, ``X o X`` and ``Y o Y`` (see
:mod:`pnnkit.info.bottleneck`); every unit of a step shares ``X`` and ``Y``, so a
:class:`Squares` owned by the caller (:class:`pnnkit.info.BottleneckEstimator` holds one) keeps
the last pair's squares instead of forming them once per unit.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.errors import ConfigError

__all__ = ["Squares", "log2_positive"]


def log2_positive(value: float, what: str) -> float:
    """``log2`` of a positive quantity of the order-2 terms, or a ConfigError naming it."""
    if not value > 0:  # also NaN
        raise ConfigError(
            f"{what} is {value!r}; the Gram matrices must be normalised Gram matrices "
            "(positive diagonal, finite entries)"
        )
    return math.log2(value)


@dataclass
class _Entry:
    x: weakref.ref[Tensor]
    y: weakref.ref[Tensor]
    versions: tuple[int, int]
    value: tuple[Tensor, Tensor, float, float]


class Squares:
    """``X o X`` and ``Y o Y`` with the constants order 2 reads from them, for the last
    ``(X, Y)`` pair seen.

    The entry is keyed on the tensors themselves (weak references: it is dropped, with its
    arrays, when either matrix is freed) and their in-place version counters, so a matrix
    changed in place through torch, or a different one, is never served stale squares (writes
    that bypass the version counter, through ``.data`` or a shared NumPy buffer, are not seen).
    Inference-mode tensors have no version counter and are never cached."""

    def __init__(self) -> None:
        self._entry: _Entry | None = None

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
            log2_positive(sx, "||X||^2") + 2 * log2_positive(tx, "tr X"),
            log2_positive(sy, "||Y||^2") + 2 * log2_positive(ty, "tr Y"),
        )
        if cacheable:
            entry = _Entry(weakref.ref(x), weakref.ref(y), (x._version, y._version), value)
            self._entry = entry
            for key in (x, y):
                weakref.finalize(key, self._forget, entry)
        return value

    def _forget(self, entry: _Entry) -> None:
        if self._entry is entry:
            self._entry = None

    def __getstate__(self) -> dict[str, None]:
        """Copies and pickles start empty (weak references do not pickle)."""
        return {"_entry": None}

    def __setstate__(self, state: dict[str, None]) -> None:
        self._entry = None
