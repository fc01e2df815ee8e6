"""Networks: physical units (:mod:`pnnkit.unit`) chained, with a digital readout.

A :class:`PhysicalNetwork` chains units, the
measured output of unit ``k`` driving unit ``k + 1``, and ends in a digital linear readout to class
scores. The readout sees the last output normalised to unit length: the bottleneck's kernel
compares outputs by direction (see :class:`pnnkit.info.BottleneckEstimator`), so that is
the geometry the units learn, and it makes the readout blind to gain changes of the hardware.
The network knows nothing about how it is trained (see :mod:`pnnkit.learning`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import unit_normalize
from pnnkit.physics import SUBSTRATES, Counters, Substrate, SubstrateConfig, make_substrate
from pnnkit.unit import ACTIVATIONS, DRIVE, OUTLIER_SCALES, Unit, UnitOutput, measured

__all__ = [
    "ACTIVATIONS",
    "DRIVE",
    "OUTLIER_SCALES",
    "PhysicalNetwork",
    "Unit",
    "UnitOutput",
    "measured",
]


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
        pre_stage: str = "",
        pre_stage_config: dict[str, Any] | SubstrateConfig | None = None,
        seed: int = 0,
    ) -> PhysicalNetwork:
        """Units of the given widths. A linear ``substrate`` (ideal, crossbar) is each unit's
        stage; any other substrate is each unit's physics (``in -> width``), followed by a
        ``stage`` substrate (``width -> width``). With a ``pre_stage`` (a linear substrate)
        each unit's physics sits behind a trainable stage ``in -> ports`` (the physics' input
        ports: the recording's, else the unit's width). Without one, a recorded system
        (``measured``) has the size it was recorded at: it is the first unit's physics only,
        its ports must equal the data's features, and further widths add stage-only units.
        Unit ``k``'s hardware is seeded from ``seed * 1000 + k`` (pre-stage, physics and stage
        with different offsets). An energy-based ``substrate`` is one unit whose
        layers have the given widths (the last is its output), with no stage. The configs are
        dicts of settings or built configs; every unit shares the one built config."""
        if not widths or any(w < 1 for w in widths):
            raise ConfigError(f"hidden widths must be a non-empty list of positive ints: {widths}")
        for name in (substrate, stage, *([pre_stage] if pre_stage else [])):
            if name not in SUBSTRATES:
                raise ConfigError(f"unknown substrate {name!r}; choices: {sorted(SUBSTRATES)}")
        kind = SUBSTRATES[substrate]
        if pre_stage and (kind.linear or kind.energy_based):
            raise ConfigError(
                f"a pre-stage drives fixed physics, and the {substrate} substrate is "
                f"{'a linear stage itself' if kind.linear else 'energy-based'}: drop --pre-stage"
            )
        if kind.energy_based:  # its layers are the widths: a config of its own
            config = _built(substrate, substrate_config).to_dict() | {"hidden": list(widths[:-1])}
            physics = make_substrate(substrate, in_features, widths[-1], seed=seed, config=config)
            return cls([Unit(None, "identity", physics)], num_classes, seed=seed)
        substrate_config = _built(substrate, substrate_config)
        stage_config = _built(stage, stage_config)
        pre_config = _built(pre_stage, pre_stage_config) if pre_stage else None
        fixed = None if kind.linear else kind.fixed_ports(substrate_config)
        if fixed is not None and not pre_stage and fixed[0] != in_features:
            raise ConfigError(
                f"the recorded {substrate} system has {fixed[0]} input ports but the data has "
                f"{in_features} features; put a trainable stage in front of it "
                f"(--pre-stage ideal or crossbar) to map the {in_features} features onto its "
                f"{fixed[0]} ports"
            )
        units, n_in = [], in_features
        for k, width in enumerate(widths):
            unit_seed = seed * 1000 + k
            if kind.linear or (fixed is not None and k > 0 and not pre_stage):
                name, built, offset = (
                    (substrate, substrate_config, 0) if kind.linear else (stage, stage_config, 500)
                )
                unit = Unit(
                    make_substrate(name, n_in, width, seed=unit_seed + offset, config=built),
                    activation,
                )
            else:
                ports_in, ports_out = fixed or (width if pre_stage else n_in, width)
                pre = None
                if pre_stage:
                    pre = make_substrate(
                        pre_stage, n_in, ports_in, seed=unit_seed + 250, config=pre_config
                    )
                physics = make_substrate(
                    substrate, ports_in, ports_out, seed=unit_seed, config=substrate_config
                )
                unit = Unit(
                    make_substrate(
                        stage, ports_out, width, seed=unit_seed + 500, config=stage_config
                    ),
                    activation,
                    physics,
                    pre=pre,
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
        """Every unit's hardware state (substrates, a ``pre`` entry for a unit with a
        pre-stage, conditioning statistics) and the readout's weights."""
        return {
            "units": [
                {
                    "activation": u.activation,
                    "stage": None if u.stage is None else u.stage.state_dict(),
                    "physics": None if u.physics is None else u.physics.state_dict(),
                    "p_mean": u.p_mean,
                    "p_scale": u.p_scale,
                }
                | ({} if u.pre is None else {"pre": u.pre.state_dict()})
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
            if ("pre" in saved) != (unit.pre is not None):
                raise ConfigError(f"unit {k + 1}: saved and current units differ in pre-stage")
            if unit.pre is not None:
                unit.pre.load_state_dict(saved["pre"])
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
