"""An integrated-photonic Mach-Zehnder mesh: a programmable interferometer with intensity detection.

Physics simulated (all state is one tensor of phases, shape ``(2, n_mzis)``):

* **Layout.** A rectangular mesh (Clements et al., Optica 3:1460, 2016) of
  ``N = max(in_features + 1, out_features)`` waveguide modes (one extra input mode for the
  reference field below; ``max(in_features, out_features)`` without it): ``N`` columns;
  column ``c`` holds MZIs on the mode pairs ``(i, i + 1)`` with ``i = c mod 2, c mod 2 + 2,
  ...``, so the mesh has ``N (N - 1) / 2`` MZIs, enough to realise any ``N x N`` unitary. MZIs
  are numbered column by column, top to bottom within a column.
* **One MZI.** An external phase shifter ``phi`` on the upper input, a 50:50 coupler, an internal
  phase shifter ``theta`` on the upper arm, a second 50:50 coupler. With the coupler
  ``B = [[1, i], [i, 1]] / sqrt(2)`` the 2x2 transfer matrix is
  ``T = B diag(e^{i theta}, 1) B diag(e^{i phi}, 1)
  = 1/2 [[(e^{i theta} - 1) e^{i phi}, i (e^{i theta} + 1)],
  [i (e^{i theta} + 1) e^{i phi}, 1 - e^{i theta}]]``.
  The programmable parameters are ``params[0] = theta`` and ``params[1] = phi`` of every MZI.
* **Input encoding.** Each sample is scaled by its own largest magnitude to ``[-1, 1]`` (the
  abs-max scaling of an analog DAC, as in the crossbar) and written as the real, signed
  amplitudes of ``in_features`` modes of a coherent source (amplitude and sign set by
  modulators), followed by one mode carrying a constant reference field of amplitude
  ``reference_amplitude`` (an unmodulated tap of the same laser). These modes are spread evenly
  over the ``N`` modes; the others are dark. Spreading matters: a mesh with random phases
  carries light only a limited distance across modes (a disordered interferometer localises
  light, like a disordered quantum walk), so inputs crowded into the first modes would leave
  most detectors of a large mesh dark (outputs with zero variance, nothing to learn from).
  Without the reference the detected intensities are even functions of the input
  (``|U x|^2 = |U (-x)|^2``); interference with it adds terms linear in ``x``, as a bias line
  does for a crossbar.
* **Heater phase shifters.** Phases are set by thermo-optic heaters whose drive DAC resolves
  ``phase_bits`` bits over one period: programming rounds to that grid and wraps to
  ``[0, 2 pi)``. Heater power is proportional to the set phase, and heat leaks to the
  neighbouring heaters of the same type in the same column: every effective phase is its own
  set phase plus ``crosstalk`` times the set phases of the adjacent MZIs in its column (thermal
  crosstalk, the dominant static error of thermally tuned meshes; Shen et al., Nat. Photonics
  11:441, 2017; Bandyopadhyay et al., Nat. Photonics 18:1335, 2024). Thermal fluctuations add
  ``phase_noise`` rad rms to every effective phase, drawn once per pass (heater drifts are slow,
  thermal time constants of microseconds or longer, compared with the modulation of one batch).
* **Loss.** Every MZI attenuates the power of both its modes by ``loss_db_per_mzi`` dB
  (coupler and phase-shifter insertion loss); a waveguide that bypasses an MZI position at the
  edge of an odd column is taken as lossless, so loss depends on the path (the mesh is then not
  unitary, and not just a scaled unitary).
* **Detection.** Photodiodes on the first ``out_features`` modes measure intensities
  ``|E_out|^2`` with relative Gaussian noise ``detector_noise`` (shot and amplifier noise, one
  draw per sample and detector), followed by an optional unsigned ADC (``adc_bits``, clipping at
  ``adc_range``).
* **Normalisation.** Detected intensities are multiplied by the fixed gain
  ``N / in_features * 10^(loss_db_per_mzi (N - 1) / 10)`` (``N - 1`` is the mean number of
  MZIs a mode crosses) and, digitally, by ``s^k`` with ``s`` the per-sample input scale and
  ``k = rescale_power`` (default 1). With ``k = 2`` the result would be ``gain |U [x, r s]|^2``,
  quadratic in the raw input; ``k = 1`` makes the output scale like the input (homogeneous of
  degree one, like a linear layer). That matters when meshes are chained: standardised
  features have per-sample maxima that differ by more than an order of magnitude, ``s^2``
  turns those differences into outliers that dominate the next unit's conditioning, and a
  second mesh squares them again (the comparison of ``k`` is in docs/BENCHMARKS.md).

* **Fault: phase drift** (none by default; set by :mod:`pnnkit.faults` through
  :meth:`MZIMesh.add_phase_drift`): a slowly growing offset of every effective phase (heater
  ageing, ambient temperature), added in :meth:`MZIMesh.measure` only: the read-back set points
  and the twin do not see it.

Phase wrapping, crosstalk and loss are deterministic physics and belong to the exact twin;
phase quantisation happens when programming (the stored phases are always on the grid);
phase noise, detector noise and the ADC are left out of the twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.physics.capabilities import DriftingPhase
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

TWO_PI = 2.0 * math.pi


@dataclass
class MZIConfig(SubstrateConfig):
    """Device and periphery parameters of :class:`MZIMesh` (defaults: a thermally tuned silicon
    photonic mesh).

    Attributes:
        phase_bits: resolution of each heater's phase setting over one period ``2 pi``
            (0: continuous). 10 bits (about 6 mrad steps): heater drivers are 12-16 bit DACs,
            but phase goes with power, i.e. with the square of the voltage, so the effective
            phase resolution over a full period is a few bits lower.
        phase_noise: rms phase fluctuation of every phase shifter, rad, drawn once per pass.
            5 mrad: the order of the residual thermal fluctuations of stabilised thermo-optic
            phase shifters, small next to the 6 mrad quantisation step.
        crosstalk: fraction of a neighbouring heater's set phase that appears in a phase
            shifter (same type, adjacent MZI in the same column). 0.03: a few percent is typical
            for closely spaced heaters without isolation trenches or crosstalk calibration
            (Shen et al., Nat. Photonics 11:441, 2017 list thermal crosstalk as a main error).
        loss_db_per_mzi: insertion loss of one MZI, dB (applied to both of its modes). 0.1 dB:
            low-loss silicon nitride and good silicon MZIs reach ~0.1 dB; silicon MZIs are often
            0.2-0.5 dB. A 256-mode mesh then loses about 25 dB along a path, which the fixed
            detector gain compensates on average.
        detector_noise: relative rms noise of every detected intensity (1%: shot noise and
            transimpedance amplifier noise at moderate optical power).
        adc_bits: resolution of the unsigned ADC after each photodiode (0: no ADC). 12 bits:
            a common resolution of data-acquisition ADCs behind photodetectors.
        adc_range: ADC full scale in normalised intensity units (before the digital input-scale
            factor). 16.0: output intensities of a random mesh follow a roughly exponential
            (speckle) distribution with mean at most 1 in these units, so clipping is rarer
            than ``e^-16`` per reading.
        reference_amplitude: amplitude ``r`` of the constant reference mode, in units of the
            scaled inputs' full scale (0: no reference mode). 1.0: as strong as the largest
            input, so the linear (interference) terms are of the same order as the quadratic
            ones.
        rescale_power: the digital rescaling ``s^k`` of the detected intensities by the
            per-sample input scale ``s`` (0, 1 or 2; see "Normalisation" above for why 1).
    """

    phase_bits: int = 10
    phase_noise: float = 0.005
    crosstalk: float = 0.03
    loss_db_per_mzi: float = 0.1
    detector_noise: float = 0.01
    adc_bits: int = 12
    adc_range: float = 16.0
    reference_amplitude: float = 1.0
    rescale_power: int = 1

    def validate(self) -> None:
        super().validate()
        self._require("phase_bits", 0 <= self.phase_bits <= 24, "an integer in [0, 24]")
        self._require("phase_noise", 0 <= self.phase_noise <= math.pi, "in [0, pi] (rad)")
        self._require("crosstalk", 0 <= self.crosstalk < 0.5, "in [0, 0.5)")
        self._require("loss_db_per_mzi", 0 <= self.loss_db_per_mzi <= 10, "in [0, 10] (dB)")
        self._require("detector_noise", 0 <= self.detector_noise <= 1, "in [0, 1]")
        self._require("adc_bits", 0 <= self.adc_bits <= 24, "an integer in [0, 24]")
        self._require("adc_range", self.adc_range > 0, "> 0")
        self._require("reference_amplitude", 0 <= self.reference_amplitude <= 10, "in [0, 10]")
        self._require("rescale_power", self.rescale_power in (0, 1, 2), "0, 1 or 2")


def _clements_columns(n_modes: int) -> list[tuple[int, int, int]]:
    """The non-empty columns of a rectangular mesh: ``(first mode, MZIs, first MZI index)``."""
    columns, offset = [], 0
    for c in range(n_modes):
        start = c % 2
        count = (n_modes - start) // 2
        if count:
            columns.append((start, count, offset))
            offset += count
    return columns


def _quantise_phase(phases: Tensor, bits: int) -> Tensor:
    """Round to the heater grid of ``2^bits`` steps per period (``bits = 0``: continuous) and
    wrap to ``[0, 2 pi)``."""
    if bits == 0:
        return torch.remainder(phases, TWO_PI)
    levels = 2**bits
    step = TWO_PI / levels
    index = torch.remainder(torch.round(phases.double() / step), levels)
    return (index * step).to(phases.dtype)


def _cmul(ar: Tensor, ai: Tensor, br: Tensor, bi: Tensor) -> tuple[Tensor, Tensor]:
    """``(ar + i ai)(br + i bi)`` as a (real, imaginary) pair."""
    return ar * br - ai * bi, ar * bi + ai * br


def _cadd(a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    return a[0] + b[0], a[1] + b[1]


@register
class MZIMesh(Substrate[MZIConfig], DriftingPhase):
    """A Clements mesh of MZIs with coherent amplitude input and photodetection; see the module
    docstring."""

    name = "mzi"
    linear = False
    exact_twin = True
    config_class = MZIConfig

    def _build(self) -> None:
        cfg = self._config
        extra = 1 if cfg.reference_amplitude > 0 else 0
        self.n_modes = max(self.in_features + extra, self.out_features)
        self._columns = _clements_columns(self.n_modes)
        #: the modes that carry the inputs and then the reference, spread over the mesh
        self._input_modes = torch.linspace(0, self.n_modes - 1, self.in_features + extra).round()
        self._input_modes = self._input_modes.to(torch.int64)
        self.n_mzis = self.n_modes * (self.n_modes - 1) // 2
        counts = torch.tensor([count for _, count, _ in self._columns], dtype=torch.int64)
        column_of = torch.repeat_interleave(torch.arange(len(counts)), counts)
        same = column_of[1:] == column_of[:-1]
        # has_left[j]: MZI j - 1 is in the same column; has_right[j]: MZI j + 1 is.
        self._has_left = torch.cat([torch.zeros(1, dtype=torch.bool), same])
        self._has_right = torch.cat([same, torch.zeros(1, dtype=torch.bool)])
        if self.n_mzis == 0:
            self._has_left = self._has_right = torch.zeros(0, dtype=torch.bool)
        # Initial phases: uniform over a period, on the heater grid (a random mesh).
        raw = torch.rand((2, self.n_mzis), generator=self.generator) * TWO_PI
        self.phases = _quantise_phase(raw, cfg.phase_bits)
        #: drift offset of the effective phases, rad (None: no drift)
        self.phase_drift: Tensor | None = None

    def phase_drift_shape(self) -> tuple[int, ...]:
        """One drift offset per effective phase: :meth:`parameter_shape`."""
        return self.parameter_shape()

    def drifted_phase(self) -> Tensor | None:
        return self.phase_drift

    def add_phase_drift(self, delta: Tensor) -> None:
        """Add ``delta`` (rad, shape ``(2, n_mzis)``) to the drift of the effective phases."""
        base = self.phase_drift if self.phase_drift is not None else 0.0
        self.phase_drift = (base + delta.to(self.phases.dtype)).clone()

    # --- derived constants ----------------------------------------------------------------------

    @property
    def gain(self) -> float:
        """Fixed detector gain: mean output about the mean square input (module docstring)."""
        loss = 10 ** (self._config.loss_db_per_mzi * (self.n_modes - 1) / 10)
        return self.n_modes / self.in_features * loss

    def parameter_shape(self) -> tuple[int, ...]:
        """``(2, N (N - 1) / 2)``: row 0 the internal phases theta, row 1 the external phi."""
        return (2, self.n_mzis)

    # --- physics --------------------------------------------------------------------------------

    def effective_phases(self, params: Tensor) -> Tensor:
        """Phases the light sees: wrapped set phases plus thermal crosstalk from the adjacent
        heaters of the same type in the same column (differentiable, no noise)."""
        p = torch.remainder(params, TWO_PI)
        xt = self._config.crosstalk
        if xt == 0 or p.shape[-1] < 2:
            return p
        left = F.pad(p[..., :-1], (1, 0)) * self._has_left.to(p.dtype)
        right = F.pad(p[..., 1:], (0, 1)) * self._has_right.to(p.dtype)
        return p + xt * (left + right)

    def propagate(self, amplitudes: Tensor, phases: Tensor) -> Tensor:
        """Complex output fields ``(n, N)`` for input amplitudes ``(n, N)`` (real or complex) and
        effective phases ``(2, n_mzis)``, including insertion loss (no noise).

        Applied column by column: each column is a set of disjoint 2x2 blocks acting on
        neighbouring mode pairs, vectorised over the blocks and the batch. The arithmetic is
        done on real and imaginary parts (real kernels are much faster than complex ones on
        CPU); the result is returned as a complex tensor.
        """
        theta, phi = phases[0], phases[1]
        ct, st, cp, sp = torch.cos(theta), torch.sin(theta), torch.cos(phi), torch.sin(phi)
        half = 0.5 * 10 ** (-self._config.loss_db_per_mzi / 20)  # amplitude loss per MZI
        # Entries of T (module docstring), as (real, imaginary) pairs.
        t11 = _cmul(half * (ct - 1), half * st, cp, sp)
        t12 = (-half * st, half * (ct + 1))
        t21 = _cmul(*t12, cp, sp)
        t22 = (half * (1 - ct), -half * st)
        # Modes first, (N, n), real and imaginary parts apart: every 2x2 block then acts on
        # contiguous rows, so the per-column arithmetic, stacking and concatenation are fast.
        re = (amplitudes.real if amplitudes.is_complex() else amplitudes).T.to(ct.dtype)
        im = amplitudes.imag.T.to(ct.dtype) if amplitudes.is_complex() else torch.zeros_like(re)
        n = re.shape[1]
        for start, count, offset in self._columns:
            stop = start + 2 * count
            pr, pi = re[start:stop].reshape(count, 2, n), im[start:stop].reshape(count, 2, n)
            a, b = (pr[:, 0], pi[:, 0]), (pr[:, 1], pi[:, 1])
            blk = slice(offset, offset + count)
            w = [(t[0][blk, None], t[1][blk, None]) for t in (t11, t12, t21, t22)]
            top = _cadd(_cmul(*w[0], *a), _cmul(*w[1], *b))
            bot = _cadd(_cmul(*w[2], *a), _cmul(*w[3], *b))
            # Rows (top_0, bot_0, top_1, ...): side by side, then viewed as 2 * count rows.
            new_re = torch.cat((top[0], bot[0]), 1).view(2 * count, n)
            new_im = torch.cat((top[1], bot[1]), 1).view(2 * count, n)
            re = torch.cat((re[:start], new_re, re[stop:]))
            im = torch.cat((im[:start], new_im, im[stop:]))
        return torch.complex(re, im).T

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sample abs-max scaling to ``[-1, 1]``, placed on the input modes (then the
        reference), the other modes dark."""
        scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
        columns = [x / scale]
        r = self._config.reference_amplitude
        if r > 0:
            columns.append(torch.full((x.shape[0], 1), r, dtype=x.dtype))
        amplitudes = torch.zeros(x.shape[0], self.n_modes, dtype=x.dtype)
        amplitudes = amplitudes.index_copy(1, self._input_modes, torch.cat(columns, dim=1))
        return amplitudes, scale

    def _intensities(self, x: Tensor, effective: Tensor) -> tuple[Tensor, Tensor]:
        amplitudes, scale = self._encode(x)
        field = self.propagate(amplitudes, effective)[:, : self.out_features]
        return self.gain * (field.real.square() + field.imag.square()), scale

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        effective = self.effective_phases(self.phases)
        if self.phase_drift is not None:
            effective = effective + self.phase_drift
        if cfg.phase_noise > 0:
            noise = torch.randn(effective.shape, generator=self.generator)
            effective = effective + cfg.phase_noise * noise
        intensity, scale = self._intensities(x.float(), effective)
        if cfg.detector_noise > 0:
            noise = torch.randn(intensity.shape, generator=self.generator)
            intensity = intensity * (1 + cfg.detector_noise * noise)
        if cfg.adc_bits > 0:
            steps = 2**cfg.adc_bits - 1
            level = torch.round(torch.clamp(intensity / cfg.adc_range, 0.0, 1.0) * steps)
            intensity = level / steps * cfg.adc_range
        return (intensity * scale.pow(self._config.rescale_power)).float()

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """Exact noise-free model ``twin(x, params)``: wrapping, crosstalk, loss, detection and
        normalisation as in :meth:`measure`, without phase noise, detector noise or ADC.
        Differentiable with respect to ``x`` and ``params``; computes in their common dtype."""

        def model(x: Tensor, params: Tensor) -> Tensor:
            dtype = torch.promote_types(x.dtype, params.dtype)
            intensity, scale = self._intensities(
                x.to(dtype), self.effective_phases(params.to(dtype))
            )
            return intensity * scale.pow(self._config.rescale_power)

        return model

    # --- programming ----------------------------------------------------------------------------

    def _program(self, delta: Tensor) -> None:
        new = _quantise_phase(self.phases + delta.to(self.phases.dtype), self._config.phase_bits)
        changed = int((new != self.phases).sum())
        self.counters.device_writes += changed
        self.counters.programming_pulses += changed
        self.phases = new

    def _read_parameters(self) -> Tensor:
        # The set points are digital DAC codes: reading them back is exact.
        return self.phases.clone()

    # --- state ----------------------------------------------------------------------------------

    def _physical_state(self) -> dict[str, Tensor]:
        state = {"phases": self.phases.clone()}
        if self.phase_drift is not None:  # only when present: fault-free layout unchanged
            state["phase_drift"] = self.phase_drift.clone()
        return state

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.phases = state["phases"].clone()
        drift = state.get("phase_drift")
        self.phase_drift = drift.clone() if drift is not None else None
