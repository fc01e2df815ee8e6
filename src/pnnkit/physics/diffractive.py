"""A diffractive optical network: programmable phase masks separated by free space.

Physics simulated (the diffractive deep neural network of Lin et al., Science 361:1004, 2018,
with its masks made programmable, as on a phase-only SLM):

* **Input plane.** Each sample is scaled by its own absolute maximum to ``x_s`` in ``[-1, 1]``
  (abs-max scaling, robust to standardised features and to unbounded ReLU outputs; an all-zero
  sample stays zero), written as a real amplitude ``(1 + x_s) / 2`` quantised to ``input_bits``,
  on a ``grid x grid`` plane. The ``in_features`` values fill, in row-major order, the smallest
  square of pixels that holds them, centred on the plane; every other pixel is opaque.
* **Free-space propagation** between consecutive planes, a distance ``distance`` apart, by the
  angular spectrum method (Goodman, *Introduction to Fourier Optics*, ch. 3.10): the field is
  zero-padded by ``padding`` (2: a linear, not circular, convolution for the aperture), Fourier
  transformed, multiplied by ``H = exp(i k_z d)`` with ``k_z = sqrt(k^2 - k_x^2 - k_y^2)``, and
  transformed back. Evanescent components (``k_x^2 + k_y^2 >= k^2``) are dropped, and so are
  the spatial frequencies that would alias around the padded window (the band limit
  ``|f_x|, |f_y| < 1 / (lambda sqrt((2 d / S)^2 + 1))`` of Matsushima & Shimobaba, Opt. Express
  17:19662, 2009, ``S`` the padded width): those rays cannot reach the next aperture.
  Each plane has the same ``grid x grid`` aperture; light arriving outside it is lost.
* **Phase masks.** ``layers`` masks multiply the field by ``exp(i phi)``; ``phi`` has shape
  ``(layers, grid, grid)``, starts uniform over the modulator's levels, is held wrapped to
  ``[0, 2 pi)`` and quantised to ``phase_bits``. On every measurement each sample sees the
  phases plus independent Gaussian jitter of ``phase_noise`` rad rms (liquid-crystal flicker).
* **Detection.** After the last mask and one more propagation, the intensity ``|U|^2`` is
  summed over ``out_features`` square detector regions. The regions sit on a regular
  ``m x m`` lattice (``m = ceil(sqrt(out_features))``, filled row-major) of cells
  ``grid // m`` pixels wide, centred on the plane; each region is ``detector_size`` pixels wide,
  shrunk to the cell when the lattice is finer (so 256 outputs on the default 28-pixel grid use
  16 x 16 one-pixel detectors), centred in its cell.
* **Output.** Region intensities divided by a constant ``c``: the mean region intensity of a
  mid-grey input (``x_s = 0``) through the masks as built, computed once at construction (and
  saved with the state), so outputs are O(1) for the linear stage that follows. Then additive
  Gaussian detector noise of ``detector_noise`` times that mean level (a noise floor; outputs
  can therefore dip slightly below zero, as offset-subtracted detector readings do).

The programmable parameters are the phases (route (c) of docs/pib.md: no linear handle).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

TWO_PI = 2 * math.pi


@dataclass
class DiffractiveConfig(SubstrateConfig):
    """Geometry, modulator and detector parameters of :class:`DiffractiveStack`.

    Lengths are in metres. Lin et al. (2018) used 0.4 THz light (``lambda = 0.75 mm``), 0.4 mm
    pixels, 200 x 200 pixels (8 cm) per layer and 3 cm between layers. A single pixel diffracts
    into a half-angle ``asin(lambda / (2 pitch)) = 70 deg``, so at 3 cm it lights a width of
    about ``2 * 3 cm * tan(70 deg) = 16 cm``: every pixel reaches the whole next layer (their
    full-connectivity design rule, ``d tan(theta) ~ aperture``). The default grid here is 28
    pixels (11.2 mm), so the same rule gives a spacing of about 4 mm, not 3 cm: at 3 cm only
    rays within about 10 degrees of the axis would join two 11.2 mm apertures, and most light
    would be lost.

    Attributes:
        grid: pixels per side of every plane (28: enough for 8x8 or 16x16 inputs with a margin,
            small enough for fast batched FFTs on CPU).
        layers: number of phase masks (2: a small deep stack; Lin et al. used 5).
        wavelength: metres (0.75e-3, the 0.4 THz source of Lin et al. 2018).
        pixel_pitch: metres (0.4e-3, Lin et al. 2018; about 0.53 wavelengths, so nearly the
            whole sampled spectrum propagates).
        distance: spacing of consecutive planes (input, masks, detector), metres (4.2e-3: the
            connectivity rule ``distance * tan(asin(lambda / (2 pitch))) = grid * pitch`` at the
            defaults; rescale with ``grid``).
        padding: zero-padding factor of the field before each FFT (2: the padded window is
            twice the aperture, so the propagation is a linear convolution over the aperture).
        input_bits: resolution of the input amplitude modulator (8 bits, a common SLM/DMD
            grey-level depth).
        phase_bits: resolution of the programmable phase masks (8 bits: 256 levels, as on
            common liquid-crystal phase SLMs).
        phase_noise: per-measurement phase jitter of every pixel, rad rms (0.01: liquid-crystal
            flicker of well-driven SLMs is of order 0.01 rad).
        detector_size: side of each detector region in pixels (3), shrunk to the lattice cell
            when ``out_features`` needs more, smaller regions (see the module docstring).
        detector_noise: additive Gaussian detector noise, as a fraction of the mean region
            signal ``c`` (0.01: a 1% noise floor, typical of a photodiode or camera readout).
    """

    grid: int = 28
    layers: int = 2
    wavelength: float = 0.75e-3
    pixel_pitch: float = 0.4e-3
    distance: float = 4.2e-3
    padding: int = 2
    input_bits: int = 8
    phase_bits: int = 8
    phase_noise: float = 0.01
    detector_size: int = 3
    detector_noise: float = 0.01

    def validate(self) -> None:
        super().validate()
        self._require("grid", self.grid >= 2, "an integer >= 2")
        self._require("layers", self.layers >= 1, "an integer >= 1")
        self._require("wavelength", self.wavelength > 0, "> 0 (metres)")
        self._require("pixel_pitch", self.pixel_pitch > 0, "> 0 (metres)")
        self._require("distance", self.distance >= 0, ">= 0 (metres)")
        self._require("padding", 1 <= self.padding <= 8, "an integer in [1, 8]")
        self._require("input_bits", 1 <= self.input_bits <= 24, "an integer in [1, 24]")
        self._require("phase_bits", 1 <= self.phase_bits <= 24, "an integer in [1, 24]")
        self._require("phase_noise", 0 <= self.phase_noise <= math.pi, "in [0, pi] (rad)")
        self._require("detector_size", self.detector_size >= 1, "an integer >= 1")
        self._require("detector_noise", self.detector_noise >= 0, ">= 0")


def transfer_function(
    size: int, pixel_pitch: float, wavelength: float, distance: float, *, band_limit: bool = True
) -> Tensor:
    """Angular-spectrum transfer function ``(size, size)`` complex128, in FFT order.

    ``exp(i k_z distance)`` for propagating components, 0 for evanescent ones and, with
    ``band_limit``, for frequencies beyond the anti-aliasing limit of Matsushima & Shimobaba
    (2009) for a ``size * pixel_pitch`` window.
    """
    f = torch.fft.fftfreq(size, d=pixel_pitch, dtype=torch.float64)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    arg = 1.0 / wavelength**2 - fx**2 - fy**2
    keep = arg > 0
    if band_limit and distance > 0:
        df = 1.0 / (size * pixel_pitch)
        limit = 1.0 / (wavelength * math.sqrt((2 * df * distance) ** 2 + 1))
        keep = keep & (fx.abs() < limit) & (fy.abs() < limit)
    kz = TWO_PI * torch.sqrt(arg.clamp(min=0))
    return torch.polar(keep.to(torch.float64), kz * distance)


def propagate(field: Tensor, transfer: Tensor) -> Tensor:
    """Propagate complex fields ``(..., s, s)`` by a transfer function ``(s, s)`` (no padding)."""
    return torch.fft.ifft2(torch.fft.fft2(field) * transfer.to(field.dtype))


def _phase_of_level(level: Tensor, bits: int) -> Tensor:
    """The float32 phase of integer modulator levels (one rounding path for every write)."""
    return (level.to(torch.float64) * (TWO_PI / 2**bits)).to(torch.float32)


def _quantise_phase(phase: Tensor, bits: int) -> Tensor:
    """Wrap to ``[0, 2 pi)`` and round to the nearest of ``2^bits`` equally spaced levels."""
    levels = 2**bits
    step = torch.round(torch.remainder(phase.double(), TWO_PI) / TWO_PI * levels)
    return _phase_of_level(torch.remainder(step, levels), bits)


@register
class DiffractiveStack(Substrate[DiffractiveConfig]):
    """Input plane -> (free space -> phase mask) x layers -> free space -> detectors."""

    name = "diffractive"
    config_class = DiffractiveConfig
    linear = False
    exact_twin = True

    def _build(self) -> None:
        in_features, out_features = self.in_features, self.out_features
        cfg = self._config
        g = cfg.grid
        side = math.isqrt(in_features - 1) + 1  # smallest square holding the inputs
        if side > g:
            raise ConfigError(
                f"DiffractiveConfig.grid = {g} is invalid: must be >= {side} to hold "
                f"in_features = {in_features} on a square of pixels"
            )
        lattice = math.isqrt(out_features - 1) + 1
        if lattice > g:
            raise ConfigError(
                f"DiffractiveConfig.grid = {g} is invalid: must be >= {lattice} to hold "
                f"out_features = {out_features} detector regions"
            )
        # Input pixels: row-major on a centred side x side square.
        start = (g - side) // 2
        k = torch.arange(in_features)
        self._input_index = (start + k // side) * g + (start + k % side)
        # Detector regions: an m x m lattice of cells, a centred square region in each cell.
        cell = g // lattice
        size = min(cfg.detector_size, cell)
        origin = (g - lattice * cell) // 2 + (cell - size) // 2
        detectors = torch.zeros(out_features, g, g, dtype=torch.float64)
        for j in range(out_features):
            r, c = origin + (j // lattice) * cell, origin + (j % lattice) * cell
            detectors[j, r : r + size, c : c + size] = 1.0
        self._detectors = detectors.reshape(out_features, g * g)
        self._transfer = transfer_function(
            cfg.padding * g, cfg.pixel_pitch, cfg.wavelength, cfg.distance
        )
        levels = 2**cfg.phase_bits
        steps = torch.randint(levels, (cfg.layers, g, g), generator=self.generator)
        self.phases = _phase_of_level(steps, cfg.phase_bits)
        reference = self._optics(torch.zeros(1, in_features, dtype=torch.float64), self.phases)
        self._norm = reference.mean().clamp(min=1e-30)

    # --- physics --------------------------------------------------------------------------------

    def _optics(
        self, x: Tensor, phases: Tensor, *, input_bits: int | None = None, jitter: float = 0.0
    ) -> Tensor:
        """Unnormalised region intensities ``(n, out)`` in ``x``'s precision (float32 or 64).

        ``input_bits`` quantises the input amplitudes; ``jitter`` adds per-sample Gaussian
        phase noise (rad rms) drawn from the substrate's generator.
        """
        cfg = self._config
        g, n = cfg.grid, x.shape[0]
        real = torch.float64 if x.dtype == torch.float64 else torch.float32
        x = x.to(real)
        scale = x.abs().amax(dim=1, keepdim=True)
        amplitude = (1 + x / torch.where(scale > 0, scale, torch.ones_like(scale))) / 2
        if input_bits is not None:
            levels = 2**input_bits - 1
            amplitude = torch.round(amplitude * levels) / levels
        plane = x.new_zeros(n, g * g).index_add(1, self._input_index, amplitude)
        field = torch.complex(plane, torch.zeros_like(plane)).reshape(n, g, g)
        phi = phases.to(real).expand(n, *phases.shape)
        if jitter > 0:
            noise = torch.randn(phi.shape, generator=self.generator, dtype=torch.float32)
            phi = phi + jitter * noise.to(real)
        pad = (cfg.padding * g - g) // 2
        extra = cfg.padding * g - g - pad
        transfer = self._transfer.to(field.dtype)
        for layer in range(cfg.layers + 1):
            padded = F.pad(field, (pad, extra, pad, extra))
            field = propagate(padded, transfer)[:, pad : pad + g, pad : pad + g]
            if layer < cfg.layers:
                field = field * torch.polar(torch.ones_like(phi[:, layer]), phi[:, layer])
        intensity = field.abs().pow(2).reshape(n, g * g)
        return intensity @ self._detectors.to(real).T

    def _measure(self, x: Tensor) -> Tensor:
        cfg = self._config
        out = self._optics(x, self.phases, input_bits=cfg.input_bits, jitter=cfg.phase_noise)
        out = out / self._norm.to(out.dtype)
        if cfg.detector_noise > 0:
            noise = torch.randn(out.shape, generator=self.generator, dtype=out.dtype)
            out = out + cfg.detector_noise * noise
        return out.to(torch.float32)

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The exact noise-free model: unquantised input and phases, no jitter, no detector
        noise. Differentiable in ``x`` and ``params``; follows ``x``'s precision."""

        def diffractive_twin(x: Tensor, params: Tensor) -> Tensor:
            out = self._optics(x, params)
            return out / self._norm.to(out.dtype)

        return diffractive_twin

    # --- programming ----------------------------------------------------------------------------

    def parameter_shape(self) -> tuple[int, ...]:
        cfg = self._config
        return (cfg.layers, cfg.grid, cfg.grid)

    def _program(self, delta: Tensor) -> None:
        """Add ``delta`` (rad), wrap to ``[0, 2 pi)``, quantise to ``phase_bits``; pixels whose
        level did not change receive no write."""
        target = self.phases.double() + delta.double()
        new = _quantise_phase(target, self._config.phase_bits)
        changed = int((new != self.phases).sum())
        self.phases = new
        self.counters.device_writes += changed
        self.counters.programming_pulses += changed

    def _read_parameters(self) -> Tensor:
        return self.phases.clone()

    # --- state ----------------------------------------------------------------------------------

    def _physical_state(self) -> dict[str, Tensor]:
        return {"phases": self.phases.clone(), "norm": self._norm.clone()}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.phases = state["phases"].clone()
        self._norm = state["norm"].clone()
