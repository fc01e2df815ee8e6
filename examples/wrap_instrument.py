"""Wrap a lab set-up's driver as a pnnkit substrate (see docs/instrument.md).

The "hardware" here is simulated: a fixed random scattering medium between a spatial light
modulator (the inputs, phases in [0, 1]) and a camera (the outputs, intensities on a few regions
of interest), with shot-like noise and a 1 ms exposure. Replace ``SimulatedOpticalSetup.measure``
with the calls to your own instruments.

Run: ``python examples/wrap_instrument.py``
"""

from __future__ import annotations

import time

import numpy as np
import torch

from pnnkit.physics.instrument import InstrumentConfig, InstrumentSubstrate


class SimulatedOpticalSetup:
    """SLM phases -> scattering medium -> camera intensities, with noise and an exposure."""

    def __init__(self, pixels: int, rois: int, *, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        # Complex Gaussian transmission matrix of the medium (fixed, unknown to the network).
        self.transmission = (
            rng.normal(size=(rois, pixels)) + 1j * rng.normal(size=(rois, pixels))
        ) / np.sqrt(2 * pixels)
        self.rng = rng
        self.exposure_s = 0.001

    def measure(self, x: np.ndarray) -> np.ndarray:
        """Display each row of ``x`` as SLM phases, expose, read the camera ROIs."""
        field_in = np.exp(2j * np.pi * x)  # phase-only modulation, (n, pixels)
        intensity = np.abs(field_in @ self.transmission.T) ** 2  # (n, rois)
        time.sleep(self.exposure_s)
        noise = 0.02 * np.sqrt(intensity) * self.rng.normal(size=intensity.shape)
        return np.clip(intensity + noise, 0.0, None)


def main() -> None:
    setup = SimulatedOpticalSetup(pixels=16, rois=8, seed=0)
    config = InstrumentConfig(timeout_s=2.0, retries=2, backoff_s=0.05, batch_size=32, min_value=0)
    with InstrumentSubstrate(16, 8, measure_fn=setup.measure, config=config) as instrument:
        x = torch.rand(100, 16)
        y = instrument.measure(x)
        print(f"inputs {tuple(x.shape)} -> measurements {tuple(y.shape)}, dtype {y.dtype}")
        print(f"mean intensity per ROI: {y.mean(0).numpy().round(3)}")
        print(f"counters: {instrument.counters.as_dict()}")
        print(f"driver calls: {instrument.calls} (batch_size 32), failed: {instrument.failures}")
        # Repeat one input to see the measurement noise of the set-up.
        repeat = instrument.measure(x[:1].repeat(50, 1))
        print(f"noise std over 50 repeats (first 3 ROIs): {repeat.std(0)[:3].numpy().round(4)}")


if __name__ == "__main__":
    main()
