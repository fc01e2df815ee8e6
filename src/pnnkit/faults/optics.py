"""Faults of optical substrates: dead modulator pixels, dead or hot detector pixels, and phase
drift (physics and sources in :mod:`pnnkit.faults.models`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from pnnkit.faults.base import Counted, Fault, choose, derived_generator
from pnnkit.physics.capabilities import DetectorPixels, DriftingPhase, ModulatorPixels


@dataclass
class DeadSLM(Counted):
    """SLM pixels that emit no field."""

    kind: ClassVar[str] = "dead_slm"
    capability: ClassVar[type] = ModulatorPixels

    def population(self, substrate: ModulatorPixels) -> int:
        return int(substrate.slm_dead.numel())

    def affected(self, substrate: ModulatorPixels) -> int:
        return int(substrate.slm_dead.sum())

    def _inject(
        self, substrate: ModulatorPixels, seed: int, count: int, generator: torch.Generator
    ) -> int:
        chosen = choose(~substrate.slm_dead, count, generator)
        substrate.set_dead_slm(chosen)
        return int(chosen.sum())


@dataclass
class DeadCamera(Counted):
    """Camera pixels that read 0."""

    kind: ClassVar[str] = "dead_camera"
    capability: ClassVar[type] = DetectorPixels

    def population(self, substrate: DetectorPixels) -> int:
        return int(substrate.camera_dead.numel())

    def affected(self, substrate: DetectorPixels) -> int:
        return int(substrate.camera_dead.sum())

    def _inject(
        self, substrate: DetectorPixels, seed: int, count: int, generator: torch.Generator
    ) -> int:
        chosen = choose(~(substrate.camera_dead | substrate.camera_hot), count, generator)
        substrate.set_camera_defects(dead=chosen)
        return int(chosen.sum())


@dataclass
class HotCamera(Counted):
    """Camera pixels that read full scale (saturated)."""

    kind: ClassVar[str] = "hot_camera"
    capability: ClassVar[type] = DetectorPixels

    def population(self, substrate: DetectorPixels) -> int:
        return int(substrate.camera_hot.numel())

    def affected(self, substrate: DetectorPixels) -> int:
        return int(substrate.camera_hot.sum())

    def _inject(
        self, substrate: DetectorPixels, seed: int, count: int, generator: torch.Generator
    ) -> int:
        chosen = choose(~(substrate.camera_dead | substrate.camera_hot), count, generator)
        substrate.set_camera_defects(hot=chosen)
        return int(chosen.sum())


@dataclass
class PhaseDrift(Fault):
    """Random-walk phase drift of a scattering medium's transmission matrix or of an MZI mesh's
    phase shifters, ``rate`` rad rms per epoch."""

    kind: ClassVar[str] = "phase_drift"
    capability: ClassVar[type] = DriftingPhase
    process: ClassVar[bool] = True
    meaning: ClassVar[str] = "rad rms per epoch"
    max_rate: ClassVar[float] = math.pi

    def affected(self, substrate: DriftingPhase) -> int:
        drift = substrate.drifted_phase()
        return 0 if drift is None else int((drift != 0).sum())

    def _apply(
        self, substrate: DriftingPhase, seed: int, before: float | None, after: float
    ) -> int:
        start = 0 if before is None else math.floor(before)
        shape = substrate.phase_drift_shape()
        if before is None:
            substrate.add_phase_drift(torch.zeros(shape, dtype=torch.float64))
        for tick in range(start, math.floor(after)):
            g = derived_generator(seed, 2, tick)
            substrate.add_phase_drift(
                self.rate * torch.randn(shape, generator=g, dtype=torch.float64)
            )
        return 0
