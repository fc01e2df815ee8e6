"""What a run writes as it goes: the metrics log, the notes log, TensorBoard, the summary.

One :class:`Recorder` per run, shared by every kind of run (the training loop, the RL runner,
the distributed driver), so that every run folder (:class:`~pnnkit.results.folder.RunFolder`)
is written the same way:

* ``metrics.jsonl``: one JSON object per record (an epoch, an RL iteration), appended as it is
  made; :attr:`Recorder.history` holds the same records in memory. A resumed run rewrites the
  file to its checkpoint's history (dropping what an interrupted session appended after it).
* ``guard.log``: one line per note (a bad measurement skipped or measured again, a resume), also
  shown on the console under the progress bar when the run shows one.
* ``tensorboard/``: with ``tensorboard = true``, every number of every record as a scalar
  (per-unit lists as ``key/unitK``); a resumed run purges the events after its checkpoint.
* ``config.json`` and ``summary.json``, written atomically; :func:`epoch_record` and
  :func:`run_summary` make a training run's records and summary from its state (the same for
  the sequential trainer and the distributed driver), the summary with its plots.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from pnnkit.errors import ConfigError
from pnnkit.experiment.checkpoint import RunState
from pnnkit.experiment.config import substrate_spec
from pnnkit.physics import SUBSTRATES
from pnnkit.results.folder import RunFolder
from pnnkit.results.plots import plot_information_plane


def summary_writer_class() -> type:
    """TensorBoard's ``SummaryWriter``; a :class:`ConfigError` when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "tensorboard = true needs the tensorboard package: pip install pnnkit[tensorboard]"
        ) from None
    return SummaryWriter


class Recorder:
    """The writer of one run folder's logs (module docstring). ``step_key``: the record field
    that numbers TensorBoard's steps (``epoch``, ``iteration``)."""

    def __init__(
        self, folder: RunFolder, *, tensorboard: bool = False, step_key: str = "epoch"
    ) -> None:
        if tensorboard:
            summary_writer_class()  # fail before any work when the package is missing
        self.folder = folder
        self.tensorboard = tensorboard
        self.step_key = step_key
        #: every record so far, as in ``metrics.jsonl``
        self.history: list[dict[str, Any]] = []
        #: whether notes also go to the console (set while a progress bar is shown)
        self.show_progress = False
        self._writer: Any = None

    def record(self, record: dict[str, Any]) -> None:
        """Add one record to the history, ``metrics.jsonl`` and TensorBoard."""
        self.history.append(record)
        self.folder.append_metrics(record)
        self._log_tensorboard(record)

    def restore(self, history: list[dict[str, Any]], note: str) -> None:
        """Continue from a checkpoint's ``history``: rewrite ``metrics.jsonl`` to it, remove a
        summary that no longer describes the run, and add ``note`` to an existing guard log."""
        self.history = list(history)
        self.folder.write_metrics(self.history)
        self.folder.summary.unlink(missing_ok=True)
        if self.folder.guard_log.exists():
            self.folder.log_guard(note)

    def note(self, line: str) -> None:
        """A line in ``guard.log`` (and on the console under the progress bar)."""
        self.folder.log_guard(line)
        if self.show_progress:
            tqdm.write(f"pnnkit: {line}", file=sys.stderr)

    def write_config(self, values: dict[str, Any]) -> None:
        """``config.json``: the resolved config of the run."""
        self.folder.write_json(self.folder.config, values)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """``summary.json``: the run's results and costs."""
        self.folder.write_json(self.folder.summary, summary)

    @contextmanager
    def session(self, *, progress: bool, purge_step: int | None = None) -> Iterator[None]:
        """One working session of the run: notes shown on the console when ``progress``, and
        the TensorBoard writer open when the run asks for one (``purge_step``: a resumed run's
        first step, whose events and later ones are purged)."""
        self.show_progress = progress
        if not self.tensorboard:
            yield
            return
        writer_class = summary_writer_class()
        self._writer = writer_class(log_dir=str(self.folder.tensorboard), purge_step=purge_step)
        try:
            yield
        finally:
            self._writer.close()
            self._writer = None

    def _log_tensorboard(self, record: dict[str, Any]) -> None:
        """Every number of a record as a scalar (per-unit lists as ``key/unitK``)."""
        if self._writer is None:
            return
        step = record[self.step_key]
        for key, value in record.items():
            if key == self.step_key:
                continue
            if key == "faults":
                self._writer.add_scalar("faults_injected", len(value), step)
            elif isinstance(value, list):
                for k, item in enumerate(value, start=1):
                    self._writer.add_scalar(f"{key}/unit{k}", item, step)
            elif isinstance(value, int | float):
                self._writer.add_scalar(key, value, step)
        self._writer.flush()


