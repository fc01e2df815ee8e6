"""Your own physics as a substrate: a saturable absorber, registered and trained with PIB.

What it shows: how to add a physical system to pnnkit by subclassing
:class:`pnnkit.physics.Substrate`. The toy system: an input modulator writes each sample as
field amplitudes, a fixed random coupler mixes them into ``out`` channels, and every channel
passes through a thin saturable absorber before a photodetector. A two-level absorber's
coefficient falls with intensity, ``alpha(I) = alpha_0 / (1 + I / I_sat)`` (e.g. Siegman,
*Lasers*, University Science Books, 1986), so a thin sample transmits

    I_out = I exp(-alpha_0 L / (1 + I / I_sat))

weak light is absorbed (transmission ``exp(-alpha_0 L)``) and strong light bleaches the
absorber and passes: an intensity-dependent nonlinearity, the kind optical neural networks use
as an activation. Intensities are in units of ``I_sat``.

A substrate subclasses ``Substrate[ItsConfig]`` and implements ``_build`` (its physics, drawn
from the substrate's seeded generator), ``_measure`` (one pass, no autograd: the base class wraps
it in ``torch.no_grad`` and counts the queries), ``_program`` and ``_read_parameters`` (nothing
is programmable here: parameter shape ``(0,)``), and its state. A substrate that also inherits a
capability of :mod:`pnnkit.physics.capabilities` (e.g. ``DetectorPixels``) gets that
capability's faults with no further change. ``@register`` adds it to the
registry, so :meth:`PhysicalNetwork.build` (and ``TrainConfig(substrate="absorber")`` in the
same process) can build it by name. Each unit is then the absorber followed by a trainable
linear stage, which PIB trains from the measured absorber output (route (b) of docs/pib.md):
no model of the absorber is needed, and this one offers none, so backprop refuses it.

Default: digits, one unit of 256, 30 epochs; ``--small``: one unit of 64, 4 epochs (a few
seconds). It prints the test accuracy (chance: 0.1).

Run: ``python examples/custom_substrate.py [--small] [--seed N]``
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.data import load_dataset
from pnnkit.errors import ConfigError
from pnnkit.learning import make_rule, rule_config
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Substrate, SubstrateConfig, register


@dataclass
class AbsorberConfig(SubstrateConfig):
    """Settings of :class:`SaturableAbsorber`.

    ``pump``: peak input intensity in units of ``I_sat`` (4: strong samples saturate the
    absorber, weak ones do not, so the nonlinearity is used). ``optical_depth``: ``alpha_0 L``
    (2: weak light is transmitted at ``exp(-2)``, 14%). ``detector_noise``: standard deviation
    of the photodetector's additive Gaussian noise, in units of ``I_sat`` (0.01).
    """

    pump: float = 4.0
    optical_depth: float = 2.0
    detector_noise: float = 0.01

    def validate(self) -> None:
        """Reject values outside the physical range, naming the field."""
        super().validate()
        self._require("pump", self.pump > 0, "> 0")
        self._require("optical_depth", self.optical_depth >= 0, ">= 0")
        self._require("detector_noise", self.detector_noise >= 0, ">= 0")


@register
class SaturableAbsorber(Substrate[AbsorberConfig]):
    """Modulator -> fixed random coupler -> thin saturable absorbers -> photodetectors."""

    name = "absorber"
    config_class = AbsorberConfig
    linear = False

    def _build(self) -> None:
        """The fixed physics, drawn from the substrate's own seeded generator."""
        shape = (self.out_features, self.in_features)
        # the coupler's real transfer matrix, fixed by the seed and hidden from the network
        self.coupler = torch.randn(shape, generator=self.generator) / math.sqrt(self.in_features)

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        # The modulator's range is [-1, 1]: each sample is scaled by its own largest value.
        scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
        intensity = cfg.pump * ((x / scale) @ self.coupler.T) ** 2
        transmitted = intensity * torch.exp(-cfg.optical_depth / (1 + intensity))
        noise = torch.randn(transmitted.shape, generator=self.generator)
        return transmitted + cfg.detector_noise * noise

    def parameter_shape(self) -> tuple[int, ...]:
        """Nothing is programmable."""
        return (0,)

    def _program(self, delta: Tensor) -> None:
        """No device to write."""

    def _read_parameters(self) -> Tensor:
        return torch.zeros(0)

    def _physical_state(self) -> dict[str, Tensor]:
        return {"coupler": self.coupler.clone()}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.coupler = state["coupler"].clone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    widths, epochs = ([64], 4) if args.small else ([256], 30)
    torch.manual_seed(args.seed)
    data = load_dataset("digits", seed=args.seed)
    network = PhysicalNetwork.build(
        "absorber", data.num_features, widths, data.num_classes, stage="ideal", seed=args.seed
    )
    network.calibrate(data.x_train[:512])  # centre and scale each detector once

    try:
        make_rule("backprop", network, rule_config("backprop"), total_steps=1)
    except ConfigError as error:
        print(f"backprop refused: {error}")

    batch_size = 256
    steps_per_epoch = math.ceil(len(data.y_train) / batch_size)
    rule = make_rule("pib", network, rule_config("pib"), total_steps=epochs * steps_per_epoch)
    shuffle = torch.Generator().manual_seed(args.seed)
    for _ in range(epochs):
        order = torch.randperm(len(data.y_train), generator=shuffle).tensor_split(steps_per_epoch)
        for index in order:
            rule.train_step(data.x_train[index], data.y_train[index])
    absorber = network.units[0].physics
    assert absorber is not None
    queries = absorber.counters.physical_queries
    accuracy = float((rule.predict(data.x_test) == data.y_test).float().mean())
    print(f"test accuracy {accuracy:.4f}")
    print(f"physical queries of the first absorber {queries} (calibration included)")


if __name__ == "__main__":
    main()
