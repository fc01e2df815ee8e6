"""Fault models of physical substrates: what breaks, and how it is injected.

Every fault kind is a small dataclass with a ``rate`` and kind-specific options, a
:meth:`Fault.supports` check, and :meth:`Fault.apply`, which changes a substrate's fault state
through the substrate's own hooks (``Crossbar.set_stuck``, ``ScatteringMedium.set_dead_slm``,
...). All draws are vectorised and come from generators derived from an integer seed (never
from the substrate's generator, whose noise stream is therefore unchanged by faults).

Two families:

* **Counted defects** (``stuck``, ``unresponsive``, ``dead_rows``, ``dead_cols``, ``dead_slm``,
  ``dead_camera``, ``hot_camera``): ``rate`` is the fraction of the substrate's devices, lines
  or pixels that are defective. Raising the level from ``a`` to ``b`` makes exactly
  ``round(b N) - round(a N)`` further healthy items defective (so the increments of a ramp add
  up to ``round(b_final N)``); defects never heal. ``read_bursts`` is also a level (a
  probability per read) but sets, rather than adds.
* **Drift processes** (``drift``, ``phase_drift``): ``rate`` is per epoch of elapsed time; the
  level is the number of epochs since the fault started, and raising it lets that much time
  pass.

Physics and sources of defaults:

* ``stuck``: devices stuck at their low (``G_min``, "stuck-at-0", a device that cannot be set)
  or high bound (``G_max``, "stuck-at-1", e.g. a filament that cannot be reset). Fractions of
  a few % up to about 10% are reported for fabricated RRAM arrays; Chen et al., IEEE Trans.
  Comput. 64:180, 2015 measured about 1.75% stuck-at-0 and 9.04% stuck-at-1 (the figures used
  by most fault-tolerance studies, e.g. Xia et al., DAC 2017). The default split ``high = 0.5``
  is neutral; ``high = 0.84`` reproduces that ratio. ``pattern = clustered`` places the defects
  in Gaussian blobs (``clusters`` random centres, ``radius`` devices) on the physical array
  (word lines x bit lines, the two devices of a pair side by side), as defects from
  fabrication and forming are spatially correlated on a wafer.
* ``unresponsive``: devices whose state no longer changes when pulsed (a worn-out or
  never-formed cell that still conducts), unlike ``stuck`` they keep their present value.
* ``dead_rows`` / ``dead_cols``: open word lines (an input, the bias row included) or bit lines
  (an output): no current flows through their devices, so they contribute zero and read back 0.
* ``drift``: ``G(t) = G(t0) (t / t0)^(-nu)``, the power law of structural relaxation measured in
  phase-change memory (Ielmini et al., IEEE Trans. Electron Devices 54:308, 2007) and used for
  analog in-memory inference (Joshi et al., Nat. Commun. 11:2473, 2020); reported exponents
  are about 0.005-0.1 (``rate``). Each device draws its own exponent
  ``nu_i = rate * max(0, 1 + spread * N(0, 1))`` (device-to-device variation of the drift
  coefficient, ``spread`` 0.4 by default). Time is counted in epochs, ``t0 = 1`` epoch after
  programming; a device's clock restarts when it is programmed.
* ``read_bursts``: with probability ``rate`` per read, the read noise of that pass is
  ``factor`` times larger (intermittent random-telegraph / 1/f noise bursts of filamentary
  devices; ``factor = 10`` is a stress value, not a measured one). Bursts scale the crossbar's
  configured ``read_noise``: with ``read_noise = 0`` they have no effect.
* ``dead_slm``: SLM pixels that emit no field (a dead liquid-crystal pixel or a DMD mirror stuck
  off). ``dead_camera`` / ``hot_camera``: camera pixels that read 0 or full scale.
* ``phase_drift``: slow random phase drift (temperature, mechanical creep): on a scattering
  medium every transmission-matrix entry gets a phase ``T <- T exp(i phi)``, on an MZI mesh
  every effective phase an offset; ``phi`` is a random walk with ``rate`` rad rms per epoch
  (after ``k`` epochs, ``rate sqrt(k)`` rad rms). Hidden from ``read_parameters`` and from the
  twins.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.physics.base import Substrate


def derived_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed from ``(seed, *keys)`` through numpy's SeedSequence: distinct keys give
    independent streams, the same keys always the same one."""
    words = [w for v in (seed, *keys) for w in (int(v) & 0xFFFFFFFF, (int(v) >> 32) & 0xFFFFFFFF)]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def derived_generator(seed: int, *keys: int) -> torch.Generator:
    """A torch generator seeded with :func:`derived_seed` of ``(seed, *keys)``."""
    return torch.Generator().manual_seed(derived_seed(seed, *keys))


