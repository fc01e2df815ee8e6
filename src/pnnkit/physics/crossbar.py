"""A simulated memristive (RRAM) crossbar: analog matrix-vector products and pulsed programming.

Physics simulated (all state is vectorised tensors of shape ``(2, out, in + 1)``: the ``G+`` and
``G-`` device of every differential pair, with one extra input row for the bias):

* **Weights as conductance pairs.** ``W = s * (G+ - G-) / (G_max - G_min)``, each device inside
  its own window ``[g_lo, g_hi]`` (device-to-device variation of the bounds around the nominal
  ``[G_min, G_max]``). ``s`` (``weight_scale / sqrt(in_features)``) is the digital gain of the
  periphery that maps a full-swing pair to a weight; it is fixed when the array is built.
* **Read-out** (one physical pass). Inputs are scaled per sample to the DAC range (the
  ``abs-max`` noise management used on analog accelerators), quantised to ``dac_bits``, applied
  as voltages; column currents ``I = V G^T`` (Ohm + Kirchhoff) carry read noise (every device's
  conductance fluctuates by ``read_noise`` relative std on every read; the sum of independent
  device fluctuations is sampled exactly as one Gaussian per output); then the ADC clips to
  ``+-adc_range * sqrt(in + 1)`` (normalised units) and quantises to ``adc_bits``.
* **Programming by pulses.** An update ``dW`` is split over the pair (``G+`` moves by
  ``+dW/2``, ``G-`` by ``-dW/2``), turned into a number of identical potentiation or depression
  pulses per device (``|dG| / step``, stochastically rounded so small updates are right on
  average, capped at ``max_pulses``), and every pulse moves the conductance by a soft-bounded,
  noisy step: ``dG_up = 2 step_i (g_hi - G) / (g_hi - g_lo) (1 + c2c * eps)`` and
  ``dG_down = 2 step_i (G - g_lo) / (g_hi - g_lo) (1 + c2c * eps)``, with ``step_i`` the
  device's own step (device-to-device variation ``d2d_step``). Near a bound the steps shrink,
  so saturation is gradual, as in measured RRAM (the soft-bounds model of Fusi & Abbott,
  Nat. Neurosci. 10:485, 2007, used for RRAM by Gong et al., Nat. Commun. 9:2102, 2018).
  The float weight is never written.
* **Faults.** Stuck-at-``G_min`` / stuck-at-``G_max`` masks (default none): stuck devices keep
  their conductance whatever they are sent. Further fault state, all empty by default and set
  by :mod:`pnnkit.faults` through the ``set_*`` / ``advance_drift`` hooks: unresponsive devices
  (programming pulses have no effect, the device keeps whatever it holds), dead input rows
  (word lines) and dead output columns (bit lines) through which no current flows (every
  device on them reads zero), power-law conductance drift ``G(t) = G(t0) (t / t0)^(-nu)`` with
  a per-device exponent and a clock that restarts when the device is programmed, and read-noise
  bursts (with a probability per read, the read noise of that pass is multiplied by a factor;
  drawn from the burst's own generator so the substrate's noise stream is unchanged).

Defaults are typical of published analog HfOx/TaOx 1T1R arrays; each field's docstring gives
its source. Only ratios matter to the computation (currents are normalised by the window), so
the absolute conductances set the stuck-at values and the read-noise mix, not the scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pnnkit.physics.capabilities import (
    ArrayLines,
    ConductanceDrift,
    LinearStage,
    ReadNoiseBursts,
    StuckDevices,
    UnresponsiveDevices,
)
from pnnkit.physics.crossbar_config import CrossbarConfig
from pnnkit.physics.linear import linear_twin, with_bias_column
from pnnkit.physics.protocol import Substrate
from pnnkit.physics.registry import register


def _quantise(x: Tensor, bits: int, limit: float | Tensor) -> Tensor:
    """Clip to ``[-limit, limit]``, round to a signed uniform grid of ``2^(bits-1) - 1`` steps."""
    steps = 2 ** (bits - 1) - 1
    if steps < 1:  # 1 bit: sign only
        return torch.sign(x) * limit
    return torch.round(torch.clamp(x / limit, -1.0, 1.0) * steps) / steps * limit


@register
class Crossbar(
    LinearStage,
    StuckDevices,
    UnresponsiveDevices,
    ArrayLines,
    ReadNoiseBursts,
    ConductanceDrift,
    Substrate[CrossbarConfig],
):
    """A memristive crossbar array with differential pairs; see the module docstring."""

    name = "crossbar"
    config_class = CrossbarConfig

    def _build(self) -> None:
        cfg = self._config
        shape = (2, *self.parameter_shape())
        g = self.generator
        window = cfg.g_max - cfg.g_min
        # Device-to-device variation, frozen at fabrication.
        self.g_lo = cfg.g_min + cfg.d2d_bounds * window * torch.randn(shape, generator=g).abs()
        self.g_hi = cfg.g_max - cfg.d2d_bounds * window * torch.randn(shape, generator=g).abs()
        self.g_hi = torch.maximum(self.g_hi, self.g_lo + 0.05 * window)
        nominal_step = window / cfg.levels
        self.step = nominal_step * torch.clamp(
            1 + cfg.d2d_step * torch.randn(shape, generator=g), min=0.05
        )
        # Initial states: uniform in the central part of each device's window.
        u = torch.rand(shape, generator=g)
        centre, span = (self.g_lo + self.g_hi) / 2, (self.g_hi - self.g_lo) * cfg.init_spread
        self.conductance = centre + (u - 0.5) * span
        # Fault masks: disjoint random subsets of devices.
        r = torch.rand(shape, generator=g)
        self.stuck_min = r < cfg.stuck_at_min_fraction
        self.stuck_max = (r >= cfg.stuck_at_min_fraction) & (
            r < cfg.stuck_at_min_fraction + cfg.stuck_at_max_fraction
        )
        self._apply_stuck()
        self._clear_faults()

    def _clear_faults(self) -> None:
        """The fault state beyond stuck devices, empty (no draw from any generator)."""
        shape = self.conductance.shape
        self.unresponsive = torch.zeros(shape, dtype=torch.bool)
        self.dead_rows = torch.zeros(self.in_features + 1, dtype=torch.bool)
        self.dead_cols = torch.zeros(self.out_features, dtype=torch.bool)
        #: per-device drift exponent and time since last programmed (None: no drift)
        self.drift_nu: Tensor | None = None
        self.drift_age: Tensor | None = None
        self.drift_t0 = 1.0
        #: read-noise bursts: probability per read, noise factor, own generator (None: none)
        self.burst_probability = 0.0
        self.burst_factor = 1.0
        self.burst_count = 0
        self._burst_generator: torch.Generator | None = None

    # --- derived constants ----------------------------------------------------------------------

    @property
    def window(self) -> float:
        """Conductance window g_max - g_min of one device, in uS."""
        return self._config.g_max - self._config.g_min

    @property
    def gain(self) -> float:
        """Weight represented by one uS of pair difference (the periphery's fixed digital gain)."""
        return self._config.weight_scale / math.sqrt(self.in_features) / self.window

    @property
    def adc_limit(self) -> float:
        """The ADC's full scale in normalised current units: adc_range * sqrt(in + 1)."""
        return self._config.adc_range * math.sqrt(self.in_features + 1)

    def output_limit(self, x: Tensor) -> Tensor:
        """The ADC's full scale in output units: ``adc_limit * window * gain`` times each
        sample's abs-max input scale (the DAC's noise management, at least 1 for the bias
        line), with a relative margin of 1e-5 for rounding."""
        scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1.0)
        return (1 + 1e-5) * self.adc_limit * self.window * self.gain * scale

    def effective_weights(self) -> Tensor:
        """The weights the devices hold now, without read noise (simulation ground truth)."""
        g = self._conducting()
        return self.gain * (g[0] - g[1])

    def _conducting(self) -> Tensor:
        """Conductances as seen by a read: zero on dead rows and columns."""
        if not (self.dead_rows.any() or self.dead_cols.any()):
            return self.conductance
        alive = ~(self.dead_cols[:, None] | self.dead_rows[None, :])
        return self.conductance * alive.to(self.conductance.dtype)

    def _read_noise(self) -> float:
        """Relative read noise of this read: ``read_noise``, times ``burst_factor`` when a burst
        occurs (one draw per read from the burst generator, only when bursts are set)."""
        noise = self._config.read_noise
        if self._burst_generator is not None and self.burst_probability > 0:
            u = float(torch.rand(1, generator=self._burst_generator))
            if u < self.burst_probability:
                self.burst_count += 1
                return noise * self.burst_factor
        return noise

    # --- physics --------------------------------------------------------------------------------

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        v = with_bias_column(x.to(self.conductance.dtype))
        scale = v.abs().amax(dim=1, keepdim=True)  # abs-max noise management, >= 1 (bias line)
        v = _quantise(v / scale, cfg.dac_bits, 1.0)
        g_pos, g_neg = self._conducting()
        current = v @ (g_pos - g_neg).T
        if cfg.read_noise > 0:
            read_noise = self._read_noise()
            variance = (v * v) @ (g_pos * g_pos + g_neg * g_neg).T
            noise = torch.randn(current.shape, generator=self.generator, dtype=current.dtype)
            current = current + read_noise * variance.sqrt() * noise
        normalised = _quantise(current / self.window, cfg.adc_bits, self.adc_limit)
        return normalised * self.window * self.gain * scale

    def _program(self, delta: Tensor) -> None:
        cfg = self._config
        # Requested conductance change per device of the pair, in uS.
        half = delta.to(self.conductance.dtype) / self.gain / 2
        dg = torch.stack([half, -half])
        nominal_step = self.window / cfg.levels
        exact = dg.abs() / nominal_step
        floor = exact.floor()
        pulses = floor + (torch.rand(exact.shape, generator=self.generator) < exact - floor)
        pulses = pulses.clamp(max=cfg.max_pulses).to(torch.int64)
        up = dg > 0
        before = self.conductance
        self.counters.device_writes += int((pulses > 0).sum())
        self.counters.programming_pulses += int(pulses.sum())
        span = self.g_hi - self.g_lo
        up_scale = 2 * self.step * (1 + cfg.step_asymmetry) / span
        down_scale = 2 * self.step * (1 - cfg.step_asymmetry) / span
        for k in range(int(pulses.max()) if pulses.numel() else 0):
            active = pulses > k
            jitter = torch.clamp(
                1 + cfg.c2c_noise * torch.randn(dg.shape, generator=self.generator), min=0
            )
            g = self.conductance
            step = torch.where(up, up_scale * (self.g_hi - g), -down_scale * (g - self.g_lo))
            self.conductance = torch.where(active, g + step * jitter, g)
        self.conductance = torch.clamp(self.conductance, self.g_lo, self.g_hi)
        if self.unresponsive.any():
            self.conductance = torch.where(self.unresponsive, before, self.conductance)
        if self.drift_age is not None:  # the drift clock restarts on programmed devices
            moved = (pulses > 0) & ~self.unresponsive
            self.drift_age = torch.where(
                moved, torch.full_like(self.drift_age, self.drift_t0), self.drift_age
            )
        self._apply_stuck()

    def _read_parameters(self) -> Tensor:
        g = self._conducting()
        if self._config.read_noise > 0:
            noise = self._read_noise()
            g = g * (1 + noise * torch.randn(g.shape, generator=self.generator))
        return self.gain * (g[0] - g[1])

    def _apply_stuck(self) -> None:
        self.conductance = torch.where(self.stuck_min, self.g_lo, self.conductance)
        self.conductance = torch.where(self.stuck_max, self.g_hi, self.conductance)

    def inject_stuck_faults(self, min_fraction: float, max_fraction: float) -> None:
        """Make a further random fraction of the healthy devices stuck at ``g_lo`` / ``g_hi``."""
        healthy = ~(self.stuck_min | self.stuck_max)
        r = torch.rand(self.conductance.shape, generator=self.generator)
        self.stuck_min |= healthy & (r < min_fraction)
        self.stuck_max |= healthy & (r >= min_fraction) & (r < min_fraction + max_fraction)
        self._apply_stuck()

    # --- fault hooks (used by pnnkit.faults; masks are OR-ed into the present ones) -------------

    def set_stuck(self, at_min: Tensor, at_max: Tensor) -> None:
        """Make the devices of the boolean masks (shape ``(2, out, in + 1)``) stuck at their
        ``g_lo`` / ``g_hi``; a device in both masks is stuck at ``g_hi``."""
        self.stuck_min |= at_min & ~at_max
        self.stuck_max |= at_max
        self.stuck_min &= ~self.stuck_max
        self._apply_stuck()

    def set_unresponsive(self, mask: Tensor) -> None:
        """Devices of ``mask`` (shape ``(2, out, in + 1)``) stop responding to programming."""
        self.unresponsive |= mask

    def set_dead_lines(self, rows: Tensor | None = None, cols: Tensor | None = None) -> None:
        """Break input rows (word lines, shape ``(in + 1,)``, the bias row last) and output
        columns (bit lines, shape ``(out,)``): no current flows through their devices."""
        if rows is not None:
            self.dead_rows |= rows
        if cols is not None:
            self.dead_cols |= cols

    def set_drift(self, nu: Tensor, t0: float = 1.0) -> None:
        """Start power-law drift with per-device exponents ``nu`` (shape ``(2, out, in + 1)``):
        every device's clock starts at ``t0`` now (its last programming)."""
        self.drift_nu = nu.to(self.conductance.dtype).clone()
        self.drift_t0 = float(t0)
        self.drift_age = torch.full_like(self.drift_nu, self.drift_t0)

    def advance_drift(self, dt: float) -> None:
        """Let time ``dt`` (in units of ``t0``'s clock) pass: ``G <- G ((t + dt) / t)^(-nu)``,
        floored at ``g_lo``; stuck devices stay stuck. No-op without drift."""
        if self.drift_nu is None or self.drift_age is None or dt <= 0:
            return
        factor = ((self.drift_age + dt) / self.drift_age).pow(-self.drift_nu)
        self.conductance = torch.maximum(self.conductance * factor, self.g_lo)
        self.drift_age = self.drift_age + dt
        self._apply_stuck()

    def set_read_bursts(self, probability: float, factor: float, seed: int) -> None:
        """Read-noise bursts: each read has a burst with ``probability``, multiplying the read
        noise by ``factor``. The burst draws come from a generator seeded with ``seed`` the first
        time (later calls only change the probability and factor)."""
        if self._burst_generator is None:
            self._burst_generator = torch.Generator().manual_seed(int(seed))
        self.burst_probability = float(probability)
        self.burst_factor = float(factor)

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """An ideal digital model: the linear map of the effective weights, no noise, no ADC."""
        return linear_twin

    # --- state ----------------------------------------------------------------------------------

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """As :meth:`Substrate.load_state_dict`; a state saved before presets existed records
        no ``preset`` and was built with the default one."""
        describe = state["describe"]
        config = {"preset": "default", **describe["config"]}
        super().load_state_dict({**state, "describe": {**describe, "config": config}})

    _STATE = ("conductance", "g_lo", "g_hi", "step", "stuck_min", "stuck_max")

    _FAULT_STATE = ("unresponsive", "dead_rows", "dead_cols", "drift_nu", "drift_age")

    def _physical_state(self) -> dict[str, Tensor]:
        state = {name: getattr(self, name).clone() for name in self._STATE}
        # Fault state only when present, so fault-free checkpoints keep their old layout.
        for name in ("unresponsive", "dead_rows", "dead_cols"):
            if getattr(self, name).any():
                state[name] = getattr(self, name).clone()
        if self.drift_nu is not None and self.drift_age is not None:
            state["drift_nu"], state["drift_age"] = self.drift_nu.clone(), self.drift_age.clone()
            state["drift_t0"] = torch.tensor(self.drift_t0)
        if self._burst_generator is not None:
            state["burst"] = torch.tensor(
                [self.burst_probability, self.burst_factor, self.burst_count], dtype=torch.float64
            )
            state["burst_generator"] = self._burst_generator.get_state()
        return state

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name].clone())
        self._clear_faults()  # absent entries (older checkpoints included): no fault
        for name in self._FAULT_STATE:
            if name in state:
                setattr(self, name, state[name].clone())
        if "drift_t0" in state:
            self.drift_t0 = float(state["drift_t0"])
        if "burst" in state:
            probability, factor, count = (float(v) for v in state["burst"])
            self.burst_probability, self.burst_factor = probability, factor
            self.burst_count = int(count)
            self._burst_generator = torch.Generator()
            self._burst_generator.set_state(state["burst_generator"])
