"""Datasets: small built-in tables and user CSV files, split and standardised for training.

Everything here works offline: ``digits`` and ``iris`` ship inside scikit-learn, and ``csv:PATH``
reads a local file. Nothing is ever downloaded.

A dataset spec is one of

* ``digits`` -- 8x8 handwritten digits (1797 samples, 64 features, 10 classes), the default;
* ``iris`` -- Fisher's iris (150 samples, 4 features, 3 classes);
* ``csv:PATH`` -- a comma-separated file with a header row (see :func:`load_csv`).

:func:`load_dataset` splits the samples into a stratified train/test pair (every class keeps its
share in both) and, by default, standardises each feature to zero mean and unit variance using
statistics of the **training split only**, so no information leaks from the test split. A feature
that is constant on the training split is only centred (its scale is taken as 1), so it becomes
exactly zero on the training split and never produces NaN or Inf.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pnnkit.errors import ConfigError, DataError, ShapeError

__all__ = ["Dataset", "available_datasets", "load_csv", "load_dataset"]

_BUILTIN = ("digits", "iris")
_CSV_PREFIX = "csv:"
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset split into training and test tensors.

    Attributes:
        name: the spec it was loaded from (``digits``, ``iris``, ``csv:PATH``).
        x_train: float32 features of the training split, shape ``(n_train, d)``.
        y_train: int64 class ids ``0..C-1`` of the training split, shape ``(n_train,)``.
        x_test: float32 features of the test split, shape ``(n_test, d)``.
        y_test: int64 class ids of the test split, shape ``(n_test,)``.
        class_names: the original label of each class as text; index = class id.
        feature_names: one name per feature column.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        d = len(self.feature_names)
        splits = (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test))
        for split, x, y in splits:
            if x.dim() != 2 or x.shape[1] != d:
                raise ShapeError(
                    f"x_{split} must have shape (n, {d}) to match feature_names, "
                    f"got {tuple(x.shape)}"
                )
            if y.dim() != 1 or y.shape[0] != x.shape[0]:
                raise ShapeError(
                    f"y_{split} must have shape ({x.shape[0]},) to match x_{split}, "
                    f"got {tuple(y.shape)}"
                )

    @property
    def num_features(self) -> int:
        """Number of input features ``d``."""
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``."""
        return len(self.class_names)

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable description: name, split sizes, features and classes."""
        return {
            "name": self.name,
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "feature_names": list(self.feature_names),
            "class_names": list(self.class_names),
        }


def available_datasets() -> tuple[str, ...]:
    """The accepted dataset specs: ``("digits", "iris", "csv:PATH")``."""
    return (*_BUILTIN, _CSV_PREFIX + "PATH")


def load_dataset(
    spec: str,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    label_column: str | None = None,
    standardize: bool = True,
) -> Dataset:
    """Load a dataset by spec, split it (stratified, seeded) and optionally standardise it.

    Args:
        spec: ``digits``, ``iris`` or ``csv:PATH``.
        test_size: fraction of samples held out for testing, strictly between 0 and 1.
        seed: seeds the train/test split (same seed, same split).
        label_column: label column of a CSV file (see :func:`load_csv`); only for ``csv:`` specs.
        standardize: scale each feature to zero mean and unit variance with training-split
            statistics; features constant on the training split are only centred.

    Raises:
        DataError: unknown spec, unusable file, or a class with fewer than 2 samples.
        ConfigError: ``test_size`` outside (0, 1), a bad ``seed``, or ``label_column`` given for
            a built-in dataset.
    """
    _check_test_size(test_size)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed = {seed!r} is invalid: must be an integer in [0, 2**32)")
    if not isinstance(spec, str):
        raise DataError(f"dataset spec must be a string, got {spec!r}; {_accepted()}")

    if spec.startswith(_CSV_PREFIX):
        path = spec[len(_CSV_PREFIX) :].strip()
        if not path:
            raise DataError(f"dataset spec {spec!r} names no file; {_accepted()}")
        x, y, class_names, feature_names = load_csv(path, label_column=label_column)
        name = _CSV_PREFIX + path
    else:
        key = spec.strip().lower()
        if key not in _BUILTIN:
            raise DataError(f"unknown dataset {spec!r}; {_accepted()}")
        if label_column is not None:
            raise ConfigError(
                f"label_column = {label_column!r} is invalid: it applies only to csv: datasets, "
                f"not {key!r}"
            )
        x, y, class_names, feature_names = _load_builtin(key)
        name = key

    x_tr, x_te, y_tr, y_te = _split(x, y, class_names, test_size, int(seed), name)
    if standardize:
        x_tr, x_te = _standardise(x_tr, x_te)
    xt_tr = _to_float32(x_tr, feature_names, name)
    xt_te = _to_float32(x_te, feature_names, name)
    return Dataset(
        name=name,
        x_train=xt_tr,
        y_train=torch.from_numpy(np.ascontiguousarray(y_tr, dtype=np.int64)),
        x_test=xt_te,
        y_test=torch.from_numpy(np.ascontiguousarray(y_te, dtype=np.int64)),
        class_names=tuple(class_names),
        feature_names=tuple(feature_names),
    )


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
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            records = list(_records(stream, where))
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not valid UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataError(f"{where}: cannot read the file ({reason})") from None

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
            x[r, c] = _parse_feature(fields[i], where, line, header[i])

    y, class_names = _encode_labels(labels)
    if len(class_names) < 2:
        raise DataError(
            f"{where}: column {header[label_index]!r} has only one class ({class_names[0]!r}); "
            "classification needs at least 2"
        )
    return x, y, class_names, feature_names


# -- helpers -------------------------------------------------------------------------------------


def _accepted() -> str:
    return "accepted specs: " + ", ".join(available_datasets())


def _check_test_size(test_size: object) -> None:
    ok = (
        not isinstance(test_size, bool)
        and isinstance(test_size, int | float | np.integer | np.floating)
        and math.isfinite(float(test_size))
        and 0.0 < float(test_size) < 1.0
    )
    if not ok:
        raise ConfigError(
            f"test_size = {test_size!r} is invalid: must be a number strictly between 0 and 1"
        )


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


def _parse_feature(text: str, where: str, line: int, column: str) -> float:
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


def _load_builtin(key: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    from sklearn.datasets import load_digits, load_iris

    bunch = load_digits() if key == "digits" else load_iris()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    class_names = tuple(str(name) for name in bunch.target_names)
    feature_names = tuple(str(name) for name in bunch.feature_names)
    return x, y, class_names, feature_names


def _split(
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    test_size: float,
    seed: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y, minlength=len(class_names))
    for k, count in enumerate(counts):
        if count < 2:
            raise DataError(
                f"{name}: class {class_names[k]!r} has only {count} sample(s); every class needs "
                "at least 2 so the train/test split can be stratified"
            )
    n, num_classes = len(y), len(class_names)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_test < num_classes or n_train < num_classes:
        raise DataError(
            f"{name}: test_size = {test_size!r} puts {n_test} of {n} samples in the test split and "
            f"{n_train} in the training split; a stratified split needs at least one sample of "
            f"each of the {num_classes} classes in both"
        )
    try:
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=test_size, random_state=seed, stratify=y
        )
    except ValueError as exc:  # a split sklearn refuses that the checks above did not foresee
        raise DataError(f"{name}: cannot split into train and test sets ({exc})") from None
    return x_tr, x_te, y_tr, y_te


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both splits with the training split's mean and standard deviation (population)."""
    with np.errstate(all="ignore"):
        constant = np.all(x_train == x_train[:1], axis=0)
        mean = np.where(constant, x_train[0], x_train.mean(axis=0))
        std = np.where(constant, 1.0, x_train.std(axis=0))
        return (x_train - mean) / std, (x_test - mean) / std


def _to_float32(x: np.ndarray, feature_names: tuple[str, ...], name: str) -> torch.Tensor:
    with np.errstate(all="ignore"):
        x32 = np.ascontiguousarray(x, dtype=np.float32)
    finite = np.isfinite(x32)
    if not finite.all():
        bad = [feature_names[j] for j in np.flatnonzero(~finite.all(axis=0))]
        raise DataError(
            f"{name}: values of feature(s) {', '.join(map(repr, bad[:5]))} are too large to "
            "represent as float32 (after standardisation, if enabled)"
        )
    return torch.from_numpy(x32)
