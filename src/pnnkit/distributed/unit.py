"""One PIB unit trained in place: what each Ray actor of a distributed run holds and does.

A :class:`UnitWorker` owns unit ``k`` of a network (its substrates, its optimiser state, its
share of the fault schedule) and, for the last unit, the digital readout. It has no Ray in it:
:mod:`pnnkit.distributed.cluster` wraps it in an actor. Every worker builds the same network
and PIB rule from the run's :class:`~pnnkit.experiment.config.TrainConfig` (deterministic in the
seed, as :class:`~pnnkit.experiment.trainer.Trainer` builds it) and only ever touches its own unit,
so the replica's other units stay as built. For PIB this split is exact: in
:meth:`pnnkit.learning.pib.PIB.train_step` unit ``k`` sees only the measured ``t_{k-1}`` of the
batch, the network input (for ``I(X;T)``) and the labels, and nothing flows back (Wang et al.,
arXiv 2602.09569, 2026; docs/pib.md), so unit ``k`` can train on batch ``b`` while unit ``k + 1``
trains on batch ``b - 1`` and the result is the sequential one to the last digit.

Exact up to two random streams and one kind of event. With ``physics_lr > 0`` (SPSA signs) or
``solver = lanczos`` (probes) the rule draws from torch's global generator, which the
sequential run shares among its units in turn; each worker has its own, seeded from
``(seed, unit)``, so those runs are statistically, not bitwise, the same. And a bad
measurement (:class:`~pnnkit.errors.BadMeasurementError`: NaN, Inf, out of range) at unit ``k``
skips the batch there and at every later unit, leaving their state as it was (as the sequential
trainer skips the whole step), but the units before ``k`` have already learned from it: they
cannot wait for later units' measurements without stalling the pipeline. Every unit still
counts the step, so the learning-rate schedules stay in step. A bad evaluation pass is measured
again at the unit where it failed (the sequential trainer measures the whole chunk again).
"""

from __future__ import annotations

import io
import os
import socket
import time
from typing import Any

import torch
from torch import Tensor

from pnnkit.distributed.messages import UNIT_CHECKPOINT_FORMAT, UnitNotReadyError
from pnnkit.errors import BadMeasurementError, ConfigError, TooManyBadMeasurementsError
from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.evaluation import EVAL_CHUNK, evaluation_apart
from pnnkit.faults import FaultSchedule
from pnnkit.learning.pib import PIB, PIBConfig, UnitPass
from pnnkit.network import PhysicalNetwork, Unit, UnitOutput, measured
from pnnkit.physics import Counters
from pnnkit.physics.measured import MeasuredSubstrate


def check_supported(config: TrainConfig) -> None:
    """Refuse what the distributed trainer cannot run (it pipelines PIB's local updates)."""
    if config.task != "supervised":
        raise ConfigError(
            f"task = {config.task!r} cannot run distributed: the pipeline trains supervised "
            f"PIB (multi-view PIB compares views across the whole network); drop --distributed"
        )
    if config.method != "pib":
        raise ConfigError(
            f"method = {config.method!r} cannot run distributed: only pib is pipelined (its "
            f"units learn from their own measured outputs; a rule that sends errors back "
            f"through the units would stall the pipeline); use --method pib or drop "
            f"--distributed"
        )
    if config.pre_stage:
        raise ConfigError(
            f"pre_stage = {config.pre_stage!r} cannot run distributed yet: a unit's state in "
            f"the pipeline does not carry its pre-stage's optimiser; drop it or --distributed"
        )
    rule_config = config.rule_config()
    if isinstance(rule_config, PIBConfig) and rule_config.refresh.every:
        raise ConfigError(
            "rule.refresh.every cannot run distributed yet: the weight refresh reprograms every "
            "unit at once from one controller; drop it or --distributed"
        )


def pib_unit_step(
    rule: PIB, k: int, h: Tensor, x_gram: Tensor | None, y_gram: Tensor, labels: Tensor
) -> tuple[UnitOutput, UnitPass]:
    """Unit ``k``'s part of :meth:`PIB.bottleneck_step` for one batch: its measurements
    (:meth:`PIB.measure_unit`), then its writes (:meth:`PIB.write_unit`), so a
    :class:`~pnnkit.errors.BadMeasurementError` leaves the unit as it was. ``x_gram`` is the
    input's Gram matrix, or None to compress against the unit's own input; ``labels`` feed
    the similarity and head terms. Returns the measured pass and what it called for."""
    unit_pass = rule.measure_unit(k, h, x_gram, y_gram, labels)
    rule.write_unit(k, unit_pass)
    return unit_pass.out, unit_pass