def epoch_record(
    run: RunState,
    epoch: int,
    info: tuple[list[float], list[float]],
    bad_batches: int,
    results: dict[str, float | None],
) -> dict[str, Any]:
    """One epoch's line of ``metrics.jsonl``: the task's ``results``, the information plane,
    costs, bad measurements, times and the faults injected at its start."""
    costs = run.network.counters()
    return {
        "epoch": epoch,
        **results,
        "info_i_xt": info[0],
        "info_i_ty": info[1],
        "physical_queries": costs.physical_queries,
        "device_writes": costs.device_writes,
        "bad_batches": bad_batches,
        "bad_evaluations": run.bad_evaluations,
        "train_seconds": run.train_seconds,
        "wall_seconds": run.wall_seconds(),
        "faults": [r for r in run.fault_log if r["epoch"] == epoch],
    }


def stage_name(run: RunState) -> str | None:
    """The stage after the physics, or None when the substrate is its own unit."""
    kind = SUBSTRATES[substrate_spec(run.config.substrate, {})[0]]
    return None if kind.linear or kind.energy_based else run.config.stage


def run_summary(run: RunState, wall_seconds: float) -> dict[str, Any]:
    """Plot the curves and return the run's summary (the task's results, costs, bad
    measurements, faults, times), as ``summary.json`` holds it."""
    cfg, folder = run.config, run.folder
    title = f"{run.task.prefix}{cfg.method} on {cfg.substrate}, {cfg.dataset}, seed {cfg.seed}"
    results = run.task.results(run.history, folder.path, title)
    plot_information_plane(run.history, folder.information_plane, title)
    costs = run.network.counters()
    return {
        "task": cfg.task,
        "method": cfg.method,
        "substrate": cfg.substrate,
        "stage": stage_name(run),
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "hidden": cfg.hidden,
        **results.fields,
        "physical_queries": costs.physical_queries,
        "passes": costs.passes,
        "device_writes": costs.device_writes,
        "programming_pulses": costs.programming_pulses,
        "evaluation_queries": run.eval_counters.physical_queries,
        "bad_batches_total": sum(r["bad_batches"] for r in run.history),
        "bad_evaluations_total": sum(r["bad_evaluations"] for r in run.history),
        "faults": {"schedule": run.faults.describe(), "injected": run.fault_log},
        "train_seconds": run.train_seconds,
        "hardware_seconds": costs.hardware_seconds,
        # the rule's own work: training time not spent inside the (simulated) hardware
        "digital_seconds": max(run.train_seconds - costs.hardware_seconds, 0.0),
        "substrate_reports": {
            f"unit{k + 1}.{s.name}": report
            for k, unit in enumerate(run.network.units)
            for s in unit.substrates
            if (report := getattr(s, "fit_report", None)) is not None
        },
        "wall_seconds": wall_seconds,
        "run_dir": str(folder.path),
        "plots": [str(folder.learning_curves), str(folder.information_plane), *results.plots],
        "dataset_summary": {k: v for k, v in run.data.summary().items() if k != "feature_names"},
        **results.sections,
    }
