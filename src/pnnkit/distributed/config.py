"""Settings of a distributed (pipelined) training run: :class:`DistributedConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from pnnkit.config import Config, check_types
from pnnkit.errors import ConfigError


@dataclass
class DistributedConfig(Config):
    """How the units of a network are spread over Ray actors and kept alive.

    Attributes:
        max_in_flight: training batches the driver lets into the pipeline before it waits for
            the oldest one to leave the last unit (backpressure: every unit's queue then holds
            at most this many messages, so memory is bounded whatever the speed of each unit).
            0 (default) means twice the number of units: a chain of ``L`` units needs ``L``
            batches in flight to keep every unit busy, and as many again absorb the jitter of
            unequal stages. It bounds memory only; staleness is zero whatever its value (see
            :mod:`pnnkit.distributed.driver`).
        checkpoint_every: every how many training batches each unit saves its state to
            ``RUN/units/unit_K.pt`` (also at every epoch end, always). 20 (default): a
            restarted unit replays at most that many batches plus ``max_in_flight``; a unit's
            checkpoint is its substrate's and its rule's state, small next to what it sends
            on over an epoch (sizes in docs/BENCHMARKS.md). 0: at epoch ends only.
        max_restarts: how often Ray may restart each unit's actor after its process or node
            died (3, default: enough for occasional crashes; a unit dying more often than that
            points to a fault that restarting will not cure, and the run stops with an error).
        restart_timeout: seconds to wait for a restarted actor to come back (120, default:
            enough for a fresh worker process to import torch and rebuild its unit, with a
            margin for a busy node; a unit pinned to a node that never returns stops the run
            after this long instead of hanging).
        unit_resources: one Ray custom resource name per unit, e.g. ``["lab_a", "lab_b"]``:
            unit ``K``'s actor asks for one of that resource, so it runs on a node started with
            it (``ray start --resources='{"lab_a": 1}'``), the node that holds its hardware.
            Empty (default): units run wherever Ray has room.
        num_cpus_per_actor: CPU cores Ray reserves for each unit's actor, also its torch thread
            count (rounded down, at least 1). 0.5 (default): a unit mostly waits on its
            hardware, and half a core each lets three units share a two-core machine; give
            each unit whole cores on machines of its own.
        kill_unit: resilience drill: the 1-based unit whose actor the driver kills once
            (``ray.kill``, as if its process crashed) right after submitting training batch
            ``kill_at_step``; 0 (default): no drill. The run must finish as if nothing happened
            (the restart is recorded in ``RUN/restarts.jsonl``).
        kill_at_step: the 1-based training batch of the drill (counted over the whole run).
    """

    max_in_flight: int = 0
    checkpoint_every: int = 20
    max_restarts: int = 3
    restart_timeout: float = 120.0
    unit_resources: list[str] = field(default_factory=list)
    num_cpus_per_actor: float = 0.5
    kill_unit: int = 0
    kill_at_step: int = 0

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field, its value and the allowed
        range (the number of units is checked when a run starts)."""
        check_types(self)
        for name in ("max_in_flight", "checkpoint_every", "max_restarts", "kill_unit"):
            if getattr(self, name) < 0:
                raise self._bad(name, "must be an integer >= 0")
        if not self.restart_timeout > 0:
            raise self._bad("restart_timeout", "must be > 0 (seconds)")
        if not self.num_cpus_per_actor > 0:
            raise self._bad("num_cpus_per_actor", "must be > 0 (cores)")
        if not all(isinstance(r, str) and r.strip() for r in self.unit_resources):
            raise self._bad("unit_resources", "must be a list of Ray resource names")
        if self.kill_at_step < 0:
            raise self._bad("kill_at_step", "must be an integer >= 0")
        if self.kill_unit and not self.kill_at_step:
            raise self._bad("kill_at_step", "must be >= 1 when kill_unit is set (a drill)")
        if self.kill_at_step and not self.kill_unit:
            raise self._bad("kill_unit", "must be >= 1 when kill_at_step is set (a drill)")
        if self.kill_unit and self.max_restarts < 1:
            raise self._bad("max_restarts", "must be >= 1 for a kill drill (kill_unit > 0)")

    def _bad(self, name: str, allowed: str) -> ConfigError:
        return ConfigError(
            f"DistributedConfig.{name} = {getattr(self, name)!r} is invalid: {allowed}"
        )

    def in_flight(self, units: int) -> int:
        """The effective ``max_in_flight`` for a chain of ``units`` units."""
        return self.max_in_flight or 2 * units
