"""Issue 17, part 1: a recorded 20-port system trained behind a trainable pre-stage.

    python benchmarks/bench_encoding.py [--out DIR]

1. Records a known saturating system (``make_synthetic_recording``: 20 inputs, 20 outputs,
   4,000 inputs uniform in [-1, 1], noise std 0.05) and prints the measured substrate's fit
   report (held-out error, R^2, residual noise) as ``bench_measured.py`` does.
2. For digits (64 features) and iris (4 features), trains PIB, seed 0, through
   ``measured:PATH`` behind a trainable ``ideal`` pre-stage (``--pre-stage ideal``: features ->
   20 ports), one unit of 256. Each setting of :data:`CANDIDATES` is judged on the
   last epoch's validation accuracy (10% of the training split); the best (the first on a
   tie) is reported with its test accuracy, the only test figure the script prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from pnnkit.data.recordings import make_synthetic_recording
from pnnkit.experiment import TrainConfig, train
from pnnkit.physics.measured import MeasuredSubstrate

#: dataset -> candidate settings (batch size, PIB learning rate), all 60 epochs, hidden 256
CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "digits": [
        {"batch_size": b, "rule_options": {"lr": lr}} for b in (64, 128) for lr in (1e-3, 3e-3)
    ],
    "iris": [{"batch_size": 32, "rule_options": {"lr": lr}} for lr in (1e-3, 3e-3)],
}


def run(path: Path, dataset: str, out: Path, setting: dict[str, Any]) -> dict[str, Any]:
    config = TrainConfig(
        dataset=dataset,
        substrate=f"measured:{path}",
        pre_stage="ideal",
        hidden=[256],
        epochs=60,
        seed=0,
        out=str(out),
        **setting,
    )
    return train(config, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/encoding"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "recording.npz"
    truth = make_synthetic_recording(path, 4000, 20, 20, noise=0.05, seed=0)
    report = MeasuredSubstrate.from_file(path).fit_report
    print(f"recording: {path} (4000 x 20 -> 20, inputs uniform in [-1, 1], noise std 0.05)")
    print(f"true noise-to-signal (mean over outputs): {np.mean(truth['noise_to_signal']):.4f}")
    print(f"emulator held-out relative RMSE (overall): {report['rel_rmse_overall']:.4f}")
    print(f"emulator held-out R^2 (overall):           {report['r2_overall']:.4f}")
    print(f"estimated residual noise std (mean):      {np.mean(report['residual_std']):.4f}")
    print(f"chosen width / ridge: {report['width']:.4g} / {report['ridge']:.4g}\n")
    for dataset, candidates in CANDIDATES.items():
        runs = []
        for k, setting in enumerate(candidates):
            summary = run(path, dataset, args.out / f"{dataset}-{k}", setting)
            runs.append((summary["val_accuracy"], k, summary))
            print(f"{dataset} {setting}: validation {summary['val_accuracy']:.4f}")
        val, k, best = max(runs, key=lambda r: (r[0], -r[1]))
        print(
            f"{dataset}: chosen {candidates[k]} (validation {val:.4f}); "
            f"test accuracy {best['test_accuracy']:.4f}, physical queries "
            f"{best['physical_queries']}, unit1 fit R^2 "
            f"{best['substrate_reports']['unit1.measured']['r2_overall']:.4f}\n"
        )


if __name__ == "__main__":
    main()
