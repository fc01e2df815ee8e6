"""The ideal substrate: an exact digital linear layer, the reference for every physics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.physics.capabilities import LinearStage
from pnnkit.physics.linear import linear_twin
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register


@dataclass
class IdealConfig(SubstrateConfig):
    """Config of :class:`IdealLinear`.

    ``init_scale``: weights start uniform in ``+-init_scale / sqrt(in_features)`` (the usual
    fan-in initialisation of a linear layer; bias starts at zero).
    """

    init_scale: float = 1.0

    def validate(self) -> None:
        super().validate()
        self._require("init_scale", self.init_scale > 0, "> 0")


@register
class IdealLinear(LinearStage, Substrate[IdealConfig]):
    """``z = W [x, 1]``, exactly: no noise, no quantisation, programs land exactly."""

    name = "ideal"
    config_class = IdealConfig
    exact_twin = True

    def _build(self) -> None:
        bound = self._config.init_scale / math.sqrt(self.in_features)
        weight = (torch.rand(self.parameter_shape(), generator=self.generator) * 2 - 1) * bound
        weight[:, -1] = 0.0
        self.weight = weight

    def _measure(self, x: Tensor) -> Tensor:
        return linear_twin(x, self.weight)

    def _program(self, delta: Tensor) -> None:
        self.weight = self.weight + delta
        changed = int((delta != 0).sum())
        self.counters.device_writes += changed
        self.counters.programming_pulses += changed

    def _read_parameters(self) -> Tensor:
        return self.weight.clone()

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        return linear_twin

    def _physical_state(self) -> dict[str, Tensor]:
        return {"weight": self.weight.clone()}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.weight = state["weight"].clone()
