"""The frozen-hardware baseline: only the digital readout learns.

Every unit keeps its initial (random) state; the readout is trained with cross-entropy on the
measured last output. It answers "how much of the accuracy is the physics' random features and
the readout alone", the bar a training method for the units must clear.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from pnnkit.learning.base import LearningRule, LocalReadout, RuleConfig, StepStats
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork


@register(RuleConfig)
class ReadoutOnly(LearningRule):
    """Train the readout only; one measurement pass per unit and sample, no programming."""

    name = "readout"
    needs = Needs(pre_stages=True)

    def __init__(self, network: PhysicalNetwork, config: RuleConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.readout_trainer = LocalReadout(network, config.readout_lr)

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        features = self.network.forward(x)[-1]
        loss = self.readout_trainer.train(features, y, self.lr_factor())
        self.step_count += 1
        return StepStats(loss=loss, readout_loss=loss)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "optimizer": self.readout_trainer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.readout_trainer.load_state_dict(state["optimizer"])
