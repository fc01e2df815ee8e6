"""Relevance heads: a small digital softmax classifier per unit, on its measured output.

Each head maps a unit's length-normalised measured output ``t_k / |t_k|`` to class scores and
is trained with cross-entropy (:func:`pnnkit.learning.base.softmax_cross_entropy`). Its
cross-entropy bounds ``H(Y | T_k)`` from above, so lowering it raises a variational lower bound
of ``I(T_k; Y) = H(Y) - H(Y | T_k)`` (the relevance term of the variational information
bottleneck, Alemi et al., ICLR 2017); as an extra local signal per layer it is the head of
Nokland & Eidnes, ICML 2019. PIB adds its gradient with respect to ``t_k`` to the unit's
bottleneck gradient (:class:`pnnkit.learning.pib.PIB`, ``head_weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pnnkit.learning.base import softmax_cross_entropy
from pnnkit.learning.optim import UpdateRule
from pnnkit.network import PhysicalNetwork

__all__ = ["UnitHeads"]


class UnitHeads:
    """A small digital linear softmax head per unit (or per output of the given ``widths``: the
    pre-stages') on its length-normalised measured output
    (the extra relevance signal of Nokland & Eidnes, ICML 2019): ``(classes, width + 1)``
    weights per unit (zero at the start), each with its own optimiser (the rule's, Adam by
    default). The heads only read measurements and never touch the hardware; inference does
    not use them."""

    def __init__(
        self, network: PhysicalNetwork, optimizer: str, widths: Sequence[int] | None = None
    ) -> None:
        like = network.readout.weight
        classes = network.readout.out_features
        widths = [u.out_features for u in network.units] if widths is None else widths
        # zero weights: a softmax head's loss is convex in them, and a zero head sends no
        # signal to its unit until it has learned something
        self.weights = [
            torch.zeros(classes, width + 1, dtype=like.dtype, device=like.device)
            for width in widths
        ]
        self.updates = [UpdateRule(optimizer) for _ in widths]

    def gradients(
        self, k: int, t: Tensor, y: Tensor, weights: Tensor | None
    ) -> tuple[float, Tensor, Tensor]:
        """Head ``k``'s cross-entropy on the measured ``t``: ``(loss, dCE/d[W, b], dCE/dt)``."""
        w = self.weights[k]
        loss, grad_wb, grad_t = softmax_cross_entropy(
            w[:, :-1], w[:, -1], t, y, weights=weights, feature_grad=True
        )
        assert grad_t is not None
        return loss, grad_wb, grad_t

    def apply(self, k: int, grad_wb: Tensor, lr: float) -> None:
        """One optimiser step of head ``k``."""
        self.weights[k].add_(self.updates[k].delta(grad_wb, lr))

    def state_dict(self) -> list[dict[str, Any]]:
        """Per unit: the head's weights and its optimiser state."""
        return [
            {"weight": w, "update": u.state_dict()}
            for w, u in zip(self.weights, self.updates, strict=True)
        ]

    def load_state_dict(self, state: list[dict[str, Any]]) -> None:
        """Restore :meth:`state_dict`."""
        for k, saved in enumerate(state):
            self.weights[k] = saved["weight"].clone().to(self.weights[k])
            self.updates[k].load_state_dict(saved["update"])
