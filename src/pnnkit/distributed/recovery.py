"""Bringing a distributed run back after units died: a restarted unit is restored from its
checkpoint and given again, with the very inputs it had, every message sent since.

Every ``checkpoint_every`` batches and at every epoch end each unit's state comes back to the
driver, which writes it atomically to ``RUN/units/unit_K.pt``; the driver's
:class:`~pnnkit.distributed.messages.MessageLog` keeps every message sent since the oldest of
those checkpoints, and every unit's outputs for them. When an actor dies (its process is killed,
its node is lost), Ray restarts it (``max_restarts``); the driver notices the failed messages
and :meth:`Recovery.recover`:

1. waits until every message sent has succeeded or failed (the pipeline settles);
2. restores each restarted unit from its checkpoint (a unit that did not die keeps its state);
3. re-sends each unit the training messages after its position, with the inputs it had (the
   kept outputs of the unit before it), and the other messages that failed or that came after
   a failed training message (they saw a state that missed it).

The replayed unit draws the same noise from the same generator state, so it arrives at the
state it had and the run continues with *no batch lost*: the result equals an undisturbed run's.
Each restart is recorded in ``RUN/restarts.jsonl`` (unit, cause, epoch, batches replayed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pnnkit.distributed.cluster import Cluster
from pnnkit.distributed.messages import UNIT_CHECKPOINT_FORMAT, MessageLog
from pnnkit.results.folder import atomic_write_bytes, load_state_file


class Recovery:
    """Restarts of the units of one run (module docstring). ``pids``: each unit's process as
    last seen; ``unit_path(k)``: unit ``k``'s checkpoint file."""

    def __init__(
        self, cluster: Cluster, log: MessageLog, units_dir: Path, restarts_path: Path
    ) -> None:
        self.cluster, self.log = cluster, log
        self.units_dir, self.path = units_dir, restarts_path
        self.pids: list[int] = []
        #: units killed by the drill, not yet restarted
        self.drilled: set[int] = set()
        #: every restart so far, as in ``restarts.jsonl``
        self.restarts: list[dict[str, Any]] = []
        self.start = time.perf_counter()

    def unit_path(self, k: int) -> Path:
        """Unit ``k``'s checkpoint file (``RUN/units/unit_K.pt``, ``K`` 1-based)."""
        return self.units_dir / f"unit_{k + 1}.pt"

    def save_units(self, files: list[bytes], positions: list[int]) -> None:
        """Write each unit's checkpoint (the bytes of its ``torch.save`` file, atomically),
        taken at its ``position``: messages before the oldest are no longer needed."""
        for k, data in enumerate(files):
            atomic_write_bytes(self.unit_path(k), data)
            self.log.saved_position[k] = positions[k]

    def recover(self) -> None:
        """Bring every unit back to a consistent state after actors died. Repeats while units
        keep dying; Ray's ``max_restarts`` bounds that."""
        while True:
            outcome = self._settle()
            try:
                positions = self._restore_units(outcome)
                self._replay(positions, outcome)
                return
            except Exception as error:
                self.cluster.unless_failure(error)

    def _settle(self) -> list[dict[int, bool]]:
        """Wait until every message sent has succeeded or failed; which did, per unit."""
        ray, log = self.cluster.ray, self.log
        refs = [ref for k in range(log.n) for ref in log.status_refs[k].values()]
        if refs:
            ray.wait(refs, num_returns=len(refs), fetch_local=False)
        outcome: list[dict[int, bool]] = [{} for _ in range(log.n)]
        for k in range(log.n):
            for message_id, ref in log.status_refs[k].items():
                try:
                    ray.get(ref)
                    outcome[k][message_id] = True
                except Exception as error:
                    self.cluster.unless_failure(error)
                    outcome[k][message_id] = False
                    self._consume(log.data_refs[k][message_id])
        return outcome

    def _consume(self, ref: Any) -> None:
        """Fetch a failed message's other output, so that Ray does not report its error as
        unhandled (the failure is handled here)."""
        try:
            self.cluster.ray.get(ref)
        except Exception as error:
            self.cluster.unless_failure(error)

    def _restore_units(self, outcome: list[dict[int, bool]]) -> list[int]:
        """Restore every restarted unit from its checkpoint; every unit's position."""
        positions = []
        for k in range(self.log.n):
            status = self.cluster.status(k)
            if not status["ready"]:
                state = load_state_file(self.unit_path(k), UNIT_CHECKPOINT_FORMAT)
                actor = self.cluster.actors[k]
                status = self.cluster.ray.get(actor.restore.remote(state))
                self._record_restart(k, status, outcome[k], state)
            positions.append(status["position"])
        return positions

    def _record_restart(
        self, k: int, status: dict[str, Any], outcome: dict[int, bool], state: dict[str, Any]
    ) -> None:
        """Log a restart of unit ``k`` to ``restarts.jsonl`` and :attr:`restarts`."""
        after = [m for m in self.log if m.kind == "train" and m.id > status["position"]]
        failed = [m for m in after if not outcome.get(m.id, True)]
        first_failed = failed[0] if failed else None
        record = {
            "unit": k + 1,
            "cause": "drill (ray.kill)" if k in self.drilled else "actor died",
            "seconds": time.perf_counter() - self.start,
            "epoch": first_failed.epoch if first_failed else None,
            "failed_at_step": first_failed.step if first_failed else None,
            "checkpoint_step": int(state["step_count"]),
            # batches the unit had trained on since its checkpoint, lost with it and redone
            "batches_redone": sum(1 for m in after if outcome.get(m.id, True)),
            "batches_replayed": len(after),
            "batches_lost": 0,
            "pid_before": self.pids[k],
            "pid_after": status["pid"],
        }
        self.drilled.discard(k)
        self.pids[k] = status["pid"]
        self.restarts.append(record)
        with self.path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")

    def _replay(self, positions: list[int], outcome: list[dict[int, bool]]) -> None:
        """Re-send, unit by unit, the training messages after each unit's position, and the
        other messages there that failed or that came after a failed training message (they
        saw a state that missed it); wait for all of them."""
        log = self.log
        pending = []
        for k in range(log.n):
            failed = [m.id for m in log if m.kind == "train" and not outcome[k].get(m.id, True)]
            first_failed = min(failed, default=log.next_id)
            for message in log:
                if message.id <= positions[k]:
                    continue
                if (
                    message.kind != "train"
                    and outcome[k].get(message.id, True)
                    and message.id < first_failed
                ):
                    continue  # an evaluation or checkpoint changes nothing: keep its result
                data, status = self.cluster.submit(k, message, log)
                pending.append(status)
                if not message.done:
                    log.keep(k, message, data, status)
        self.cluster.ray.get(pending)
