"""Labelled arrays from a NumPy ``.npz`` file (see :func:`load_npz`)."""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from pnnkit.data._csv import _encode_labels
from pnnkit.errors import DataError

__all__ = ["load_npz"]

_WHOLE = ("x", "y")
_SPLIT = ("x_train", "y_train", "x_test", "y_test")


def load_npz(
    path: str | os.PathLike[str],
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, tuple[str, ...], tuple[str, ...]
]:
    """Read labelled samples from an ``.npz`` file (as written by :func:`numpy.savez`).

    The file holds either ``x`` (features, ``(N, d)``) and ``y`` (labels, ``(N,)``), or a ready
    split ``x_train``, ``y_train``, ``x_test``, ``y_test`` (used when all four are present).
    Features must be real numbers (integers, floats or booleans) and finite; ``x`` with more than
    two dimensions, e.g. a stack of images ``(N, H, W)``, is flattened to ``(N, H * W)``. Labels are
    integers, whole-number floats or strings; class ids follow the sorted labels as in
    :func:`~pnnkit.data.load_csv`, over both splits together. Object (pickled) arrays are refused.

    Returns:
        ``(x, y, x_test, y_test, class_names, feature_names)``: float64 features and int64 class
        ids; ``x_test`` and ``y_test`` are None unless the file holds a split (then ``x``, ``y``
        are the training split).

    Raises:
        DataError: naming the file and the problem: unreadable, missing arrays (listing those
            present), wrong dimensions, non-finite values, mismatched lengths, one class only,
            a test split with a class the training split lacks.
    """
    where = str(path)
    arrays = read_arrays(path, where)
    names: tuple[str, ...]
    if all(name in arrays for name in _SPLIT):
        names = _SPLIT
    elif all(name in arrays for name in _WHOLE):
        names = _WHOLE
    else:
        wanted = _SPLIT if any(name in arrays for name in _SPLIT) else _WHOLE
        missing = ", ".join(repr(name) for name in wanted if name not in arrays)
        present = ", ".join(repr(name) for name in arrays) or "no arrays"
        raise DataError(
            f"{where}: missing array(s) {missing}; expected 'x' and 'y', or 'x_train', 'y_train', "
            f"'x_test' and 'y_test'; the file has: {present}"
        )

    parts = []
    for x_name, y_name in zip(names[::2], names[1::2], strict=True):
        x = _features(arrays[x_name], x_name, where)
        labels = _labels(arrays[y_name], y_name, where)
        if len(labels) != len(x):
            raise DataError(
                f"{where}: {y_name!r} has {len(labels)} label(s) but {x_name!r} has {len(x)} "
                "sample(s)"
            )
        parts.append((x, labels))
    if len(parts) == 2 and parts[0][0].shape[1] != parts[1][0].shape[1]:
        raise DataError(
            f"{where}: 'x_train' has {parts[0][0].shape[1]} features but 'x_test' has "
            f"{parts[1][0].shape[1]}"
        )
    y_all, class_names = _encode_labels([text for _, labels in parts for text in labels])
    if len(class_names) < 2:
        which = " and ".join(repr(y_name) for y_name in names[1::2])
        raise DataError(
            f"{where}: {which} hold only one class ({class_names[0]!r}); classification needs "
            "at least 2"
        )
    feature_names = tuple(f"x{j}" for j in range(parts[0][0].shape[1]))
    n_first = len(parts[0][1])
    unseen = sorted(set(y_all[n_first:].tolist()) - set(y_all[:n_first].tolist()))
    if unseen:
        listed = ", ".join(repr(class_names[k]) for k in unseen[:5])
        raise DataError(
            f"{where}: 'y_test' holds class(es) {listed} that 'y_train' never has, which no "
            "model can learn (do the two splits spell their labels the same way?)"
        )
    if len(parts) == 1:
        return parts[0][0], y_all, None, None, class_names, feature_names
    return parts[0][0], y_all[:n_first], parts[1][0], y_all[n_first:], class_names, feature_names


