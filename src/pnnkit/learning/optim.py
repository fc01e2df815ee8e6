"""Digital preconditioners that turn a gradient into the parameter change sent to hardware.

A physical parameter cannot be handed to ``torch.optim``: the rule computes a gradient, the
controller turns it into a requested change ``delta``, and the substrate programs ``delta`` with
its own device physics. These classes hold the controller's (digital) optimiser state.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError

OPTIMIZERS = ("adam", "sgd")


class UpdateRule:
    """``delta = -lr * direction(grad)`` for one parameter tensor.

    ``adam``: Kingma & Ba, ICLR 2015 (bias-corrected first and second moments); the moments are
    kept digitally, two floats per parameter. ``sgd``: plain stochastic gradient descent.
    """

    def __init__(
        self, kind: str = "adam", *, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        if kind not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {kind!r}; choices: {list(OPTIMIZERS)}")
        self.kind, self.betas, self.eps = kind, betas, eps
        self.steps = 0
        self.m: Tensor | None = None
        self.v: Tensor | None = None

    def delta(self, grad: Tensor, lr: float) -> Tensor:
        """The requested change for this step's gradient at learning rate ``lr``."""
        self.steps += 1
        if self.kind == "sgd":
            return -lr * grad
        if self.m is None or self.v is None:
            self.m = torch.zeros_like(grad)
            self.v = torch.zeros_like(grad)
        b1, b2 = self.betas
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        # -lr m_hat / (sqrt(v_hat) + eps), with the bias corrections as scalars: one new array
        denom = self.v.sqrt().div_(math.sqrt(1 - b2**self.steps)).add_(self.eps)
        return torch.div(self.m, denom, out=denom).mul_(-lr / (1 - b1**self.steps))

    def state_dict(self) -> dict[str, Any]:
        """Step count and the Adam moments (None before the first step)."""
        return {"steps": self.steps, "m": self.m, "v": self.v}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict (copied: the moments are then updated in place)."""
        # copies: the moments are updated in place, and the saved state must stay as saved
        self.steps = state["steps"]
        self.m = None if state["m"] is None else state["m"].clone()
        self.v = None if state["v"] is None else state["v"].clone()


def cosine_lr(base_lr: float, step: int, total_steps: int, final_fraction: float = 0.0) -> float:
    """Cosine decay from ``base_lr`` at step 0 to ``final_fraction * base_lr`` at ``total_steps``
    (Loshchilov & Hutter, SGDR, ICLR 2017, without restarts)."""
    if total_steps <= 0:
        return base_lr
    progress = min(step / total_steps, 1.0)
    return base_lr * (
        final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
    )
