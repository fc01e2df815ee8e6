"""The Ray side of a distributed run: starting or joining Ray, placing one actor per unit,
sending messages to the actors and telling an actor's failure from a unit's error.

Each unit's actor (:class:`~pnnkit.distributed.unit.UnitWorker`) asks for
``num_cpus_per_actor`` cores and, with ``unit_resources``, for one of the custom resource that
marks the node holding its hardware; Ray restarts a dead actor up to ``max_restarts`` times
(never re-running a call: ``max_task_retries = 0``, the driver replays what is needed itself,
:mod:`pnnkit.distributed.recovery`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor

from pnnkit.distributed.config import DistributedConfig
from pnnkit.distributed.messages import DistributedError, Message, MessageLog, UnitNotReadyError
from pnnkit.distributed.unit import UnitWorker
from pnnkit.errors import ConfigError, PnnkitError
from pnnkit.experiment.config import TrainConfig


def import_ray() -> Any:
    """The ``ray`` module; a :class:`ConfigError` naming the extra to install without it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "distributed training needs Ray, which is not installed: "
            "pip install 'pnnkit[distributed]' (or pip install ray)"
        ) from None
    return ray


@contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Ray, connected: to the cluster at ``address`` (``"auto"``, ``"HOST:PORT"``,
    ``"ray://..."``); without one, the Ray instance this process is connected to, or a local
    one started for this run and stopped again at the end."""
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        try:
            if address is None:  # a local instance, for this run only
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = "a local Ray instance" if address is None else f"the Ray cluster at {address!r}"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise DistributedError(
                f"cannot start or join {where}: {first} (start one with `ray start --head`, "
                f"or drop --address to start a local instance)"
            ) from None
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


class Cluster:
    """The actors of the ``n`` units of one run on a connected Ray (module docstring)."""

    def __init__(self, ray: Any, options: DistributedConfig, n: int) -> None:
        self.ray, self.options, self.n = ray, options, n
        self.actors: list[Any] = []
        self._check_placement()

    def _check_placement(self) -> None:
        """Refuse settings that do not fit the number of units, and a placement the cluster
        cannot satisfy (Ray would wait forever)."""
        options, n = self.options, self.n
        if options.unit_resources and len(options.unit_resources) != n:
            raise ConfigError(
                f"DistributedConfig.unit_resources = {options.unit_resources!r} is invalid: it "
                f"names {len(options.unit_resources)} resources for a network of {n} "
                f"units (one per unit, or none)"
            )
        if options.kill_unit > n:
            raise ConfigError(
                f"DistributedConfig.kill_unit = {options.kill_unit} is invalid: the network "
                f"has units 1-{n}"
            )
        available = self.ray.cluster_resources()
        need = n * options.num_cpus_per_actor
        if available.get("CPU", 0) < need:
            raise ConfigError(
                f"the Ray cluster has {available.get('CPU', 0):g} CPUs, and {n} units x "
                f"DistributedConfig.num_cpus_per_actor = {options.num_cpus_per_actor:g} "
                f"need {need:g}: lower num_cpus_per_actor or add nodes"
            )
        for name in sorted(set(options.unit_resources)):
            wanted = options.unit_resources.count(name)
            if available.get(name, 0) < wanted:
                raise ConfigError(
                    f"DistributedConfig.unit_resources asks for {wanted} x {name!r}, and the Ray "
                    f"cluster offers {available.get(name, 0):g}: start the node holding that "
                    f"hardware with ray start --resources='{{\"{name}\": {wanted}}}'"
                )

    def create_actors(
        self, config: TrainConfig, num_features: int, num_classes: int, total_steps: int
    ) -> None:
        """One actor per unit, each building the run's network and rule from ``config``."""
        options = self.options
        remote = self.ray.remote(UnitWorker)
        threads = max(1, int(options.num_cpus_per_actor))
        for k in range(self.n):
            resources = {options.unit_resources[k]: 1} if options.unit_resources else None
            actor = remote.options(
                num_cpus=options.num_cpus_per_actor,
                resources=resources,
                max_restarts=options.max_restarts,
                max_task_retries=0,
            ).remote(config, k, num_features, num_classes, total_steps, threads)
            self.actors.append(actor)

    def start_units(self, calibration: Tensor) -> list[dict[str, Any]]:
        """Start every unit (faults present from the start, then the conditioning calibrated
        unit by unit, each on the previous unit's measured output); their statuses."""
        h: Any = calibration
        started = []
        for actor in self.actors:
            h = actor.start.remote(h)
            started.append(h)
        try:
            self.ray.get(started)
        except Exception as error:
            self.unless_failure(error)
            raise DistributedError(f"a unit's actor died while starting: {error}") from None
        return list(self.ray.get([actor.status.remote() for actor in self.actors]))

    def settings(self, pids: list[int], hosts: list[str]) -> dict[str, Any]:
        """What ``distributed.json`` records: the settings, the effective ``max_in_flight``,
        the Ray address and each unit's process and host."""
        return {
            **self.options.to_dict(),
            "units": self.n,
            "max_in_flight_effective": self.options.in_flight(self.n),
            "ray_address": self.ray.get_runtime_context().gcs_address,
            "actors": [
                {"unit": k + 1, "pid": pid, "host": host}
                for k, (pid, host) in enumerate(zip(pids, hosts, strict=True))
            ],
        }

    def reports(self) -> list[dict[str, Any]]:
        """Every unit's substrate fit reports (:meth:`UnitWorker.reports`)."""
        return list(self.ray.get([actor.reports.remote() for actor in self.actors]))

    def submit(self, k: int, message: Message, log: MessageLog) -> tuple[Any, Any]:
        """Send ``message`` to unit ``k`` (its input: the previous unit's output for it in
        ``log``); the references to its data for the next unit and its stats."""
        actor = self.actors[k]
        refs: tuple[Any, Any]
        if message.kind == "checkpoint":
            refs = actor.checkpoint.options(num_returns=2).remote()
            return refs
        method = actor.train if message.kind == "train" else actor.evaluate
        upstream = log.upstream(k, message)
        refs = method.options(num_returns=2).remote(
            message.id, message.epoch, message.payload, upstream
        )
        return refs

    def send(self, message: Message, log: MessageLog) -> None:
        """Log ``message`` and send it down the whole chain."""
        log.add(message)
        for k in range(self.n):
            log.keep(k, message, *self.submit(k, message, log))

    def sizes(self, refs: list[Any]) -> list[int]:
        """The serialised sizes of objects in Ray's store, in bytes."""
        locations = self.ray.experimental.get_object_locations(refs)
        return [int(locations[ref]["object_size"]) for ref in refs]

    def kill(self, k: int) -> None:
        """The resilience drill: kill unit ``k``'s actor as if its process crashed."""
        self.ray.kill(self.actors[k], no_restart=False)

    def stop(self) -> None:
        """End every actor for good."""
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)

    def is_failure(self, error: Exception) -> bool:
        """An actor died (or a message reached a restarted, not yet restored actor)."""
        return isinstance(error, self.ray.exceptions.RayActorError | UnitNotReadyError)

    def unless_failure(self, error: Exception) -> None:
        """Return when ``error`` is an actor failure (to recover from); otherwise raise it, as
        the pnnkit error a unit raised when there is one (a bad config, failing hardware)."""
        if self.is_failure(error):
            return
        if isinstance(error, self.ray.exceptions.ObjectLostError):
            raise DistributedError(
                f"a unit's output was lost with its node before the next unit received it "
                f"({type(error).__name__}); the run cannot be recovered in place: resume it "
                f"with pnnkit train --resume RUN"
            ) from None
        cause = getattr(error, "cause", None)
        if isinstance(cause, PnnkitError):
            raise cause from None
        raise error

    def status(self, k: int) -> dict[str, Any]:
        """Unit ``k``'s status, waiting while Ray restarts its actor."""
        exceptions = self.ray.exceptions
        deadline = time.monotonic() + self.options.restart_timeout
        while True:
            try:
                return dict(self.ray.get(self.actors[k].status.remote()))
            except exceptions.ActorDiedError as error:
                raise DistributedError(
                    f"unit {k + 1}'s actor died and Ray did not restart it (max_restarts = "
                    f"{self.options.max_restarts} used up, or no node can host it): "
                    f"{str(error).splitlines()[0]}"
                ) from None
            except exceptions.RayActorError:
                if time.monotonic() > deadline:
                    raise DistributedError(
                        f"unit {k + 1}'s actor did not come back within restart_timeout = "
                        f"{self.options.restart_timeout:g} s"
                    ) from None
                time.sleep(0.1)
