"""``pnnkit faults``: how training methods cope with hardware faults, rate by rate.

For each fault rate the same grid of methods x seeds is trained with the fault spec
``KIND:RATE[,options]@WHEN`` (see :mod:`pnnkit.faults.spec`), through :func:`run_bench`; by
default every registered method (:data:`pnnkit.learning.RULES`; those the substrate cannot
take are listed as skipped). The methods meet the faults differently: PIB learns in situ on the
faulty hardware, in-silico training learns on the fault-free twin and is deployed onto the
faulty hardware, physics-aware training measures the faulty hardware but backpropagates
through the healthy twin, forward-forward learns in situ. Results: ``faults.csv``
and ``faults.md`` (test accuracy mean and standard deviation per method and rate, and the same
of the validation accuracy when the runs hold out a validation split),
``accuracy_vs_rate.png``, and, when the faults arrive mid-training, ``recovery.png`` (test
accuracy per epoch, mean over seeds, per method and rate).
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pnnkit.config import Validated
from pnnkit.errors import ConfigError
from pnnkit.experiment.sweeps.bench import DEFAULT_SUBSTRATES, SCORE_COLUMNS, BenchConfig, run_bench
from pnnkit.faults import parse_faults
from pnnkit.learning import RULES
from pnnkit.results.folder import FAULTS, create_results_folder
from pnnkit.results.format import sweep_table

SWEEP_COLUMNS = ["kind", "rate", *SCORE_COLUMNS]


@dataclass
class FaultSweepConfig(Validated):
    """The sweep: ``kind`` (a fault kind), ``rates`` (its levels, 0 = fault-free reference),
    ``when`` (``start`` or ``epoch=E``), ``options`` (extra ``key=value`` of the kind, e.g.
    ``pattern=clustered``), and the grid shared by every rate (methods, substrate, seeds,
    epochs, widths, ``val_fraction`` and ``select`` as in :class:`BenchConfig`, overrides,
    workers, out)."""

    kind: str = "stuck"
    rates: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    when: str = "start"
    options: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: list(RULES))
    substrate: str = DEFAULT_SUBSTRATES[0]
    dataset: str = "digits"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    epochs: int = 30
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    val_fraction: float = 0.1
    select: str = "last"
    overrides: list[str] = field(default_factory=list)
    workers: int = 2
    out: str = "runs/faults"

    def spec(self, rate: float) -> str:
        """The fault spec of one rate ('' for 0: the fault-free reference)."""
        if rate == 0:
            return ""
        options = "".join(f",{o}" for o in self.options)
        return f"{self.kind}:{rate}{options}@{self.when}"

    def validate(self) -> None:
        """Raise ConfigError for rates outside [0, 1] or a fault spec that does not parse."""
        if not self.rates or any(not 0 <= r <= 1 for r in self.rates):
            raise ConfigError(f"faults: rates = {self.rates} is invalid: must be in [0, 1]")
        for rate in self.rates:
            if rate > 0:
                parse_faults(self.spec(rate))  # errors name the token

    def bench(self, rate: float) -> BenchConfig:
        """The bench grid run at one fault rate (rate 0: the fault-free reference)."""
        spec = self.spec(rate)
        return BenchConfig(
            methods=list(self.methods),
            substrates=[self.substrate],
            datasets=[self.dataset],
            seeds=list(self.seeds),
            epochs=self.epochs,
            hidden=list(self.hidden),
            val_fraction=self.val_fraction,
            select=self.select,
            overrides=[*self.overrides, *([f"faults={spec}"] if spec else [])],
            workers=self.workers,
            out=str(Path(self.out) / f"rate-{rate:g}"),
        )


def run_fault_sweep(config: FaultSweepConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run every rate's grid; returns ``{"rows", "skipped", "files"}``."""
    out = create_results_folder(config.out, FAULTS)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, float], list[float]] = {}
    skipped: list[dict[str, Any]] = []
    for rate in config.rates:
        result = run_bench(config.bench(rate), progress=progress)
        skipped += [s for s in result["skipped"] if rate == config.rates[0]]
        for cell in result["cells"]:
            rows.append(
                {
                    "kind": config.kind,
                    "rate": rate,
                    "method": cell["method"],
                    "runs": cell["runs"],
                    "test_accuracy_mean": cell["test_accuracy_mean"],
                    "test_accuracy_std": cell["test_accuracy_std"],
                    "val_accuracy_mean": cell.get("val_accuracy_mean"),
                    "val_accuracy_std": cell.get("val_accuracy_std"),
                }
            )
        for method in config.methods:
            curve = _mean_curve(Path(config.bench(rate).out), method)
            if curve:
                curves[(method, rate)] = curve
    files = _write(out, config, rows, curves, skipped)
    return {"rows": rows, "skipped": skipped, "files": files}


def _mean_curve(bench_out: Path, method: str) -> list[float]:
    """Test accuracy per epoch, mean over the seeds' runs of ``method``."""
    runs = sorted((bench_out / "runs").glob(f"*-{method}-*"))
    series = []
    for run in runs:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        series.append([json.loads(line)["test_accuracy"] for line in lines])
    if not series:
        return []
    return [statistics.mean(values) for values in zip(*series, strict=True)]


def _write(
    out: Path,
    config: FaultSweepConfig,
    rows: list[dict[str, Any]],
    curves: dict[tuple[str, float], list[float]],
    skipped: list[dict[str, Any]],
) -> dict[str, str]:
    from pnnkit.results.plots import plot_accuracy_vs_rate, plot_recovery

    files = {"table_csv": out / "faults.csv", "table_md": out / "faults.md"}
    with files["table_csv"].open("w", newline="") as stream:
        writer = csv.DictWriter(stream, SWEEP_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    title = f"{config.kind} faults ({config.when}) on {config.substrate}, {config.dataset}"
    lines = [f"{title}: test accuracy against the fault rate", "", sweep_table(rows)]
    if any(r.get("val_accuracy_mean") is not None for r in rows):
        lines += ["", "validation accuracy against the fault rate", ""]
        lines.append(sweep_table(rows, "val_accuracy"))
    lines += [f"\nskipped {s['method']}: {s['why']}" for s in skipped]
    files["table_md"].write_text("\n".join(lines) + "\n")
    files["plot"] = out / "accuracy_vs_rate.png"
    plot_accuracy_vs_rate(rows, files["plot"], title)
    if config.when != "start":
        files["recovery"] = out / "recovery.png"
        injected = int(config.when.partition("=")[2])
        plot_recovery(curves, injected, files["recovery"], title)
    return {name: str(path) for name, path in files.items()}
