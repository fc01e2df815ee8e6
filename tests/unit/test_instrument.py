"""The instrument substrate: a user's driver function, validated, timed out and retried."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from pnnkit.errors import ConfigError, MeasurementError
from pnnkit.physics import make_substrate
from pnnkit.physics.instrument import InstrumentConfig, InstrumentSubstrate

FAST = {"timeout_s": 1.0, "retries": 2, "backoff_s": 0.001}
W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def good(x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ W) ** 2


def make(fn, **settings) -> InstrumentSubstrate:
    return InstrumentSubstrate(4, 3, measure_fn=fn, config=InstrumentConfig(**{**FAST, **settings}))


def test_good_driver_measures_and_counts():
    seen = []

    def driver(x):
        seen.append((x.dtype, x.shape))
        return good(x)

    with make(driver) as inst:
        x = torch.rand(5, 4)
        y = inst.measure(x)
        assert y.shape == (5, 3) and y.dtype == torch.float32
        torch.testing.assert_close(y, torch.from_numpy(good(x.numpy())))
        assert seen == [(np.float32, (5, 4))]
        assert inst.counters.physical_queries == 5 and inst.counters.passes == 1
        assert (inst.calls, inst.failures) == (1, 0)
        assert inst.twin() is None and not inst.linear and inst.parameter_shape() == (0,)
        inst.program(torch.empty(0))
        assert inst.read_parameters().shape == (0,)


def test_list_and_tensor_returning_drivers():
    with make(lambda x: good(x).tolist()) as inst:
        assert inst.measure(torch.rand(3, 4)).shape == (3, 3)
    with make(lambda x: torch.from_numpy(good(x))) as inst:
        assert inst.measure(torch.rand(2, 4, dtype=torch.float64)).dtype == torch.float64


def test_wrong_shape_is_not_retried():
    calls = []

    def driver(x):
        calls.append(1)
        return np.zeros((x.shape[0], 2))

    with make(driver) as inst, pytest.raises(MeasurementError, match=r"shape \(4, 2\).*\(4, 3\)"):
        inst.measure(torch.rand(4, 4))
    assert len(calls) == 1 and inst.failures == 1


def test_unconvertible_result_names_its_type():
    with make(lambda x: {"a": 1}) as inst, pytest.raises(MeasurementError, match="dict"):
        inst.measure(torch.rand(2, 4))
    strings = make(lambda x: [["a", "b", "c"]] * len(x))
    with strings, pytest.raises(MeasurementError, match=r"list.*not convertible"):
        strings.measure(torch.rand(2, 4))


def test_nan_once_then_good_is_retried():
    calls = []

    def driver(x):
        calls.append(1)
        y = good(x)
        if len(calls) == 1:
            y[1, 2] = np.nan
        return y

    with make(driver) as inst:
        y = inst.measure(torch.rand(3, 4))
        assert torch.isfinite(y).all()
        assert len(calls) == 2 and inst.failures == 1
        assert "NaN/Inf" in inst.last_error and "row 1, column 2" in inst.last_error


def test_always_raising_driver_fails_after_all_attempts():
    def driver(x):
        raise OSError("link down")

    with make(driver, retries=3) as inst:
        with pytest.raises(MeasurementError, match=r"4 attempt\(s\).*OSError: link down"):
            inst.measure(torch.rand(2, 4))
        assert inst.failures == 4 and inst.calls == 4
        assert inst.counters.passes == 0


def test_backoff_doubles():
    def driver(x):
        raise RuntimeError("busy")

    with make(driver, retries=2, backoff_s=0.05) as inst:
        start = time.perf_counter()
        with pytest.raises(MeasurementError):
            inst.measure(torch.rand(1, 4))
        assert time.perf_counter() - start >= 0.05 + 0.1


def test_timeout_gives_up_and_a_fresh_worker_serves_the_retry():
    calls = []
    release = threading.Event()

    def driver(x):
        calls.append(1)
        if len(calls) == 1:
            release.wait(2.0)  # hangs past the timeout
        return good(x)

    with make(driver, timeout_s=0.05) as inst:
        start = time.perf_counter()
        y = inst.measure(torch.rand(2, 4))
        assert time.perf_counter() - start < 1.0
        assert y.shape == (2, 3) and inst.failures == 1
        assert "timed out after 0.05 s" in inst.last_error
    release.set()


def test_driver_that_always_hangs_fails_with_the_timeout():
    release = threading.Event()
    inst = make(lambda x: release.wait(2.0), timeout_s=0.02, retries=1)
    with inst, pytest.raises(MeasurementError, match=r"2 attempt\(s\).*timed out"):
        inst.measure(torch.rand(2, 4))
    release.set()


def test_values_out_of_range_are_rejected_naming_the_value():
    def driver(x):
        y = good(x)
        y[1, 0] = 7.5
        return y

    with make(driver, max_value=5.0) as inst:
        with pytest.raises(MeasurementError, match=r"7\.5 at row 1, column 0.*max_value = 5"):
            inst.measure(torch.rand(3, 4))
        assert inst.calls == 1
    negative = make(lambda x: good(x) - 1, min_value=0.0)
    with negative, pytest.raises(MeasurementError, match=r"below min_value = 0\.0"):
        negative.measure(torch.rand(3, 4))


def test_batches_are_split_and_concatenated_in_order():
    sizes = []

    def driver(x):
        sizes.append(len(x))
        return good(x)

    with make(driver, batch_size=4, settle_s=0.001) as inst:
        x = torch.rand(10, 4)
        torch.testing.assert_close(inst.measure(x), torch.from_numpy(good(x.numpy())))
        assert sizes == [4, 4, 2]
        assert inst.counters.physical_queries == 10 and inst.counters.passes == 1


def test_state_round_trip_keeps_failure_counts():
    flaky = iter([RuntimeError("glitch")])

    def driver(x):
        error = next(flaky, None)
        if error:
            raise error
        return good(x)

    with make(driver) as inst:
        inst.measure(torch.rand(2, 4))
        state = inst.state_dict()
    with make(good) as other:
        other.load_state_dict(state)
        assert (other.failures, other.calls) == (1, 2)
        assert other.counters.physical_queries == 2


def test_needs_a_callable_and_valid_settings():
    with pytest.raises(ConfigError, match=r"Python callable.*docs/instrument\.md"):
        make_substrate("instrument", 4, 3)
    with pytest.raises(ConfigError, match="callable"):
        InstrumentSubstrate(4, 3, measure_fn=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout_s"):
        make(good, timeout_s=0.0)
    with pytest.raises(ConfigError, match="max_value"):
        make(good, min_value=1.0, max_value=0.0)
    with pytest.raises(ConfigError, match="retries"):
        InstrumentConfig.from_dict({"retries": -1})