def _level_key(level: float) -> int:
    """An integer key for a level (a rate or an elapsed time), for :func:`derived_generator`."""
    return round(level * 2**24)


def _choose(
    candidates: Tensor, count: int, generator: torch.Generator, weights: Tensor | None = None
) -> Tensor:
    """A boolean mask of ``count`` entries drawn without replacement among ``candidates``
    (uniformly, or in proportion to ``weights``); fewer if there are not enough."""
    index = candidates.flatten().nonzero().flatten()
    count = min(int(count), int(index.numel()))
    chosen = torch.zeros(candidates.numel(), dtype=torch.bool)
    if count <= 0:
        return chosen.view(candidates.shape)
    if weights is None:
        pick = torch.randperm(index.numel(), generator=generator)[:count]
    else:
        w = weights.flatten()[index].double() + 1e-300
        pick = torch.multinomial(w, count, replacement=False, generator=generator)
    chosen[index[pick]] = True
    return chosen.view(candidates.shape)


@dataclass
class Fault(ABC):
    """One fault: kind, rate, when it starts, how it grows, and which units it hits.

    Attributes:
        rate: the level reached at the start epoch (a fraction or probability, or, for drift
            processes, the rate per epoch).
        ramp_to: if set, the level grows linearly from ``rate`` at ``epoch`` to ``ramp_to`` at
            the last epoch (counted defects and ``read_bursts`` only).
        epoch: first epoch the fault is present (1: from the start).
        units: 1-based unit numbers to hit (None: every unit with a substrate the kind
            supports).
    """

    rate: float
    ramp_to: float | None = None
    epoch: int = 1
    units: tuple[int, ...] | None = None

    #: name in the spec language
    kind: ClassVar[str]
    #: names of the substrates the kind applies to
    targets: ClassVar[tuple[str, ...]]
    #: True for drift processes (level = elapsed epochs, rate per epoch)
    process: ClassVar[bool] = False
    #: what ``rate`` means, for messages and docs
    meaning: ClassVar[str] = "fraction"
    #: largest allowed rate
    max_rate: ClassVar[float] = 1.0

    # --- validation -----------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field, value and allowed range."""
        self._require("rate", 0 <= self.rate <= self.max_rate, f"in [0, {self.max_rate}]")
        if self.ramp_to is not None:
            if self.process:
                raise ConfigError(
                    f"fault {self.kind}: a drift process takes a rate per epoch; "
                    f"ramps (rate->target) are only for defect counts and read_bursts"
                )
            self._require(
                "ramp_to",
                self.rate <= self.ramp_to <= self.max_rate,
                f"in [rate = {self.rate}, {self.max_rate}] (faults do not heal)",
            )
        self._require("epoch", isinstance(self.epoch, int) and self.epoch >= 1, "an integer >= 1")
        if self.units is not None:
            ok = len(self.units) > 0 and all(isinstance(u, int) and u >= 1 for u in self.units)
            self._require("units", ok, "a non-empty list of unit numbers >= 1")

    def _require(self, name: str, ok: bool, allowed: str) -> None:
        if not ok:
            raise ConfigError(
                f"fault {self.kind}: {name} = {getattr(self, name)!r} is invalid: must be {allowed}"
            )

    def options(self) -> dict[str, Any]:
        """The kind-specific fields (not rate, ramp_to, epoch, units) and their values."""
        common = {f.name for f in dataclasses.fields(Fault)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in common
        }

    # --- targets --------------------------------------------------------------------------------

    def supports(self, substrate: Substrate) -> bool:
        """Whether this kind of fault can happen to ``substrate``."""
        return substrate.name in self.targets

    def check(self, substrate: Substrate) -> None:
        """Raise :class:`ConfigError` if ``substrate`` cannot have this fault."""
        if not self.supports(substrate):
            raise ConfigError(
                f"fault {self.kind} applies to {' or '.join(self.targets)} substrates, "
                f"not to a {substrate.name} substrate"
            )

    # --- timing ---------------------------------------------------------------------------------

    def level(self, epoch: int, total_epochs: int) -> float | None:
        """The level due at the start of ``epoch`` (None before the fault starts): the rate, a
        point on the ramp, or for a drift process the epochs elapsed since it started."""
        if epoch < self.epoch:
            return None
        if self.process:
            return float(epoch - self.epoch)
        if self.ramp_to is None:
            return self.rate
        span = total_epochs - self.epoch
        frac = 1.0 if span <= 0 else min(1.0, (epoch - self.epoch) / span)
        return self.rate + (self.ramp_to - self.rate) * frac

    # --- injection ------------------------------------------------------------------------------

    def apply(
        self,
        substrate: Substrate,
        seed: int,
        before: float | None = None,
        after: float | None = None,
    ) -> int:
        """Raise this fault's level on ``substrate`` from ``before`` (None: not yet present) to
        ``after`` (default: ``rate``, or 0 elapsed epochs for a process); returns the number of
        newly affected items (devices, lines, pixels; 0 for processes).

        ``seed`` identifies this fault on this substrate and must stay the same from call to
        call (the schedule derives it from its own seed, the fault and the substrate): spatial
        layouts (cluster centres, drift exponents) come from it alone, and each increment from
        it and ``before``, so injection is reproducible whatever the order and resumes exactly.
        """
        self.check(substrate)
        if after is None:
            after = 0.0 if self.process else self.rate
        return self._apply(substrate, int(seed), before, float(after))

    @abstractmethod
    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int: ...

    @abstractmethod
    def affected(self, substrate: Any) -> int:
        """How many items of ``substrate`` have this kind of fault now."""


