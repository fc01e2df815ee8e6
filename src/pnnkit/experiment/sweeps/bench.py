"""``pnnkit bench``: training methods compared on the same hardware, data and budget.

A grid of methods x substrates x datasets x seeds; every cell is an ordinary training run
(:func:`pnnkit.experiment.train`, its own run folder) with the same network, epochs and batch
size. Pairs a method cannot train (backprop on a substrate without an exact model, equilibrium
propagation on anything but an energy-based system, ...) are listed as skipped with the rule's
own reason. Results: ``runs.csv`` (one row per run), ``bench.csv`` and ``bench.md`` (mean and
standard deviation over seeds per cell of the test accuracy, and of the validation accuracy when
the runs hold out a validation split), and ``accuracy_vs_queries.png``.
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from pnnkit.config import Validated
from pnnkit.data import load_dataset
from pnnkit.errors import ConfigError, PnnkitError
from pnnkit.experiment.config import TrainConfig, substrate_spec
from pnnkit.experiment.trainer import train
from pnnkit.learning import RULES, make_rule, rule_config
from pnnkit.network import PhysicalNetwork
from pnnkit.results.folder import BENCH, create_results_folder
from pnnkit.results.format import bench_table
from pnnkit.results.read import aggregate

#: the default comparison: every registered method (those a substrate cannot take are listed
#: as skipped, with the rule's reason) on the reference pair of substrates: a linear stage
#: trained in place (the crossbar) and fixed non-linear physics followed by a stage (the
#: scattering medium)
DEFAULT_SUBSTRATES = ("crossbar", "scattering")

RUN_COLUMNS = [
    "method",
    "substrate",
    "dataset",
    "seed",
    "epochs",
    "test_accuracy",
    "val_accuracy",
    "train_accuracy",
    "selected_epoch",
    "physical_queries",
    "device_writes",
    "digital_seconds",
    "hardware_seconds",
    "wall_seconds",
]
#: a cell's scores over its seeds (the bench's and the fault sweep's tables share them)
SCORE_COLUMNS = [
    "method",
    "runs",
    "test_accuracy_mean",
    "test_accuracy_std",
    "val_accuracy_mean",
    "val_accuracy_std",
]
CELL_COLUMNS = [
    "dataset",
    "substrate",
    *SCORE_COLUMNS,
    "physical_queries",
    "device_writes",
    "digital_seconds",
    "wall_seconds",
]


@dataclass
class BenchConfig(Validated):
    """The grid and the settings shared by all its runs.

    ``methods`` defaults to every registered rule (:data:`pnnkit.learning.RULES`), pairs a rule
    cannot train being skipped. ``epochs`` is 30 by default (not ``train``'s 60), so that the
    default grid stays affordable; the local rules' defaults were tuned at 30 epochs.
    ``overrides`` are ``--set KEY=VALUE`` settings applied to every run; ``workers`` runs train
    in parallel,
    one thread each. ``val_fraction`` and ``select`` are those of every run (see
    :class:`TrainConfig`): by default 10% of each training split is held out for validation and
    the last epoch's test accuracy is reported.
    """

    methods: list[str] = field(default_factory=lambda: list(RULES))
    substrates: list[str] = field(default_factory=lambda: list(DEFAULT_SUBSTRATES))
    datasets: list[str] = field(default_factory=lambda: ["digits"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    epochs: int = 30
    batch_size: int = 256
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    stage: str = "ideal"
    val_fraction: float = 0.1
    select: str = "last"
    overrides: list[str] = field(default_factory=list)
    workers: int = 2
    out: str = "runs/bench"

    def validate(self) -> None:
        """Raise ConfigError naming an empty grid axis, an unknown method, substrate or dataset, or
        a value out of range."""
        for name in ("methods", "substrates", "datasets", "seeds"):
            if not getattr(self, name):
                raise ConfigError(f"bench: {name} is empty; give at least one")
        unknown = sorted(set(self.methods) - set(RULES))
        if unknown:
            raise ConfigError(f"bench: unknown method(s) {unknown}; choices: {sorted(RULES)}")
        if self.workers < 1:
            raise ConfigError(f"bench: workers = {self.workers} is invalid: must be >= 1")
        # every run's config must be valid before hours of training start
        for job in self.jobs()[:1]:
            self.train_config(job, Path(self.out))

    def jobs(self) -> list[dict[str, Any]]:
        """One dict of TrainConfig fields per run, grouped by dataset, substrate, method."""
        grid = itertools.product(self.datasets, self.substrates, self.methods, self.seeds)
        return [{"dataset": d, "substrate": s, "method": m, "seed": seed} for d, s, m, seed in grid]

    def train_config(self, job: dict[str, Any], out: Path) -> TrainConfig:
        """The TrainConfig of one grid job (dataset, substrate, method, seed), with its run folder
        under out/runs."""
        name = "-".join(str(job[k]) for k in ("dataset", "substrate", "method", "seed"))
        folder = out / "runs" / name.replace(":", "_").replace("/", "_")
        config = TrainConfig(
            **job,
            epochs=self.epochs,
            batch_size=self.batch_size,
            hidden=list(self.hidden),
            stage=self.stage,
            val_fraction=self.val_fraction,
            select=self.select,
            out=str(folder),
        ).with_overrides(self.overrides)  # built, so validated
        return config


def why_invalid(config: TrainConfig) -> str | None:
    """The rule's own refusal of this method on this substrate, or None if it can train it
    (checked on a small network of the same kind, which costs no training)."""
    data = load_dataset(config.dataset, test_size=config.test_size, seed=config.seed)
    substrate, options = substrate_spec(config.substrate, config.substrate_options)
    try:
        network = PhysicalNetwork.build(
            substrate,
            data.num_features,
            [8] * len(config.hidden),
            data.num_classes,
            substrate_config=options,
            stage=config.stage,
            stage_config=config.stage_options,
        )
        make_rule(config.method, network, rule_config(config.method, config.rule_options), 1)
    except ConfigError as error:
        return str(error)
    return None


def _run(config: TrainConfig) -> dict[str, Any]:
    torch.set_num_threads(1)  # parallel runs share the cores; deterministic per thread count
    return train(config, progress=False, overwrite=True)


def run_bench(config: BenchConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run the grid; returns ``{"cells", "runs", "skipped", "files", "wall_seconds"}``."""
    out = create_results_folder(config.out, BENCH)
    runnable, skipped = [], []
    for job in config.jobs():
        train_config = config.train_config(job, out)
        reason = why_invalid(train_config)
        if reason is None:
            runnable.append(train_config)
        elif job["seed"] == config.seeds[0]:
            cell = {k: job[k] for k in ("dataset", "substrate", "method")}
            skipped.append({**cell, "why": reason})
    start = time.perf_counter()
    runs: list[dict[str, Any]] = []
    bar = tqdm(total=len(runnable), desc="bench", unit="run", disable=not progress)
    with ProcessPoolExecutor(config.workers) as pool:
        futures = [pool.submit(_run, c) for c in runnable]
        for train_config, future in zip(runnable, futures, strict=True):
            try:
                summary = future.result()
            except PnnkitError as error:
                raise PnnkitError(
                    f"bench run {train_config.method} on {train_config.substrate} "
                    f"({train_config.dataset}, seed {train_config.seed}) failed: {error}"
                ) from error
            runs.append(summary)
            bar.update()
            bar.set_postfix_str(
                f"{summary['method']} {summary['substrate']} s{summary['seed']}: "
                f"{summary['test_accuracy']:.3f}"
            )
    bar.close()
    cells = aggregate(runs)
    files = write_results(out, runs, cells, skipped)
    return {
        "cells": cells,
        "runs": [{k: r.get(k) for k in RUN_COLUMNS} for r in runs],
        "skipped": skipped,
        "files": files,
        "wall_seconds": time.perf_counter() - start,
    }


def write_results(
    out: Path,
    runs: Sequence[dict[str, Any]],
    cells: Sequence[dict[str, Any]],
    skipped: Sequence[dict[str, Any]],
) -> dict[str, str]:
    """``runs.csv``, ``bench.csv``, ``bench.md`` and the accuracy-against-queries plot."""
    from pnnkit.results.plots import plot_accuracy_vs_queries

    files = {
        "runs": out / "runs.csv",
        "table_csv": out / "bench.csv",
        "table_md": out / "bench.md",
        "plot": out / "accuracy_vs_queries.png",
    }
    for path, columns, rows in (
        (files["runs"], RUN_COLUMNS, runs),
        (files["table_csv"], CELL_COLUMNS, cells),
    ):
        with path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    files["table_md"].write_text(bench_table(cells, skipped) + "\n")
    plot_accuracy_vs_queries(cells, files["plot"])
    return {name: str(path) for name, path in files.items()}
