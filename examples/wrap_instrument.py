"""Wrap a lab set-up's driver as a pnnkit substrate and train a network through it.

See docs/instrument.md. The "hardware" here is simulated: a fixed random scattering medium
between a spatial light modulator (the inputs, phases in [0, 1]) and a camera (the outputs,
intensities on a few regions of interest), with shot-like noise and a 1 ms exposure. Replace
``SimulatedOpticalSetup.measure`` with the calls to your own instruments.

Part 1 measures a batch through the wrapped driver and prints what the substrate counts.
Part 2 trains a one-unit network around the set-up with PIB on digits: the instrument (64 SLM
pixels -> 128 camera regions) is the unit's fixed physics, followed by a digital linear stage
that PIB trains from the *measured* camera output (route (b) of docs/pib.md); the set-up needs
no model. Default: 20 epochs; ``--small``: 3 epochs, a few seconds. It prints the test
accuracy (chance: 0.1).

Run: ``python examples/wrap_instrument.py [--small]``
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from pnnkit.data import load_dataset
from pnnkit.learning import make_rule, rule_config
from pnnkit.network import PhysicalNetwork, Unit
from pnnkit.physics import make_substrate
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


def measure_a_batch() -> None:
    """Part 1: wrap the driver, measure a batch, read the counters."""
    torch.manual_seed(0)
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


def train_through_the_setup(epochs: int, seed: int = 0) -> None:
    """Part 2: PIB trains a digital stage behind the instrument, on digits."""
    torch.manual_seed(seed)
    data = load_dataset("digits", seed=seed)
    setup = SimulatedOpticalSetup(pixels=data.num_features, rois=128, seed=seed)
    config = InstrumentConfig(timeout_s=5.0, retries=2, backoff_s=0.05, batch_size=256)
    width = 128
    with InstrumentSubstrate(
        data.num_features, width, measure_fn=setup.measure, config=config
    ) as instrument:
        stage = make_substrate("ideal", width, width, seed=seed)
        network = PhysicalNetwork([Unit(stage, "relu", instrument)], data.num_classes, seed=seed)

        def phases(x: torch.Tensor) -> torch.Tensor:
            """Standardised features -> SLM phases in [0, 1] (the range the set-up accepts)."""
            return torch.sigmoid(x)

        network.calibrate(phases(data.x_train[:512]))  # centre and scale each camera region
        batch_size = 256
        steps_per_epoch = math.ceil(len(data.y_train) / batch_size)
        rule = make_rule("pib", network, rule_config("pib"), total_steps=epochs * steps_per_epoch)
        shuffle = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            n = len(data.y_train)
            for index in torch.randperm(n, generator=shuffle).tensor_split(steps_per_epoch):
                rule.train_step(phases(data.x_train[index]), data.y_train[index])
        queries = instrument.counters.physical_queries
        accuracy = float((rule.predict(phases(data.x_test)) == data.y_test).float().mean())
        print(f"test accuracy {accuracy:.4f} through the set-up")
        print(f"instrument queries in training {queries} (calibration included)")
        print(f"driver calls {instrument.calls}, failed attempts {instrument.failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a short training run")
    args = parser.parse_args()
    measure_a_batch()
    train_through_the_setup(epochs=3 if args.small else 20)


if __name__ == "__main__":
    main()
