"""Splitting a dataset: the stratified train/test and validation splits (seeded streams apart
from each other) and the standardisation with the training split's statistics only."""

from __future__ import annotations

import math

import numpy as np

from pnnkit.errors import ConfigError, DataError


def check_test_size(test_size: object) -> None:
    """Raise :class:`ConfigError` unless ``test_size`` is a number strictly between 0 and 1."""
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


def check_val_fraction(val_fraction: object) -> None:
    """Raise :class:`ConfigError` unless ``val_fraction`` is a number in [0, 1)."""
    ok = (
        not isinstance(val_fraction, bool)
        and isinstance(val_fraction, int | float | np.integer | np.floating)
        and math.isfinite(float(val_fraction))
        and 0.0 <= float(val_fraction) < 1.0
    )
    if not ok:
        raise ConfigError(
            f"val_fraction = {val_fraction!r} is invalid: must be a number in [0, 1) "
            "(0 turns the validation split off)"
        )


#: the validation split is drawn from its own stream of the seed, apart from the test split's
_VAL_STREAM = 1


def val_random_state(seed: int) -> int:
    """The ``random_state`` of the validation split of ``seed``: derived from the seed, but a
    stream apart from the train/test split's (which uses ``seed`` itself)."""
    return int(np.random.SeedSequence([seed, _VAL_STREAM]).generate_state(1)[0])


def split_validation(
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    val_fraction: float,
    seed: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carve a stratified validation split out of the training split ``(x, y)``:
    ``(x_train, x_val, y_train, y_val)``. Every class of the training split must keep at
    least one sample on each side, or a :class:`DataError` names the counts and classes."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y, minlength=len(class_names))
    present = np.flatnonzero(counts)
    n = len(y)
    n_val = math.ceil(val_fraction * n)
    n_rest = n - n_val

    def refuse(detail: str) -> DataError:
        return DataError(
            f"{name}: val_fraction = {val_fraction!r} puts {n_val} of the {n} training samples "
            f"in the validation split and {n_rest} in the training split; every one of the "
            f"{len(present)} classes of the training split needs at least one sample in both "
            f"({detail}); choose another val_fraction, use more data, or set val_fraction = 0"
        )

    scarce = [k for k in present if counts[k] < 2]
    if scarce:
        listed = ", ".join(f"{class_names[k]!r}" for k in scarce[:10])
        raise refuse(f"class(es) {listed} have a single training sample")
    if n_val < len(present) or n_rest < len(present):
        raise refuse(f"{min(n_val, n_rest)} samples cannot hold {len(present)} classes")
    try:
        x_tr, x_va, y_tr, y_va = train_test_split(
            x, y, test_size=n_val, random_state=val_random_state(seed), stratify=y
        )
    except ValueError as exc:  # a split sklearn refuses that the checks above did not foresee
        raise refuse(f"scikit-learn: {exc}") from None
    for part, labels in (("validation", y_va), ("training", y_tr)):
        missing = sorted(set(present.tolist()) - set(np.unique(labels).tolist()))
        if missing:
            listed = ", ".join(f"{class_names[k]!r}" for k in missing[:10])
            raise refuse(f"class(es) {listed} got no sample in the {part} split")
    return x_tr, x_va, y_tr, y_va


def split_train_test(
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    test_size: float,
    seed: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified train/test split ``(x_train, x_test, y_train, y_test)`` of ``test_size``
    seeded by ``seed``; every class needs at least one sample on each side, or a
    :class:`DataError` names the counts and classes."""
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


def standardise(x_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale the training split and the ``others`` (validation, test) with the training split's
    mean and standard deviation (population).

    A feature whose magnitudes are extreme (above 1e150 or below 1e-150, where the squares in
    the variance overflow or underflow in float64) is first divided by its largest magnitude,
    so that its statistics stay finite and non-zero; other features are untouched."""
    with np.errstate(all="ignore"):
        constant = np.all(x_train == x_train[:1], axis=0)
        largest = np.max(np.abs(x_train), axis=0)
        extreme = np.isfinite(largest) & ((largest > 1e150) | ((largest < 1e-150) & (largest > 0)))
        scale = np.where(extreme, largest, 1.0)
        x_train = x_train / scale
        mean = np.where(constant, x_train[0], x_train.mean(axis=0))
        std = np.where(constant, 1.0, x_train.std(axis=0))
        return ((x_train - mean) / std, *((x / scale - mean) / std for x in others))
