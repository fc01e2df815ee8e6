"""Units and networks: physical layers with their periphery, chained, with a digital readout.

A :class:`Unit` is an optional fixed physical system, then a linear stage (crossbar or digital),
then a known element-wise periphery ``t = f(z)`` (a rectifier or a saturating amplifier after
the ADC). A :class:`PhysicalNetwork` chains units, the
measured output of unit ``k`` driving unit ``k + 1``, and ends in a digital linear readout to class
scores. The readout sees the last output normalised to unit length: the bottleneck's kernel
compares outputs by direction (see :class:`pnnkit.info.BottleneckEstimator`), so that is
the geometry the units learn, and it makes the readout blind to gain changes of the hardware.
The network knows nothing about how it is trained (see :mod:`pnnkit.learning`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import BadMeasurementError, ConfigError
from pnnkit.info import unit_normalize
from pnnkit.physics import SUBSTRATES, Counters, Substrate, SubstrateConfig, make_substrate


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


@dataclass
class UnitOutput:
    """What one pass through a unit measured: ``p`` the input to the linear stage (the physics'
    measured output, or the unit input when there is no physics), ``z`` the stage's measured
    output and ``t = f(z)`` the unit's output."""

    p: Tensor
    z: Tensor
    t: Tensor


@dataclass
class Unit:
    """A physical layer: ``t = f(stage(physics(h)))``.

    ``stage`` is a linear substrate (``z = W [p, 1]``: a crossbar or a digital layer) that local
    rules train with exact outer products; ``physics`` is an optional fixed physical system in
    front of it (a scattering medium, a photonic mesh, an instrument, ...), which needs no model
    (route (b) of docs/pib.md). A stage followed by physics is the same chain with the physics
    attached to the next unit. An energy-based system (``physics.energy_based``, e.g. a
    resistive network) is a unit on its own: ``stage`` is ``None`` and ``z`` is the physics'
    measured output, unconditioned.
    """

    stage: Substrate | None
    activation: str = "relu"
    physics: Substrate | None = None
    #: per-feature centre and scale of the physics' output, set by :meth:`calibrate`
    p_mean: Tensor | None = None
    p_scale: Tensor | None = None

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
        return [s for s in (self.physics, self.stage) if s is not None]

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
        p = h
        if self.physics is not None:
            p = self.condition(measured(self.physics, h))
            if self.p_scale is not None and p.abs().max() > OUTLIER_SCALES:
                raise BadMeasurementError(
                    f"{self.physics.name} substrate returned an outlier: "
                    f"{float(p.abs().max()):.3g} calibrated standard deviations from the mean "
                    f"(limit {OUTLIER_SCALES:g})"
                )
        if self.stage is None:
            return UnitOutput(p, p, self.f(p))
        z = measured(self.stage, p)
        return UnitOutput(p, z, self.f(z))

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
        p = measured(self.physics, h)
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


