"""Distributed PIB training: every unit in a Ray actor, batches streamed through the chain.

**Pipeline.** Unit ``k``'s actor (:class:`~pnnkit.distributed.unit.UnitWorker`) owns its
substrates. The driver sends every training batch ``(x, y)`` into the chain; actor ``k``
measures its unit on the previous unit's measured output ``t_{k-1}``, programs its local PIB
update and passes ``t_k`` on; the last actor also trains the digital readout. Ray runs the
messages of one actor in the order the driver submitted them, so while unit ``k`` trains on
batch ``b``, unit ``k + 1`` trains on ``b - 1``: with ``L`` units and a hardware latency ``d``
per pass, an epoch of ``B`` batches takes about ``(B + L - 1) d`` instead of ``B L d``.

**Staleness: none.** PIB's update of unit ``k`` uses only quantities measured at unit ``k``
for that batch (Wang et al., "Training deep physical neural networks with local physical
information bottleneck", arXiv 2602.09569, 2026; docs/pib.md): nothing flows back from later
units, and in the sequential :meth:`pnnkit.learning.pib.PIB.train_step` unit ``k + 1`` already
sees batch ``b``'s ``t_k`` measured *before* unit ``k``'s update from ``b``. Every actor has its
own noise generators and optimiser state, as in the sequential rule, so the pipelined run
computes the sequential run's numbers to the last digit (module
:mod:`pnnkit.distributed.unit` names the two options that draw from a shared random stream).
Evaluation is not a barrier either: at each epoch end an evaluation message follows the last
batch down the chain, and each unit measures the training, test and information-plane inputs
at its state right after that epoch (costs and noise streams set apart, as
:func:`pnnkit.experiment.evaluation.evaluation_apart` does sequentially), while the next epoch's
batches follow it.

**Backpressure.** At most ``max_in_flight`` training batches are between the driver and the end
of the chain: the driver waits for the oldest to leave the last unit before sending another, so
no unit's queue holds more than that many messages whatever the speed of the units.

**Resilience.** Every ``checkpoint_every`` batches and at every epoch end each actor's state
(hardware state with counters and noise generators, conditioning, optimiser moments, step
count, fault progress, random state; the readout for the last unit) comes back to the driver,
which writes it atomically to ``RUN/units/unit_K.pt``. The driver keeps every message sent
since the oldest of those checkpoints, and every unit's outputs for them. When an actor dies
(its process is killed, its node is lost), Ray restarts it (``max_restarts``); the driver
notices the failed messages, waits for the pipeline to settle, restores the restarted unit
from its checkpoint and re-sends it the messages since, with the very inputs it had received
(the kept outputs of the unit before it), then re-sends downstream what failed. The replayed
unit draws the same noise from the same generator state, so it arrives at the state it had
and the run continues with *no batch lost*: the result equals an undisturbed run's. The cost is
the replayed passes (recorded in ``RUN/restarts.jsonl`` with the unit, epoch and batches
replayed); a unit's training counters count each batch once, as in an undisturbed run. When a
lost node also held outputs that the next unit had not yet received, those cannot be replayed
and the run stops with a :class:`~pnnkit.distributed.unit.DistributedError`.

**Run folder.** The layout of a sequential run (``config.json``, ``metrics.jsonl`` with the
same keys, ``summary.json``, ``checkpoint.pt`` in the sequential format, the two plots), plus
``distributed.json`` (the settings, and the actors' processes and hosts), ``units/unit_K.pt``
and ``restarts.jsonl``. ``train_seconds`` in the metrics is the pipeline's wall time, the
overlapped evaluations included.
"""

from __future__ import annotations

