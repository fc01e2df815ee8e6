"""What a substrate can do or suffer, declared as small abstract classes it inherits.

Fault models (:mod:`pnnkit.faults`) dispatch on these with ``isinstance``, never on a
substrate's name: a new substrate that inherits a capability (and implements its hooks) gets the
faults of that capability with no other change. Every hook ORs a boolean mask into the present
fault state or adds to it (faults never heal), and draws nothing from the substrate's generator
(the fault models bring their own), so the substrate's noise stream is unchanged by faults.

Two capabilities say what kind of layer a substrate is, for the rules and the network builder
(they set the ``linear`` / ``energy_based`` flags of :class:`~pnnkit.physics.protocol.Substrate`,
so either test works):

* :class:`LinearStage` -- parameters ``(out, in + 1)`` and ``z = W [x, 1]``: local rules update
  them with exact outer products.
* :class:`EnergyBased` -- a whole network that relaxes to the minimum of an energy (layers
  coupled both ways), read at its equilibrium and trained by contrasting two equilibria.

The others are what can break:

* :class:`StuckDevices` -- programmable conductances (``conductance``, any shape) that can get
  stuck at their low or high bound.
* :class:`UnresponsiveDevices` -- programmable conductances that can stop responding to
  programming pulses.
* :class:`ArrayLines` -- a crossbar's input rows (word lines) and output columns (bit lines)
  that can break open.
* :class:`ReadNoiseBursts` -- a read-out whose noise can burst intermittently.
* :class:`ConductanceDrift` -- conductances that relax over time (power-law drift).
* :class:`ModulatorPixels` -- an input modulator (SLM) whose pixels can die.
* :class:`DetectorPixels` -- a camera or detector array whose pixels can die or saturate.
* :class:`DriftingPhase` -- a transmission matrix or a mesh of phase shifters whose phases can
  drift.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import Tensor


class LinearStage:
    """A linear stage: programmable weights ``(out, in + 1)`` (the last column the bias, driven by
    a constant input line) and ``z = W [x, 1]``. List it before ``Substrate`` in the bases."""

    linear: ClassVar[bool] = True


class EnergyBased(ABC):
    """A network that settles to the minimum of an energy (e.g. the dissipated power of a
    resistive network), read at equilibrium; it forms a unit on its own and takes its hidden
    widths from its config. List it before ``Substrate`` in the bases."""

    energy_based: ClassVar[bool] = True

    @property
    @abstractmethod
    def layer_sizes(self) -> list[int]:
        """Node counts of the hidden layers and the output layer."""

    @abstractmethod
    def parameter_groups(self, params: Tensor | None = None) -> list[Tensor]:
        """Per-layer views of the parameters (default: the programmed ones)."""

    @abstractmethod
    def relax(
        self,
        x: Tensor,
        output_current: Tensor | None = None,
        *,
        start: list[Tensor] | None = None,
    ) -> list[Tensor]:
        """One physical pass: settle (with ``output_current`` injected into the outputs) and
        read every layer's state."""

    @abstractmethod
    def energy_contrast(
        self,
        x: Tensor,
        state_a: list[Tensor],
        state_b: list[Tensor],
        weights: Tensor | None = None,
    ) -> Tensor:
        """``d/dparams [E(state_a) - E(state_b)]`` at fixed states, averaged over the batch."""


class StuckDevices(ABC):
    """Programmable devices that can be stuck at ``g_lo`` (low bound) or ``g_hi`` (high bound)."""

    #: device conductances (the population a stuck-device rate is a fraction of)
    conductance: Tensor
    #: devices stuck at their low / high bound (boolean, the shape of ``conductance``)
    stuck_min: Tensor
    stuck_max: Tensor

    @abstractmethod
    def set_stuck(self, at_min: Tensor, at_max: Tensor) -> None:
        """Make the devices of the boolean masks stuck at their low / high bound; a device in
        both masks is stuck at the high bound."""


class UnresponsiveDevices(ABC):
    """Programmable devices whose state can stop changing when pulsed."""

    conductance: Tensor
    #: devices that ignore programming (boolean, the shape of ``conductance``)
    unresponsive: Tensor

    @abstractmethod
    def set_unresponsive(self, mask: Tensor) -> None:
        """Devices of ``mask`` stop responding to programming."""


class ArrayLines(ABC):
    """Input rows and output columns of an array that can break open (no current flows)."""

    #: broken input rows (``(in + 1,)``, the bias row last) and output columns (``(out,)``)
    dead_rows: Tensor
    dead_cols: Tensor

    @abstractmethod
    def set_dead_lines(self, rows: Tensor | None = None, cols: Tensor | None = None) -> None:
        """Break the input rows and output columns of the boolean masks."""


class ReadNoiseBursts(ABC):
    """A read-out whose noise is multiplied by a factor on a random share of reads."""

    #: reads that had a burst so far
    burst_count: int

    @abstractmethod
    def set_read_bursts(self, probability: float, factor: float, seed: int) -> None:
        """Each read has a burst with ``probability``, multiplying the read noise by
        ``factor``; the burst draws come from a generator seeded with ``seed`` the first time."""


class ConductanceDrift(ABC):
    """Conductances that drift as ``G(t) = G(t0) (t / t0)^(-nu)`` after programming."""

    conductance: Tensor
    #: per-device drift exponents (None: no drift)
    drift_nu: Tensor | None

    @abstractmethod
    def set_drift(self, nu: Tensor, t0: float = 1.0) -> None:
        """Start drift with per-device exponents ``nu`` (the shape of ``conductance``)."""

    @abstractmethod
    def advance_drift(self, dt: float) -> None:
        """Let time ``dt`` (in units of ``t0``) pass."""


class ModulatorPixels(ABC):
    """An input modulator (an SLM) whose pixels can stop emitting."""

    #: pixels that emit no field (boolean, ``(in,)``)
    slm_dead: Tensor

    @abstractmethod
    def set_dead_slm(self, mask: Tensor) -> None:
        """Pixels of ``mask`` emit no field."""


class DetectorPixels(ABC):
    """A camera or detector array whose pixels can read 0 (dead) or full scale (hot)."""

    #: pixels that read 0 / full scale (boolean, ``(out,)``)
    camera_dead: Tensor
    camera_hot: Tensor

    @abstractmethod
    def set_camera_defects(self, dead: Tensor | None = None, hot: Tensor | None = None) -> None:
        """Pixels of ``dead`` read 0, pixels of ``hot`` read full scale."""


class DriftingPhase(ABC):
    """Phases (of a transmission matrix's entries, or of a mesh's phase shifters) that drift
    slowly, hidden from ``read_parameters`` and from the twin."""

    @abstractmethod
    def phase_drift_shape(self) -> tuple[int, ...]:
        """The shape of the drifting phases."""

    @abstractmethod
    def drifted_phase(self) -> Tensor | None:
        """The accumulated drift, rad (None: no drift yet)."""

    @abstractmethod
    def add_phase_drift(self, delta: Tensor) -> None:
        """Add ``delta`` (rad, :meth:`phase_drift_shape`) to the drift."""
