"""Test-session settings, the tiers (everything under ``tests/integration/`` is marked
``slow``), and the shared fixtures (built by the modules of ``tests/fixtures/``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pnnkit.experiment import TrainConfig
from pnnkit.network import PhysicalNetwork
from tests.fixtures.configs import tiny_config as _tiny_config
from tests.fixtures.spies import SpySubstrate
from tests.fixtures.spies import batch as _batch
from tests.fixtures.spies import spy_network as _spy_network
from tests.fixtures.spies import tiny_network as _tiny_network

# The tests' tensors are tiny: one intra-op thread is faster, and on a busy machine (CI
# runners, parallel jobs) several threads contend and slow small matrix products tenfold.
torch.set_num_threads(1)

INTEGRATION = Path(__file__).resolve().parent / "integration"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The integration tier is the slow tier: `make test-fast` (``-m "not slow"``) skips it."""
    for item in items:
        if INTEGRATION in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def tiny_config(tmp_path: Path) -> Callable[..., TrainConfig]:
    """``tiny_config(**changes)``: a few steps per epoch on iris, writing under ``tmp_path``
    (``out=`` among the changes writes elsewhere)."""

    def make(**changes: Any) -> TrainConfig:
        return _tiny_config(changes.pop("out", tmp_path / "run"), **changes)

    return make


@pytest.fixture
def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """24 seeded samples of 6 features, 3 balanced classes."""
    return _batch()


@pytest.fixture
def tiny_network() -> Callable[..., PhysicalNetwork]:
    """``tiny_network(substrate="ideal", widths=(12, 8), in_features=6, classes=3, seed=0)``."""
    return _tiny_network


@pytest.fixture
def spy_network() -> Callable[..., PhysicalNetwork]:
    """``spy_network(widths=(12, 8), in_features=6, ...)``: units of
    :class:`~tests.fixtures.spies.SpySubstrate`, which record every measure and program call."""
    return _spy_network


@pytest.fixture
def spy_substrate() -> type[SpySubstrate]:
    """The recording substrate class, to build single spies of any shape."""
    return SpySubstrate