class Replica:
    """A network, its PIB rule and fault schedule, with per-unit state in and out."""

    def __init__(self, network: PhysicalNetwork, rule: PIB, faults: FaultSchedule) -> None:
        self.network, self.rule, self.faults = network, rule, faults

    @classmethod
    def build(
        cls, config: TrainConfig, num_features: int, num_classes: int, total_steps: int
    ) -> Replica:
        """What a run's config builds, as :class:`~pnnkit.experiment.trainer.Trainer` builds it
        (before calibration)."""
        network = config.build_network(num_features, num_classes)
        faults = FaultSchedule(config.faults or None, seed=config.seed)
        faults.check(network)
        rule_config = config.rule_config()
        assert isinstance(rule_config, PIBConfig)  # method pib, checked above
        return cls(network, PIB(network, rule_config, total_steps), faults)

    @property
    def units(self) -> list[Unit]:
        """The network's units, in signal order."""
        return self.network.units

    def substrate_indices(self, k: int) -> range:
        """Indices of unit ``k``'s substrates in ``network.substrates()`` (fault targets)."""
        start = sum(len(u.substrates) for u in self.units[:k])
        return range(start, start + len(self.units[k].substrates))

    def unit_state(self, k: int) -> dict[str, Any]:
        """Unit ``k``'s trained state: its hardware and conditioning, its optimiser, its
        relevance head (None without one), the step count and, for the last unit, the readout
        and its optimiser."""
        last = k == len(self.units) - 1
        rule_state = self.rule.state_dict()
        return {
            "unit": self.network.state_dict()["units"][k],
            "update": rule_state["unit_updates"][k],
            "head": rule_state["unit_heads"][k] if "unit_heads" in rule_state else None,
            "step_count": self.rule.step_count,
            "readout": self.network.readout.state_dict() if last else None,
            "readout_optimizer": rule_state["readout_optimizer"] if last else None,
        }

    def load_unit_states(self, states: dict[int, dict[str, Any]]) -> None:
        """Load :meth:`unit_state` of the units ``k`` in ``states`` (the others keep theirs)."""
        network_state = self.network.state_dict()
        rule_state = self.rule.state_dict()
        for k, state in states.items():
            network_state["units"][k] = state["unit"]
            rule_state["unit_updates"][k] = state["update"]
            if state.get("head") is not None:
                rule_state["unit_heads"][k] = state["head"]
            rule_state["step_count"] = state["step_count"]
            if state["readout"] is not None:
                network_state["readout"] = state["readout"]
                rule_state["readout_optimizer"] = state["readout_optimizer"]
        self.network.load_state_dict(network_state)
        self.rule.load_state_dict(rule_state)


