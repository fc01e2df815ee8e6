"""A chain of coupled, driven Duffing oscillators: a nonlinear mechanical (or electrical) system.

In the spirit of the driven mechanical plate of physics-aware training (Wright et al., Nature
601:549, 2022), the input sets how a nonlinear dynamical system is driven, the system evolves,
and a time-averaged response is measured. Everything is in dimensionless units: time in units of
``1 / omega_0`` (the mean natural angular frequency is 1), displacement in units where the
Duffing coefficient ``duffing`` is O(1).

Physics simulated (``M = out_features`` oscillators, all state vectorised over batch and
oscillators):

* **Equations of motion.** Starting at rest (``q = q' = 0`` at ``t = 0``),
  ``q_i'' + gamma q_i' + omega_i^2 q_i + beta q_i^3 + sum_j K_ij (q_i - q_j)
  = F_i cos(Omega_i t)``,
  with fixed random natural frequencies ``omega_i`` (uniform in ``1 +- omega_spread``,
  fabrication spread), damping ``gamma``, a hardening Duffing term ``beta`` (the cubic
  stiffness of a clamped beam or plate at large deflection) and nearest-neighbour springs along
  a chain (``K_{i,i+1} = K_{i+1,i} = k_i``, each ``k_i`` fixed uniform in
  ``[0, 2 coupling]``, open ends).
* **Drive (the input).** Each sample is scaled by its own largest magnitude to ``[-1, 1]``
  (abs-max scaling, as the crossbar's DAC does) into ``u``; the drive amplitude of oscillator
  ``i`` is ``F_i = drive_amplitude (W u + b)_i``, with ``W`` a fixed random input coupling
  (``M x in_features``, entries ``N(0, 1 / in_features)``: the fixed way the actuators excite
  the structure's modes) and ``b`` the programmable drive offset. The drive frequency is
  ``Omega_i = drive_frequency + delta_i``, with ``delta`` the programmable detuning. Because of
  the scaling, the response depends on the pattern of a sample, not on its overall magnitude.
  Drive noise: every drive amplitude is multiplied by ``1 + drive_noise * N(0, 1)`` (one draw
  per sample and oscillator, constant over the window: amplifier gain fluctuations).
* **Programmable parameters**, shape ``(2, M)``: row 0 the drive offsets ``b_i`` (clipped to
  ``+-offset_limit``), row 1 the detunings ``delta_i`` (clipped to ``+-detuning_limit``);
  both set by ``param_bits`` DACs (programming rounds to the grid). Offsets start uniform in
  the central half of their range, detunings at 0.
* **Integration.** Fixed-step classical Runge-Kutta (RK4), ``steps`` steps of ``dt``.
* **Readout.** The sampled squared displacement averaged over the last ``average_fraction``
  of the steps (the output of a power detector on each oscillator, e.g. a vibrometer or a pickup
  coil followed by a squarer and an integrator), with relative Gaussian readout noise
  ``readout_noise`` per sample and oscillator, divided by the fixed constant
  ``ref = (drive_amplitude / (2 damping drive_frequency))^2 / 2``: the mean square displacement
  of a linear oscillator driven on resonance at half the full drive amplitude (half:
  ``|W u + b|`` is typically below 1). The output is then O(1) for standardised, Gaussian or
  ReLU inputs with the defaults.

The exact twin runs the same integration without drive or readout noise and without the DAC
grid of the parameters (autograd through RK4; memory grows with ``steps``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

# q'' = accel(q, v, drive) for the RK4 stepper.
Acceleration = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass
class OscillatorConfig(SubstrateConfig):
    """Parameters of :class:`OscillatorNetwork` (dimensionless units; see the module docstring).

    Attributes:
        damping: ``gamma``, so the quality factor is ``1 / gamma``. 0.3 (Q about 3): a
            well-damped structure whose transients decay as ``e^{-gamma t / 2}``, i.e. to 1%
            within ``t = 31``, which lets a short window reach steady state (a high-Q
            structure would need proportionally longer integration).
        omega_spread: natural frequencies are uniform in ``1 +- omega_spread``. 0.1: a 10%
            spread, like the fabrication scatter of nominally identical resonators, enough to
            make oscillators respond differently to the same drive.
        duffing: ``beta``, hardening cubic stiffness. 1.0: at displacement 1 the backbone
            frequency rises by about 30% (``omega^2 -> omega^2 + 3/4 beta A^2``), so strong
            drives are clearly nonlinear while weak ones stay nearly linear.
        coupling: mean nearest-neighbour spring constant; each spring is uniform in
            ``[0, 2 coupling]``. 0.05: weak coupling (5% of the on-site stiffness) mixes
            neighbouring responses without locking the chain into collective modes.
        drive_amplitude: force per unit of ``W u + b``. 0.4: a typical drive ``|W u + b|``
            of about 0.5 gives a linear resonant amplitude of about 0.7, where the Duffing
            term already matters.
        drive_frequency: mean drive angular frequency ``Omega``. 1.0: on the mean resonance,
            where the nonlinear response is strongest.
        dt: RK4 step. 0.2 (about 31 steps per drive period): on a driven Duffing test problem
            the global error after ``t = 4`` is about 2e-4 of the amplitude, far below the 1%
            readout noise (and the twin integrates identically, so it is no model error).
        steps: RK4 steps per measurement. 150 (``t = 30``): the start-up transient has decayed
            to about 4% of the steady state when the averaging window opens and to 1% at its
            end (see ``damping``); what remains is deterministic, part of the map. A batch of
            256 samples on 256 oscillators takes about 0.1-0.2 s on two CPU cores.
        average_fraction: fraction of the steps, at the end, over which ``q^2`` is averaged.
            0.3 (45 samples, ``t = 9``, about 1.4 drive periods of ``q``, 2.9 of ``q^2``).
        offset_limit: drive offsets ``b`` are clipped to ``+-offset_limit``. 1.0: the range of
            the input drive ``W u`` itself.
        detuning_limit: detunings are clipped to ``+-detuning_limit``. 0.3: sweeps the drive
            over the resonances (``1 +- omega_spread`` and the Duffing shift).
        param_bits: resolution of the DACs setting offsets and detunings over their full
            range (12 bits, common for function-generator amplitude and frequency settings).
        drive_noise: relative rms fluctuation of each drive amplitude per sample (0.5%:
            amplifier gain noise).
        readout_noise: relative rms noise of each power reading (1%: sensor and amplifier
            noise at a moderate signal level).
    """

    damping: float = 0.3
    omega_spread: float = 0.1
    duffing: float = 1.0
    coupling: float = 0.05
    drive_amplitude: float = 0.4
    drive_frequency: float = 1.0
    dt: float = 0.2
    steps: int = 150
    average_fraction: float = 0.3
    offset_limit: float = 1.0
    detuning_limit: float = 0.3
    param_bits: int = 12
    drive_noise: float = 0.005
    readout_noise: float = 0.01

    def validate(self) -> None:
        super().validate()
        self._require("damping", self.damping > 0, "> 0")
        self._require("omega_spread", 0 <= self.omega_spread < 1, "in [0, 1)")
        self._require("duffing", self.duffing >= 0, ">= 0 (hardening)")
        self._require("coupling", self.coupling >= 0, ">= 0")
        self._require("drive_amplitude", self.drive_amplitude > 0, "> 0")
        self._require("drive_frequency", self.drive_frequency > 0, "> 0")
        self._require("dt", 0 < self.dt <= 1, "in (0, 1]")
        self._require("steps", self.steps >= 1, "an integer >= 1")
        self._require("average_fraction", 0 < self.average_fraction <= 1, "in (0, 1]")
        self._require("offset_limit", self.offset_limit >= 0, ">= 0")
        self._require(
            "detuning_limit",
            0 <= self.detuning_limit < self.drive_frequency,
            f"in [0, drive_frequency = {self.drive_frequency})",
        )
        self._require("param_bits", 1 <= self.param_bits <= 24, "an integer in [1, 24]")
        self._require("drive_noise", 0 <= self.drive_noise <= 1, "in [0, 1]")
        self._require("readout_noise", 0 <= self.readout_noise <= 1, "in [0, 1]")


def rk4_step(
    q: Tensor,
    v: Tensor,
    dt: float,
    accel: Acceleration,
    drives: tuple[Tensor, Tensor, Tensor],
) -> tuple[Tensor, Tensor]:
    """One classical Runge-Kutta step of ``q' = v, v' = accel(q, v, drive)``.

    ``drives`` holds the drive term at the start, the midpoint and the end of the step (the only
    explicit time dependence), so the caller can tabulate it once for all steps.
    """
    d0, dh, d1 = drives
    h = 0.5 * dt
    a1 = accel(q, v, d0)
    q2, v2 = q + h * v, v + h * a1
    a2 = accel(q2, v2, dh)
    q3, v3 = q + h * v2, v + h * a2
    a3 = accel(q3, v3, dh)
    q4, v4 = q + dt * v3, v + dt * a3
    a4 = accel(q4, v4, d1)
    sixth = dt / 6.0
    return q + sixth * (v + 2 * v2 + 2 * v3 + v4), v + sixth * (a1 + 2 * a2 + 2 * a3 + a4)


def _grid(values: Tensor, limit: float, bits: int) -> Tensor:
    """Clip to ``+-limit`` and round to the DAC grid of ``2^(bits-1) - 1`` steps per side."""
    if limit == 0:
        return torch.zeros_like(values)
    steps = max(2 ** (bits - 1) - 1, 1)
    return torch.round(torch.clamp(values / limit, -1.0, 1.0) * steps) / steps * limit


@register
class OscillatorNetwork(Substrate[OscillatorConfig]):
    """A chain of driven, coupled Duffing oscillators read out by power detectors; see the
    module docstring."""

    name = "oscillators"
    linear = False
    exact_twin = True
    config_class = OscillatorConfig

    def _build(self) -> None:
        cfg = self._config
        g, m = self.generator, self.out_features
        # Fixed physics, frozen at fabrication.
        self.omega = 1 + cfg.omega_spread * (2 * torch.rand(m, generator=g) - 1)
        self.springs = 2 * cfg.coupling * torch.rand(max(m - 1, 0), generator=g)
        self.input_coupling = torch.randn((m, self.in_features), generator=g) / math.sqrt(
            self.in_features
        )
        # Programmable drive settings: offsets in the central half of the range, no detuning.
        offsets = cfg.offset_limit * (torch.rand(m, generator=g) - 0.5)
        self.params = torch.stack(
            [
                _grid(offsets, cfg.offset_limit, cfg.param_bits),
                torch.zeros(m),
            ]
        )

    # --- derived constants ----------------------------------------------------------------------

    @property
    def reference_power(self) -> float:
        """The fixed output normalisation (module docstring)."""
        cfg = self._config
        return (cfg.drive_amplitude / (2 * cfg.damping * cfg.drive_frequency)) ** 2 / 2

    def parameter_shape(self) -> tuple[int, ...]:
        """``(2, M)``: row 0 drive offsets, row 1 drive detunings."""
        return (2, self.out_features)

    # --- physics --------------------------------------------------------------------------------

    def simulate(self, x: Tensor, params: Tensor, drive_gain: Tensor | None = None) -> Tensor:
        """Noise-free mean square displacement ``(n, M)`` (not normalised), differentiable.

        ``drive_gain`` (``(n, M)``, optional) multiplies the drive amplitudes (drive noise).
        Computes in the common dtype of ``x`` and ``params``.
        """
        cfg = self._config
        dtype = torch.promote_types(x.dtype, params.dtype)
        x, params = x.to(dtype), params.to(dtype)
        scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
        force = cfg.drive_amplitude * ((x / scale) @ self.input_coupling.to(dtype).T + params[0])
        if drive_gain is not None:
            force = force * drive_gain
        # Drive waveform at every half step: (2 steps + 1, M), then per-sample forces.
        freq = cfg.drive_frequency + params[1]
        times = torch.arange(2 * cfg.steps + 1, dtype=dtype) * (cfg.dt / 2)
        wave = torch.cos(times[:, None] * freq)
        omega2 = self.omega.to(dtype).square()
        springs = self.springs.to(dtype)
        gamma, beta = cfg.damping, cfg.duffing

        def accel(q: Tensor, v: Tensor, drive: Tensor) -> Tensor:
            a = drive - gamma * v - omega2 * q
            if beta:
                a = a - beta * q * q * q
            if springs.numel():
                # Spring i pulls oscillators i and i + 1 together.
                tension = springs * (q[:, 1:] - q[:, :-1])
                a = a + F.pad(tension, (0, 1)) - F.pad(tension, (1, 0))
            return a

        q = torch.zeros_like(force)
        v = torch.zeros_like(force)
        first = cfg.steps - max(1, round(cfg.average_fraction * cfg.steps))
        power = torch.zeros_like(force)
        for k in range(cfg.steps):
            drives = (force * wave[2 * k], force * wave[2 * k + 1], force * wave[2 * k + 2])
            q, v = rk4_step(q, v, cfg.dt, accel, drives)
            if k >= first:
                power = power + q * q
        return power / (cfg.steps - first)

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        gain = None
        shape = (x.shape[0], self.out_features)
        if cfg.drive_noise > 0:
            gain = 1 + cfg.drive_noise * torch.randn(shape, generator=self.generator)
        power = self.simulate(x.float(), self.params, gain) / self.reference_power
        if cfg.readout_noise > 0:
            power = power * (1 + cfg.readout_noise * torch.randn(shape, generator=self.generator))
        return power.float()

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """Exact noise-free model ``twin(x, params)`` of :meth:`measure` (no drive or readout
        noise, no DAC grid on ``params``), differentiable through the RK4 integration."""

        def model(x: Tensor, params: Tensor) -> Tensor:
            return self.simulate(x, params) / self.reference_power

        return model

    # --- programming ----------------------------------------------------------------------------

    def _program(self, delta: Tensor) -> None:
        cfg = self._config
        requested = self.params + delta.to(self.params.dtype)
        new = torch.stack(
            [
                _grid(requested[0], cfg.offset_limit, cfg.param_bits),
                _grid(requested[1], cfg.detuning_limit, cfg.param_bits),
            ]
        )
        changed = int((new != self.params).sum())
        self.counters.device_writes += changed
        self.counters.programming_pulses += changed
        self.params = new

    def _read_parameters(self) -> Tensor:
        # Offsets and detunings are digital settings of the drive electronics: read back exactly.
        return self.params.clone()

    # --- state ----------------------------------------------------------------------------------

    _STATE = ("params", "omega", "springs", "input_coupling")

    def _physical_state(self) -> dict[str, Tensor]:
        return {name: getattr(self, name).clone() for name in self._STATE}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name].clone())
