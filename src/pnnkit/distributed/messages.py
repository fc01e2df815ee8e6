"""What flows between the driver of a distributed run and its units.

The driver sends one stream of :class:`Message` objects, and every unit receives all of them in
the same order (Ray runs the calls of one actor in the order they were submitted). Each message
sent to unit ``k`` returns two objects: its data for unit ``k + 1`` (a measured output, the
evaluation outputs, a checkpoint's bytes) and its small stats for the driver. The
:class:`MessageLog` keeps every message since the oldest unit checkpoint, and the references to
both outputs of each unit, so that a restarted unit can be given the very inputs it had
(:mod:`pnnkit.distributed.recovery`).

A unit's checkpoint (``RUN/units/unit_K.pt``, format :data:`UNIT_CHECKPOINT_FORMAT`) holds its
hardware state with counters and noise generators, conditioning, optimiser moments, step count,
fault progress and random state, and the readout for the last unit
(:meth:`pnnkit.distributed.unit.UnitWorker.checkpoint`).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.data import Dataset
from pnnkit.errors import PnnkitError

#: format tag of a unit checkpoint (``RUN/units/unit_K.pt``)
UNIT_CHECKPOINT_FORMAT = "pnnkit-unit-checkpoint-1"


class DistributedError(PnnkitError, RuntimeError):
    """A distributed run cannot go on (a unit died more often than allowed, or never came
    back after a restart)."""


class UnitNotReadyError(DistributedError):
    """A message reached a restarted unit before its state was restored (the driver then
    restores it and sends the message again)."""


@dataclass
class Message:
    """One message of the stream every unit receives in the same order."""

    id: int
    kind: str  # "train", "eval" or "checkpoint"
    epoch: int
    #: train: 1-based batch number over the run
    step: int = 0
    #: train: batches in its epoch; eval and checkpoint: 0
    batches: int = 0
    #: train: samples in the batch
    samples: int = 0
    #: train: object ref of ``(x, y)``; eval: of the evaluation inputs; checkpoint: None
    payload: Any = None
    #: checkpoint at an epoch end: also written as the run's checkpoint.pt
    final: bool = False
    #: final checkpoint: the shuffling generator's state after drawing this epoch's order
    shuffle_state: torch.Tensor | None = None
    #: finalised by the driver (all units done, results recorded)
    done: bool = False


class MessageLog:
    """The messages sent to a chain of ``n`` units that some unit may still need, and the
    references to each unit's two outputs for them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.messages: collections.deque[Message] = collections.deque()
        #: per unit: message id -> reference to its data for the next unit
        self.data_refs: list[dict[int, Any]] = [{} for _ in range(n)]
        #: per unit: message id -> reference to its stats for the driver
        self.status_refs: list[dict[int, Any]] = [{} for _ in range(n)]
        #: position (last training message) of each unit's checkpoint on disk
        self.saved_position = [0] * n
        self.next_id = 1

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def new(self, kind: str, epoch: int, **fields: Any) -> Message:
        """A message with the next id (not yet sent)."""
        self.next_id += 1
        return Message(self.next_id - 1, kind, epoch, **fields)

    def add(self, message: Message) -> None:
        """Log a message about to be sent."""
        self.messages.append(message)

    def keep(self, k: int, message: Message, data: Any, status: Any) -> None:
        """Keep unit ``k``'s references to its data for the next unit and its stats for
        ``message``."""
        self.data_refs[k][message.id] = data
        self.status_refs[k][message.id] = status

    def upstream(self, k: int, message: Message) -> Any:
        """Unit ``k``'s input for ``message``: the previous unit's data (None for the first)."""
        return self.data_refs[k - 1][message.id] if k > 0 else None

    def oldest_unfinished(self) -> Message:
        """The oldest message not yet finalised by the driver."""
        return next(m for m in self.messages if not m.done)

    def unfinished(self) -> bool:
        """Whether some message sent is not yet finalised."""
        return any(not m.done for m in self.messages)

    def in_flight(self) -> int:
        """Training messages not yet finalised (between the driver and the chain's end)."""
        return sum(1 for m in self.messages if m.kind == "train" and not m.done)

    def prune(self) -> None:
        """Forget messages no unit can need again: done, and before every unit's checkpoint."""
        oldest_checkpoint = min(self.saved_position)
        while self.messages and self.messages[0].done and self.messages[0].id <= oldest_checkpoint:
            message = self.messages.popleft()
            for k in range(self.n):
                self.data_refs[k].pop(message.id, None)
                self.status_refs[k].pop(message.id, None)


def evaluation_inputs(data: Dataset, info_samples: int) -> dict[str, Tensor]:
    """What an evaluation message carries to every unit: the training, test,
    information-plane and validation inputs with their labels (the information-plane batch is
    the first ``info_samples`` training samples, as the sequential evaluation takes it)."""
    x_info = data.x_train[: min(info_samples, len(data.y_train))]
    return {
        "x_train": data.x_train,
        "x_test": data.x_test,
        "x_info": x_info,
        "x_val": data.x_val,
        "y_info": data.y_train[: len(x_info)],
        "y_train": data.y_train,
        "y_test": data.y_test,
        "y_val": data.y_val,
    }
