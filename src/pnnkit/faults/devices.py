"""Faults of programmable device arrays (memristive crossbars): stuck, unresponsive, dead lines,
read-noise bursts and conductance drift (physics and sources in :mod:`pnnkit.faults.models`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from pnnkit.faults.base import Counted, Fault, Masked, choose, derived_generator
from pnnkit.physics.capabilities import (
    ArrayLines,
    ConductanceDrift,
    ReadNoiseBursts,
    StuckDevices,
    UnresponsiveDevices,
)

PATTERNS = ("uniform", "clustered")


@dataclass
class Stuck(Counted):
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
    capability: ClassVar[type] = StuckDevices

    def validate(self) -> None:
        super().validate()
        self._require("high", 0 <= self.high <= 1, "in [0, 1]")
        self._require("pattern", self.pattern in PATTERNS, f"one of {list(PATTERNS)}")
        self._require("clusters", isinstance(self.clusters, int) and self.clusters >= 1, ">= 1")
        self._require("radius", self.radius > 0, "> 0 (devices)")

    def population(self, substrate: StuckDevices) -> int:
        return int(substrate.conductance.numel())

    def affected(self, substrate: StuckDevices) -> int:
        return int((substrate.stuck_min | substrate.stuck_max).sum())

    def _inject(
        self, substrate: StuckDevices, seed: int, count: int, generator: torch.Generator
    ) -> int:
        healthy = ~(substrate.stuck_min | substrate.stuck_max)
        weights = None
        if self.pattern == "clustered":
            weights = cluster_weights(
                substrate.conductance.shape, self.clusters, self.radius, derived_generator(seed, 0)
            )
        chosen = choose(healthy, count, generator, weights)
        high = choose(chosen, round(self.high * int(chosen.sum())), generator)
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
class Unresponsive(Masked):
    """Devices whose programming has no effect (they keep their present conductance)."""

    kind: ClassVar[str] = "unresponsive"
    capability: ClassVar[type] = UnresponsiveDevices

    def defective(self, substrate: UnresponsiveDevices) -> Tensor:
        return substrate.unresponsive

    def mark(self, substrate: UnresponsiveDevices, chosen: Tensor) -> None:
        substrate.set_unresponsive(chosen)


@dataclass
class DeadRows(Masked):
    """Open input rows (word lines, the bias row included): their devices carry no current."""

    kind: ClassVar[str] = "dead_rows"
    capability: ClassVar[type] = ArrayLines

    def defective(self, substrate: ArrayLines) -> Tensor:
        return substrate.dead_rows

    def mark(self, substrate: ArrayLines, chosen: Tensor) -> None:
        substrate.set_dead_lines(rows=chosen)


@dataclass
class DeadCols(Masked):
    """Open output columns (bit lines): the output reads no current."""

    kind: ClassVar[str] = "dead_cols"
    capability: ClassVar[type] = ArrayLines

    def defective(self, substrate: ArrayLines) -> Tensor:
        return substrate.dead_cols

    def mark(self, substrate: ArrayLines, chosen: Tensor) -> None:
        substrate.set_dead_lines(cols=chosen)


@dataclass
class ReadBursts(Fault):
    """With probability ``rate`` per read, the read noise is multiplied by ``factor``.

    Attributes:
        factor: noise multiplier during a burst (10, a stress value).
    """

    factor: float = 10.0

    kind: ClassVar[str] = "read_bursts"
    capability: ClassVar[type] = ReadNoiseBursts
    meaning: ClassVar[str] = "probability per read"

    def validate(self) -> None:
        super().validate()
        self._require("factor", self.factor >= 1, ">= 1")

    def affected(self, substrate: ReadNoiseBursts) -> int:
        return int(substrate.burst_count)

    def _apply(
        self, substrate: ReadNoiseBursts, seed: int, before: float | None, after: float
    ) -> int:
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
    capability: ClassVar[type] = ConductanceDrift
    process: ClassVar[bool] = True
    meaning: ClassVar[str] = "drift exponent nu (time in epochs)"

    def validate(self) -> None:
        super().validate()
        self._require("spread", self.spread >= 0, ">= 0")

    def affected(self, substrate: ConductanceDrift) -> int:
        nu = substrate.drift_nu
        return 0 if nu is None else int((nu > 0).sum())

    def _apply(
        self, substrate: ConductanceDrift, seed: int, before: float | None, after: float
    ) -> int:
        if before is None:
            g = derived_generator(seed, 0)
            shape = substrate.conductance.shape
            factor = torch.clamp(1 + self.spread * torch.randn(shape, generator=g), min=0)
            substrate.set_drift(self.rate * factor, t0=1.0)
            before = 0.0
        substrate.advance_drift(after - before)
        return 0
