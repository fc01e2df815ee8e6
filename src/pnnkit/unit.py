"""One physical layer: an optional trainable pre-stage, optional fixed physics, a linear stage
and a known periphery, measured in signal order.

A :class:`Unit` is ``t = f(stage(condition(physics(d(pre(h))))))``: ``pre`` an optional linear
stage (crossbar or digital) mapping the unit's input onto the physics' input ports,
``d = tanh`` the known drive periphery that keeps the drive inside the ports' range
``[-1, 1]`` (the range a recording is taken over, :func:`pnnkit.data.make_synthetic_recording`),
``physics`` optional fixed physics, ``condition`` the calibrated centring and scaling of its
output, ``stage`` the trainable linear stage after it and ``f`` the output periphery. Every
step is measured; local rules update each linear stage by an outer product of its measured
input and a gradient at its measured output (docs/pib.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.errors import BadMeasurementError, ConfigError
from pnnkit.physics import Substrate


def _relu_grad(z: Tensor) -> Tensor:
    # 1 where z > 0, else 0: sign clamped at 0 stays in floating point, several times faster on
    # a CPU than building and converting the boolean mask (z > 0)
    return torch.sign(z).clamp_min_(0.0)


def _tanh_grad(z: Tensor) -> Tensor:
    return 1 - torch.tanh(z) ** 2


#: periphery name -> (f, f') : the element-wise function applied after the measurement and its
#: derivative, which the local rules use at the *measured* pre-activation.
ACTIVATIONS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "relu": (torch.relu, _relu_grad),
    "tanh": (torch.tanh, _tanh_grad),
    "identity": (lambda z: z, torch.ones_like),
}

#: the drive periphery between a pre-stage and the physics' input ports, and its derivative:
#: ``tanh`` keeps every port inside ``[-1, 1]``, where recorded systems were driven
DRIVE: tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]] = ACTIVATIONS["tanh"]


@dataclass
class UnitOutput:
    """What one pass through a unit measured: ``p`` the input to the linear stage (the physics'
    measured output, or the unit input when there is no physics), ``z`` the stage's measured
    output and ``t = f(z)`` the unit's output; with a pre-stage also ``h`` the unit's input
    and ``z0`` the pre-stage's measured output (the physics is driven by ``tanh(z0)``)."""

    p: Tensor
    z: Tensor
    t: Tensor
    h: Tensor | None = None
    z0: Tensor | None = None


