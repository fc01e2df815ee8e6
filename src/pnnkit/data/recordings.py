"""Recordings of a measured physical system: the input/output pairs a lab applied and measured,
read from CSV or NPZ files for :class:`~pnnkit.physics.measured.MeasuredSubstrate`, and
synthetic recordings of a known system with known noise.

A recording is a CSV file (a header, columns ``x0 .. x{d-1}`` and ``y0 .. y{m-1}``; the prefixes
are settings) or an NPZ file with arrays ``x`` of shape ``(N, d)`` and ``y`` of shape
``(N, m)``. The files are read by the same readers as datasets (:func:`pnnkit.data.load_csv`'s
records and feature parsing, :func:`pnnkit.data.load_npz`'s safe archive loading).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from pnnkit.data._csv import parse_feature, read_records
from pnnkit.data.npz import read_arrays
from pnnkit.errors import ConfigError, DataError, first_flagged

#: fewest rows a recording may have
MIN_ROWS = 10


def load_recording(
    path: str | Path, *, x_prefix: str = "x", y_prefix: str = "y"
) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate a recording: ``(x, y)`` as float64 arrays ``(N, d)`` and ``(N, m)``.

    Raises :class:`DataError` naming the file and the problem (missing file, unknown format,
    missing or unexpected columns, non-numeric or non-finite values with their row and column,
    mismatched row counts, fewer than ``MIN_ROWS`` rows).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"recording {path} does not exist (or is not a file)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y = _read_npz(path)
    elif suffix == ".csv":
        x, y = _read_csv(path, x_prefix, y_prefix)
    else:
        raise DataError(f"recording {path}: unknown format {suffix!r}; use .csv or .npz")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"recording {path}: x has {x.shape[0]} rows but y has {y.shape[0]}")
    if x.shape[0] < MIN_ROWS:
        raise DataError(f"recording {path} has {x.shape[0]} rows; at least {MIN_ROWS} are needed")
    for name, array in (("x", x), ("y", y)):
        if (bad := first_flagged(~np.isfinite(array))) is not None:
            count, row, col = bad
            raise DataError(
                f"recording {path}: {count} NaN/Inf value(s) in {name}, first at "
                f"row {row}, column {name}{col}"
            )
    return x, y


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    arrays = read_arrays(path, f"recording {path}")
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(f"recording {path} lacks array(s) {missing}; it holds {sorted(arrays)}")
    out = []
    for name in ("x", "y"):
        array = arrays[name]
        if array.ndim != 2 or array.shape[1] < 1:
            raise DataError(
                f"recording {path}: array {name!r} must have shape (N, features), got {array.shape}"
            )
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise DataError(
                f"recording {path}: array {name!r} must be real numbers, got {array.dtype}"
            )
        out.append(array.astype(np.float64))
    return out[0], out[1]


def _columns(path: Path, header: list[str], prefix: str) -> list[int]:
    """Positions of the columns ``prefix0 .. prefix{k-1}`` in ``header``, in index order."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    found: dict[int, int] = {}
    for position, name in enumerate(header):
        match = pattern.match(name)
        if match:
            index = int(match.group(1))
            if index in found:
                raise DataError(f"recording {path}: column {name!r} appears twice")
            found[index] = position
    if not found:
        raise DataError(
            f"recording {path} has no {prefix}0, {prefix}1, ... columns; header: {header}"
        )
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise DataError(
            f"recording {path}: columns {[f'{prefix}{i}' for i in missing]} are missing "
            f"(the {prefix} columns must be numbered 0 .. {max(found)} without gaps)"
        )
    return [found[i] for i in range(len(found))]


def _read_csv(path: Path, x_prefix: str, y_prefix: str) -> tuple[np.ndarray, np.ndarray]:
    where = f"recording {path}"
    records = read_records(path)
    if not records:
        raise DataError(f"{where} is empty")
    header = [cell.strip() for cell in records[0][1]]
    x_cols, y_cols = _columns(path, header, x_prefix), _columns(path, header, y_prefix)
    shared = sorted(set(x_cols) & set(y_cols))
    if shared:
        raise DataError(
            f"{where}: column(s) {[header[i] for i in shared]} match both "
            f"x_prefix = {x_prefix!r} and y_prefix = {y_prefix!r}"
        )
    unexpected = [header[i] for i in sorted(set(range(len(header))) - set(x_cols) - set(y_cols))]
    if unexpected:
        raise DataError(
            f"{where}: unexpected column(s) {unexpected}; only {x_prefix}0.. and "
            f"{y_prefix}0.. columns are allowed (set x_prefix/y_prefix for other names)"
        )
    values = np.empty((len(records) - 1, len(header)), dtype=np.float64)
    for r, (line, row) in enumerate(records[1:]):
        if len(row) != len(header):
            raise DataError(f"{where}: row {line} has {len(row)} values for {len(header)} columns")
        for c, cell in enumerate(row):
            values[r, c] = parse_feature(cell, where, line, header[c])
    return values[:, x_cols], values[:, y_cols]


# --- a synthetic recording with known noise -----------------------------------------------------


def make_synthetic_recording(
    path: str | Path,
    n: int,
    in_features: int,
    out_features: int,
    *,
    noise: float,
    seed: int = 0,
    inputs: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write an NPZ recording of a known nonlinear system with known additive noise.

    The system is a saturating optical intensity response: a random mixing of the inputs,
    a ``tanh`` saturation, a second random mixing to output fields, and detection of the
    intensity ``y = |A tanh(B x + c)|^2 / sqrt(hidden)`` (non-negative, smooth), plus Gaussian
    noise of standard deviation ``noise``. Inputs are uniform in ``[-1, 1]``, or the rows of
    ``inputs`` (``(n, in_features)``: record the system where it will be used, as a lab
    records its set-up's response to the data it will process).

    Returns ``{"path", "noise", "signal_std" (per output std of the noise-free outputs),
    "noise_to_signal" (per output: noise / std of the noisy outputs)}``.
    """
    if n < 1 or in_features < 1 or out_features < 1 or noise < 0:
        raise ConfigError(
            f"make_synthetic_recording needs n, in_features, out_features >= 1 and noise >= 0, "
            f"got n={n}, {in_features}x{out_features}, noise={noise}"
        )
    rng = np.random.default_rng(seed)
    hidden = max(8, 2 * in_features)
    B = rng.normal(0, 1.5 / math.sqrt(in_features), (hidden, in_features))
    c = rng.normal(0, 0.3, hidden)
    A = rng.normal(0, 1.0, (out_features, hidden))
    if inputs is None:
        x = rng.uniform(-1, 1, (n, in_features))
    else:
        x = np.asarray(inputs, dtype=np.float64)
        if x.shape != (n, in_features):
            raise ConfigError(f"inputs has shape {x.shape}, expected {(n, in_features)}")
    field = np.tanh(x @ B.T + c) @ A.T
    clean = field**2 / math.sqrt(hidden)
    y = clean + rng.normal(0, noise, clean.shape) if noise > 0 else clean
    np.savez(path, x=x.astype(np.float64), y=y.astype(np.float64))
    return {
        "path": str(path),
        "noise": float(noise),
        "signal_std": clean.std(0),
        "noise_to_signal": noise / y.std(0),
    }