import collections
import io
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from pnnkit.distributed.config import DistributedConfig
from pnnkit.distributed.unit import (
    UNIT_CHECKPOINT_FORMAT,
    DistributedError,
    Replica,
    UnitNotReadyError,
    UnitWorker,
    check_supported,
)
from pnnkit.errors import (
    ConfigError,
    PnnkitError,
    TooManyBadMeasurementsError,
    TrainingInterrupted,
)
from pnnkit.experiment.checkpoint import EpochProgress
from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.trainer import Trainer, batches
from pnnkit.learning.pib import PIB
from pnnkit.physics import Counters
from pnnkit.results.folder import atomic_write_bytes, load_state_file


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "distributed training needs Ray, which is not installed: "
            "pip install 'pnnkit[distributed]' (or pip install ray)"
        ) from None
    return ray


@dataclass
class _Message:
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


class _Pipeline:
    """The driver of one distributed run (module docstring). Its bookkeeping is a sequential
    :class:`~pnnkit.experiment.trainer.Trainer` that never trains: it loads the data, creates the
    run folder, holds a copy of the network into which the units' states are loaded at every
    epoch end, and writes the metrics, checkpoints, plots and summary as a sequential run
    does."""

    def __init__(
        self, ray: Any, config: TrainConfig, options: DistributedConfig, *, overwrite: bool
    ) -> None:
        config.validate()
        check_supported(config)
        options.validate()
        self.ray, self.config, self.options = ray, config, options
        self.n = len(config.hidden)  # PIB trains linear-stage networks: a unit per width
        self._check_options()
        self._check_cluster()
        self.trainer = Trainer(config, overwrite=overwrite)
        trainer = self.trainer
        assert isinstance(trainer.rule, PIB)  # method pib, checked above
        #: the faults the bookkeeping copy injected before calibrating: the units report theirs
        trainer.fault_log = []
        self.replica = Replica(trainer.network, trainer.rule, trainer.faults)
        assert len(self.replica.units) == self.n
        self.data = trainer.data
        self.folder = trainer.folder
        self.units_dir = self.folder.path / "units"
        self.restarts_path = self.folder.path / "restarts.jsonl"
        self.total_steps = trainer.rule.total_steps
        if options.kill_at_step > self.total_steps:
            raise ConfigError(
                f"DistributedConfig.kill_at_step = {options.kill_at_step} is invalid: the run "
                f"has {self.total_steps} training batches"
            )
        self.restarts_path.unlink(missing_ok=True)
        self.units_dir.mkdir(exist_ok=True)
        for old in self.units_dir.glob("unit_*.pt"):
            old.unlink()
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.restarts: list[dict[str, Any]] = []
        self.bytes: dict[str, Any] = {}
        self.log: collections.deque[_Message] = collections.deque()
        self.data_refs: list[dict[int, Any]] = [{} for _ in range(self.n)]
        self.status_refs: list[dict[int, Any]] = [{} for _ in range(self.n)]
        #: position (last training message) of each unit's checkpoint on disk
        self.saved_position = [0] * self.n
        #: per epoch: batch order, loss sums and bad batches, as the sequential trainer keeps
        self.progress: dict[int, EpochProgress] = {}
        self.bad_in_a_row = 0
        #: seconds each unit spent on training batches and evaluations
        self.busy = [0.0] * self.n
        self.pids: list[int] = []
        self.hosts: list[str] = []
        #: the fit reports of the units' substrates that have one (recorded systems)
        self.reports: list[dict[str, Any]] = []
        self.drilled: set[int] = set()
        self.next_id = 1
        self.start = time.perf_counter()
        self.actors: list[Any] = []
        self.bar: tqdm | None = None

    # --- cluster and actors ---------------------------------------------------------------------

    def _check_options(self) -> None:
        """The settings that depend on the number of units."""
        options = self.options
        if options.unit_resources and len(options.unit_resources) != self.n:
            raise ConfigError(
                f"DistributedConfig.unit_resources = {options.unit_resources!r} is invalid: it "
                f"names {len(options.unit_resources)} resources for a network of {self.n} "
                f"units (one per unit, or none)"
            )
        if options.kill_unit > self.n:
            raise ConfigError(
                f"DistributedConfig.kill_unit = {options.kill_unit} is invalid: the network "
                f"has units 1-{self.n}"
            )

    def _check_cluster(self) -> None:
        """Refuse a placement the cluster cannot satisfy (Ray would wait forever)."""
        available = self.ray.cluster_resources()
        need = self.n * self.options.num_cpus_per_actor
        if available.get("CPU", 0) < need:
            raise ConfigError(
                f"the Ray cluster has {available.get('CPU', 0):g} CPUs, and {self.n} units x "
                f"DistributedConfig.num_cpus_per_actor = {self.options.num_cpus_per_actor:g} "
                f"need {need:g}: lower num_cpus_per_actor or add nodes"
            )
        for name in sorted(set(self.options.unit_resources)):
            wanted = self.options.unit_resources.count(name)
            if available.get(name, 0) < wanted:
                raise ConfigError(
                    f"DistributedConfig.unit_resources asks for {wanted} x {name!r}, and the Ray "
                    f"cluster offers {available.get(name, 0):g}: start the node holding that "
                    f"hardware with ray start --resources='{{\"{name}\": {wanted}}}'"
                )

    def _create_actors(self) -> None:
        ray, options = self.ray, self.options
        remote = ray.remote(UnitWorker)
        threads = max(1, int(options.num_cpus_per_actor))
        for k in range(self.n):
            resources = {options.unit_resources[k]: 1} if options.unit_resources else None
            actor = remote.options(
                num_cpus=options.num_cpus_per_actor,
                resources=resources,
                max_restarts=options.max_restarts,
                max_task_retries=0,
            ).remote(
                self.config,
                k,
                self.data.num_features,
                self.data.num_classes,
                self.total_steps,
                threads,
            )
            self.actors.append(actor)

    def _start_units(self) -> None:
        """Faults present from the start, then the conditioning calibrated unit by unit (each
        on the previous unit's measured output), then a first checkpoint of every unit."""
        h: Any = self.data.x_train[: self.config.calibration_samples]
        started = []
        for actor in self.actors:
            h = actor.start.remote(h)
            started.append(h)
        try:
            self.ray.get(started)
        except Exception as error:
            self._unless_failure(error)
            raise DistributedError(f"a unit's actor died while starting: {error}") from None
        statuses = self.ray.get([actor.status.remote() for actor in self.actors])
        self.pids = [s["pid"] for s in statuses]
        self.hosts = [s["host"] for s in statuses]
        self.reports = self.ray.get([actor.reports.remote() for actor in self.actors])
        self._send(_Message(self._new_id(), "checkpoint", 1))
        self._finish_oldest()

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    # --- sending and finalising -----------------------------------------------------------------

    def _submit(self, k: int, message: _Message) -> tuple[Any, Any]:
        """Send ``message`` to unit ``k`` (its input: the previous unit's output for it)."""
        actor = self.actors[k]
        upstream = self.data_refs[k - 1][message.id] if k > 0 else None
        if message.kind == "train":
            method = actor.train.options(num_returns=2)
            return method.remote(message.id, message.epoch, message.payload, upstream)
        if message.kind == "eval":
            method = actor.evaluate.options(num_returns=2)
            return method.remote(message.id, message.epoch, message.payload, upstream)
        return actor.checkpoint.options(num_returns=2).remote()

    def _send(self, message: _Message) -> None:
        self.log.append(message)
        for k in range(self.n):
            data, status = self._submit(k, message)
            self.data_refs[k][message.id] = data
            self.status_refs[k][message.id] = status

    def _in_flight(self) -> int:
        return sum(1 for m in self.log if m.kind == "train" and not m.done)

    def _finish_oldest(self) -> None:
        """Wait for the oldest unfinished message to leave the chain and record it."""
        message = next(m for m in self.log if not m.done)
        while True:
            refs = [self.status_refs[k][message.id] for k in range(self.n)]
            try:
                stats = self.ray.get(refs)
                break
            except Exception as error:
                self._unless_failure(error)
                self._recover()
        if message.kind == "train":
            self._record_batch(message, stats)
        elif message.kind == "eval":
            self._record_epoch(message, stats)
        else:
            self._save_checkpoints(message, stats)
        message.done = True
        self._prune()

    def _is_failure(self, error: Exception) -> bool:
        """An actor died (or a message reached a restarted, not yet restored actor)."""
        return isinstance(error, self.ray.exceptions.RayActorError | UnitNotReadyError)

    def _unless_failure(self, error: Exception) -> None:
        """Return when ``error`` is an actor failure (to recover from); otherwise raise it, as
        the pnnkit error a unit raised when there is one (a bad config, failing hardware)."""
        if self._is_failure(error):
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

    def _prune(self) -> None:
        """Forget messages no unit can need again: done, and before every unit's checkpoint."""
        oldest_checkpoint = min(self.saved_position)
        while self.log and self.log[0].done and self.log[0].id <= oldest_checkpoint:
            message = self.log.popleft()
            for k in range(self.n):
                self.data_refs[k].pop(message.id, None)
                self.status_refs[k].pop(message.id, None)

    # --- results --------------------------------------------------------------------------------

    def _record_batch(self, message: _Message, stats: list[dict[str, Any]]) -> None:
        """Add a finished batch to its epoch's sums, or count it as skipped."""
        if "input_batch" not in self.bytes:
            self._measure_bytes(message)
        progress = self.progress[message.epoch]
        bad = next((s["bad"] for s in stats if s.get("bad")), None)
        if bad is not None:
            progress.bad_batches += 1
            self.bad_in_a_row += 1
            self.trainer.note(
                f"skipped epoch {message.epoch} batch {message.step} (of the run): {bad}"
            )
            if self.bad_in_a_row >= self.config.max_bad_batches:
                raise TooManyBadMeasurementsError(
                    f"training stopped: {self.bad_in_a_row} batches in a row gave bad "
                    f"measurements (last: {bad}); {self.folder.checkpoint} holds the last "
                    f"epoch end; check the hardware"
                )
            return
        self.bad_in_a_row = 0
        for k, unit_stats in enumerate(stats):
            self.busy[k] += unit_stats["seconds"]
        loss = 0.0  # summed in unit order, as PIB sums its StepStats
        for unit_stats in stats:
            loss += unit_stats["loss"]
        progress.sums["loss"] += loss / message.batches
        progress.sums["readout_loss"] += stats[-1]["readout_loss"] / message.batches

    def _measure_bytes(self, message: _Message) -> None:
        """Serialised sizes of what one training batch sends between processes (as Ray stores
        them): the batch, sent to every unit, and each unit's output, sent to the next."""
        refs = [message.payload] + [self.data_refs[k][message.id] for k in range(self.n - 1)]
        statuses = [self.status_refs[k][message.id] for k in range(self.n)]
        sizes = self.ray.experimental.get_object_locations(refs + statuses)
        batch = int(sizes[refs[0]]["object_size"])
        outputs = [int(sizes[r]["object_size"]) for r in refs[1:]]
        status = sum(int(sizes[r]["object_size"]) for r in statuses)
        self.bytes.update(
            {
                "batch_samples": message.samples,
                "input_batch": batch,
                "unit_outputs": outputs,
                "unit_stats": status,
                # every unit on a node of its own: the batch reaches each unit, each unit's
                # output the next one, each unit's stats the driver
                "per_batch_one_node_per_unit": self.n * batch + sum(outputs) + status,
            }
        )

    def _record_epoch(self, message: _Message, stats: list[dict[str, Any]]) -> None:
        """Record an epoch as the sequential trainer does: its metrics line (with the units'
        states of that epoch end, loaded by the checkpoint message before this one) and its
        checkpoint."""
        trainer, epoch = self.trainer, message.epoch
        if "evaluation_inputs" not in self.bytes:
            refs = [message.payload] + [self.data_refs[k][message.id] for k in range(self.n - 1)]
            sizes = self.ray.experimental.get_object_locations(refs)
            self.bytes["evaluation_inputs"] = int(sizes[refs[0]]["object_size"])
            self.bytes["evaluation_outputs"] = [int(sizes[r]["object_size"]) for r in refs[1:]]
        for k, unit_stats in enumerate(stats):
            trainer.eval_counters = trainer.eval_counters + Counters(**unit_stats["eval_counters"])
            self.busy[k] += unit_stats["seconds"]
        faults = sorted((r for s in stats for r in s["faults"]), key=lambda r: r["rank"])
        trainer.fault_log.extend({k: v for k, v in r.items() if k != "rank"} for r in faults)
        trainer.bad_evaluations = sum(s["bad_evaluations"] for s in stats)
        trainer.bad_in_a_row = self.bad_in_a_row
        trainer.train_seconds = time.perf_counter() - self.start
        trainer.epoch, trainer.progress = epoch, None
        assert message.shuffle_state is not None
        trainer.shuffle.set_state(message.shuffle_state)
        progress = self.progress.pop(epoch)
        last = stats[-1]
        trainer.record_epoch(
            epoch,
            ([s["i_xt"] for s in stats], [s["i_ty"] for s in stats]),
            progress.bad_batches,
            loss=progress.mean("loss"),
            readout_loss=progress.mean("readout_loss"),
            train_accuracy=last["train_accuracy"],
            **({"val_accuracy": last["val_accuracy"]} if "val_accuracy" in last else {}),
            test_accuracy=last["test_accuracy"],
        )
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                train=f"{last['train_accuracy']:.3f}", test=f"{last['test_accuracy']:.3f}"
            )

    def _save_checkpoints(self, message: _Message, stats: list[dict[str, int]]) -> None:
        """Write every unit's state to ``units/unit_K.pt``; at an epoch end also load them into
        the bookkeeping network (the evaluation message that follows records the epoch)."""
        refs = [self.data_refs[k][message.id] for k in range(self.n)]
        files = self.ray.get(refs)
        if "unit_checkpoints" not in self.bytes:
            self.bytes["unit_checkpoints"] = [len(data) for data in files]
        for k, data in enumerate(files):
            atomic_write_bytes(self._unit_path(k), data)
            self.saved_position[k] = stats[k]["position"]
        if message.final:
            self._load_states([torch.load(io.BytesIO(data), weights_only=True) for data in files])

    def _unit_path(self, k: int) -> Path:
        return self.units_dir / f"unit_{k + 1}.pt"

    def _load_states(self, states: list[dict[str, Any]]) -> None:
        """The units' states into the bookkeeping network, rule and fault schedule."""
        replica = self.replica
        replica.load_unit_states(dict(enumerate(states)))
        levels = sorted(
            entry
            for k, state in enumerate(states)
            for entry in state["faults"]["levels"]
            if entry[1] in replica.substrate_indices(k)
        )
        replica.faults.load_state_dict({"describe": replica.faults.describe(), "levels": levels})

    # --- recovery -------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Bring every unit back to a consistent state after actors died (module docstring).
        Repeats while units keep dying; Ray's ``max_restarts`` bounds that."""
        while True:
            outcome = self._settle()
            try:
                positions = self._restore_units(outcome)
                self._replay(positions, outcome)
                return
            except Exception as error:
                self._unless_failure(error)

    def _settle(self) -> list[dict[int, bool]]:
        """Wait until every message sent has succeeded or failed; which did, per unit."""
        refs = [ref for k in range(self.n) for ref in self.status_refs[k].values()]
        if refs:
            self.ray.wait(refs, num_returns=len(refs), fetch_local=False)
        outcome: list[dict[int, bool]] = [{} for _ in range(self.n)]
        for k in range(self.n):
            for message_id, ref in self.status_refs[k].items():
                try:
                    self.ray.get(ref)
                    outcome[k][message_id] = True
                except Exception as error:
                    self._unless_failure(error)
                    outcome[k][message_id] = False
                    self._consume(self.data_refs[k][message_id])
        return outcome

    def _consume(self, ref: Any) -> None:
        """Fetch a failed message's other output, so that Ray does not report its error as
        unhandled (the failure is handled here)."""
        try:
            self.ray.get(ref)
        except Exception as error:
            self._unless_failure(error)

    def _status(self, k: int) -> dict[str, Any]:
        """Unit ``k``'s status, waiting while Ray restarts its actor."""
        exceptions = self.ray.exceptions
        deadline = time.monotonic() + self.options.restart_timeout
        while True:
            try:
                return self.ray.get(self.actors[k].status.remote())  # type: ignore[no-any-return]
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

    def _restore_units(self, outcome: list[dict[int, bool]]) -> list[int]:
        """Restore every restarted unit from its checkpoint; every unit's position."""
        positions = []
        for k in range(self.n):
            status = self._status(k)
            if not status["ready"]:
                state = self._load_unit(k)
                status = self.ray.get(self.actors[k].restore.remote(state))
                self._record_restart(k, status, outcome[k], state)
            positions.append(status["position"])
        return positions

    def _load_unit(self, k: int) -> dict[str, Any]:
        return load_state_file(self._unit_path(k), UNIT_CHECKPOINT_FORMAT)

    def _record_restart(
        self, k: int, status: dict[str, Any], outcome: dict[int, bool], state: dict[str, Any]
    ) -> None:
        """Log a restart of unit ``k`` to ``restarts.jsonl`` and the summary."""
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
        with self.restarts_path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")

    def _replay(self, positions: list[int], outcome: list[dict[int, bool]]) -> None:
        """Re-send, unit by unit, the training messages after each unit's position, and the
        other messages there that failed or that came after a failed training message (they
        saw a state that missed it); wait for all of them."""
        pending = []
        for k in range(self.n):
            failed = [
                m.id for m in self.log if m.kind == "train" and not outcome[k].get(m.id, True)
            ]
            first_failed = min(failed, default=self.next_id)
            for message in self.log:
                if message.id <= positions[k]:
                    continue
                if (
                    message.kind != "train"
                    and outcome[k].get(message.id, True)
                    and message.id < first_failed
                ):
                    continue  # an evaluation or checkpoint changes nothing: keep its result
                data, status = self._submit(k, message)
                pending.append(status)
                if not message.done:
                    self.data_refs[k][message.id] = data
                    self.status_refs[k][message.id] = status
        self.ray.get(pending)

    # --- the run --------------------------------------------------------------------------------

    def run(self, progress: bool) -> dict[str, Any]:
        cfg, options, data = self.config, self.options, self.data
        try:
            setup_start = time.perf_counter()
            self._create_actors()
            self._start_units()
            setup_seconds = time.perf_counter() - setup_start
            self._write_settings()
            in_flight = options.in_flight(self.n)
            x_info = data.x_train[: min(cfg.info_samples, len(data.y_train))]
            evaluation = self.ray.put(
                {
                    "x_train": data.x_train,
                    "x_test": data.x_test,
                    "x_info": x_info,
                    "x_val": data.x_val,
                    "y_info": data.y_train[: len(x_info)],
                    "y_train": data.y_train,
                    "y_test": data.y_test,
                    "y_val": data.y_val,
                }
            )
            self.bar = tqdm(
                total=cfg.epochs,
                desc=f"{cfg.method} on {cfg.substrate}, {self.n} units distributed",
                unit="epoch",
                disable=not progress,
                leave=True,
            )
            self.start = time.perf_counter()
            step = 0
            for epoch in range(1, cfg.epochs + 1):
                order = batches(len(data.y_train), cfg.batch_size, self.shuffle)
                sums = {"loss": 0.0, "readout_loss": 0.0}
                self.progress[epoch] = EpochProgress(epoch, order, sums)
                for b, index in enumerate(order):
                    step += 1
                    while self._in_flight() >= in_flight:
                        self._finish_oldest()
                    payload = self.ray.put((data.x_train[index], data.y_train[index]))
                    message = _Message(self._new_id(), "train", epoch, step, len(order))
                    message.samples, message.payload = len(index), payload
                    self._send(message)
                    if options.kill_unit and step == options.kill_at_step:
                        self.drilled.add(options.kill_unit - 1)
                        self.ray.kill(self.actors[options.kill_unit - 1], no_restart=False)
                    every = options.checkpoint_every
                    if every and step % every == 0 and b < len(order) - 1:
                        self._send(_Message(self._new_id(), "checkpoint", epoch))
                final = _Message(self._new_id(), "checkpoint", epoch, final=True)
                final.shuffle_state = self.shuffle.get_state()
                self._send(final)
                evaluate = _Message(self._new_id(), "eval", epoch, payload=evaluation)
                evaluate.shuffle_state = final.shuffle_state
                self._send(evaluate)
            while any(not m.done for m in self.log):
                self._finish_oldest()
            wall = time.perf_counter() - self.start
        except KeyboardInterrupt:
            raise self._interrupted() from None
        finally:
            if self.bar is not None:
                self.bar.close()
            for actor in self.actors:
                self.ray.kill(actor, no_restart=True)
        return self._finish(wall, setup_seconds)

    def _interrupted(self) -> TrainingInterrupted:
        """Ctrl-C: what the run folder's checkpoint holds (the last epoch recorded) and how
        to continue (``--resume`` continues a distributed run's checkpoint on this machine)."""
        done = self.trainer.epoch
        run = shlex.quote(str(self.folder.path))
        if not self.folder.checkpoint.exists():
            message = f"interrupted before the first checkpoint; start the run again (--out {run})"
        else:
            where = "the state before training" if done == 0 else f"the end of epoch {done}"
            message = (
                f"interrupted; {self.folder.checkpoint} holds {where}; resume with: "
                f"pnnkit train --resume {run} (it continues on this machine)"
            )
        return TrainingInterrupted(message, self.folder.path, done + 1, 0)

    def _write_settings(self) -> None:
        self.folder.write_json(
            self.folder.path / "distributed.json",
            {
                **self.options.to_dict(),
                "units": self.n,
                "max_in_flight_effective": self.options.in_flight(self.n),
                "ray_address": self.ray.get_runtime_context().gcs_address,
                "actors": [
                    {"unit": k + 1, "pid": pid, "host": host}
                    for k, (pid, host) in enumerate(zip(self.pids, self.hosts, strict=True))
                ],
            },
        )

    def _finish(self, wall: float, setup_seconds: float) -> dict[str, Any]:
        """The sequential trainer's summary and plots, with the units' substrate reports and
        a ``distributed`` section."""
        summary = self.trainer.finish(wall)
        summary["substrate_reports"] = {
            f"unit{k + 1}.{name}": report
            for k, unit_reports in enumerate(self.reports)
            for name, report in unit_reports.items()
        }
        summary["distributed"] = {
            "units": self.n,
            "settings": self.options.to_dict(),
            "setup_seconds": setup_seconds,
            "samples_per_second": self.config.epochs * len(self.data.y_train) / wall,
            "unit_busy_seconds": self.busy,
            # > 1 when units worked at the same time: the pipeline's overlap
            "units_busy_on_average": sum(self.busy) / wall,
            "restarts": self.restarts,
            "bytes": self.bytes,
        }
        self.folder.write_json(self.folder.summary, summary)
        return summary


def train_distributed(
    config: TrainConfig,
    options: DistributedConfig | None = None,
    *,
    address: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``config`` (method ``pib``, supervised) with every unit in its own Ray actor,
    pipelined (module docstring); returns the run summary, also in ``summary.json``.

    Connects to the Ray cluster at ``address`` (``"auto"``, ``"HOST:PORT"``, ``"ray://..."``);
    without one, uses the Ray instance this process is connected to or starts a local one
    (stopped again at the end).
    """
    options = options if options is not None else DistributedConfig()
    config.validate()
    check_supported(config)
    options.validate()
    ray = _import_ray()
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
        return _Pipeline(ray, config, options, overwrite=overwrite).run(progress)
    finally:
        if started:
            ray.shutdown()
