"""Units and networks: physical layers with their periphery, chained, with a digital readout.

A :class:`Unit` is one substrate followed by a known element-wise periphery ``t = f(z)`` (a
rectifier or a saturating amplifier after the ADC). A :class:`PhysicalNetwork` chains units, the
measured output of unit ``k`` driving unit ``k + 1``, and ends in a digital linear readout to class
scores. The readout sees the last output normalised to unit length: the bottleneck's kernel
compares outputs by direction (see :class:`pnnkit.learning.pib.BottleneckEstimator`), so that is
the geometry the units learn, and it makes the readout blind to gain changes of the hardware.
The network knows nothing about how it is trained (see :mod:`pnnkit.learning`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError, MeasurementError
from pnnkit.info import unit_normalize
from pnnkit.physics import Counters, Substrate, make_substrate


def _relu_grad(z: Tensor) -> Tensor:
    return (z > 0).to(z.dtype)


def _tanh_grad(z: Tensor) -> Tensor:
    return 1 - torch.tanh(z) ** 2


#: periphery name -> (f, f') : the element-wise function applied after the measurement and its
#: derivative, which the local rules use at the *measured* pre-activation.
ACTIVATIONS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "relu": (torch.relu, _relu_grad),
    "tanh": (torch.tanh, _tanh_grad),
    "identity": (lambda z: z, torch.ones_like),
}


@dataclass
class Unit:
    """A physical layer: ``t = f(measure(h))``."""

    substrate: Substrate
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; choices: {sorted(ACTIVATIONS)}"
            )

    def measure(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """One physical pass. Returns the measured pre-activation ``z`` and the output ``f(z)``."""
        z = self.substrate.measure(h)
        if not torch.isfinite(z).all():
            raise MeasurementError(
                f"{self.substrate.name} substrate returned NaN or Inf in a measurement"
            )
        return z, self.f(z)

    def f(self, z: Tensor) -> Tensor:
        return ACTIVATIONS[self.activation][0](z)

    def f_prime(self, z: Tensor) -> Tensor:
        return ACTIVATIONS[self.activation][1](z)

    @property
    def out_features(self) -> int:
        return self.substrate.out_features


class PhysicalNetwork:
    """Units chained by their measured outputs, then a digital linear readout."""

    def __init__(self, units: Sequence[Unit], num_classes: int, *, seed: int = 0) -> None:
        if not units:
            raise ConfigError("a network needs at least one unit")
        for a, b in itertools.pairwise(units):
            if a.out_features != b.substrate.in_features:
                raise ConfigError(
                    f"unit widths do not chain: {a.out_features} outputs feed "
                    f"{b.substrate.in_features} inputs"
                )
        self.units = list(units)
        generator = torch.Generator().manual_seed(seed)
        self.readout = torch.nn.Linear(self.units[-1].out_features, num_classes)
        with torch.no_grad():
            bound = 1 / self.units[-1].out_features ** 0.5
            self.readout.weight.uniform_(-bound, bound, generator=generator)
            self.readout.bias.zero_()

    @classmethod
    def build(
        cls,
        substrate: str,
        in_features: int,
        widths: Sequence[int],
        num_classes: int,
        *,
        activation: str = "relu",
        substrate_config: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> PhysicalNetwork:
        """Units of the given widths on one kind of substrate; unit ``k`` seeded ``seed*1000+k``."""
        if not widths or any(w < 1 for w in widths):
            raise ConfigError(f"hidden widths must be a non-empty list of positive ints: {widths}")
        sizes = [in_features, *widths]
        units = [
            Unit(
                make_substrate(
                    substrate, n_in, n_out, seed=seed * 1000 + k, config=substrate_config
                ),
                activation,
            )
            for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes))
        ]
        return cls(units, num_classes, seed=seed)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Measured outputs ``t_k`` of every unit for input ``x`` (one pass per unit)."""
        outputs, h = [], x
        for unit in self.units:
            _, h = unit.measure(h)
            outputs.append(h)
        return outputs

    def logits(self, t: Tensor) -> Tensor:
        """Class scores from the last unit's output ``t`` (normalised to unit length first)."""
        return self.readout(unit_normalize(t))

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Class predictions through the physical path and the readout."""
        preds = [
            self.logits(self.forward(x[i : i + batch_size])[-1]).argmax(dim=1)
            for i in range(0, x.shape[0], batch_size)
        ]
        return torch.cat(preds)

    def counters(self) -> Counters:
        """Costs summed over all units."""
        total = Counters()
        for unit in self.units:
            total = total + unit.substrate.counters
        return total

    def state_dict(self) -> dict[str, Any]:
        return {
            "units": [
                {"activation": u.activation, "substrate": u.substrate.state_dict()}
                for u in self.units
            ],
            "readout": self.readout.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["units"]) != len(self.units):
            raise ConfigError(
                f"saved network has {len(state['units'])} units, this one {len(self.units)}"
            )
        for k, (unit, saved) in enumerate(zip(self.units, state["units"], strict=True)):
            if saved["activation"] != unit.activation:
                raise ConfigError(
                    f"unit {k + 1}: saved activation {saved['activation']!r}, "
                    f"this network has {unit.activation!r}"
                )
            unit.substrate.load_state_dict(saved["substrate"])
        self.readout.load_state_dict(state["readout"])
