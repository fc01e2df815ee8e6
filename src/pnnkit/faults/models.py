"""Fault models of physical substrates: what breaks, and how it is injected.

Every fault kind is a small dataclass with a ``rate`` and kind-specific options and the
capability a substrate needs to suffer it (:mod:`pnnkit.physics.capabilities`): it applies to
every substrate with that capability (:meth:`Fault.supports` is an ``isinstance`` test, never a
name), and :meth:`Fault.apply` changes the substrate's fault state through the capability's
hooks (``StuckDevices.set_stuck``, ``ModulatorPixels.set_dead_slm``, ...). The kinds live in
:mod:`pnnkit.faults.devices` and :mod:`pnnkit.faults.optics`; this module lists them. All draws
are vectorised and come from generators derived from an integer seed (never from the substrate's
generator, whose noise stream is therefore unchanged by faults).

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

from pnnkit.faults.base import Fault
from pnnkit.faults.devices import DeadCols, DeadRows, Drift, ReadBursts, Stuck, Unresponsive
from pnnkit.faults.optics import DeadCamera, DeadSLM, HotCamera, PhaseDrift

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
