"""The project's own exceptions: every failure a user can cause names the problem.

The command line catches :class:`PnnkitError` and prints its message (no traceback), so any
error raised for bad input, bad data, a bad config value or misbehaving hardware must derive
from it.
"""

from __future__ import annotations

import os

import numpy as np


class PnnkitError(Exception):
    """Base class for all errors pnnkit raises on purpose."""


class ConfigError(PnnkitError, ValueError):
    """A configuration value is missing, of the wrong type, or outside its allowed range."""


class DataError(PnnkitError, ValueError):
    """A dataset or data file cannot be used (missing column, non-numeric value, NaN, ...)."""


class ShapeError(PnnkitError, ValueError):
    """A tensor handed to pnnkit has the wrong shape."""


class MeasurementError(PnnkitError, RuntimeError):
    """A physical substrate returned an unusable measurement (NaN, Inf, wrong shape, ...)."""


class BadMeasurementError(MeasurementError):
    """A measurement that came back with unusable *values* (NaN, Inf, out of range): a transient
    hardware glitch. Training guards skip the batch and count it; a wrong shape or a driver
    failure stays a plain :class:`MeasurementError` and stops the run."""


class CheckpointError(PnnkitError, RuntimeError):
    """A checkpoint or run folder is missing, truncated or does not match the run."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C. ``str(error)`` is the one line to show the user: where the
    run stopped and how to resume it; a command line exits with :attr:`exit_code` (130)."""

    exit_code = 130

    def __init__(
        self,
        message: str,
        run_dir: str | os.PathLike[str] | None = None,
        epoch: int = 0,
        batch: int = 0,
    ) -> None:
        super().__init__(message)  # defaults: rebuilt from its message when unpickled
        #: the run folder, the epoch in progress and the batches of it done when stopped
        self.run_dir, self.epoch, self.batch = run_dir, epoch, batch


class TooManyBadMeasurementsError(MeasurementError):
    """``max_bad_batches`` bad measurements in a row: the hardware is not glitching but
    failing. The run's checkpoint holds the last good state."""


def first_flagged(mask: np.ndarray) -> tuple[int, int, int] | None:
    """``(count, row, column)`` of the flagged entries of a 2-D boolean mask (the first one in
    row-major order), or ``None``: what error messages about bad values report."""
    if not mask.any():
        return None
    row, col = (int(i) for i in np.argwhere(mask)[0])
    return int(mask.sum()), row, col
