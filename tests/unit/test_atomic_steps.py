"""A bad measurement anywhere in a training step leaves no update behind.

Every rule measures before it writes (or takes its perturbations back), so when a substrate
returns NaN, Inf or an impossible value the step raises :class:`BadMeasurementError` with the
hardware and the optimiser states exactly as before: the training guard can skip the batch
without training on garbage or on half an update. Checked here for every rule that measures in
its step, for a glitch at every one of the step's measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from pnnkit.errors import BadMeasurementError, MeasurementError
from pnnkit.learning import make_rule, rule_config
from pnnkit.learning.multiview import MultiViewConfig, MultiViewPIB
from pnnkit.network import OUTLIER_SCALES, PhysicalNetwork, measured
from pnnkit.physics import Substrate, make_substrate

RANDOM_STREAMS = ("generator", "views")  # advance on a skipped step; they hold no learning


class Glitch:
    """Counts the measure calls of every substrate of a network and corrupts the chosen one."""

    def __init__(self, network: PhysicalNetwork, value: float) -> None:
        self.calls, self.target, self.value = 0, -1, value
        #: the substrate of every call since the count was last reset
        self.measured: list[str] = []
        for substrate in network.substrates():
            substrate._measure = self._wrap(substrate)  # type: ignore[method-assign]

    def _wrap(self, substrate: Substrate) -> Callable[[torch.Tensor], torch.Tensor]:
        measure = substrate._measure

        def glitching(x: torch.Tensor) -> torch.Tensor:
            out = measure(x)
            self.calls += 1
            self.measured.append(substrate.name)
            if self.calls - 1 == self.target:
                out = out.clone()
                out[0, 0] = self.value
            return out

        return glitching


def physical_state(network: PhysicalNetwork) -> list[dict[str, torch.Tensor]]:
    return [
        {k: v.clone() for k, v in s._physical_state().items() if isinstance(v, torch.Tensor)}
        for s in network.substrates()
    ]


def learning_state(value: Any, key: str = "") -> Any:
    """The rule's state without its random streams, tensors cloned (nested containers kept)."""
    if isinstance(value, dict):
        return {k: learning_state(v, k) for k, v in value.items() if k not in RANDOM_STREAMS}
    if isinstance(value, list | tuple):
        return [learning_state(v) for v in value]
    return value.clone() if isinstance(value, torch.Tensor) else value


def assert_same(a: Any, b: Any, atol: float) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k], atol)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_same(u, v, atol)
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)
    else:
        assert a == b


def network(substrate: str, seed: int = 0) -> PhysicalNetwork:
    net = PhysicalNetwork.build(substrate, 6, [8, 8], 3, seed=seed, stage="ideal")
    net.calibrate(torch.randn(32, 6, generator=torch.Generator().manual_seed(seed)))
    return net


# (method, substrate, rule options, tolerance): perturbation rules program a perturbation and
# its opposite, which restores an exact (ideal, mzi phase) parameter only up to float rounding.
CASES = [
    ("pib", "crossbar", {}, 0.0),
    ("hsic", "crossbar", {}, 0.0),
    ("ff", "crossbar", {}, 0.0),
    ("dfa", "crossbar", {}, 0.0),
    ("pat", "crossbar", {}, 0.0),
    ("readout", "crossbar", {}, 0.0),
    ("spsa", "ideal", {}, 1e-6),
    ("pib", "mzi", {"physics_lr": 1e-3}, 1e-6),
    ("spsa", "mzi", {"physics_lr": 1e-3}, 1e-6),
    ("multiview", "crossbar", {}, 0.0),
]


def make(method: str, substrate: str, options: dict[str, Any]) -> tuple[PhysicalNetwork, Any]:
    net = network(substrate)
    if method == "multiview":
        return net, MultiViewPIB(net, MultiViewConfig(augment="noise"), 20, image=None, seed=0)
    return net, make_rule(method, net, rule_config(method, options), 20)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e9])