class PhysicalNetwork:
    """Units chained by their measured outputs, then a digital linear readout."""

    def __init__(self, units: Sequence[Unit], num_classes: int, *, seed: int = 0) -> None:
        if not units:
            raise ConfigError("a network needs at least one unit")
        for a, b in itertools.pairwise(units):
            if a.out_features != b.in_features:
                raise ConfigError(
                    f"unit widths do not chain: {a.out_features} outputs feed "
                    f"{b.in_features} inputs"
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
        substrate_config: dict[str, Any] | SubstrateConfig | None = None,
        stage: str = "ideal",
        stage_config: dict[str, Any] | SubstrateConfig | None = None,
        seed: int = 0,
    ) -> PhysicalNetwork:
        """Units of the given widths. A linear ``substrate`` (ideal, crossbar) is each unit's
        stage; any other substrate is each unit's physics (``in -> width``), followed by a
        ``stage`` substrate (``width -> width``). A recorded system (``measured``) has the
        size it was recorded at: it is the first unit's physics only, and further widths add
        stage-only units. Unit ``k``'s hardware is seeded from ``seed * 1000 + k`` (physics
        and stage with different offsets). An energy-based ``substrate`` is one unit whose
        layers have the given widths (the last is its output), with no stage. The configs are
        dicts of settings or built configs; every unit shares the one built config."""
        if not widths or any(w < 1 for w in widths):
            raise ConfigError(f"hidden widths must be a non-empty list of positive ints: {widths}")
        for name in (substrate, stage):
            if name not in SUBSTRATES:
                raise ConfigError(f"unknown substrate {name!r}; choices: {sorted(SUBSTRATES)}")
        kind = SUBSTRATES[substrate]
        if kind.energy_based:  # its layers are the widths: a config of its own
            config = _built(substrate, substrate_config).to_dict() | {"hidden": list(widths[:-1])}
            physics = make_substrate(substrate, in_features, widths[-1], seed=seed, config=config)
            return cls([Unit(None, "identity", physics)], num_classes, seed=seed)
        substrate_config = _built(substrate, substrate_config)
        stage_config = _built(stage, stage_config)
        recorded = None
        if not kind.linear:
            recorded = kind.recorded_shape(substrate_config)
        if recorded is not None and recorded[0] != in_features:
            raise ConfigError(
                f"the recorded {substrate} system takes {recorded[0]} inputs but the data has "
                f"{in_features} features"
            )
        units, n_in = [], in_features
        for k, width in enumerate(widths):
            unit_seed = seed * 1000 + k
            if recorded is not None and k > 0:
                unit = Unit(
                    make_substrate(stage, n_in, width, seed=unit_seed + 500, config=stage_config),
                    activation,
                )
            elif kind.linear:
                unit = Unit(
                    make_substrate(substrate, n_in, width, seed=unit_seed, config=substrate_config),
                    activation,
                )
            else:
                physics_out = width if recorded is None else recorded[1]
                physics = make_substrate(
                    substrate, n_in, physics_out, seed=unit_seed, config=substrate_config
                )
                unit = Unit(
                    make_substrate(
                        stage,
                        physics.out_features,
                        width,
                        seed=unit_seed + 500,
                        config=stage_config,
                    ),
                    activation,
                    physics,
                )
            units.append(unit)
            n_in = width
        return cls(units, num_classes, seed=seed)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Measured outputs ``t_k`` of every unit for input ``x``."""
        outputs, h = [], x
        for unit in self.units:
            h = unit.measure(h).t
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

    def calibrate(self, x: Tensor) -> None:
        """Fix every unit's conditioning from a calibration batch (its queries count as cost;
        a network without physics needs none and spends none)."""
        conditioned = [
            k for k, u in enumerate(self.units) if u.physics is not None and u.stage is not None
        ]
        last = max(conditioned, default=-1)
        h = x
        for k, unit in enumerate(self.units[: last + 1]):
            if k in conditioned:
                p = unit.calibrate(h)
                if k < last:  # the next physics needs this unit's output
                    h = unit.f(measured(unit.linear_stage, p))
            else:
                h = unit.measure(h).t

    def substrates(self) -> list[Substrate]:
        """All hardware of the network, in signal order."""
        return [s for unit in self.units for s in unit.substrates]

    def counters(self) -> Counters:
        """Costs summed over all units."""
        total = Counters()
        for substrate in self.substrates():
            total = total + substrate.counters
        return total

    def state_dict(self) -> dict[str, Any]:
        """Every unit's hardware state (substrates, conditioning statistics) and the readout's
        weights."""
        return {
            "units": [
                {
                    "activation": u.activation,
                    "stage": None if u.stage is None else u.stage.state_dict(),
                    "physics": None if u.physics is None else u.physics.state_dict(),
                    "p_mean": u.p_mean,
                    "p_scale": u.p_scale,
                }
                for u in self.units
            ],
            "readout": self.readout.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict saved from a network of the same shape and substrates."""
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
            if (saved["physics"] is None) != (unit.physics is None):
                raise ConfigError(f"unit {k + 1}: saved and current units differ in physics")
            if (saved["stage"] is None) != (unit.stage is None):
                raise ConfigError(f"unit {k + 1}: saved and current units differ in stage")
            if unit.stage is not None:
                unit.stage.load_state_dict(saved["stage"])
            unit.p_mean, unit.p_scale = saved["p_mean"], saved["p_scale"]
            if unit.physics is not None:
                unit.physics.load_state_dict(saved["physics"])
        self.readout.load_state_dict(state["readout"])


def _built(name: str, config: dict[str, Any] | SubstrateConfig | None) -> SubstrateConfig:
    """The substrate ``name``'s config, built (so validated) if given as settings."""
    if isinstance(config, SubstrateConfig):
        return config
    return SUBSTRATES[name].config_class.from_dict(config or {})
