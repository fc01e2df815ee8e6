"""Pulse-response recordings of memristive devices: the CSV format ``pnnkit device fit`` reads.

A recording is a CSV file with a header and the columns

* ``device`` -- a device's name or number (any non-empty text);
* ``cycle`` -- an integer numbering that device's up/down cycles (0, 1, ...);
* ``direction`` -- ``up`` (potentiating pulses) or ``down`` (depressing pulses);
* ``pulse`` -- ``0`` for the read before the train's first pulse, ``k`` for the read after
  its ``k``-th pulse; numbered ``0 .. n`` without gaps;
* ``conductance_us`` -- the conductance read, in microsiemens.

Each ``(device, cycle, direction)`` is one pulse train; every train must have the same number
of pulses (a rectangular recording). Rows may come in any order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pnnkit.data._csv import read_records
from pnnkit.errors import DataError

COLUMNS = ("device", "cycle", "direction", "pulse", "conductance_us")
DIRECTIONS = ("up", "down")


@dataclass(frozen=True)
class PulseTrains:
    """Conductances ``g[device, cycle, direction, pulse]`` in uS (direction 0: up, 1: down;
    pulse 0: the read before the train), and the devices' names."""

    g: np.ndarray
    devices: tuple[str, ...]

    @property
    def pulses(self) -> int:
        """Pulses per train."""
        return int(self.g.shape[3]) - 1


def write_pulses(path: str | Path, trains: PulseTrains) -> None:
    """Write ``trains`` as a pulse-response CSV (the format of the module docstring)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for d, name in enumerate(trains.devices):
            for c in range(trains.g.shape[1]):
                for s, direction in enumerate(DIRECTIONS):
                    for k, value in enumerate(trains.g[d, c, s]):
                        writer.writerow((name, c, direction, k, repr(float(value))))


def read_pulses(path: str | Path) -> PulseTrains:
    """Read and check a pulse-response CSV. Raises :class:`DataError` naming the file, the row
    (the line in the file) and the problem: a missing column, a bad value, a repeated or
    missing read, trains of different lengths, a device without both directions."""
    where = str(path)
    if not Path(path).is_file():
        raise DataError(f"pulse recording {where} does not exist (or is not a file)")
    records = read_records(path)
    if not records:
        raise DataError(f"{where}: the file is empty (a header naming {list(COLUMNS)} is needed)")
    header = [cell.strip() for cell in records[0][1]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; the header is {header}")
    at = {name: header.index(name) for name in COLUMNS}
    reads: dict[tuple[str, int, int, int], float] = {}
    for line, fields in records[1:]:
        if len(fields) != len(header):
            raise DataError(
                f"{where}: row {line} has {len(fields)} fields, the header {len(header)}"
            )
        device = fields[at["device"]].strip()
        direction = fields[at["direction"]].strip().lower()
        if not device:
            raise DataError(f"{where}: row {line}: empty device")
        if direction not in DIRECTIONS:
            raise DataError(
                f"{where}: row {line}: direction {fields[at['direction']]!r} must be up or down"
            )
        cycle = _integer(fields[at["cycle"]], where, line, "cycle")
        pulse = _integer(fields[at["pulse"]], where, line, "pulse")
        value = _conductance(fields[at["conductance_us"]], where, line)
        key = (device, cycle, DIRECTIONS.index(direction), pulse)
        if key in reads:
            raise DataError(f"{where}: row {line} repeats the read {_name(key)}")
        reads[key] = value
    if not reads:
        raise DataError(f"{where}: no data rows after the header")
    return _arrange(reads, where)


def _integer(text: str, where: str, line: int, column: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DataError(
            f"{where}: row {line}, column {column}: {text!r} is not an integer"
        ) from None
    if value < 0:
        raise DataError(f"{where}: row {line}, column {column}: {value} must be >= 0")
    return value


def _conductance(text: str, where: str, line: int) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise DataError(
            f"{where}: row {line}, column conductance_us: {text!r} is not a finite number >= 0"
        )
    return value


def _name(key: tuple[str, int, int, int]) -> str:
    device, cycle, direction, pulse = key
    return f"(device {device}, cycle {cycle}, {DIRECTIONS[direction]}, pulse {pulse})"


def _arrange(reads: dict[tuple[str, int, int, int], float], where: str) -> PulseTrains:
    devices = tuple(dict.fromkeys(key[0] for key in reads))
    cycles = max(key[1] for key in reads) + 1
    pulses = max(key[3] for key in reads) + 1
    if pulses < 3:
        raise DataError(f"{where}: trains of {pulses - 1} pulse(s); at least 2 are needed")
    g = np.full((len(devices), cycles, 2, pulses), np.nan)
    index = {name: i for i, name in enumerate(devices)}
    for (device, cycle, direction, pulse), value in reads.items():
        g[index[device], cycle, direction, pulse] = value
    gaps = np.argwhere(np.isnan(g))
    if len(gaps):
        d, c, s, k = (int(v) for v in gaps[0])
        raise DataError(
            f"{where}: {len(gaps)} read(s) missing, first {_name((devices[d], c, s, k))}: every "
            f"device needs up and down trains of {pulses - 1} pulses in cycles 0 .. {cycles - 1}"
        )
    return PulseTrains(g, devices)
