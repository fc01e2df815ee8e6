"""The run folder: its kind, resolved config, per-epoch metrics log, summary, checkpoint, plots.

Layout of ``RUN/``::

    kind.json                   what wrote the folder: ``{"kind": "train"}`` (``pnnkit train``,
                                distributed runs included), ``rl``, ``bench`` or ``faults``;
                                folders of earlier versions have none (the reader then tells
                                the kind from the files, :func:`pnnkit.results.read.folder_kind`)
    config.json                 the resolved config (every default filled in)
    metrics.jsonl               one JSON object per epoch
    summary.json                final results and costs
    checkpoint.pt               network + substrate state (conductances, fault masks), rule
                                state, RNG states, history, resolved config and where training
                                stands (a mid-epoch position after Ctrl-C); written
                                atomically, loadable with ``torch.load(weights_only=True)``
    guard.log                   one line per bad measurement skipped or retried, and per
                                resume (only when there was one)
    tensorboard/                TensorBoard event files (only with ``tensorboard = true``)
    learning_curves.png, information_plane.png
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pnnkit.errors import CheckpointError, ConfigError

CHECKPOINT_FORMAT = "pnnkit-checkpoint-1"

#: the kinds of results folder, named after the verb that writes them
TRAIN, RL, BENCH, FAULTS = "train", "rl", "bench", "faults"
KINDS = (TRAIN, RL, BENCH, FAULTS)
#: the file that records a folder's kind
KIND_FILE = "kind.json"


class RunFolder:
    """Paths and atomic writers of one run. ``kind`` (:data:`KINDS`) is recorded in
    ``kind.json`` by :meth:`create`; a folder opened only to read its files needs none."""

    def __init__(self, path: str | os.PathLike[str], kind: str | None = None) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown run folder kind {kind!r}; choices: {', '.join(KINDS)}")
        self.path = Path(path)
        self.kind = kind
        self.kind_file = self.path / KIND_FILE
        self.config = self.path / "config.json"
        self.metrics = self.path / "metrics.jsonl"
        self.summary = self.path / "summary.json"
        self.checkpoint = self.path / "checkpoint.pt"
        self.guard_log = self.path / "guard.log"
        self.tensorboard = self.path / "tensorboard"
        self.learning_curves = self.path / "learning_curves.png"
        self.information_plane = self.path / "information_plane.png"

    def create(self, *, overwrite: bool = False) -> None:
        """Make the folder and record its kind. A folder holding any run file is refused unless
        ``overwrite``, and only then are the old run files removed (nothing else in the folder
        is touched)."""
        if self.kind is None:
            raise ValueError(f"RunFolder({str(self.path)!r}) was given no kind to create")
        run_files = (self.config, self.metrics, self.summary, self.checkpoint, self.guard_log)
        events = sorted(self.tensorboard.glob("events.out.tfevents.*"))
        existing = [p.name for p in run_files if p.exists()]
        if events:
            existing.append(f"{self.tensorboard.name}/")
        if existing and not overwrite:
            raise ConfigError(
                f"{self.path} already holds a run ({', '.join(existing)}); choose a new --out "
                f"or pass --overwrite to replace it"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create run folder {self.path}: {error}") from None
        for old in (*run_files, *events):
            old.unlink(missing_ok=True)
        self.write_json(self.kind_file, {"kind": self.kind})

    def write_json(self, path: Path, values: dict[str, Any]) -> None:
        """Write ``values`` as indented JSON to ``path``, atomically."""
        atomic_write_bytes(path, (json.dumps(values, indent=2) + "\n").encode())

    def append_metrics(self, values: dict[str, Any]) -> None:
        """Append one record (an epoch) to ``metrics.jsonl``."""
        with self.metrics.open("a") as stream:
            stream.write(json.dumps(values) + "\n")

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` by ``records`` (atomically): a resumed run drops the lines
        an interrupted one appended after its checkpoint."""
        atomic_write_bytes(self.metrics, "".join(json.dumps(r) + "\n" for r in records).encode())

    def log_guard(self, line: str) -> None:
        """Append one line to ``guard.log``."""
        with self.guard_log.open("a") as stream:
            stream.write(line.rstrip("\n") + "\n")

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """``torch.save`` to a temporary file in the same folder, then rename over the old one."""
        import torch  # imported when needed: reading results never loads torch

        state = {"format": CHECKPOINT_FORMAT, **state}
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".checkpoint-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as stream:
                torch.save(state, stream)
            os.replace(tmp, self.checkpoint)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_checkpoint(self) -> dict[str, Any]:
        """Load with ``weights_only=True``; a missing, truncated or foreign file: a clear error."""
        if not self.checkpoint.exists():
            raise CheckpointError(f"no checkpoint at {self.checkpoint}")
        return load_state_file(self.checkpoint, CHECKPOINT_FORMAT)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl`` (none when it does not exist; :func:`read_metrics`)."""
        return read_metrics(self.metrics, key=None)


def read_metrics(path: Path, key: str | None = "epoch") -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` (none if the file is missing), each holding ``key``
    (``epoch`` for training runs, ``iteration`` for reinforcement-learning runs; None: any
    object). A torn last line (a run killed while writing it) is ignored; a damaged line before
    it is a :class:`CheckpointError`."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: cannot read the file ({error})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                break
            raise CheckpointError(f"{path}: line {number} is damaged (not JSON)") from None
        if not isinstance(record, dict):
            raise CheckpointError(f"{path}: line {number} is not a JSON object")
        if key is not None and key not in record:
            raise CheckpointError(f"{path}: line {number} is not an {key} record")
        records.append(record)
    return records


def create_results_folder(path: str | os.PathLike[str], kind: str) -> Path:
    """Make the folder of a bench or fault sweep (``kind``), which gathers run folders and
    tables, and record its kind; a folder that records another kind is refused."""
    folder = Path(path)
    recorded = folder / KIND_FILE
    if recorded.exists():
        try:
            old = json.loads(recorded.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            old = f"damaged {KIND_FILE}"
        if old != kind:
            raise ConfigError(
                f"{folder} holds a {old} folder, not a {kind} one; choose a new --out"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create results folder {folder}: {error}") from None
    atomic_write_bytes(recorded, (json.dumps({"kind": kind}, indent=2) + "\n").encode())
    return folder


def load_state_file(path: Path, fmt: str) -> dict[str, Any]:
    """A state saved by :func:`torch.save` with ``{"format": fmt, ...}``, loaded with
    ``weights_only=True`` (no code runs from the file); a missing, truncated, foreign or
    unsafe file is a :class:`CheckpointError` naming it, never a traceback."""
    import torch

    try:
        state = torch.load(path, weights_only=True)
    except Exception as error:  # torch raises many types for damaged files
        first_line = (str(error).strip().splitlines() or ["no details"])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} is damaged or not a pnnkit checkpoint "
            f"({type(error).__name__}: {first_line})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise CheckpointError(f"{path} is not a {fmt} checkpoint")
    return state


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
