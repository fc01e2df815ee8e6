"""Checks every physics substrate's test file shares (imported by those test files)."""

from __future__ import annotations

import torch

from pnnkit.physics import Substrate


def assert_twin_exact_when_quiet_and_close_when_noisy(
    quiet: Substrate, noisy: Substrate, x: torch.Tensor
) -> None:
    """With noise off the substrate measures exactly its twin; with its default noise it stays
    within 5% of it (relative norm) but is not identical; it is physics, not a linear stage."""
    model = quiet.twin()
    torch.testing.assert_close(quiet.measure(x), model(x, quiet.read_parameters()))
    z, m = model(x, noisy.read_parameters()), noisy.measure(x)
    assert float((m - z).abs().max()) > 0
    assert float((m - z).norm() / z.norm()) < 0.05
    assert quiet.exact_twin and not quiet.linear
