"""The explicit downloader of the image datasets' raw files (:mod:`pnnkit.data.images` reads
them): public mirrors, and the MD5 checksums published with the datasets."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from pnnkit.data.images import CIFAR10_FILES, CIFAR10_FOLDER, find_idx
from pnnkit.errors import DataError

__all__ = ["download_dataset"]

# Public sources: (mirrors, [(file, md5)]); MD5s are the ones published with the datasets.
_SOURCES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "mnist": (
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        (
            ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    ),
    "fashion-mnist": (
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (
            ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ),
    ),
    "cifar10": (
        ("https://www.cs.toronto.edu/~kriz/",),
        (("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
    ),
}


def download_dataset(
    name: str, directory: str | os.PathLike[str], *, timeout: float = 60.0
) -> Path:
    """Download a dataset's raw files from their public URLs into ``directory``.

    Never called implicitly: loading ``mnist:DIR``, ``fashion-mnist:DIR`` or ``cifar10:DIR`` only
    reads local files. Files already present are kept. Every download is checked against the MD5
    published with the dataset; the CIFAR-10 archive is then extracted into
    ``directory/cifar-10-batches-py``.

    Args:
        name: ``mnist``, ``fashion-mnist`` or ``cifar10``.
        directory: the folder to fill (created if needed); afterwards ``f"{name}:{directory}"``
            is a loadable spec.
        timeout: seconds to wait for each connection.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: unknown name, no network, a failed download or a checksum mismatch.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _SOURCES:
        raise DataError(
            f"cannot download {name!r}: downloadable datasets are {', '.join(_SOURCES)}"
        )
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise DataError(f"{key}: cannot create the folder {folder} ({reason})") from None
    mirrors, files = _SOURCES[key]
    if key == "cifar10" and all((folder / CIFAR10_FOLDER / f).is_file() for f in CIFAR10_FILES):
        return folder
    for filename, md5 in files:
        target = folder / filename
        if key != "cifar10" and find_idx(folder, filename.removesuffix(".gz")) is not None:
            continue
        if not (target.is_file() and _md5(target) == md5):
            _fetch(key, mirrors, filename, md5, target, timeout)
    if key == "cifar10":
        _extract(folder / files[0][0], folder)
    return folder


def _fetch(
    key: str, mirrors: tuple[str, ...], filename: str, md5: str, target: Path, timeout: float
) -> None:
    partial = target.with_name(target.name + ".part")
    failures: list[str] = []
    offline = True
    for mirror in mirrors:
        url = mirror + filename
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout) as response,
                open(partial, "wb") as out,
            ):
                shutil.copyfileobj(response, out, length=1 << 20)
        except urllib.error.HTTPError as exc:
            offline = False
            failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
        else:
            digest = _md5(partial)
            if digest == md5:
                os.replace(partial, target)
                return
            offline = False
            failures.append(f"{url}: checksum mismatch (MD5 {digest}, expected {md5})")
        partial.unlink(missing_ok=True)
    if offline:
        raise DataError(
            f"{key}: cannot download {filename} ({'; '.join(failures)}); no network: download "
            f"the files on a machine with internet and copy them into {target.parent}"
        )
    raise DataError(f"{key}: cannot download {filename} ({'; '.join(failures)})")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{archive}: cannot extract the archive ({exc})") from None
