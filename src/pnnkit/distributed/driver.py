"""Distributed PIB training: every unit in a Ray actor, batches streamed through the chain.

**Pipeline.** Unit ``k``'s actor (:class:`~pnnkit.distributed.unit.UnitWorker`) owns its
substrates. The driver sends every training batch ``(x, y)`` into the chain; actor ``k``
measures its unit on the previous unit's measured output ``t_{k-1}``, programs its local PIB
update and passes ``t_k`` on; the last actor also trains the digital readout. Ray runs the
messages of one actor in the order the driver submitted them (:mod:`pnnkit.distributed.messages`),
so while unit ``k`` trains on batch ``b``, unit ``k + 1`` trains on ``b - 1``: with ``L`` units
and a hardware latency ``d`` per pass, an epoch of ``B`` batches takes about ``(B + L - 1) d``
instead of ``B L d``.

**Staleness: none.** PIB's update of unit ``k`` uses only quantities measured at unit ``k``
for that batch, and nothing flows back from later units (Wang et al., arXiv 2602.09569, 2026;
docs/pib.md), so the pipelined run computes the sequential run's numbers to the last digit
(:mod:`pnnkit.distributed.unit` says why, and names the options that draw from a shared random
stream). Evaluation is not a barrier either: at each epoch end an evaluation message follows the
last batch down the chain, and each unit measures at its state right after that epoch (costs and
noise streams set apart), while the next epoch's batches follow it.

**Backpressure.** At most ``max_in_flight`` training batches are between the driver and the end
of the chain: the driver waits for the oldest to leave the last unit before sending another, so
no unit's queue holds more than that many messages whatever the speed of the units.

**Resilience.** Units are checkpointed every ``checkpoint_every`` batches and at every epoch
end; a unit whose actor dies is restarted from its checkpoint and given again the messages
since (:mod:`pnnkit.distributed.recovery`): no batch is lost, and the result equals an
undisturbed run's. When a lost node also held outputs that the next unit had not yet received,
those cannot be replayed and the run stops with a
:class:`~pnnkit.distributed.messages.DistributedError`.

**Run folder.** Built (:func:`~pnnkit.experiment.builder.build_run`) and written
(:class:`~pnnkit.experiment.recorder.Recorder`) as a sequential run's: ``config.json``,
``metrics.jsonl`` with the same keys, ``guard.log``, TensorBoard, ``summary.json``,
``checkpoint.pt`` in the sequential format (``pnnkit train --resume`` continues it on one
machine), the two plots; plus ``distributed.json`` (the settings, and the actors' processes and
hosts), ``units/unit_K.pt`` and ``restarts.jsonl``. The driver's copy of the network takes the
units' states at every epoch end. ``train_seconds`` in the metrics is the pipeline's wall time,
the overlapped evaluations included. The first Ctrl-C stops the run after the next epoch is
recorded (:class:`~pnnkit.experiment.interrupt.CtrlC`).
"""

from __future__ import annotations

import io
import time
from typing import Any

import torch
from tqdm import tqdm

from pnnkit.distributed.cluster import Cluster, connected
from pnnkit.distributed.config import DistributedConfig
from pnnkit.distributed.messages import Message, MessageLog, evaluation_inputs
from pnnkit.distributed.recovery import Recovery
from pnnkit.distributed.unit import Replica, check_supported
from pnnkit.errors import ConfigError, TooManyBadMeasurementsError, TrainingInterrupted
from pnnkit.experiment.builder import build_run
from pnnkit.experiment.checkpoint import EpochProgress, checkpoint_state
from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.interrupt import CtrlC, interrupted
from pnnkit.experiment.recorder import Recorder, epoch_record, run_summary
from pnnkit.experiment.trainer import batches
from pnnkit.learning import LearningRule
from pnnkit.learning.pib import PIB
from pnnkit.physics import Counters
from pnnkit.results.folder import TRAIN, RunFolder


