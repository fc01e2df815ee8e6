"""Free-space optics through a multiply scattering medium: optical random features.

Physics simulated (the set-up of the transmission-matrix experiments of Popoff et al., PRL
104:100601, 2010, used as an optical random-feature processor by Saade et al., ICASSP 2016, and
in LightOn's OPU):

* **Input on a spatial light modulator (SLM).** Each sample is first scaled by its own
  absolute maximum to ``x_s = x / max_i |x_i|`` in ``[-1, 1]`` (the abs-max scaling an input
  DAC applies; it keeps standardised features, up to about +-10, and non-negative ReLU outputs
  of any size inside the modulator's range; an all-zero sample stays zero). ``x_s`` is then
  written on the SLM, quantised to ``slm_bits``:

  - ``encoding = "phase"`` (default): unit amplitude, phase ``2 pi k / L`` with
    ``L = 2^slm_bits`` levels and ``k = round((1 + x_s) / 2 * (L - 1))``; unquantised this is
    ``pi (1 + x_s) (L - 1) / L``, in ``[0, 2 pi)``. The top level stops one step short of
    ``2 pi`` so that ``x_s = -1`` and ``x_s = +1`` stay distinct phases.
  - ``encoding = "amplitude"``: real amplitude ``(1 + x_s) / 2`` in ``[0, 1]``, quantised to
    ``L`` levels (a binary DMD or an amplitude SLM; ``x_s = 0`` is mid-grey).

* **Scattering.** The field on the camera is ``E_out = T E_in`` with a fixed complex Gaussian
  transmission matrix ``T`` (``out x in``), entries circular ``CN(0, 1 / in)``: the model
  Popoff et al. measured for a thick scattering layer (speckle with Rayleigh statistics). The
  medium is hidden: only :meth:`ScatteringMedium.twin` closes over it.
* **Camera.** Intensity ``|E_out|^2`` is converted to photoelectrons with mean
  ``photons_per_pixel * |E_out|^2 / c`` per pixel, where ``c = e_ref^2 * mean_j sum_i |T_ji|^2``
  is the expected intensity per pixel of a mid-grey input (``x_s = 0``: ``e_ref = 1`` for phase,
  ``1/2`` for amplitude encoding), a constant fixed by the medium at construction. Then Poisson
  shot noise, Gaussian read noise (``read_noise_electrons``), clipping at ``[0, full_well]``
  and an ADC of ``camera_bits`` over ``[0, full_well]``.
* **Output.** ``counts / photons_per_pixel``: about 1 on average (a speckle pattern is
  exponentially distributed, so individual pixels vary by about 1 around that), O(1) for the
  linear stage that follows.

* **Faults** (none by default; set by :mod:`pnnkit.faults` through the ``set_*`` /
  ``add_phase_drift`` hooks): dead SLM pixels emit no field, dead camera pixels read 0 and hot
  ones read full scale (saturated), and the medium can drift: ``T <- T exp(i phi)`` with a
  per-entry phase ``phi`` that the fault model grows as a random walk. Faults are hidden
  hardware changes: :meth:`ScatteringMedium.twin` stays the model of the healthy device.

Nothing is programmable (:meth:`ScatteringMedium.parameter_shape` is ``(0,)``): the medium is a
fixed non-linear random feature map, trained around by the linear stage after it (route (b) of
docs/pib.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.physics.capabilities import DetectorPixels, DriftingPhase, ModulatorPixels
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

ENCODINGS = ("phase", "amplitude")


@dataclass
class ScatteringConfig(SubstrateConfig):
    """SLM, medium and camera parameters of :class:`ScatteringMedium`.

    Attributes:
        encoding: how the scaled input is written on the SLM: ``"phase"`` (default; phase-only
            liquid-crystal SLMs are the usual modulator in transmission-matrix experiments,
            Popoff et al. 2010) or ``"amplitude"`` (a DMD or amplitude modulator, as in
            Saade et al. 2016).
        slm_bits: SLM resolution (8 bits: the 256 grey levels of common liquid-crystal SLMs).
        photons_per_pixel: mean detected photoelectrons per camera pixel for a mid-grey input
            (1000: a well-exposed but not saturated frame, about 10% of ``full_well``, shot
            noise about 3% rms).
        read_noise_electrons: camera read / dark noise, electrons rms (2.0: typical of scientific
            CMOS cameras, about 1-3 e-).
        full_well: saturation of a pixel, electrons (10000: typical of small-pixel sCMOS sensors;
            10 times the mean, so about e^-10 of an exponential speckle distribution saturates).
        camera_bits: ADC resolution over ``[0, full_well]`` (12 bits: common camera readout; one
            step is about 2.4 e-, comparable with the read noise).
    """

    encoding: str = "phase"
    slm_bits: int = 8
    photons_per_pixel: float = 1000.0
    read_noise_electrons: float = 2.0
    full_well: float = 10000.0
    camera_bits: int = 12

    def validate(self) -> None:
        super().validate()
        self._require("encoding", self.encoding in ENCODINGS, f"one of {list(ENCODINGS)}")
        self._require("slm_bits", 1 <= self.slm_bits <= 24, "an integer in [1, 24]")
        self._require("photons_per_pixel", self.photons_per_pixel > 0, "> 0 (electrons)")
        self._require("read_noise_electrons", self.read_noise_electrons >= 0, ">= 0 (electrons)")
        self._require("full_well", self.full_well > 0, "> 0 (electrons)")
        self._require("camera_bits", 1 <= self.camera_bits <= 32, "an integer in [1, 32]")


def abs_max_scale(x: Tensor) -> Tensor:
    """Scale every sample (row) by its largest absolute value into ``[-1, 1]``; zero rows stay
    zero. Differentiable (the gradient of the maximum goes to the arg-max entry)."""
    scale = x.abs().amax(dim=1, keepdim=True)
    return x / torch.where(scale > 0, scale, torch.ones_like(scale))


def slm_field(x: Tensor, encoding: str, bits: int, *, quantise: bool = True) -> Tensor:
    """The complex field an SLM of ``bits`` bits emits for input ``x`` (``(n, d)`` real).

    See the module docstring for the two encodings. With ``quantise=False`` the levels are
    continuous (the differentiable model); the result is complex with ``x``'s precision.
    """
    levels = 2**bits
    unit = (1 + abs_max_scale(x)) / 2  # in [0, 1]
    if encoding == "phase":
        step = unit * (levels - 1)
        if quantise:
            step = torch.round(step)
        return torch.polar(torch.ones_like(step), 2 * math.pi * step / levels)
    if encoding == "amplitude":
        if quantise:
            unit = torch.round(unit * (levels - 1)) / (levels - 1)
        return torch.complex(unit, torch.zeros_like(unit))
    raise ValueError(f"unknown encoding {encoding!r}")


@register
class ScatteringMedium(Substrate[ScatteringConfig], ModulatorPixels, DetectorPixels, DriftingPhase):
    """SLM -> fixed random transmission matrix -> camera; see the module docstring."""

    name = "scattering"
    config_class = ScatteringConfig
    linear = False
    exact_twin = True

    def _build(self) -> None:
        cfg = self._config
        # CN(0, 1/in): real and imaginary parts independent N(0, 1 / (2 in)).
        std = math.sqrt(0.5 / self.in_features)
        shape = (self.out_features, self.in_features)
        real = torch.randn(shape, generator=self.generator, dtype=torch.float64) * std
        imag = torch.randn(shape, generator=self.generator, dtype=torch.float64) * std
        self._transmission = torch.complex(real, imag)
        reference = 1.0 if cfg.encoding == "phase" else 0.25  # e_ref^2 of a mid-grey input
        self._norm = reference * self._transmission.abs().pow(2).sum(dim=1).mean()
        self._clear_faults()

    def _clear_faults(self) -> None:
        """No fault (no draw from any generator)."""
        self.slm_dead = torch.zeros(self.in_features, dtype=torch.bool)
        self.camera_dead = torch.zeros(self.out_features, dtype=torch.bool)
        self.camera_hot = torch.zeros(self.out_features, dtype=torch.bool)
        #: drift phase of every transmission-matrix entry, rad (None: no drift)
        self.medium_phase: Tensor | None = None

    # --- fault hooks (used by pnnkit.faults; masks are OR-ed into the present ones) -------------

    def set_dead_slm(self, mask: Tensor) -> None:
        """SLM pixels of ``mask`` (shape ``(in,)``) emit no field."""
        self.slm_dead |= mask

    def set_camera_defects(self, dead: Tensor | None = None, hot: Tensor | None = None) -> None:
        """Camera pixels (shape ``(out,)``) that read 0 (``dead``) or full scale (``hot``)."""
        if dead is not None:
            self.camera_dead |= dead
        if hot is not None:
            self.camera_hot |= hot

    def phase_drift_shape(self) -> tuple[int, ...]:
        """One drift phase per transmission-matrix entry: ``(out, in)``."""
        return (self.out_features, self.in_features)

    def drifted_phase(self) -> Tensor | None:
        return self.medium_phase

    def add_phase_drift(self, delta: Tensor) -> None:
        """Add ``delta`` (rad, shape ``(out, in)``) to the drift phase of the medium."""
        base = self.medium_phase if self.medium_phase is not None else 0.0
        self.medium_phase = (base + delta.to(torch.float64)).clone()

    # --- physics --------------------------------------------------------------------------------

    def _intensity(self, x: Tensor, *, quantise: bool, faults: bool = False) -> Tensor:
        """``|T E|^2 / c`` in ``x``'s precision (float64 for float64 inputs, else float32);
        with ``faults``, through dead SLM pixels and the drifted medium."""
        cfg = self._config
        real = torch.float64 if x.dtype == torch.float64 else torch.float32
        complex_dtype = torch.complex128 if real == torch.float64 else torch.complex64
        field = slm_field(x.to(real), cfg.encoding, cfg.slm_bits, quantise=quantise)
        transmission = self._transmission
        if faults and self.slm_dead.any():
            field = torch.where(self.slm_dead, torch.zeros_like(field), field)
        if faults and self.medium_phase is not None:
            transmission = transmission * torch.polar(
                torch.ones_like(self.medium_phase), self.medium_phase
            )
        out = field @ transmission.to(complex_dtype).T
        return out.abs().pow(2) / self._norm.to(real)

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        g = self.generator
        rate = self._intensity(x, quantise=True, faults=True).double() * cfg.photons_per_pixel
        electrons = torch.poisson(rate, generator=g)
        if cfg.read_noise_electrons > 0:
            noise = torch.randn(rate.shape, generator=g, dtype=torch.float64)
            electrons = electrons + cfg.read_noise_electrons * noise
        steps = 2**cfg.camera_bits - 1
        counts = torch.round(torch.clamp(electrons / cfg.full_well, 0.0, 1.0) * steps)
        if self.camera_dead.any() or self.camera_hot.any():
            counts = torch.where(self.camera_dead, torch.zeros_like(counts), counts)
            counts = torch.where(self.camera_hot, torch.full_like(counts, steps), counts)
        return (counts / steps * cfg.full_well / cfg.photons_per_pixel).to(torch.float32)

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The exact noise-free model: unquantised SLM, ``|T E|^2 / c``, no camera effects.

        Follows the input's precision (float64 in, float64 out); ``params`` is ignored (the
        medium has none)."""

        def scattering_twin(x: Tensor, params: Tensor) -> Tensor:
            return self._intensity(x, quantise=False)

        return scattering_twin

    # --- nothing to program ---------------------------------------------------------------------

    def parameter_shape(self) -> tuple[int, ...]:
        return (0,)

    def _program(self, delta: Tensor) -> None:
        """Nothing is programmable: no device is written (counters unchanged)."""

    def _read_parameters(self) -> Tensor:
        return torch.zeros(0)

    # --- state ----------------------------------------------------------------------------------

    _FAULT_STATE = ("slm_dead", "camera_dead", "camera_hot", "medium_phase")

    def _physical_state(self) -> dict[str, Tensor]:
        state = {"transmission": self._transmission.clone(), "norm": self._norm.clone()}
        # Fault state only when present, so fault-free checkpoints keep their old layout.
        for name in self._FAULT_STATE:
            value = getattr(self, name)
            if value is not None and (name == "medium_phase" or value.any()):
                state[name] = value.clone()
        return state

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self._transmission = state["transmission"].clone()
        self._norm = state["norm"].clone()
        self._clear_faults()
        for name in self._FAULT_STATE:
            if name in state:
                setattr(self, name, state[name].clone())
