"""Image datasets read from their standard raw files in a local folder, and an explicit downloader.

* MNIST (LeCun, Cortes and Burges, http://yann.lecun.com/exdb/mnist/) and Fashion-MNIST (Xiao,
  Rasul and Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist) come as four IDX
  files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
  ``t10k-labels-idx1-ubyte``, each optionally gzip-compressed (``.gz``). An IDX file is a 4-byte
  magic number (two zero bytes, a type code -- ``0x08`` = unsigned byte -- and the number of
  dimensions), one big-endian uint32 per dimension, then the values in row-major order.
* CIFAR-10 (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), "python version": the
  pickled batches ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` of the folder
  ``cifar-10-batches-py``; each holds a dict with ``data`` (uint8 ``(10000, 3072)``: the red, then
  green, then blue 32x32 plane, rows first) and ``labels`` (10000 ints). The pickles are read with
  an unpickler that only accepts the numpy array types they contain, so a tampered file cannot run
  code.

These datasets come with their own train/test split (60000/10000 and 50000/10000), which is kept.
Pixels are scaled to [0, 1] and images flattened to vectors. Nothing is ever downloaded unless
:func:`pnnkit.data.download.download_dataset` is called explicitly.
"""

from __future__ import annotations

import codecs
import gzip
import importlib
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pnnkit.errors import DataError

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "load_cifar10_folder",
    "load_idx_folder",
    "read_idx",
]

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = (*(f"data_batch_{k}" for k in range(1, 6)), "test_batch")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
MNIST_CLASSES = tuple(str(k) for k in range(10))

# IDX type codes -> big-endian numpy dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]


# -- IDX (MNIST, Fashion-MNIST) ------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzip-compressed when its name ends in ``.gz``) into a numpy array.

    Raises:
        DataError: naming the file: unreadable, not gzip, bad magic number, unknown type code,
            or a size that does not match the header (truncated or with trailing bytes).
    """
    where = str(path)
    try:
        if where.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            with open(path, "rb") as stream:
                raw = stream.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{where}: corrupted or truncated gzip data ({exc})") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataError(f"{where}: cannot read the file ({reason})") from None

    if len(raw) < 4:
        raise DataError(f"{where}: not an IDX file: {len(raw)} byte(s), the header alone needs 4")
    zero1, zero2, code, ndim = raw[:4]
    if zero1 or zero2 or code not in _IDX_TYPES or ndim == 0:
        raise DataError(
            f"{where}: not an IDX file: bad magic number {raw[:4].hex()} (expected 0000, a type "
            "code such as 08 for unsigned bytes, and the number of dimensions)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{where}: truncated IDX header: {ndim} dimension(s) need {header} bytes, "
            f"the file has {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have != expected:
        problem = "truncated" if have < expected else "has trailing bytes"
        raise DataError(
            f"{where}: IDX file {problem}: the header promises shape {tuple(dims)} "
            f"({expected} bytes of data), the file holds {have}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=False)


def find_idx(folder: Path, base: str) -> Path | None:
    """The IDX file ``base`` in ``folder``, plain or ``.gz`` (None when absent)."""
    for candidate in (folder / base, folder / (base + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_idx_folder(directory: str | os.PathLike[str], name: str = "mnist") -> Arrays:
    """Read MNIST or Fashion-MNIST from the four IDX files in ``directory``.

    Args:
        directory: the folder holding the files (plain or ``.gz``).
        name: ``mnist`` or ``fashion-mnist``; picks the class names and the error wording.

    Returns:
        ``(x_train, y_train, x_test, y_test, class_names, feature_names)``: float32 pixels in
        [0, 1], flattened to ``(n, rows * cols)``, int64 labels, the dataset's own split.

    Raises:
        DataError: missing files (listing exactly which files were expected), unreadable or
            corrupted files, or images and labels that do not fit together.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"{name}: {folder} is not a folder; {_expected_idx(name, folder)}")
    found = {base: find_idx(folder, base) for base in IDX_FILES}
    missing = [base for base, path in found.items() if path is None]
    if missing:
        raise DataError(
            f"{name}: missing file(s) in {folder}: "
            + ", ".join(f"{base}[.gz]" for base in missing)
            + f"; {_expected_idx(name, folder)}"
        )
    arrays = {base: read_idx(path) for base, path in found.items() if path is not None}
    splits = []
    for prefix in ("train", "t10k"):
        images_file = found[f"{prefix}-images-idx3-ubyte"]
        labels_file = found[f"{prefix}-labels-idx1-ubyte"]
        images = arrays[f"{prefix}-images-idx3-ubyte"]
        labels = arrays[f"{prefix}-labels-idx1-ubyte"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{images_file}: expected unsigned-byte images of shape (n, rows, cols), got "
                f"{images.dtype} data of shape {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(
                f"{labels_file}: expected unsigned-byte labels of shape (n,), got "
                f"{labels.dtype} data of shape {labels.shape}"
            )
        if len(labels) != len(images):
            raise DataError(
                f"{labels_file}: {len(labels)} labels for the {len(images)} images of {images_file}"
            )
        if len(images) == 0:
            raise DataError(f"{images_file}: holds no images")
        _check_labels(labels, labels_file)
        splits.append((images, labels))
    (train_images, train_labels), (test_images, test_labels) = splits
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"{name}: training images are {train_images.shape[1:]} pixels but test images are "
            f"{test_images.shape[1:]} (files in {folder})"
        )
    rows, cols = train_images.shape[1:]
    feature_names = tuple(f"pixel_{r}_{c}" for r in range(rows) for c in range(cols))
    class_names = FASHION_MNIST_CLASSES if name == "fashion-mnist" else MNIST_CLASSES
    return (
        _pixels(train_images),
        train_labels.astype(np.int64),
        _pixels(test_images),
        test_labels.astype(np.int64),
        class_names,
        feature_names,
    )


