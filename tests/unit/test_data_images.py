"""Image datasets from local folders (IDX, CIFAR-10) and the explicit downloader."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import pnnkit.data.download as download
import pnnkit.data.images as images
from pnnkit.data import download_dataset, load_dataset, read_idx
from pnnkit.errors import DataError

# -- IDX folders (MNIST, Fashion-MNIST) ----------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, code: int = 0x08) -> Path:
    data = idx_bytes(array, code)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def tiny_mnist(folder: Path, *, gz: bool = False, n_train: int = 20, n_test: int = 10) -> None:
    """Images whose pixel (0, 0) is 10 * label and whose pixel (1, 2) is 255."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        pictures = np.zeros((n, 4, 3), dtype=np.uint8)
        pictures[:, 0, 0] = labels * 10
        pictures[:, 1, 2] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", pictures, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_folder_reads_idx_files(tmp_path: Path, gz: bool) -> None:
    tiny_mnist(tmp_path / "m", gz=gz)
    ds = load_dataset(f"mnist:{tmp_path / 'm'}", test_size=0.9, standardize=False)
    assert ds.name == f"mnist:{tmp_path / 'm'}"
    assert ds.x_train.shape == (20, 12) and ds.x_test.shape == (10, 12)  # own split kept
    assert ds.feature_names[:4] == ("pixel_0_0", "pixel_0_1", "pixel_0_2", "pixel_1_0")
    assert ds.class_names == tuple(str(k) for k in range(10))
    assert ds.y_train.tolist() == [k % 10 for k in range(20)]
    assert torch.allclose(ds.x_train[:, 0], ds.y_train.float() * 10 / 255)
    assert torch.all(ds.x_train[:, 5] == 1.0)  # pixel (1, 2) = 255 -> 1.0


def test_fashion_mnist_class_names_and_standardisation(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    ds = load_dataset(f"fashion-mnist:{tmp_path}")
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert torch.allclose(ds.x_train[:, 0].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.all(ds.x_train[:, 5] == 0.0)  # constant on train: only centred


def test_mixed_plain_and_gz_files(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    plain = tmp_path / "t10k-images-idx3-ubyte"
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    assert load_dataset(f"mnist:{tmp_path}").x_test.shape == (10, 12)


def test_missing_idx_files_are_listed(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as info:
        load_dataset(f"mnist:{tmp_path}")
    message = str(info.value)
    assert "missing file(s)" in message and "t10k-labels-idx1-ubyte[.gz]" in message
    assert "never downloads" in message and str(tmp_path) in message
    for name in images.IDX_FILES:
        assert name in message


def test_empty_or_absent_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_dataset(f"mnist:{tmp_path}")
    with pytest.raises(DataError, match="not a folder"):
        load_dataset(f"fashion-mnist:{tmp_path / 'nowhere'}")


@pytest.mark.parametrize("spec", ["mnist:", "fashion-mnist: ", "cifar10:", "npz:"])
def test_prefix_without_location(spec: str) -> None:
    with pytest.raises(DataError, match="names no"):
        load_dataset(spec)


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError) as info:
        load_dataset(f"mnist:{tmp_path}")
    assert "train-images-idx3-ubyte" in str(info.value) and "truncated" in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    tiny_mnist(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz"):
        load_dataset(f"mnist:{tmp_path}")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "not an IDX file"),
        (b"\x00\x00", "not an IDX file"),
        (b"PK\x03\x04rest", "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (idx_bytes(np.zeros((2, 2), np.uint8)) + b"\x00", "trailing bytes"),
    ],
)
def test_malformed_idx(tmp_path: Path, raw: bytes, problem: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(raw)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert "bad-idx" in str(info.value) and problem in str(info.value)


def test_read_idx_other_types(tmp_path: Path) -> None:
    shorts = np.array([[-300, 2], [7, 30000]], dtype=np.int16)
    assert np.array_equal(read_idx(write_idx(tmp_path / "s", shorts, code=0x0B)), shorts)
    floats = np.array([1.5, -2.25], dtype=np.float32)
    assert np.array_equal(read_idx(write_idx(tmp_path / "f", floats, code=0x0D, gz=True)), floats)


def test_not_gzip_data_in_a_gz_file(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match=r"x\.gz"):
        read_idx(path)


def test_idx_label_problems(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(19, dtype=np.uint8) % 10)
    with pytest.raises(DataError, match="19 labels for the 20 images"):
        load_dataset(f"mnist:{tmp_path}")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(20, 12, dtype=np.uint8))
    with pytest.raises(DataError, match=r"outside 0\.\.9.*index 0"):
        load_dataset(f"mnist:{tmp_path}")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((20, 1), dtype=np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*shape \(n,\)"):
        load_dataset(f"mnist:{tmp_path}")


def test_idx_image_size_mismatch_between_splits(tmp_path: Path) -> None:
    tiny_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10, 5, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="test images"):
        load_dataset(f"mnist:{tmp_path}")


# -- CIFAR-10 ------------------------------------------------------------------------------------


def write_cifar(root: Path, per_batch: int = 10) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for k, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        labels = [(i + k) % 10 for i in range(per_batch)]
        data = np.zeros((per_batch, 3072), dtype=np.uint8)
        data[:, 0] = np.array(labels) * 20  # red (0, 0)
        data[:, 1024] = 255  # green (0, 0)
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data}
        with open(folder / name, "wb") as stream:
            pickle.dump(batch, stream, protocol=2)
    return folder


def test_cifar10_reads_python_batches(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path)
    for location in (tmp_path, folder):
        ds = load_dataset(f"cifar10:{location}", test_size=0.5, standardize=False)
        assert ds.x_train.shape == (50, 3072) and ds.x_test.shape == (10, 3072)
        assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
        assert ds.feature_names[0] == "red_0_0" and ds.feature_names[1024] == "green_0_0"
        assert torch.allclose(ds.x_train[:, 0], ds.y_train.float() * 20 / 255)
        assert torch.all(ds.x_test[:, 1024] == 1.0)


def test_cifar10_missing_batches(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path)
    (folder / "data_batch_3").unlink()
    (folder / "test_batch").unlink()
    with pytest.raises(DataError) as info:
        load_dataset(f"cifar10:{tmp_path}")
    message = str(info.value)
    assert "data_batch_3, test_batch" in message and "never downloads" in message


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.getcwd, ())  # a harmless stand-in for code execution