class Driver:
    """The driver of one distributed run (module docstring). It holds the run's state as a
    whole (a :class:`~pnnkit.experiment.checkpoint.RunState`: the data, a copy of the network
    into which the units' states are loaded at every epoch end, the records) and the pipeline's
    own: the message log, the epochs in flight, the units' busy times."""

    def __init__(
        self, ray: Any, config: TrainConfig, options: DistributedConfig, *, overwrite: bool
    ) -> None:
        self.config, self.options = config, options
        self.n = len(config.hidden)  # PIB trains linear-stage networks: a unit per width
        self.cluster = Cluster(ray, options, self.n)
        self.folder = RunFolder(config.out, TRAIN)
        self.recorder = Recorder(self.folder, tensorboard=config.tensorboard)
        parts = build_run(config)
        assert isinstance(parts.rule, PIB)  # method pib, checked by check_supported
        self.data, self.network, self.faults = parts.data, parts.network, parts.faults
        self.task = parts.task
        self.rule: LearningRule = parts.rule
        #: the faults the units injected, as they report them (this copy's own are not kept)
        self.fault_log: list[dict[str, Any]] = []
        self.replica = Replica(self.network, parts.rule, self.faults)
        self.total_steps = parts.rule.total_steps
        if options.kill_at_step > self.total_steps:
            raise ConfigError(
                f"DistributedConfig.kill_at_step = {options.kill_at_step} is invalid: the run "
                f"has {self.total_steps} training batches"
            )
        #: draws the batch orders; ``shuffle`` holds its state as of the last recorded epoch
        self.draw = torch.Generator().manual_seed(config.seed)
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.eval_counters = Counters()
        #: the pipeline's wall time up to the last recorded epoch
        self.train_seconds = 0.0
        self.epoch = 0
        #: always None: the run is recorded and checkpointed at epoch ends only
        self.progress: EpochProgress | None = None
        self.bad_in_a_row = 0
        self.bad_evaluations = 0
        #: where checkpoint.pt stands: (epochs finished, 0), None before the first
        self.saved_at: tuple[int, int] | None = None
        self.folder.create(overwrite=overwrite)
        self.recorder.write_config(config.resolved())
        units_dir = self.folder.path / "units"
        units_dir.mkdir(exist_ok=True)
        for old in units_dir.glob("unit_*.pt"):
            old.unlink()
        restarts = self.folder.path / "restarts.jsonl"
        restarts.unlink(missing_ok=True)
        self.log = MessageLog(self.n)
        self.recovery = Recovery(self.cluster, self.log, units_dir, restarts)
        #: per epoch in flight: batch order, loss sums and bad batches
        self.open_epochs: dict[int, EpochProgress] = {}
        #: seconds each unit spent on training batches and evaluations
        self.busy = [0.0] * self.n
        self.hosts: list[str] = []
        #: the fit reports of the units' substrates that have one (recorded systems)
        self.reports: list[dict[str, Any]] = []
        self.bytes: dict[str, Any] = {}
        self.start = self._session_start = time.perf_counter()
        self.bar: tqdm | None = None
        self.ctrl_c = CtrlC(
            self._interrupted, "stopping after this epoch is recorded to save a checkpoint"
        )

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every epoch's record so far (as in ``metrics.jsonl``)."""
        return self.recorder.history

    def wall_seconds(self) -> float:
        """Wall time since the driver was built."""
        return time.perf_counter() - self._session_start

    # --- the run --------------------------------------------------------------------------------

    def run(self, progress: bool) -> dict[str, Any]:
        """Start the units, stream every epoch through them, record; returns the summary."""
        cfg, options, data, cluster = self.config, self.options, self.data, self.cluster
        try:
            with self.ctrl_c, self.recorder.session(progress=progress):
                setup_start = time.perf_counter()
                self._start_units()
                setup_seconds = time.perf_counter() - setup_start
                in_flight = options.in_flight(self.n)
                evaluation = cluster.ray.put(evaluation_inputs(data, cfg.info_samples))
                self.bar = tqdm(
                    total=cfg.epochs,
                    desc=f"{cfg.method} on {cfg.substrate}, {self.n} units distributed",
                    unit="epoch",
                    disable=not progress,
                    leave=True,
                )
                self.start = self.recovery.start = time.perf_counter()
                step = 0
                for epoch in range(1, cfg.epochs + 1):
                    order = batches(len(data.y_train), cfg.batch_size, self.draw)
                    sums = dict.fromkeys(self.task.losses, 0.0)
                    self.open_epochs[epoch] = EpochProgress(epoch, order, sums)
                    for b, index in enumerate(order):
                        step += 1
                        while self.log.in_flight() >= in_flight:
                            self._finish_oldest()
                        payload = cluster.ray.put((data.x_train[index], data.y_train[index]))
                        message = self.log.new("train", epoch, step=step, batches=len(order))
                        message.samples, message.payload = len(index), payload
                        cluster.send(message, self.log)
                        if options.kill_unit and step == options.kill_at_step:
                            self.recovery.drilled.add(options.kill_unit - 1)
                            cluster.kill(options.kill_unit - 1)
                        every = options.checkpoint_every
                        if every and step % every == 0 and b < len(order) - 1:
                            cluster.send(self.log.new("checkpoint", epoch), self.log)
                    final = self.log.new("checkpoint", epoch, final=True)
                    final.shuffle_state = self.draw.get_state()
                    cluster.send(final, self.log)
                    evaluate = self.log.new("eval", epoch, payload=evaluation)
                    evaluate.shuffle_state = final.shuffle_state
                    cluster.send(evaluate, self.log)
                while self.log.unfinished():
                    self._finish_oldest()
                wall = time.perf_counter() - self.start
        finally:
            if self.bar is not None:
                self.bar.close()
            cluster.stop()
        return self._finish(wall, setup_seconds)

    def _start_units(self) -> None:
        """The actors, started (faults present from the start, conditioning calibrated unit by
        unit), then a first checkpoint of every unit; ``distributed.json`` written."""
        cluster, data = self.cluster, self.data
        cluster.create_actors(self.config, data.num_features, data.num_classes, self.total_steps)
        statuses = cluster.start_units(data.x_train[: self.config.calibration_samples])
        self.recovery.pids = [s["pid"] for s in statuses]
        self.hosts = [s["host"] for s in statuses]
        self.reports = cluster.reports()
        cluster.send(self.log.new("checkpoint", 1), self.log)
        self._finish_oldest()
        settings = cluster.settings(self.recovery.pids, self.hosts)
        self.folder.write_json(self.folder.path / "distributed.json", settings)

    def _finish_oldest(self) -> None:
        """Wait for the oldest unfinished message to leave the chain and record it."""
        message = self.log.oldest_unfinished()
        while True:
            refs = [self.log.status_refs[k][message.id] for k in range(self.n)]
            try:
                stats = self.cluster.ray.get(refs)
                break
            except Exception as error:
                self.cluster.unless_failure(error)
                self.recovery.recover()
        if message.kind == "train":
            self._record_batch(message, stats)
        elif message.kind == "eval":
            self._record_epoch(message, stats)
        else:
            self._save_checkpoints(message, stats)
        message.done = True
        self.log.prune()

    # --- results --------------------------------------------------------------------------------

    def _record_batch(self, message: Message, stats: list[dict[str, Any]]) -> None:
        """Add a finished batch to its epoch's sums, or count it as skipped."""
        if "input_batch" not in self.bytes:
            self._measure_bytes(message)
        progress = self.open_epochs[message.epoch]
        bad = next((s["bad"] for s in stats if s.get("bad")), None)
        if bad is not None:
            progress.bad_batches += 1
            self.bad_in_a_row += 1
            self.recorder.note(
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

    def _measure_bytes(self, message: Message) -> None:
        """Serialised sizes of what one training batch sends between processes (as Ray stores
        them): the batch, sent to every unit, and each unit's output, sent to the next."""
        log = self.log
        outputs = [log.data_refs[k][message.id] for k in range(self.n - 1)]
        statuses = [log.status_refs[k][message.id] for k in range(self.n)]
        batch, *sizes = self.cluster.sizes([message.payload, *outputs, *statuses])
        sent, status = sizes[: self.n - 1], sum(sizes[self.n - 1 :])
        self.bytes.update(
            {
                "batch_samples": message.samples,
                "input_batch": batch,
                "unit_outputs": sent,
                "unit_stats": status,
                # every unit on a node of its own: the batch reaches each unit, each unit's
                # output the next one, each unit's stats the driver
                "per_batch_one_node_per_unit": self.n * batch + sum(sent) + status,
            }
        )

    def _record_epoch(self, message: Message, stats: list[dict[str, Any]]) -> None:
        """Record an epoch as the sequential trainer does: its metrics line (with the units'
        states of that epoch end, loaded by the checkpoint message before this one) and its
        checkpoint. Stops here after a Ctrl-C."""
        epoch, log = message.epoch, self.log
        if "evaluation_inputs" not in self.bytes:
            outputs = [log.data_refs[k][message.id] for k in range(self.n - 1)]
            sent, *received = self.cluster.sizes([message.payload, *outputs])
            self.bytes.update(evaluation_inputs=sent, evaluation_outputs=received)
        for k, unit_stats in enumerate(stats):
            self.eval_counters = self.eval_counters + Counters(**unit_stats["eval_counters"])
            self.busy[k] += unit_stats["seconds"]
        faults = sorted((r for s in stats for r in s["faults"]), key=lambda r: r["rank"])
        self.fault_log.extend({k: v for k, v in r.items() if k != "rank"} for r in faults)
        self.bad_evaluations = sum(s["bad_evaluations"] for s in stats)
        self.train_seconds = time.perf_counter() - self.start
        self.epoch = epoch
        assert message.shuffle_state is not None
        self.shuffle.set_state(message.shuffle_state)
        progress = self.open_epochs.pop(epoch)
        last = stats[-1]
        results = {
            "loss": progress.mean("loss"),
            "readout_loss": progress.mean("readout_loss"),
            "train_accuracy": last["train_accuracy"],
            **({"val_accuracy": last["val_accuracy"]} if "val_accuracy" in last else {}),
            "test_accuracy": last["test_accuracy"],
        }
        info = ([s["i_xt"] for s in stats], [s["i_ty"] for s in stats])
        record = epoch_record(self, epoch, info, progress.bad_batches, results)
        self.bad_evaluations = 0
        self.recorder.record(record)
        self.folder.save_checkpoint(checkpoint_state(self))
        self.saved_at = (self.epoch, 0)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                train=f"{last['train_accuracy']:.3f}", test=f"{last['test_accuracy']:.3f}"
            )
        self.ctrl_c.check()

    def _save_checkpoints(self, message: Message, stats: list[dict[str, int]]) -> None:
        """Write every unit's state to ``units/unit_K.pt``; at an epoch end also load them into
        the driver's copy of the network (the evaluation message that follows records the
        epoch)."""
        refs = [self.log.data_refs[k][message.id] for k in range(self.n)]
        files = self.cluster.ray.get(refs)
        if "unit_checkpoints" not in self.bytes:
            self.bytes["unit_checkpoints"] = [len(data) for data in files]
        self.recovery.save_units(files, [s["position"] for s in stats])
        if message.final:
            self._load_states([torch.load(io.BytesIO(data), weights_only=True) for data in files])

    def _load_states(self, states: list[dict[str, Any]]) -> None:
        """The units' states into the driver's network, rule and fault schedule."""
        replica = self.replica
        replica.load_unit_states(dict(enumerate(states)))
        levels = sorted(
            entry
            for k, state in enumerate(states)
            for entry in state["faults"]["levels"]
            if entry[1] in replica.substrate_indices(k)
        )
        replica.faults.load_state_dict({"describe": replica.faults.describe(), "levels": levels})

    def _interrupted(self) -> TrainingInterrupted:
        """Ctrl-C: what checkpoint.pt holds (the last epoch recorded) and how to continue
        (``--resume`` continues a distributed run's checkpoint on this machine)."""
        return interrupted(self.folder.path, self.epoch, None, self.saved_at)

    def _finish(self, wall: float, setup_seconds: float) -> dict[str, Any]:
        """The sequential run's summary and plots, with the units' substrate reports and a
        ``distributed`` section."""
        summary = run_summary(self, wall)
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
            "restarts": self.recovery.restarts,
            "bytes": self.bytes,
        }
        self.recorder.write_summary(summary)
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
    with connected(address) as ray:
        return Driver(ray, config, options, overwrite=overwrite).run(progress)