def _expected_idx(name: str, folder: Path) -> str:
    files = ", ".join(IDX_FILES)
    return (
        f"expected the four IDX files {files} (each optionally gzip-compressed, .gz) directly in "
        f"{folder}. pnnkit never downloads data unless asked: call "
        f"pnnkit.data.download_dataset({name!r}, {str(folder)!r}) (or use the command line's "
        "--download) on a machine with internet, or copy the files into that folder"
    )


# -- CIFAR-10 ------------------------------------------------------------------------------------


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: never runs code from the file."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("_codecs", "encode"),  # how Python 3 pickles the bytes inside an array (protocol 2)
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy":
            return getattr(np, name)
        if module == "_codecs":
            return codecs.encode
        for candidate in (module.replace("numpy.core", "numpy._core"), module):
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot find {module}.{name} in this numpy")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as stream:
            batch = _ArrayUnpickler(stream, encoding="bytes").load()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataError(f"{path}: cannot read the file ({reason})") from None
    except Exception as exc:  # any failure of the unpickler means the file is not a batch
        problem = f"{type(exc).__name__}: {exc}"
        raise DataError(f"{path}: not a CIFAR-10 python batch ({problem})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (holds {type(batch).__name__})")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        keys = ", ".join(repr(k) for k in batch)
        raise DataError(f"{path}: no 'data' and 'labels' entries (the batch has: {keys})")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: 'data' must be unsigned bytes of shape (n, 3072), got {data.dtype} "
            f"of shape {data.shape}"
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: 'labels' must be a list of integers 0..9") from None
    if labels.shape != (len(data),):
        raise DataError(f"{path}: {labels.size} labels for {len(data)} images")
    _check_labels(labels, path)
    return data, labels


def load_cifar10_folder(directory: str | os.PathLike[str]) -> Arrays:
    """Read CIFAR-10 from ``directory/cifar-10-batches-py`` or from ``directory`` itself.

    Returns:
        ``(x_train, y_train, x_test, y_test, class_names, feature_names)``: float32 pixels in
        [0, 1] of shape ``(n, 3072)`` (channel, row, column order, as stored), int64 labels, the
        dataset's own 50000/10000 split.

    Raises:
        DataError: missing files (listing them), unreadable or malformed batches.
    """
    root = Path(directory)
    folder = root / CIFAR10_FOLDER if (root / CIFAR10_FOLDER).is_dir() else root
    missing = [f for f in CIFAR10_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"cifar10: missing file(s) in {folder}: {', '.join(missing)}; expected the python "
            f"batches {', '.join(CIFAR10_FILES)} in {root / CIFAR10_FOLDER} or directly in "
            f"{root}. pnnkit never downloads data unless asked: call "
            f"pnnkit.data.download_dataset('cifar10', {str(root)!r}) (or use the command line's "
            "--download) on a machine with internet, or copy the extracted folder "
            f"{CIFAR10_FOLDER} of cifar-10-python.tar.gz into {root}"
        )
    train = [_read_cifar_batch(folder / f) for f in CIFAR10_FILES[:-1]]
    test_data, test_labels = _read_cifar_batch(folder / CIFAR10_FILES[-1])
    channels = ("red", "green", "blue")
    feature_names = tuple(f"{ch}_{r}_{c}" for ch in channels for r in range(32) for c in range(32))
    return (
        _pixels(np.concatenate([d for d, _ in train])),
        np.concatenate([labels for _, labels in train]),
        _pixels(test_data),
        test_labels,
        CIFAR10_CLASSES,
        feature_names,
    )


# -- helpers -------------------------------------------------------------------------------------


def _pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 vectors in [0, 1], one row per image."""
    flat = images.reshape(len(images), -1)
    out = flat.astype(np.float32)
    out /= 255.0
    return out


def _check_labels(labels: np.ndarray, where: object) -> None:
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataError(
            f"{where}: {bad.size} label(s) outside 0..9, the first at index {bad[0]} "
            f"(value {labels[bad[0]]})"
        )
