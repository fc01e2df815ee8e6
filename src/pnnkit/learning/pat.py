"""Physics-aware training (PAT): forward in the hardware, backward through the twin.

Wright et al., "Deep physical neural networks trained with backpropagation", Nature 601:549
(2022). Each unit is measured on the hardware; the gradient is backpropagated through the
substrates' differentiable twins *evaluated at the measured activations*: for a substrate with
measured output ``y_meas`` and twin output ``y_twin = twin(h, theta)`` on its measured input
``h``, the forward value is ``y_meas`` and the backward pass uses the twin's Jacobian,

    y = y_meas + (y_twin - stop_gradient(y_twin)).

With an exact, noise-free twin this is backpropagation; with an imperfect one (see
:class:`~pnnkit.learning.twins.TwinMismatch`, 10% by default) the forward error is removed and
only the Jacobian is approximate, which is why PAT tolerates a far coarser model than in-silico
training. Parameters are read back from the hardware each step (the Jacobian needs them), and
the optimiser's requested change is programmed with the hardware's own update physics. One
physical pass per substrate and sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.learning.base import LearningRule, StepStats
from pnnkit.learning.insilico import InSilicoConfig
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.learning.twins import NetworkTwin
from pnnkit.network import DRIVE, PhysicalNetwork
from pnnkit.physics import Substrate


@dataclass
class PATConfig(InSilicoConfig):
    """Settings of :class:`PhysicsAware`: those of in-silico training, the twin's ``mismatch``
    included (10% by default), so the two are compared on the same model."""


def _physics_aware(measured: Tensor, twin_output: Tensor) -> Tensor:
    """The measured value forward, the twin's Jacobian backward."""
    return measured.to(twin_output.dtype) + (twin_output - twin_output.detach())


@register(PATConfig)
class PhysicsAware(LearningRule):
    """Forward on the hardware, backward through the twin at the measured activations."""

    name = "pat"
    needs = Needs(twin="any", pre_stages=True)

    def __init__(self, network: PhysicalNetwork, config: PATConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: PATConfig = config
        self.twin = NetworkTwin(network, config.mismatch, self.name)
        self.trainable = [s for s in network.substrates() if math.prod(s.parameter_shape()) > 0]
        self.updates = {id(s): UpdateRule(config.optimizer) for s in self.trainable}
        make = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
        self.readout_optimizer = make(network.readout.parameters(), config.readout_lr)

    def gradients(self, x: Tensor, y: Tensor) -> tuple[Tensor, dict[int, Tensor]]:
        """One forward pass on the hardware and the backward pass through the twins: the loss
        and ``dL/dtheta`` for every programmable substrate (keyed by ``id``). The readout's
        gradient is left in its ``.grad``."""
        params = {
            id(s): s.read_parameters().clone().requires_grad_(s in self.trainable)
            for s in self.network.substrates()
        }
        with torch.enable_grad():
            h = x.detach()
            for unit in self.network.units:
                out = unit.measure(h.detach())
                if unit.pre is not None and out.z0 is not None:
                    h = DRIVE[0](_physics_aware(out.z0, self._model(unit.pre, h, params)))
                if unit.physics is not None:
                    twin_p = unit.condition(self._model(unit.physics, h, params))
                    p = _physics_aware(out.p, twin_p)
                else:
                    p = h
                if unit.stage is not None:
                    z = _physics_aware(out.z, self._model(unit.stage, p, params))
                else:
                    z = p
                h = unit.f(z)
            loss = F.cross_entropy(self.network.logits(h.float()), y)
            readout: list[Tensor] = list(self.network.readout.parameters())
            grads = torch.autograd.grad(loss, [params[id(s)] for s in self.trainable] + readout)
        for parameter, grad in zip(readout, grads[len(self.trainable) :], strict=True):
            parameter.grad = grad
        return loss.detach(), {id(s): g for s, g in zip(self.trainable, grads, strict=False)}

    def _model(self, substrate: Substrate, h: Tensor, params: dict[int, Tensor]) -> Tensor:
        return self.twin.model(substrate)(h, params[id(substrate)])

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        lr = self.config.lr * self.lr_factor()
        loss, grads = self.gradients(x, y)
        for substrate in self.trainable:
            update = self.updates[id(substrate)]
            substrate.program(update.delta(grads[id(substrate)], lr))
        for group in self.readout_optimizer.param_groups:
            group["lr"] = self.config.readout_lr * self.lr_factor()
        self.readout_optimizer.step()
        self.step_count += 1
        return StepStats(loss=float(loss), readout_loss=float(loss))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "updates": [self.updates[id(s)].state_dict() for s in self.trainable],
            "readout_optimizer": self.readout_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for substrate, saved in zip(self.trainable, state["updates"], strict=True):
            self.updates[id(substrate)].load_state_dict(saved)
        self.readout_optimizer.load_state_dict(state["readout_optimizer"])
