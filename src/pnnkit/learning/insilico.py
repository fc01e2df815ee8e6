"""In-silico training and deployment: learn on a digital twin, then program the hardware.

The whole network is trained by backpropagation (Rumelhart, Hinton & Williams, Nature 323:533,
1986) through the substrates' differentiable twins, made as wrong as a real model would be by
:class:`~pnnkit.learning.twins.TwinMismatch`; no physical query is spent while training. Before
every evaluation the digital parameters are deployed to the hardware by write-and-verify
(:meth:`~pnnkit.physics.Substrate.program_to`), and the hardware is what gets evaluated: the
accuracy lost there is the sim-to-real gap (Momeni et al., Nature 645:53, 2025). Deployment
writes count as training costs (a deployment per epoch; a single final one would cost
``1 / epochs`` of that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.learning.registry import Needs, register
from pnnkit.learning.twins import NetworkTwin, TwinMismatch
from pnnkit.network import PhysicalNetwork


@dataclass
class InSilicoConfig(RuleConfig):
    """Settings of :class:`InSilico`: those of every rule, and how wrong the twin is
    (``mismatch``, 10% parameter and gain errors by default)."""

    mismatch: TwinMismatch = field(default_factory=TwinMismatch)

    def validate(self) -> None:
        """Raise ConfigError naming the field: the shared rule checks, then the mismatch's."""
        super().validate()
        if not isinstance(self.mismatch, TwinMismatch):
            raise ConfigError(f"mismatch = {self.mismatch!r} is invalid: must be a table")
        self.mismatch.validate()


@register(InSilicoConfig)
class InSilico(LearningRule):
    """Backpropagation through a (mismatched) twin; deployment before each evaluation."""

    name = "insilico"
    needs = Needs(twin="any", pre_stages=True)

    def __init__(self, network: PhysicalNetwork, config: RuleConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.twin = NetworkTwin(network, self.mismatch(), self.name)
        self.hardware = network.substrates()
        self.weights = {
            id(s): s.read_parameters().clone().requires_grad_(True) for s in self.hardware
        }
        make = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
        self.optimizer = make(
            [
                {"params": list(self.weights.values()), "lr": config.lr},
                {"params": list(network.readout.parameters()), "lr": config.readout_lr},
            ]
        )
        self._base_lrs = [config.lr, config.readout_lr]

    def mismatch(self) -> TwinMismatch:
        """The twin's errors (from the config)."""
        assert isinstance(self.config, InSilicoConfig)
        return self.config.mismatch

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        for group, base in zip(self.optimizer.param_groups, self._base_lrs, strict=True):
            group["lr"] = base * self.lr_factor()
        with torch.enable_grad():
            loss = F.cross_entropy(self.network.logits(self.twin.forward(x, self.weights)), y)
            self.optimizer.zero_grad()
            loss.backward()
        self.optimizer.step()
        self.step_count += 1
        return StepStats(loss=float(loss.detach()), readout_loss=float(loss.detach()))

    def before_evaluation(self) -> None:
        """Deploy: write-and-verify every trained parameter into the hardware."""
        for substrate in self.hardware:
            substrate.program_to(self.weights[id(substrate)].detach())

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "weights": [w.detach().clone() for w in self.weights.values()],
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for weight, saved in zip(self.weights.values(), state["weights"], strict=True):
                weight.copy_(saved)
        self.optimizer.load_state_dict(state["optimizer"])
