"""Reading labelled tables from CSV files (see :func:`load_csv`)."""

from __future__ import annotations

import csv
import math
import os
import re
from typing import Any

import numpy as np

from pnnkit.errors import DataError

_INTEGER = re.compile(r"[+-]?[0-9]+")


def load_csv(
    path: str | os.PathLike[str], label_column: str | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Read a labelled table from a CSV file.

    The file must be UTF-8 text (a byte-order mark is fine), comma-separated, with a header row
    naming every column; quoted fields are handled by Python's :mod:`csv` module. Blank lines are
    skipped. One column holds the labels: ``label_column`` if given, otherwise a column named
    ``label`` if there is one, otherwise the last column. Every other column is a numeric feature;
    empty, non-numeric, NaN and infinite feature values are rejected.

    Labels may be any non-empty text. Class ids follow the sorted unique labels: numerically when
    every label is an integer (and no two spellings name the same integer, e.g. ``7`` and ``07``),
    else as strings. ``class_names`` keeps each label's text (stripped of surrounding spaces).

    Returns:
        ``(x, y, class_names, feature_names)``: float64 features ``(n, d)``, int64 class ids
        ``(n,)``, the label text of each class id, the feature column names.

    Raises:
        DataError: naming the file and, where it applies, the row (the line number in the file,
            the header being row 1), the column and the problem.
    """
    where = str(path)
    records = read_records(path)
    if not records:
        raise DataError(f"{where}: the file is empty (a header row naming the columns is required)")
    header_row, raw_header = records[0]
    header = [name.strip() for name in raw_header]
    _check_header(header, header_row, where)

    label_index = _label_index(header, label_column, where)
    feature_index = [i for i in range(len(header)) if i != label_index]
    feature_names = tuple(header[i] for i in feature_index)
    if not feature_names:
        raise DataError(
            f"{where}: no feature columns: the header has only the label column "
            f"{header[label_index]!r}; at least one numeric feature column is needed"
        )

    rows = records[1:]
    if not rows:
        raise DataError(f"{where}: no data rows after the header (row {header_row})")

    x = np.empty((len(rows), len(feature_index)), dtype=np.float64)
    labels: list[str] = []
    for r, (line, fields) in enumerate(rows):
        if len(fields) != len(header):
            raise DataError(
                f"{where}: row {line} has {len(fields)} field(s) but the header has "
                f"{len(header)} columns"
            )
        label = fields[label_index].strip()
        if not label:
            raise DataError(f"{where}: row {line}, column {header[label_index]!r}: empty label")
        labels.append(label)
        for c, i in enumerate(feature_index):
            x[r, c] = parse_feature(fields[i], where, line, header[i])

    y, class_names = _encode_labels(labels)
    if len(class_names) < 2:
        raise DataError(
            f"{where}: column {header[label_index]!r} has only one class ({class_names[0]!r}); "
            "classification needs at least 2"
        )
    return x, y, class_names, feature_names


def read_records(path: str | os.PathLike[str]) -> list[tuple[int, list[str]]]:
    """The non-blank records of a UTF-8 CSV file (a byte-order mark is fine) as
    ``(line_number, fields)``; :class:`DataError` naming the file when it cannot be read."""
    where = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            return list(_records(stream, where))
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not valid UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataError(f"{where}: cannot read the file ({reason})") from None
    except ValueError as exc:  # a path the system cannot take (a NUL byte in it)
        raise DataError(f"{where!r}: cannot read the file ({exc})") from None


def _records(stream: Any, where: str) -> Any:
    """Yield ``(line_number, fields)`` for each non-blank record; line = the record's first line."""
    reader = csv.reader(stream, skipinitialspace=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{where}: row {start}: malformed CSV ({exc})") from None
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield start, fields


def _check_header(header: list[str], line: int, where: str) -> None:
    for position, name in enumerate(header, start=1):
        if not name:
            raise DataError(f"{where}: row {line} (header): column {position} has an empty name")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{where}: row {line} (header): duplicate column name {name!r}")
        seen.add(name)


def _label_index(header: list[str], label_column: str | None, where: str) -> int:
    if label_column is None:
        return header.index("label") if "label" in header else len(header) - 1
    wanted = label_column.strip() if isinstance(label_column, str) else label_column
    if wanted not in header:
        present = ", ".join(repr(name) for name in header)
        raise DataError(f"{where}: label column {label_column!r} not found; columns: {present}")
    return header.index(wanted)


def parse_feature(text: str, where: str, line: int, column: str) -> float:
    """One feature value as a finite float; :class:`DataError` naming the row and column."""
    value = text.strip()
    if not value:
        raise DataError(f"{where}: row {line}, column {column!r}: empty feature value")
    try:
        number = float(value)
    except ValueError:
        raise DataError(
            f"{where}: row {line}, column {column!r}: non-numeric feature value {value!r}"
        ) from None
    if not math.isfinite(number):
        raise DataError(
            f"{where}: row {line}, column {column!r}: feature value {value!r} is not finite "
            "(NaN and infinity are not allowed)"
        )
    return number


def _encode_labels(labels: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    unique = sorted(set(labels))
    if all(_INTEGER.fullmatch(text) for text in unique):
        as_int = {text: int(text) for text in unique}
        if len(set(as_int.values())) == len(unique):
            unique.sort(key=as_int.__getitem__)
    ids = {text: k for k, text in enumerate(unique)}
    y = np.fromiter((ids[text] for text in labels), dtype=np.int64, count=len(labels))
    return y, tuple(unique)