@pytest.mark.parametrize(
    "content",
    [b"not a pickle", pickle.dumps([1, 2]), pickle.dumps({b"labels": [0]}), pickle.dumps(_Evil())],
)
def test_cifar10_malformed_batch(tmp_path: Path, content: bytes) -> None:
    folder = write_cifar(tmp_path)
    (folder / "data_batch_2").write_bytes(content)
    with pytest.raises(DataError, match="data_batch_2"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar10_bad_shapes_and_labels(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path)
    bad = {b"labels": [0, 1], b"data": np.zeros((2, 100), dtype=np.uint8)}
    (folder / "test_batch").write_bytes(pickle.dumps(bad))
    with pytest.raises(DataError, match=r"test_batch.*\(n, 3072\)"):
        load_dataset(f"cifar10:{tmp_path}")
    bad = {b"labels": [0, 11], b"data": np.zeros((2, 3072), dtype=np.uint8)}
    (folder / "test_batch").write_bytes(pickle.dumps(bad))
    with pytest.raises(DataError, match=r"test_batch.*outside 0\.\.9"):
        load_dataset(f"cifar10:{tmp_path}")


# -- download (only when asked) ------------------------------------------------------------------


def test_download_offline_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    for name in ("mnist", "fashion-mnist", "cifar10"):
        target = tmp_path / name
        with pytest.raises(DataError) as info:
            download_dataset(name, target)
        message = str(info.value)
        assert "no network: download the files on a machine with internet" in message
        assert str(target) in message
        assert not list(target.glob("*.part"))


def test_download_http_error_is_not_called_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(url: str, **kwargs: object) -> None:
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", missing)
    with pytest.raises(DataError) as info:
        download_dataset("mnist", tmp_path)
    assert "HTTP 404" in str(info.value) and "no network" not in str(info.value)


def test_download_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="fashion-mnist"):
        download_dataset("imagenet", tmp_path)


def test_download_verifies_checksums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    tiny = tmp_path / "source"
    tiny_mnist(tiny, gz=True)
    blobs = {p.name: p.read_bytes() for p in tiny.iterdir()}
    files = tuple((name, hashlib.md5(data).hexdigest()) for name, data in sorted(blobs.items()))
    monkeypatch.setitem(download._SOURCES, "mnist", (("https://example.invalid/",), files))
    calls: list[str] = []

    def serve(url: str, **kwargs: object) -> io.BytesIO:
        calls.append(url)
        return io.BytesIO(blobs[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    target = download_dataset("mnist", tmp_path / "dl")
    assert len(calls) == 4
    assert load_dataset(f"mnist:{target}").x_train.shape == (20, 12)
    download_dataset("mnist", target)  # everything present: nothing fetched
    assert len(calls) == 4

    corrupt = tuple((name, "0" * 32) for name, _ in files)
    monkeypatch.setitem(download._SOURCES, "mnist", (("https://example.invalid/",), corrupt))
    with pytest.raises(DataError, match="checksum mismatch"):
        download_dataset("mnist", tmp_path / "other")
    assert not list((tmp_path / "other").iterdir())


def test_loading_never_touches_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    for spec in ("mnist", "fashion-mnist", "cifar10"):
        with pytest.raises(DataError):
            load_dataset(f"{spec}:{tmp_path}")
