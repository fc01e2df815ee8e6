"""The measured substrate on a synthetic system whose truth is known: fit error, then training.

    python benchmarks/bench_measured.py [--seeds 0 1 2] [--epochs 30] [--out DIR]

1. Records a known noisy nonlinear system (``make_synthetic_recording``: 64 inputs, 64
   outputs, noise std 0.05) at 1,500 inputs near the digits data (training images of the seed-0
   split plus Gaussian jitter of 0.3), as a lab would record its set-up on the data it will
   process.
2. Fits the emulator and compares its held-out error and residual noise with the truth.
3. Trains PIB, readout-only and backprop-on-the-emulator through ``measured:PATH`` on digits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pnnkit.data import load_dataset
from pnnkit.data.recordings import make_synthetic_recording
from pnnkit.experiment.sweeps.bench import BenchConfig, run_bench
from pnnkit.physics.measured import MeasuredSubstrate
from pnnkit.results.format import bench_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/measured"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_dataset("digits", seed=0)
    rng = np.random.default_rng(0)
    base = data.x_train.numpy()[rng.integers(0, len(data.x_train), 1500)]
    inputs = base + 0.3 * rng.standard_normal(base.shape)
    path = args.out / "recording.npz"
    truth = make_synthetic_recording(path, 1500, 64, 64, noise=0.05, seed=0, inputs=inputs)
    report = MeasuredSubstrate.from_file(path).fit_report
    print(f"recording: {path} (1500 x 64 -> 64, noise std 0.05)")
    print(f"true noise-to-signal (mean over outputs): {np.mean(truth['noise_to_signal']):.4f}")
    print(f"emulator held-out relative RMSE (overall): {report['rel_rmse_overall']:.4f}")
    print(f"emulator held-out R^2 (overall):           {report['r2_overall']:.4f}")
    print(f"estimated residual noise std (mean):      {np.mean(report['residual_std']):.4f}")
    print(f"chosen width / ridge: {report['width']:.4g} / {report['ridge']:.4g}\n")
    config = BenchConfig(
        methods=["pib", "readout", "backprop"],
        substrates=[f"measured:{path}"],
        seeds=args.seeds,
        epochs=args.epochs,
        workers=args.workers,
        out=str(args.out),
    )
    result = run_bench(config)
    print(bench_table(result["cells"], result["skipped"]))


if __name__ == "__main__":
    main()