@pytest.mark.parametrize(("method", "substrate", "options", "atol"), CASES)
def test_a_glitch_at_any_measurement_of_a_step_leaves_no_update(
    method: str, substrate: str, options: dict[str, Any], atol: float, value: float
) -> None:
    net, rule = make(method, substrate, options)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 6, generator=gen), torch.randint(0, 3, (24,), generator=gen)
    glitch = Glitch(net, value)
    rule.train_step(x, y)  # optimiser states become non-trivial
    calls = glitch.calls
    glitch.calls, glitch.measured = 0, []
    rule.train_step(x, y)
    assert glitch.calls == calls > 0, "every step measures the same number of times"
    # a digital stage has no physical range: any finite value is a possible output
    targets = [k for k, name in enumerate(glitch.measured) if value != 1e9 or name != "ideal"]
    if not targets:
        pytest.skip("only digital stages: no value is out of range")
    for target in targets:
        hardware = physical_state(net)
        readout = learning_state(net.readout.state_dict())
        state = learning_state(rule.state_dict())
        glitch.calls, glitch.target = 0, target
        with pytest.raises(BadMeasurementError):
            rule.train_step(x, y)
        assert_same(physical_state(net), hardware, atol)
        assert_same(learning_state(net.readout.state_dict()), readout, 0.0)
        assert_same(learning_state(rule.state_dict()), state, 0.0)
    glitch.target = -1
    rule.train_step(x, y)  # and training goes on
    assert all(torch.isfinite(t).all() for s in physical_state(net) for t in s.values())


def test_measured_names_the_substrate_and_the_problem() -> None:
    crossbar = make_substrate("crossbar", 4, 3, seed=0)
    x = torch.randn(5, 4)
    assert measured(crossbar, x).shape == (5, 3)
    limit = crossbar.output_limit(x)
    assert limit is not None and limit.shape == (5, 1)
    # the ADC's full scale is reached, never exceeded, by a saturating input
    big = torch.full((5, 4), 50.0)
    assert (crossbar.measure(big).abs() <= crossbar.output_limit(big)).all()
    crossbar._measure = lambda x: torch.full((x.shape[0], 3), float("nan"))  # type: ignore[method-assign]
    with pytest.raises(BadMeasurementError, match=r"crossbar substrate returned 15 NaN/Inf"):
        measured(crossbar, x)
    crossbar._measure = lambda x: torch.full((x.shape[0], 3), 1e6)  # type: ignore[method-assign]
    with pytest.raises(BadMeasurementError, match=r"crossbar.*full scale.*out of range"):
        measured(crossbar, x)


def test_an_outlier_of_calibrated_physics_is_refused_before_calibration_it_is_not() -> None:
    net = PhysicalNetwork.build("scattering", 6, [8], 3, seed=0, stage="ideal")
    unit = net.units[0]
    physics: Substrate = unit.physics  # type: ignore[assignment]
    honest = physics._measure
    physics._measure = lambda x: honest(x) * 0 + 1e7  # type: ignore[method-assign]
    unit.measure(torch.randn(4, 6))  # uncalibrated: raw units, nothing to compare with
    physics._measure = honest  # type: ignore[method-assign]
    net.calibrate(torch.randn(64, 6))
    scale = float(unit.p_scale.min())  # type: ignore[union-attr]
    physics._measure = lambda x: honest(x) + 2 * OUTLIER_SCALES * scale  # type: ignore[method-assign]
    with pytest.raises(BadMeasurementError, match=r"scattering.*outlier"):
        unit.measure(torch.randn(4, 6))


def test_a_wrong_shape_stays_a_plain_measurement_error() -> None:
    crossbar = make_substrate("crossbar", 4, 3, seed=0)
    crossbar._measure = lambda x: torch.zeros(x.shape[0], 2)  # type: ignore[method-assign]
    with pytest.raises(MeasurementError) as caught:
        measured(crossbar, torch.randn(5, 4))
    assert not isinstance(caught.value, BadMeasurementError)