class _Counted(Fault):
    """A counted defect: ``round(level N)`` of ``N`` items are defective."""

    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int:
        start = 0.0 if before is None else before
        total = self.population(substrate)
        count = round(after * total) - round(start * total)
        if count <= 0:
            return 0
        generator = derived_generator(seed, 1, _level_key(start))
        return self._inject(substrate, seed, count, generator)

    @abstractmethod
    def population(self, substrate: Any) -> int:
        """``N``: how many devices, lines or pixels the rate is a fraction of."""

    @abstractmethod
    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int: ...


# --- crossbar -------------------------------------------------------------------------------------

PATTERNS = ("uniform", "clustered")


@dataclass
class Stuck(_Counted):
    """Devices stuck at ``g_lo`` (share ``1 - high``) or ``g_hi`` (share ``high``).

    Attributes:
        high: share of the stuck devices stuck at the high bound (0.5, see module docstring).
        pattern: ``uniform`` or ``clustered`` (Gaussian blobs on the physical array).
        clusters: number of cluster centres (4).
        radius: cluster radius (Gaussian std) in devices (3.0).
    """

    high: float = 0.5
    pattern: str = "uniform"
    clusters: int = 4
    radius: float = 3.0

    kind: ClassVar[str] = "stuck"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)

    def validate(self) -> None:
        super().validate()
        self._require("high", 0 <= self.high <= 1, "in [0, 1]")
        self._require("pattern", self.pattern in PATTERNS, f"one of {list(PATTERNS)}")
        self._require("clusters", isinstance(self.clusters, int) and self.clusters >= 1, ">= 1")
        self._require("radius", self.radius > 0, "> 0 (devices)")

    def population(self, substrate: Any) -> int:
        return int(substrate.conductance.numel())

    def affected(self, substrate: Any) -> int:
        return int((substrate.stuck_min | substrate.stuck_max).sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        healthy = ~(substrate.stuck_min | substrate.stuck_max)
        weights = None
        if self.pattern == "clustered":
            weights = cluster_weights(
                substrate.conductance.shape, self.clusters, self.radius, derived_generator(seed, 0)
            )
        chosen = _choose(healthy, count, generator, weights)
        high = _choose(chosen, round(self.high * int(chosen.sum())), generator)
        substrate.set_stuck(chosen & ~high, high)
        return int(chosen.sum())


def cluster_weights(
    shape: torch.Size | tuple[int, ...], clusters: int, radius: float, generator: torch.Generator
) -> Tensor:
    """Sampling weights for clustered defects on a crossbar of device shape
    ``(2, out, in + 1)``: the sum of ``clusters`` Gaussian blobs (std ``radius``) with uniform
    random centres on the physical layout, word line ``i`` by bit line ``2 j + k`` (device ``k``
    of pair ``j``)."""
    _, out, rows = shape
    row = torch.arange(rows, dtype=torch.float64).view(1, 1, rows)
    col = (2 * torch.arange(out, dtype=torch.float64).view(1, out, 1)) + torch.arange(
        2, dtype=torch.float64
    ).view(2, 1, 1)
    centres = torch.rand(clusters, 2, generator=generator, dtype=torch.float64)
    centres = centres * torch.tensor([rows - 1, 2 * out - 1], dtype=torch.float64)
    weights = torch.zeros(2, out, rows, dtype=torch.float64)
    for r, c in centres.tolist():
        weights += torch.exp(-((row - r) ** 2 + (col - c) ** 2) / (2 * radius**2))
    return weights


@dataclass
class Unresponsive(_Counted):
    """Devices whose programming has no effect (they keep their present conductance)."""

    kind: ClassVar[str] = "unresponsive"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)

    def population(self, substrate: Any) -> int:
        return int(substrate.conductance.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.unresponsive.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~substrate.unresponsive, count, generator)
        substrate.set_unresponsive(chosen)
        return int(chosen.sum())


