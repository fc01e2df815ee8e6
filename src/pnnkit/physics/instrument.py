"""A lab's own hardware as a substrate: any Python driver function, guarded.

The driver is a callable ``measure_fn(x) -> y`` that takes a batch of inputs as a float32 NumPy
array of shape ``(n, in_features)``, applies them to the set-up (SLM pixels, drive voltages,
laser amplitudes, ...) and returns the measurements as anything NumPy can turn into a float
array of shape ``(n, out_features)`` (a NumPy array, a list of lists, a torch tensor).
:class:`InstrumentSubstrate` wraps it in the substrate protocol and guards every call:

* **Validation** of what comes back: convertible to a float array, shape ``(n, out)``, no NaN
  or Inf, optionally inside ``[min_value, max_value]``. Failures raise
  :class:`~pnnkit.errors.MeasurementError` naming the problem.
* **Timeout**: each driver call runs in a worker thread and is given up after ``timeout_s``.
  A Python thread cannot be killed, so the abandoned call may go on running in the background
  until the driver returns; its result is discarded. The substrate then starts a fresh worker
  thread for the next attempt (it never queues behind a hung call), so a driver that may be
  called while an abandoned call is still running must tolerate that (or enforce its own
  timeout on the hardware link, which is better).
* **Retries with exponential backoff** (``retries`` more attempts, waiting ``backoff_s``,
  ``2 backoff_s``, ``4 backoff_s``, ...) on what is typically transient: an exception raised
  by the driver, a timeout, NaN/Inf in the values (a dropped frame, a read glitch). Never on a
  result that cannot be converted or has the wrong shape (a programming error: retrying would
  only repeat it) nor on a value outside ``[min_value, max_value]`` (a saturated detector or a
  mis-set gain is a condition of the set-up to fix, not a glitch). When all attempts fail, a
  ``MeasurementError`` says how many were made and what the last error was.
* **Batching and settling**: ``batch_size`` splits large batches into several driver calls
  (results concatenated in order); ``settle_s`` sleeps before every driver call.

Every failed attempt is counted in :attr:`InstrumentSubstrate.failures` (and driver calls in
:attr:`InstrumentSubstrate.calls`) for the run log; physical queries and passes are counted
by the base class as for any substrate. Nothing is programmable (``parameter_shape() == (0,)``)
and there is no model (:meth:`InstrumentSubstrate.twin` is ``None``): the instrument is a fixed
black box, trained around by a programmable stage after it (route (b) of docs/pib.md).

An instrument needs a Python callable, so it is built from Python, not by name from a config
file: ``make_substrate("instrument", ...)`` raises a ConfigError pointing at docs/instrument.md.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pnnkit.errors import ConfigError, MeasurementError, first_flagged
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register

#: what a driver is: a batch of inputs ``(n, in)`` float32 in, measurements ``(n, out)`` out
MeasureFn = Callable[[np.ndarray], Any]


class _RetryableError(MeasurementError):
    """A failed attempt worth repeating (driver exception, timeout, NaN/Inf)."""


@dataclass
class InstrumentConfig(SubstrateConfig):
    """Settings of :class:`InstrumentSubstrate`.

    Attributes:
        timeout_s: longest wait for one driver call, seconds (the call is then abandoned and
            counts as a failed attempt).
        retries: further attempts after a failed one (exceptions, timeouts, NaN/Inf values).
        backoff_s: wait before the first retry, seconds; doubled before each further retry.
        batch_size: most rows per driver call (0: the whole batch in one call).
        settle_s: sleep before every driver call, seconds (for hardware that must settle).
        min_value: smallest valid measured value (``None``: no lower bound).
        max_value: largest valid measured value (``None``: no upper bound).
    """

    timeout_s: float = 30.0
    retries: int = 2
    backoff_s: float = 0.5
    batch_size: int = 0
    settle_s: float = 0.0
    min_value: float | None = None
    max_value: float | None = None

    def validate(self) -> None:
        super().validate()
        self._require("timeout_s", self.timeout_s > 0, "> 0 (seconds)")
        self._require("retries", self.retries >= 0, "an integer >= 0")
        self._require("backoff_s", self.backoff_s >= 0, ">= 0 (seconds)")
        self._require("batch_size", self.batch_size >= 0, "an integer >= 0 (0: no splitting)")
        self._require("settle_s", self.settle_s >= 0, ">= 0 (seconds)")
        if self.min_value is not None and self.max_value is not None:
            self._require("max_value", self.max_value >= self.min_value, ">= min_value")


@register
class InstrumentSubstrate(Substrate[InstrumentConfig]):
    """A user's hardware driver behind the substrate protocol; see the module docstring.

    Use it as a context manager (or call :meth:`close`) to release the worker thread.
    """

    name = "instrument"
    linear = False
    exact_twin = False
    config_class = InstrumentConfig

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        measure_fn: MeasureFn | None = None,
        seed: int = 0,
        config: InstrumentConfig | None = None,
    ) -> None:
        if measure_fn is None:
            raise ConfigError(
                "an instrument substrate needs a Python callable measure_fn (the driver of "
                "your hardware), so it cannot be built by name from a config; build "
                "InstrumentSubstrate(in_features, out_features, measure_fn=...) in Python "
                "(see docs/instrument.md)"
            )
        if not callable(measure_fn):
            raise ConfigError(
                f"InstrumentSubstrate measure_fn must be callable, got {type(measure_fn).__name__}"
            )
        self.measure_fn = measure_fn
        super().__init__(in_features, out_features, seed=seed, config=config)

    def _build(self) -> None:
        """No physics to set up: the driver's bookkeeping starts empty."""
        #: failed attempts so far (exceptions, timeouts, invalid values), retried or not
        self.failures = 0
        #: driver calls made so far (attempts, including failed ones)
        self.calls = 0
        #: message of the most recent failed attempt, or None
        self.last_error: str | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # --- worker thread --------------------------------------------------------------------------

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="pnnkit-instrument"
            )
        return self._executor

    def _abandon_worker(self) -> None:
        """Drop a worker whose call timed out; the next attempt gets a fresh thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        """Release the worker thread (waits for nothing; a hung driver call is left behind)."""
        self._abandon_worker()

    def __enter__(self) -> InstrumentSubstrate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- measuring ------------------------------------------------------------------------------

    def _measure(self, x: Tensor) -> Tensor:
        batch = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        size = self._config.batch_size or max(batch.shape[0], 1)
        chunks = [self._measure_chunk(batch[i : i + size]) for i in range(0, batch.shape[0], size)]
        out = np.concatenate(chunks) if chunks else np.zeros((0, self.out_features))
        return torch.from_numpy(out).to(dtype=x.dtype, device=x.device)

    def _measure_chunk(self, batch: np.ndarray) -> np.ndarray:
        cfg = self._config
        attempts = cfg.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(batch)
            except _RetryableError as error:
                self._record_failure(error)
                if attempt == attempts:
                    raise MeasurementError(
                        f"instrument failed after {attempts} attempt(s) "
                        f"({cfg.retries} retries); last error: {error}"
                    ) from error
                time.sleep(cfg.backoff_s * 2 ** (attempt - 1))
            except MeasurementError as error:  # not worth repeating
                self._record_failure(error)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _record_failure(self, error: Exception) -> None:
        self.failures += 1
        self.last_error = str(error)

    def _attempt(self, batch: np.ndarray) -> np.ndarray:
        """One driver call on ``batch``: run with a timeout, then validate the result."""
        cfg = self._config
        if cfg.settle_s > 0:
            time.sleep(cfg.settle_s)
        self.calls += 1
        future = self._worker().submit(self.measure_fn, batch.copy())
        try:
            raw = future.result(timeout=cfg.timeout_s)
        except concurrent.futures.TimeoutError:
            self._abandon_worker()
            raise _RetryableError(
                f"driver call on {batch.shape[0]} row(s) timed out after {cfg.timeout_s} s"
            ) from None
        except Exception as error:
            raise _RetryableError(f"driver raised {type(error).__name__}: {error}") from error
        return self._validate(raw, batch.shape[0])

    def _validate(self, raw: Any, n: int) -> np.ndarray:
        if isinstance(raw, Tensor):
            raw = raw.detach().cpu().numpy()
        try:
            values = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise MeasurementError(
                f"driver returned a {type(raw).__name__} that is not convertible to a float "
                f"array: {error}"
            ) from None
        expected = (n, self.out_features)
        if values.shape != expected:
            raise MeasurementError(
                f"driver returned shape {values.shape}, expected {expected} "
                f"(rows = inputs in the call, columns = out_features)"
            )
        if (bad := first_flagged(~np.isfinite(values))) is not None:
            count, row, col = bad
            raise _RetryableError(
                f"driver returned {count} NaN/Inf value(s), first at row {row}, column {col}"
            )
        cfg = self._config
        low = None if cfg.min_value is None else first_flagged(values < cfg.min_value)
        if low is not None:
            _, row, col = low
            raise MeasurementError(
                f"driver returned {float(values[row, col])!r} at row {row}, column {col}, below "
                f"min_value = {cfg.min_value}"
            )
        high = None if cfg.max_value is None else first_flagged(values > cfg.max_value)
        if high is not None:
            _, row, col = high
            raise MeasurementError(
                f"driver returned {float(values[row, col])!r} at row {row}, column {col}, above "
                f"max_value = {cfg.max_value}"
            )
        return values

    # --- the protocol ---------------------------------------------------------------------------

    def parameter_shape(self) -> tuple[int, ...]:
        return (0,)

    def _program(self, delta: Tensor) -> None:
        """Nothing is programmable: an (empty) delta is a no-op."""

    def _read_parameters(self) -> Tensor:
        return torch.empty(0)

    def twin(self) -> None:
        """No model of the instrument is known."""
        return None

    def _physical_state(self) -> dict[str, Tensor]:
        return {
            "failures": torch.tensor(self.failures),
            "calls": torch.tensor(self.calls),
        }

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.failures = int(state.get("failures", 0))
        self.calls = int(state.get("calls", 0))
