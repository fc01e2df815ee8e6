"""Digital twins of a whole physical network, exact or deliberately wrong.

The rules that need a model of the physics (backprop, in-silico training, physics-aware
training) run the network's forward pass through each substrate's differentiable
:meth:`~pnnkit.physics.Substrate.twin`. Real twins are never exact, and how a rule degrades with
the sim-to-real gap is what a comparison must show (Wright et al., Nature 601:549, 2022, Fig. 3;
Momeni et al., Nature 645:53, 2025, section "in-silico training"). :class:`TwinMismatch` makes
the gap explicit and repeatable. For every substrate ``s`` the mismatched model is

    twin'(x, theta) = g_s * twin(x, theta * (1 + m * xi_s)),   g_s = 1 + m * zeta_s,

then, if ``nonlinearity`` is ``d > 0``, ``z + d * z^2 / rms(z)``, with ``xi_s``, ``zeta_s``
fixed standard normal draws per parameter and per output (seeded by ``seed``):

* **parameter errors** ``m``: the model believes each weight, phase or drive responds
  ``(1 + m xi)`` times what it really does (a badly calibrated device map);
* **gain errors** ``m``: a per-output gain the model gets wrong (uncalibrated detectors or
  column amplifiers). Substrates without parameters (a scattering medium) get this term only;
* **missing noise**: every twin is noise-free, so read noise, shot noise and quantisation are
  always missing from the model (nothing to configure);
* **a wrong nonlinearity** ``d``: a second-order response the hardware does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.config import Validated, check_types
from pnnkit.errors import ConfigError
from pnnkit.network import DRIVE, PhysicalNetwork
from pnnkit.physics import Substrate

Model = Callable[[Tensor, Tensor], Tensor]


@dataclass
class TwinMismatch(Validated):
    """How far the digital twin is from the hardware (see the module docstring).

    ``parameter_error``: relative rms error of the twin's parameters and output gains (0.1:
    the "10% twin mismatch" of the method comparison; device-to-device spread of
    uncalibrated memristors and heaters is of this order). ``nonlinearity``: strength ``d`` of
    the spurious quadratic response (0: none). ``seed``: seeds the fixed error draws.
    """

    parameter_error: float = 0.1
    nonlinearity: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        """Raise ConfigError when parameter_error is outside [0, 1) or nonlinearity is negative."""
        check_types(self)
        if not 0 <= self.parameter_error < 1:
            raise ConfigError(
                f"parameter_error = {self.parameter_error!r} is invalid: must be in [0, 1)"
            )
        if not self.nonlinearity >= 0:
            raise ConfigError(f"nonlinearity = {self.nonlinearity!r} is invalid: must be >= 0")

    @property
    def exact(self) -> bool:
        """True when the twin carries no mismatch at all (then PAT equals backprop)."""
        return self.parameter_error == 0 and self.nonlinearity == 0


def mismatched(twin: Model, substrate: Substrate, mismatch: TwinMismatch, index: int) -> Model:
    """``twin`` of ``substrate`` with the errors of ``mismatch``; ``index`` (the substrate's
    position in the network) decorrelates the draws of different substrates."""
    if mismatch.exact:
        return twin
    generator = torch.Generator().manual_seed(mismatch.seed * 7919 + index)
    m = mismatch.parameter_error
    param_factor = 1 + m * torch.randn(substrate.parameter_shape(), generator=generator)
    gain = 1 + m * torch.randn(substrate.out_features, generator=generator)
    d = mismatch.nonlinearity

    def model(x: Tensor, params: Tensor) -> Tensor:
        z = twin(x, params * param_factor.to(params.dtype))
        z = z * gain.to(z.dtype)
        if d > 0:
            rms = z.detach().pow(2).mean().sqrt().clamp_min(1e-12)
            z = z + d * z.square() / rms
        return z

    return model


class NetworkTwin:
    """A differentiable model of a :class:`PhysicalNetwork`: every substrate's twin (with
    ``mismatch`` applied) chained through the units' conditioning and periphery, exactly as
    the hardware chains the measurements."""

    def __init__(self, network: PhysicalNetwork, mismatch: TwinMismatch, method: str) -> None:
        self.network = network
        self.models: dict[int, Model] = {}
        for index, substrate in enumerate(network.substrates()):
            twin = substrate.twin()
            if twin is None:
                raise ConfigError(
                    f"method {method!r} needs a differentiable model of the substrate, and the "
                    f"{substrate.name} substrate has none; use a model-free method such as "
                    f"--method pib"
                )
            self.models[id(substrate)] = mismatched(twin, substrate, mismatch, index)

    def model(self, substrate: Substrate) -> Model:
        """The differentiable model of one substrate: its own twin, with this mismatch applied."""
        return self.models[id(substrate)]

    def forward(self, x: Tensor, params: dict[int, Tensor]) -> Tensor:
        """The last unit's output for input ``x`` under parameters ``params`` (keyed by
        ``id(substrate)``), differentiable in both."""
        h = x
        for unit in self.network.units:
            if unit.pre is not None:
                h = DRIVE[0](self.model(unit.pre)(h, params[id(unit.pre)]))
            if unit.physics is not None:
                h = unit.condition(self.model(unit.physics)(h, params[id(unit.physics)]))
            if unit.stage is not None:
                h = self.model(unit.stage)(h, params[id(unit.stage)])
            h = unit.f(h)
        return h
