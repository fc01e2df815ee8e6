"""The substrate contract, checked on every registered substrate, and every fault kind checked
against every substrate: it applies exactly where the substrate has the kind's capability.

Nothing here lists substrates or fault kinds: a new substrate module (registered) or fault kind
is picked up from the registries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from pnnkit.errors import ConfigError, MeasurementError, ShapeError
from pnnkit.faults import FAULT_KINDS, Fault
from pnnkit.physics import SUBSTRATES, Substrate
from pnnkit.physics.capabilities import EnergyBased, LinearStage
from tests.fixtures.substrates import IN_FEATURES, OUT_FEATURES, build

NAMES = sorted(SUBSTRATES)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture
def make(folder: Path) -> Iterator[Any]:
    """``make(name, seed=0)``: a fresh substrate; instruments are closed afterwards."""
    built: list[Substrate[Any]] = []

    def factory(name: str, seed: int = 0) -> Substrate[Any]:
        substrate = build(name, folder, seed=seed)
        built.append(substrate)
        return substrate

    yield factory
    for substrate in built:
        close = getattr(substrate, "close", None)
        if close is not None:
            close()


def inputs(n: int = 5, seed: int = 3) -> torch.Tensor:
    return torch.rand(n, IN_FEATURES, generator=torch.Generator().manual_seed(seed))


# --- the protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shapes_counters_and_no_autograd(make: Any, name: str) -> None:
    substrate = make(name)
    x = inputs().requires_grad_(True)
    out = substrate.measure(x)
    assert out.shape == (5, OUT_FEATURES)
    assert not out.requires_grad and out.grad_fn is None
    assert torch.isfinite(out).all()
    assert (substrate.counters.physical_queries, substrate.counters.passes) == (5, 1)
    params = substrate.read_parameters()
    assert tuple(params.shape) == substrate.parameter_shape()
    assert substrate.counters.parameter_reads == 1
    substrate.program(torch.zeros(substrate.parameter_shape()))
    json.dumps(substrate.describe())


@pytest.mark.parametrize("name", NAMES)
def test_the_seed_fixes_everything(make: Any, name: str) -> None:
    a, b = make(name, seed=7), make(name, seed=7)
    x = inputs()
    torch.testing.assert_close(a.read_parameters(), b.read_parameters(), rtol=0, atol=0)
    torch.testing.assert_close(a.measure(x), b.measure(x), rtol=0, atol=0)
    torch.testing.assert_close(a.measure(x), b.measure(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip_continues_exactly(make: Any, name: str) -> None:
    a = make(name, seed=1)
    x = inputs()
    a.measure(x)
    state = a.state_dict()
    b = make(name, seed=1)
    b.load_state_dict(state)
    assert b.counters == a.counters
    torch.testing.assert_close(a.measure(x), b.measure(x), rtol=0, atol=0)
    torch.testing.assert_close(a.read_parameters(), b.read_parameters(), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips_and_is_checked_on_load(make: Any, name: str) -> None:
    substrate = make(name)
    config = substrate.config()
    assert isinstance(config, substrate.config_class)
    assert type(config).from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="latency"):
        type(config).from_dict({**config.to_dict(), "latency": -1.0})
    state = substrate.state_dict()
    state["describe"] = {**state["describe"], "out_features": OUT_FEATURES + 1}
    with pytest.raises(ConfigError, match="does not match"):
        make(name).load_state_dict(state)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_shapes_and_non_finite_values_get_named_errors(make: Any, name: str) -> None:
    substrate = make(name)
    with pytest.raises(ShapeError, match=rf"\(n, {IN_FEATURES}\)"):
        substrate.measure(torch.rand(2, IN_FEATURES + 1))
    with pytest.raises(ShapeError):
        substrate.measure(torch.rand(IN_FEATURES))
    with pytest.raises(MeasurementError, match="NaN"):
        substrate.measure(torch.full((2, IN_FEATURES), float("nan")))
    with pytest.raises(ShapeError, match="must have shape"):
        substrate.program(torch.zeros(*substrate.parameter_shape(), 2))
    if substrate.read_parameters().numel():
        with pytest.raises(MeasurementError, match="NaN"):
            substrate.program(torch.full(substrate.parameter_shape(), float("nan")))
    assert substrate.counters.passes == 0


@pytest.mark.parametrize("name", NAMES)
def test_the_kind_of_layer_follows_the_capabilities(make: Any, name: str) -> None:
    substrate = make(name)
    assert substrate.linear == isinstance(substrate, LinearStage)
    assert substrate.energy_based == isinstance(substrate, EnergyBased)
    assert not (substrate.linear and substrate.energy_based)
    if isinstance(substrate, LinearStage):
        assert substrate.parameter_shape() == (OUT_FEATURES, IN_FEATURES + 1)
    if isinstance(substrate, EnergyBased):
        states = substrate.relax(inputs())
        assert [s.shape[1] for s in states] == substrate.layer_sizes
        assert substrate.layer_sizes[-1] == OUT_FEATURES
        contrast = substrate.energy_contrast(inputs(), states, states)
        assert tuple(contrast.shape) == substrate.parameter_shape()
        assert float(contrast.abs().max()) == 0.0


# --- faults by capability --------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_every_fault_kind_applies_to_some_registered_substrate(kind: str) -> None:
    cls = FAULT_KINDS[kind]
    expected = sorted(n for n, sub in SUBSTRATES.items() if issubclass(sub, cls.capability))
    assert cls.target_names() == expected
    assert expected, f"no registered substrate has the capability of fault {kind}"


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
@pytest.mark.parametrize("name", NAMES)
def test_a_fault_applies_exactly_where_its_capability_is(make: Any, name: str, kind: str) -> None:
    substrate = make(name)
    fault: Fault = FAULT_KINDS[kind](rate=0.05 if FAULT_KINDS[kind].process else 0.5)
    if isinstance(substrate, fault.capability):
        assert fault.supports(substrate)
        new = fault.apply(substrate, seed=4, before=None, after=1.0 if fault.process else None)
        assert new >= 0 and fault.affected(substrate) >= 0
        if not fault.process and kind != "read_bursts":
            assert new > 0 and fault.affected(substrate) == new
        assert substrate.measure(inputs()).shape == (5, OUT_FEATURES)
    else:
        assert not fault.supports(substrate)
        with pytest.raises(ConfigError, match=f"fault {kind} applies to .* not to a {name}"):
            fault.apply(substrate, seed=4)
