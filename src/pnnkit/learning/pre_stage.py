"""PIB for a trainable pre-stage in front of fixed physics: local, exact, model-free.

A unit with a pre-stage is ``T = f(stage(c(physics(u0))))`` with ``u0 = tanh(z0)`` and
``z0 = W0 [h, 1]`` (:class:`pnnkit.unit.Unit`). The stage after the physics gets the exact
outer-product gradient of the unit's loss from the measured physics output (route (b) of
docs/pib.md). The pre-stage's effect on ``T`` passes through the unknown physics, so
``dL(T)/dW0`` is not available without a model of it. What is exact and model-free is the
gradient of a local objective on the pre-stage's *own* measured output ``u0`` (a digital,
known quantity): the same relevance and compression terms the unit uses (bottleneck,
similarity matching, a relevance head), ``L0(u0)``, whose gradient with respect to ``W0`` is
the outer product ``dL0/dW0 = (dL0/du0 o tanh'(z0))^T [h, 1]`` (route (a) applied to the
pre-stage as a layer of its own). The pre-stage thus learns a representation of its input that
keeps what predicts the labels, at the physics' ports; the stage after the physics learns from
what the physics makes of it.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from pnnkit.learning.heads import UnitHeads
from pnnkit.learning.optim import UpdateRule
from pnnkit.network import DRIVE, PhysicalNetwork, UnitOutput
from pnnkit.physics import with_bias_column

__all__ = ["PreStages"]


class PreStages:
    """The digital state of the pre-stages of a network: an optimiser per pre-stage and, when
    ``heads`` is true, a relevance head on each pre-stage's output (:class:`UnitHeads`)."""

    def __init__(self, network: PhysicalNetwork, optimizer: str, *, heads: bool) -> None:
        self.network = network
        #: unit index -> position among the pre-stages
        self.index = {k: i for i, k in enumerate(k for k, u in enumerate(network.units) if u.pre)}
        ports = [u.pre.out_features for u in network.units if u.pre is not None]
        self.updates = [UpdateRule(optimizer) for _ in ports]
        self.heads = UnitHeads(network, optimizer, widths=ports) if heads else None

    def __contains__(self, k: int) -> bool:
        return k in self.index

    @staticmethod
    def output(out: UnitOutput) -> Tensor:
        """The pre-stage's measured output ``u0 = tanh(z0)`` (what drives the physics)."""
        assert out.z0 is not None
        return DRIVE[0](out.z0)

    def head_gradients(
        self, k: int, u0: Tensor, labels: Tensor, weights: Tensor | None
    ) -> tuple[float, Tensor, Tensor]:
        """Unit ``k``'s pre-stage head on ``u0``: ``(loss, dCE/d[W, b], dCE/du0)``."""
        assert self.heads is not None
        return self.heads.gradients(self.index[k], u0, labels, weights)

    @staticmethod
    def weight_gradient(out: UnitOutput, grad_u0: Tensor) -> Tensor:
        """``dL0/dW0 = (dL0/du0 o tanh'(z0))^T [h, 1]`` from the measured pass: exact for
        the local objective, no model of the physics."""
        assert out.z0 is not None and out.h is not None
        return (grad_u0 * DRIVE[1](out.z0)).T @ with_bias_column(out.h)

    def write(self, k: int, out: UnitOutput, grad_u0: Tensor, lr: float) -> None:
        """Program unit ``k``'s pre-stage with the change its optimiser asks for."""
        pre = self.network.units[k].pre
        assert pre is not None
        pre.program(self.updates[self.index[k]].delta(self.weight_gradient(out, grad_u0), lr))

    def step_head(self, k: int, grad_head: Tensor, lr: float) -> None:
        """One optimiser step of unit ``k``'s pre-stage head."""
        assert self.heads is not None
        self.heads.apply(self.index[k], grad_head, lr)

    def state_dict(self) -> dict[str, Any]:
        """The optimisers' and heads' states."""
        return {
            "updates": [u.state_dict() for u in self.updates],
            "heads": None if self.heads is None else self.heads.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        for update, saved in zip(self.updates, state["updates"], strict=True):
            update.load_state_dict(saved)
        if self.heads is not None and state["heads"] is not None:
            self.heads.load_state_dict(state["heads"])