def read_arrays(path: str | os.PathLike[str], where: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, refusing pickled objects and damaged members;
    :class:`DataError` naming ``where`` and the problem."""
    _check_sizes(path, where)
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataError(f"{where}: cannot read the file ({reason})") from None
    except ValueError as exc:
        if "\0" in str(path):  # a path the system cannot take
            raise DataError(f"{where!r}: cannot read the file ({exc})") from None
        raise DataError(f"{where}: not an .npz file ({exc})") from None
    except (EOFError, zipfile.BadZipFile, TypeError) as exc:
        raise DataError(f"{where}: not an .npz file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{where}: holds a single array, not an .npz archive; save with "
            "numpy.savez(path, x=..., y=...)"
        )
    with archive:
        arrays: dict[str, np.ndarray] = {}
        for name in archive.files:
            try:
                arrays[name] = archive[name]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise DataError(
                        f"{where}: array {name!r} holds Python objects (pickled), which pnnkit "
                        "does not load; store numeric features and integer or string labels"
                    ) from None
                raise DataError(f"{where}: array {name!r} is unreadable ({exc})") from None
            except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as exc:
                raise DataError(
                    f"{where}: array {name!r} is corrupted ({type(exc).__name__}: {exc})"
                ) from None
            except MemoryError:
                raise DataError(f"{where}: array {name!r} is too large to load") from None
            if not isinstance(arrays[name], np.ndarray):  # numpy hands back raw bytes
                raise DataError(
                    f"{where}: member {name!r} of the archive is not NumPy array data (.npy)"
                )
        return arrays


#: errors a damaged member's header may raise while it is only being inspected
_HEADER_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, SyntaxError)


def _check_sizes(path: str | os.PathLike[str], where: str) -> None:
    """Refuse an archive member whose header claims more data than the member holds, before
    numpy allocates memory for it (a damaged or hostile header can claim terabytes). Members
    that cannot be inspected are left to the loader, which reports them."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return  # not a zip archive: np.load says what it is
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            try:
                with archive.open(info) as stream:
                    version = npy_format.read_magic(stream)
                    if version == (1, 0):
                        shape, _, dtype = npy_format.read_array_header_1_0(stream)
                    elif version == (2, 0):
                        shape, _, dtype = npy_format.read_array_header_2_0(stream)
                    else:
                        continue
                    available = info.file_size - stream.tell()
            except _HEADER_ERRORS:
                continue
            needed = math.prod(shape) * dtype.itemsize
            if not dtype.hasobject and needed > available:
                name = info.filename.removesuffix(".npy")
                raise DataError(
                    f"{where}: array {name!r} is damaged: its header claims shape {shape} "
                    f"({needed:,} bytes) but it holds {max(available, 0):,} bytes"
                )


def _features(x: np.ndarray, name: str, where: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{where}: array {name!r} must hold real numbers, got dtype {x.dtype} "
            "(complex, text and other kinds are not features)"
        )
    if x.ndim < 2:
        raise DataError(
            f"{where}: array {name!r} must have shape (N, d), got {x.ndim} dimension(s) {x.shape}"
        )
    if x.shape[0] == 0:
        raise DataError(f"{where}: array {name!r} holds no samples (shape {x.shape})")
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[1] == 0:
        raise DataError(f"{where}: array {name!r} has no features (shape {x.shape})")
    with np.errstate(all="ignore"):
        values = flat.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise DataError(
            f"{where}: array {name!r} has {int(bad.sum())} non-finite value(s) (NaN or "
            f"infinity), the first at row {first[0]}, column {first[1]}"
        )
    return values


def _labels(y: np.ndarray, name: str, where: str) -> list[str]:
    if y.ndim != 1:
        raise DataError(
            f"{where}: array {name!r} must have shape (N,), got {y.ndim} dimension(s) {y.shape}"
        )
    kind = y.dtype.kind
    if kind in "iu":
        return [str(v) for v in y.tolist()]
    if kind == "b":
        return [str(int(v)) for v in y.tolist()]
    if kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}: array {name!r} has {int(bad.sum())} non-finite label(s) (NaN or "
                f"infinity), the first at index {first}"
            )
        fractional = np.flatnonzero(y != np.round(y))
        if fractional.size:
            raise DataError(
                f"{where}: array {name!r} has {fractional.size} non-integer label(s), the first "
                f"at index {fractional[0]} ({y[fractional[0]]!r}); labels must be integers or "
                "strings"
            )
        return [str(int(v)) for v in y.tolist()]
    if kind in "US":
        texts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in y.tolist()]
        texts = [t.strip() for t in texts]
        empty = [i for i, t in enumerate(texts) if not t]
        if empty:
            raise DataError(
                f"{where}: array {name!r} has {len(empty)} empty label(s), the first at index "
                f"{empty[0]}"
            )
        return texts
    raise DataError(
        f"{where}: array {name!r} must hold integer or string labels, got dtype {y.dtype}"
    )
