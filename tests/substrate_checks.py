"""Checks every physics substrate's test file shares, and how the contract tests build any
registered substrate (imported by those test files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pnnkit.data.recordings import make_synthetic_recording
from pnnkit.physics import SUBSTRATES, Substrate, make_substrate
from pnnkit.physics.instrument import InstrumentSubstrate
from pnnkit.physics.measured import MeasuredSubstrate

#: the shape every contract test builds substrates at (small, square-free, in != out)
IN_FEATURES, OUT_FEATURES = 4, 3


def assert_twin_exact_when_quiet_and_close_when_noisy(
    quiet: Substrate[Any], noisy: Substrate[Any], x: torch.Tensor
) -> None:
    """With noise off the substrate measures exactly its twin; with its default noise it stays
    within 5% of it (relative norm) but is not identical; it is physics, not a linear stage."""
    model = quiet.twin()
    assert model is not None
    torch.testing.assert_close(quiet.measure(x), model(x, quiet.read_parameters()))
    z, m = model(x, noisy.read_parameters()), noisy.measure(x)
    assert float((m - z).abs().max()) > 0
    assert float((m - z).norm() / z.norm()) < 0.05
    assert quiet.exact_twin and not quiet.linear


def _driver(x: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for a lab instrument's driver: ``tanh`` of a fixed mixing."""
    mixing = np.linspace(-1.0, 1.0, IN_FEATURES * OUT_FEATURES).reshape(IN_FEATURES, -1)
    return np.tanh(x @ mixing)


def build(name: str, folder: Path, *, seed: int = 0) -> Substrate[Any]:
    """The registered substrate ``name`` at ``IN_FEATURES x OUT_FEATURES``: by name with its
    default config, except for a recorded system (a synthetic recording in ``folder``) and an
    instrument (a Python driver, which no config can name)."""
    cls = SUBSTRATES[name]
    if issubclass(cls, MeasuredSubstrate):
        path = folder / "recording.npz"
        if not path.exists():
            make_synthetic_recording(path, 60, IN_FEATURES, OUT_FEATURES, noise=0.01, seed=1)
        return make_substrate(
            name, IN_FEATURES, OUT_FEATURES, seed=seed, config={"path": str(path), "folds": 2}
        )
    if issubclass(cls, InstrumentSubstrate):
        config = cls.config_class.from_dict({"retries": 0, "backoff_s": 0.0})
        return cls(IN_FEATURES, OUT_FEATURES, measure_fn=_driver, seed=seed, config=config)
    return make_substrate(name, IN_FEATURES, OUT_FEATURES, seed=seed)