@dataclass
class Unit:
    """A physical layer: ``t = f(stage(physics(h)))``, or ``t = f(stage(physics(tanh(pre(h)))))``
    with a pre-stage.

    ``stage`` is a linear substrate (``z = W [p, 1]``: a crossbar or a digital layer) that local
    rules train with exact outer products; ``physics`` is an optional fixed physical system in
    front of it (a scattering medium, a photonic mesh, an instrument, ...), which needs no model
    (route (b) of docs/pib.md). A stage followed by physics is the same chain with the physics
    attached to the next unit. An energy-based system (``physics.energy_based``, e.g. a
    resistive network) is a unit on its own: ``stage`` is ``None`` and ``z`` is the physics'
    measured output, unconditioned. ``pre`` is an optional trainable linear stage in front of
    the physics, ``z0 = W0 [h, 1]`` with ``in -> ports`` (the physics' input ports), whose
    output drives the physics through the known ``tanh`` drive (:data:`DRIVE`): a system of
    ``P`` ports then takes any input width.
    """

    stage: Substrate | None
    activation: str = "relu"
    physics: Substrate | None = None
    #: per-feature centre and scale of the physics' output, set by :meth:`calibrate`
    p_mean: Tensor | None = None
    p_scale: Tensor | None = None
    pre: Substrate | None = None

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; choices: {sorted(ACTIVATIONS)}"
            )
        if self.stage is None:
            if self.physics is None or not self.physics.energy_based:
                raise ConfigError(
                    "a unit without a linear stage must hold an energy-based physical system "
                    "(e.g. resistive)"
                )
            return
        if not self.stage.linear:
            raise ConfigError(
                f"the stage of a unit must be a linear substrate (ideal, crossbar), "
                f"got {self.stage.name!r}; put other physics in front of it as `physics`"
            )
        if self.physics is not None and self.physics.energy_based:
            raise ConfigError(
                f"the energy-based {self.physics.name} substrate is a unit on its own; "
                f"it takes no linear stage"
            )
        if self.physics is not None and self.physics.out_features != self.stage.in_features:
            raise ConfigError(
                f"{self.physics.name} gives {self.physics.out_features} outputs but the "
                f"{self.stage.name} stage takes {self.stage.in_features} inputs"
            )
        if self.pre is None:
            return
        if not self.pre.linear or self.physics is None:
            raise ConfigError(
                "a pre-stage must be a linear substrate (ideal, crossbar) in front of physics; "
                f"got {self.pre.name!r} in front of "
                f"{'no physics' if self.physics is None else self.physics.name}"
            )
        if self.pre.out_features != self.physics.in_features:
            raise ConfigError(
                f"the {self.pre.name} pre-stage gives {self.pre.out_features} outputs but the "
                f"{self.physics.name} system has {self.physics.in_features} input ports"
            )

    @property
    def linear_stage(self) -> Substrate:
        """The unit's linear stage, for code that only runs on units with one (rules whose
        needs include linear stages are refused other networks when they are built)."""
        if self.stage is None:
            raise ConfigError("this unit has no linear stage (it is one energy-based system)")
        return self.stage

    @property
    def substrates(self) -> list[Substrate]:
        """The unit's hardware, in signal order."""
        return [s for s in (self.pre, self.physics, self.stage) if s is not None]

    @property
    def in_features(self) -> int:
        """Inputs of the unit's first substrate."""
        return self.substrates[0].in_features

    @property
    def out_features(self) -> int:
        """Outputs of the unit's last substrate."""
        return self.substrates[-1].out_features

    def measure(self, h: Tensor) -> UnitOutput:
        """One physical pass through the unit (a pass per substrate it holds)."""
        drive, z0 = h, None
        if self.pre is not None:
            z0 = measured(self.pre, h)
            drive = DRIVE[0](z0)
        p = drive
        if self.physics is not None:
            p = self.condition(measured(self.physics, drive))
            if self.p_scale is not None and p.abs().max() > OUTLIER_SCALES:
                raise BadMeasurementError(
                    f"{self.physics.name} substrate returned an outlier: "
                    f"{float(p.abs().max()):.3g} calibrated standard deviations from the mean "
                    f"(limit {OUTLIER_SCALES:g})"
                )
        if self.stage is None:
            return UnitOutput(p, p, self.f(p))
        z = measured(self.stage, p)
        if z0 is None:
            return UnitOutput(p, z, self.f(z))
        return UnitOutput(p, z, self.f(z), h, z0)

    def condition(self, p: Tensor) -> Tensor:
        """The digital conditioning between physics and stage: ``(p - mean) / scale``.

        Physical outputs are rarely centred (intensities are positive with a large common
        level); a linear stage fed uncentred inputs learns badly (on digits through a
        scattering medium one PIB unit reached 0.80 test accuracy raw and 0.92 centred). The
        statistics are measured once by :meth:`calibrate` and then fixed: a known affine map,
        no model of the physics.
        """
        if self.p_mean is None or self.p_scale is None:
            return p
        return (p - self.p_mean) / self.p_scale

    def calibrate(self, h: Tensor) -> Tensor:
        """Measure the physics once on a calibration batch, fix the conditioning statistics,
        and return the conditioned batch (the stage's input)."""
        if self.physics is None or self.stage is None:
            return h
        drive = h if self.pre is None else DRIVE[0](measured(self.pre, h))
        p = measured(self.physics, drive)
        self.p_mean = p.mean(dim=0)
        # A feature that barely varies (a dark detector) keeps the overall scale instead of
        # being blown up to unit variance, which would only amplify its noise.
        std, overall = p.std(dim=0), p.std().clamp_min(1e-12)
        self.p_scale = torch.where(std > 1e-3 * overall, std, overall)
        return self.condition(p)

    def f(self, z: Tensor) -> Tensor:
        """The periphery's activation applied to measured pre-activations z."""
        return ACTIVATIONS[self.activation][0](z)

    def f_prime(self, z: Tensor) -> Tensor:
        """The activation's derivative at z: known digital periphery, not a physics model."""
        return ACTIVATIONS[self.activation][1](z)


#: a conditioned physics output farther than this many calibrated standard deviations from its
#: calibrated mean is taken for a read-out glitch (honest data lie within a few tens)
OUTLIER_SCALES = 1e4


def measured(substrate: Substrate, x: Tensor) -> Tensor:
    """``substrate.measure(x)``, refused with :class:`~pnnkit.errors.BadMeasurementError` when
    a value is NaN or Inf or beyond what the physics can return
    (:meth:`~pnnkit.physics.Substrate.output_limit`): a glitch that training guards may
    skip, never a value to learn from."""
    out = substrate.measure(x)
    limit = substrate.output_limit(x)
    # one reduction for both checks: amax propagates NaN, and NaN <= 1 is false
    peak = out.abs().amax(dim=1, keepdim=True)
    worst = float((peak if limit is None else peak / limit).max())
    if not math.isfinite(worst):
        bad = int((~torch.isfinite(out)).sum())
        raise BadMeasurementError(
            f"{substrate.name} substrate returned {bad} NaN/Inf value(s) in a measurement"
        )
    if limit is not None and worst > 1:
        raise BadMeasurementError(
            f"{substrate.name} substrate returned a value {worst:.3g} times its read-out's "
            f"full scale (out of range)"
        )
    return out
