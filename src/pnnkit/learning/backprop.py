"""Backpropagation through an exact digital model: the reference every physical rule is judged by.

The network's forward pass runs through each substrate's differentiable twin (physics and linear
stages alike), the cross-entropy of the readout is backpropagated end to end (Rumelhart, Hinton &
Williams, Nature 323:533, 1986) into every programmable parameter (weights, phases, drives), and
the new values are written to the substrates by write-and-verify. This is only the true
gradient when the twin is exact, so the rule refuses substrates whose twin is not (training on
an approximate model and deploying is the separate in-silico method).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Substrate


class Backprop(LearningRule):
    """End-to-end backpropagation on exact twins; spends no physical queries while training."""

    name = "backprop"
    model_free = False

    def __init__(self, network: PhysicalNetwork, config: RuleConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.hardware = network.substrates()
        for substrate in self.hardware:
            if not substrate.exact_twin:
                raise ConfigError(
                    f"backprop needs an exact differentiable model of the substrate, and the "
                    f"{substrate.name} substrate has none; use --substrate ideal for the "
                    f"digital reference, or a model-free method such as --method pib"
                )
        self.twins = {id(s): s.twin() for s in self.hardware}
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

    def _model(self, substrate: Substrate, h: Tensor) -> Tensor:
        return self.twins[id(substrate)](h, self.weights[id(substrate)])

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        for group, base in zip(self.optimizer.param_groups, self._base_lrs, strict=True):
            group["lr"] = base * self.lr_factor()
        with torch.enable_grad():
            h = x
            for unit in self.network.units:
                if unit.physics is not None:
                    h = unit.condition(self._model(unit.physics, h))
                if unit.stage is not None:
                    h = self._model(unit.stage, h)
                h = unit.f(h)
            loss = F.cross_entropy(self.network.logits(h), y)
            self.optimizer.zero_grad()
            loss.backward()
        self.optimizer.step()
        for substrate in self.hardware:
            substrate.program_to(self.weights[id(substrate)].detach())
        self.step_count += 1
        return StepStats(loss=float(loss.detach()), readout_loss=float(loss.detach()))

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