class UnitWorker:
    """Unit ``index`` of the run, trained in place (module docstring). Methods that the
    pipeline chains return ``(data for the next unit, small stats for the driver)``.

    ``threads`` is given when the worker has a process of its own (a Ray actor): torch's
    thread count there, and the process's global generator is then seeded from
    ``(seed, index)``.
    """

    def __init__(
        self,
        config: TrainConfig,
        index: int,
        num_features: int,
        num_classes: int,
        total_steps: int,
        threads: int | None = None,
    ) -> None:
        if threads is not None:  # a process of its own (an actor)
            torch.set_num_threads(max(1, threads))
            torch.manual_seed(config.seed * 1000 + index)
        self.config, self.index = config, index
        self.replica = Replica.build(config, num_features, num_classes, total_steps)
        self.unit = self.replica.units[index]
        self.last = index == len(self.replica.units) - 1
        self.num_classes = num_classes
        #: False until :meth:`start` or :meth:`restore`: a restarted actor refuses work
        self.ready = False
        #: id of the last training message applied to this unit (0: none)
        self.position = 0
        self.epoch = 1
        #: fault records of this unit, with their rank in the schedule's own order
        self.fault_log: list[dict[str, Any]] = []
        #: evaluation passes measured again in the current evaluation
        self.bad_evaluations = 0

    # --- set-up ---------------------------------------------------------------------------------

    def start(self, h: Tensor | None) -> Tensor | None:
        """Inject the faults present from the start, then calibrate the unit's conditioning on
        ``h`` (the calibration batch at this unit's input; None when no unit from here on needs
        calibrating), as :meth:`PhysicalNetwork.calibrate` does for this unit. Returns the next
        unit's calibration input, or None when no later unit needs one."""
        self._inject(1)
        units = self.replica.units
        conditioned = [
            k for k, u in enumerate(units) if u.physics is not None and u.stage is not None
        ]
        last_conditioned = max(conditioned, default=-1)
        h_next = None
        if h is not None and self.index <= last_conditioned:
            unit, forward = self.unit, self.index < last_conditioned
            if unit.stage is not None and self.index in conditioned:
                p = unit.calibrate(h)
                if forward:
                    h_next = unit.f(measured(unit.stage, p))
            else:
                h_next = unit.measure(h).t
        self.ready = True
        return h_next

    def _inject(self, epoch: int) -> None:
        """Apply the fault schedule due at ``epoch`` to the replica and keep this unit's
        records (each replica injects the same faults: their draws depend on the seed and the
        fault only, not on the state of other units)."""
        records = self.replica.faults.apply(self.replica.network, epoch, self.config.epochs)
        self.fault_log.extend(
            {**record, "rank": rank}
            for rank, record in enumerate(records)
            if record["unit"] == self.index + 1
        )

    def _check_ready(self) -> None:
        if not self.ready:
            raise UnitNotReadyError(
                f"unit {self.index + 1} was restarted and has not been restored yet"
            )

    # --- the chained messages -------------------------------------------------------------------

    def train(
        self, message: int, epoch: int, batch: tuple[Tensor, Tensor], h: Tensor | None
    ) -> tuple[Tensor | None, dict[str, Any]]:
        """One training batch ``(x, y)``; ``h`` is the previous unit's measured output (None for
        the first unit, whose input is ``x``, and for a batch an earlier unit could not
        measure). Returns this unit's output for the next unit (None from the last, and for a
        skipped batch) and its stats: loss terms (``bad``: why the batch was skipped instead)
        and ``seconds``, the time the unit spent on the batch."""
        began = time.perf_counter()
        self._check_ready()
        if epoch != self.epoch:
            self._inject(epoch)
            self.epoch = epoch
        rule = self.replica.rule
        est = rule.config.estimator
        x, y = batch
        x = x.detach()
        stats: dict[str, Any] = {}
        out = None
        if self.index > 0 and h is None:
            stats["bad"] = ""  # skipped upstream, which reports why
        else:
            y_gram = est.label_gram(y, self.num_classes)
            x_gram = rule.step_input_gram(x)
            try:
                out, unit_pass = pib_unit_step(
                    rule, self.index, x if h is None else h, x_gram, y_gram, y
                )
            except BadMeasurementError as error:
                stats["bad"] = f"unit {self.index + 1}: {error}"
            else:
                stats = {"loss": unit_pass.loss, "i_xt": unit_pass.i_xt, "i_ty": unit_pass.i_ty}
                if self.last:
                    stats["readout_loss"] = rule.readout_trainer.train(out.t, y, rule.lr_factor())
        rule.step_count += 1
        self.position = message
        stats["seconds"] = time.perf_counter() - began
        return (None if self.last or out is None else out.t), stats

    def evaluate(
        self, message: int, epoch: int, data: dict[str, Tensor], h: tuple[Tensor, ...] | None
    ) -> tuple[tuple[Tensor, ...] | None, dict[str, Any]]:
        """Measure the training, test, information-plane and validation inputs at this unit's
        current state, costs apart (:func:`~pnnkit.experiment.evaluation.evaluation_apart`: counters
        and noise streams restored), in the order and chunks the sequential evaluation uses.
        ``data`` holds ``x_train``, ``x_test``, ``x_info``, ``x_val``, ``y_info``, ``y_train``,
        ``y_test``, ``y_val`` (the validation split may be empty: then it is not measured);
        ``h`` the previous unit's outputs for the four inputs. Returns this unit's outputs
        (None from the last unit, which reports accuracies instead) and its stats
        (``seconds``: the time the unit spent on them)."""
        began = time.perf_counter()
        self._check_ready()
        inputs = h if h is not None else (data["x_train"], data["x_test"], data["x_info"])
        h_train, h_test, h_info = inputs[:3]
        h_val = inputs[3] if len(inputs) > 3 else data["x_val"]
        training = self.counters()
        spent = Counters()
        est = self.replica.rule.config.estimator
        self.bad_evaluations = 0
        with evaluation_apart(self.replica.network, spent):
            t_train = [self._output(c, "training accuracy") for c in h_train.split(EVAL_CHUNK)]
            t_test = [self._output(c, "test accuracy") for c in h_test.split(EVAL_CHUNK)]
            x_gram = est.input_gram(data["x_info"])
            y_gram = est.label_gram(data["y_info"], self.num_classes)
            t_info = self._output(h_info, "information plane")
            with torch.no_grad():
                i_xt, i_ty = est.terms(x_gram, t_info, y_gram)
            t_val = [
                self._output(c, "validation accuracy")
                for c in (h_val.split(EVAL_CHUNK) if len(h_val) else ())
            ]
        stats: dict[str, Any] = {
            "i_xt": float(i_xt),
            "i_ty": float(i_ty),
            "counters": training.as_dict(),
            "eval_counters": spent.as_dict(),
            "bad_evaluations": self.bad_evaluations,
            "faults": [r for r in self.fault_log if r["epoch"] == epoch],
        }
        if self.last:
            stats["train_accuracy"] = self._accuracy(t_train, data["y_train"])
            stats["test_accuracy"] = self._accuracy(t_test, data["y_test"])
            if t_val:
                stats["val_accuracy"] = self._accuracy(t_val, data["y_val"])
        stats["seconds"] = time.perf_counter() - began
        if self.last:
            return None, stats
        h_out = torch.cat(t_val) if t_val else h_val.new_zeros(0, self.unit.out_features)
        return (torch.cat(t_train), torch.cat(t_test), t_info, h_out), stats

    def _output(self, h: Tensor, what: str) -> Tensor:
        """The unit's output for one evaluation pass, measured again while it is bad (at most
        ``max_bad_batches`` attempts, fresh noise each time)."""
        attempts = self.config.max_bad_batches
        for _ in range(attempts):
            try:
                return self.unit.measure(h).t
            except BadMeasurementError as error:
                self.bad_evaluations += 1
                last = error
        raise TooManyBadMeasurementsError(
            f"evaluation stopped: unit {self.index + 1}'s {what} pass gave bad measurements "
            f"{attempts} times in a row (last: {last})"
        )

    @torch.no_grad()
    def _accuracy(self, outputs: list[Tensor], y: Tensor) -> float:
        network = self.replica.network
        predictions = torch.cat([network.logits(t).argmax(dim=1) for t in outputs])
        return float((predictions == y).float().mean())

    # --- state ----------------------------------------------------------------------------------

    def counters(self) -> Counters:
        """This unit's training costs (its substrates' counters summed)."""
        total = Counters()
        for substrate in self.unit.substrates:
            total = total + substrate.counters
        return total

    def checkpoint(self) -> tuple[bytes, dict[str, int]]:
        """Everything needed to continue exactly from here, as the bytes of a ``torch.save``
        file (loadable with ``torch.load(weights_only=True)``: serialised here, in the unit's
        process, so the driver only writes them), and ``{"position": ...}``."""
        self._check_ready()
        state = {
            "format": UNIT_CHECKPOINT_FORMAT,
            "index": self.index,
            "position": self.position,
            "epoch": self.epoch,
            **self.replica.unit_state(self.index),
            "faults": self.replica.faults.state_dict(),
            "fault_log": self.fault_log,
            "torch_rng": torch.get_rng_state(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue(), {"position": self.position}

    def restore(self, state: dict[str, Any]) -> dict[str, int]:
        """Continue from a :meth:`checkpoint` of this unit."""
        if state.get("format") != UNIT_CHECKPOINT_FORMAT or state.get("index") != self.index:
            raise ConfigError(
                f"not a checkpoint of unit {self.index + 1} (format {state.get('format')!r}, "
                f"unit index {state.get('index')!r})"
            )
        self.replica.load_unit_states({self.index: state})
        self.replica.faults.load_state_dict(state["faults"])
        self.fault_log = [dict(record) for record in state["fault_log"]]
        torch.set_rng_state(state["torch_rng"])
        self.position, self.epoch = int(state["position"]), int(state["epoch"])
        self.ready = True
        return self.status()

    def status(self) -> dict[str, Any]:
        """Whether the unit holds a state to work on, where it is, and its process."""
        return {
            "ready": self.ready,
            "position": self.position,
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }

    def reports(self) -> dict[str, Any]:
        """The fit reports of this unit's substrates that have one (recorded systems)."""
        return {
            s.name: s.fit_report for s in self.unit.substrates if isinstance(s, MeasuredSubstrate)
        }