@dataclass
class DeadRows(_Counted):
    """Open input rows (word lines, the bias row included): their devices carry no current."""

    kind: ClassVar[str] = "dead_rows"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)

    def population(self, substrate: Any) -> int:
        return int(substrate.dead_rows.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.dead_rows.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~substrate.dead_rows, count, generator)
        substrate.set_dead_lines(rows=chosen)
        return int(chosen.sum())


@dataclass
class DeadCols(_Counted):
    """Open output columns (bit lines): the output reads no current."""

    kind: ClassVar[str] = "dead_cols"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)

    def population(self, substrate: Any) -> int:
        return int(substrate.dead_cols.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.dead_cols.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~substrate.dead_cols, count, generator)
        substrate.set_dead_lines(cols=chosen)
        return int(chosen.sum())


@dataclass
class ReadBursts(Fault):
    """With probability ``rate`` per read, the read noise is multiplied by ``factor``.

    Attributes:
        factor: noise multiplier during a burst (10, a stress value).
    """

    factor: float = 10.0

    kind: ClassVar[str] = "read_bursts"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)
    meaning: ClassVar[str] = "probability per read"

    def validate(self) -> None:
        super().validate()
        self._require("factor", self.factor >= 1, ">= 1")

    def affected(self, substrate: Any) -> int:
        return int(substrate.burst_count)

    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int:
        substrate.set_read_bursts(after, self.factor, seed)
        return 0


