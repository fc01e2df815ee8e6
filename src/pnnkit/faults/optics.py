"""Faults of optical substrates: dead modulator pixels, dead or hot detector pixels, and phase
drift (physics and sources in :mod:`pnnkit.faults.models`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from pnnkit.faults.base import Fault, Masked, derived_generator
from pnnkit.physics.capabilities import DetectorPixels, DriftingPhase, ModulatorPixels


@dataclass
class DeadSLM(Masked):
    """SLM pixels that emit no field."""

    kind: ClassVar[str] = "dead_slm"
    capability: ClassVar[type] = ModulatorPixels

    def defective(self, substrate: ModulatorPixels) -> Tensor:
        return substrate.slm_dead

    def mark(self, substrate: ModulatorPixels, chosen: Tensor) -> None:
        substrate.set_dead_slm(chosen)


@dataclass
class DeadCamera(Masked):
    """Camera pixels that read 0."""

    kind: ClassVar[str] = "dead_camera"
    capability: ClassVar[type] = DetectorPixels

    def defective(self, substrate: DetectorPixels) -> Tensor:
        return substrate.camera_dead

    def candidates(self, substrate: DetectorPixels) -> Tensor:
        return ~(substrate.camera_dead | substrate.camera_hot)

    def mark(self, substrate: DetectorPixels, chosen: Tensor) -> None:
        substrate.set_camera_defects(dead=chosen)


@dataclass
class HotCamera(Masked):
    """Camera pixels that read full scale (saturated)."""

    kind: ClassVar[str] = "hot_camera"
    capability: ClassVar[type] = DetectorPixels

    def defective(self, substrate: DetectorPixels) -> Tensor:
        return substrate.camera_hot

    def candidates(self, substrate: DetectorPixels) -> Tensor:
        return ~(substrate.camera_dead | substrate.camera_hot)

    def mark(self, substrate: DetectorPixels, chosen: Tensor) -> None:
        substrate.set_camera_defects(hot=chosen)


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