@dataclass
class Drift(Fault):
    """Power-law conductance drift with per-device exponents around ``rate``.

    Attributes:
        spread: relative device-to-device std of the exponent (0.4).
    """

    spread: float = 0.4

    kind: ClassVar[str] = "drift"
    targets: ClassVar[tuple[str, ...]] = ("crossbar",)
    process: ClassVar[bool] = True
    meaning: ClassVar[str] = "drift exponent nu (time in epochs)"

    def validate(self) -> None:
        super().validate()
        self._require("spread", self.spread >= 0, ">= 0")

    def affected(self, substrate: Any) -> int:
        nu = substrate.drift_nu
        return 0 if nu is None else int((nu > 0).sum())

    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int:
        if before is None:
            g = derived_generator(seed, 0)
            shape = substrate.conductance.shape
            factor = torch.clamp(1 + self.spread * torch.randn(shape, generator=g), min=0)
            substrate.set_drift(self.rate * factor, t0=1.0)
            before = 0.0
        substrate.advance_drift(after - before)
        return 0


# --- optics ---------------------------------------------------------------------------------------


@dataclass
class DeadSLM(_Counted):
    """SLM pixels that emit no field."""

    kind: ClassVar[str] = "dead_slm"
    targets: ClassVar[tuple[str, ...]] = ("scattering",)

    def population(self, substrate: Any) -> int:
        return int(substrate.slm_dead.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.slm_dead.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~substrate.slm_dead, count, generator)
        substrate.set_dead_slm(chosen)
        return int(chosen.sum())


@dataclass
class DeadCamera(_Counted):
    """Camera pixels that read 0."""

    kind: ClassVar[str] = "dead_camera"
    targets: ClassVar[tuple[str, ...]] = ("scattering",)

    def population(self, substrate: Any) -> int:
        return int(substrate.camera_dead.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.camera_dead.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~(substrate.camera_dead | substrate.camera_hot), count, generator)
        substrate.set_camera_defects(dead=chosen)
        return int(chosen.sum())


@dataclass
class HotCamera(_Counted):
    """Camera pixels that read full scale (saturated)."""

    kind: ClassVar[str] = "hot_camera"
    targets: ClassVar[tuple[str, ...]] = ("scattering",)

    def population(self, substrate: Any) -> int:
        return int(substrate.camera_hot.numel())

    def affected(self, substrate: Any) -> int:
        return int(substrate.camera_hot.sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = _choose(~(substrate.camera_dead | substrate.camera_hot), count, generator)
        substrate.set_camera_defects(hot=chosen)
        return int(chosen.sum())


@dataclass
class PhaseDrift(Fault):
    """Random-walk phase drift of a scattering medium's transmission matrix or of an MZI mesh's
    phase shifters, ``rate`` rad rms per epoch."""

    kind: ClassVar[str] = "phase_drift"
    targets: ClassVar[tuple[str, ...]] = ("scattering", "mzi")
    process: ClassVar[bool] = True
    meaning: ClassVar[str] = "rad rms per epoch"
    max_rate: ClassVar[float] = math.pi

    def affected(self, substrate: Any) -> int:
        drift = substrate.medium_phase if substrate.name == "scattering" else substrate.phase_drift
        return 0 if drift is None else int((drift != 0).sum())

    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int:
        start = 0 if before is None else math.floor(before)
        if substrate.name == "scattering":
            shape, add = (substrate.out_features, substrate.in_features), substrate.add_medium_phase
        else:
            shape, add = tuple(substrate.parameter_shape()), substrate.add_phase_drift
        if before is None:
            add(torch.zeros(shape, dtype=torch.float64))
        for tick in range(start, math.floor(after)):
            g = derived_generator(seed, 2, tick)
            add(self.rate * torch.randn(shape, generator=g, dtype=torch.float64))
        return 0


#: every fault kind, by its name in the spec language
FAULT_KINDS: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (
        Stuck,
        DeadRows,
        DeadCols,
        Drift,
        ReadBursts,
        Unresponsive,
        DeadSLM,
        DeadCamera,
        HotCamera,
        PhaseDrift,
    )
}
