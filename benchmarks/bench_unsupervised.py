"""Unsupervised multi-view PIB on digits: linear probe and k-means NMI, learned vs untrained.

    python benchmarks/bench_unsupervised.py [--seeds 0 1 2] [--epochs 30] [--workers 2]
    python benchmarks/bench_unsupervised.py --sweep [--substrates crossbar] (settings, seed 0)
    python benchmarks/bench_unsupervised.py --substrates crossbar --hidden 32 32 \
        --set gamma=0 --set lr=1e-3 --epochs 60 --name narrow (other widths and settings)

Every run is ``pnnkit train --task unsupervised --dataset digits`` with the rule's defaults
(:class:`pnnkit.learning.multiview.MultiViewConfig`, or ``--set`` overrides) and units 256,256
(or ``--hidden``); the network's periphery
is ``tanh`` on the crossbar and ``relu`` behind the scattering medium (``ACTIVATION``: with
relu, the crossbar's second unit receives uncentred inputs and the objective sparsifies it
until units die; behind a medium the stage input is centred by the calibration, while the
medium's phase encoding of signed tanh outputs scrambles them). Prints a Markdown table
(mean +- std over seeds of the learned and untrained network's probe accuracy and NMI on
the test split, and the raw-input and PCA baselines) and writes ``unsupervised.json`` under
``--out``. ``--sweep`` runs the variants of ``SWEEP`` (rule overrides) on seed 0 instead.
One torch thread per process, ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from pnnkit.config import apply_overrides
from pnnkit.experiment import TrainConfig, train

#: periphery of the units per substrate (see the module docstring)
ACTIVATION = {"crossbar": "tanh", "ideal": "tanh", "scattering": "relu"}

#: settings tried on seed 0 (rule overrides; "activation": "swap" tries the other periphery)
SWEEP: dict[str, dict[str, Any]] = {
    "defaults": {},
    "objective views": {"objective": "views"},
    "noise views": {"augment": "noise"},
    "substrate noise only (augment none)": {"augment": "none"},
    "gamma 0.2": {"gamma": 0.2},
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-4": {"lr": 1e-4},
    "other activation": {"activation": "swap"},
}


def run_one(
    substrate: str,
    seed: int,
    epochs: int,
    variant: str,
    options: dict[str, Any],
    out: Path,
    hidden: tuple[int, ...] = (256, 256),
) -> dict[str, Any]:
    torch.set_num_threads(1)  # the runs share the cores
    options = dict(options)
    activation = ACTIVATION.get(substrate, "relu")
    if options.pop("activation", None) == "swap":
        activation = "relu" if activation == "tanh" else "tanh"
    slug = "".join(c if c.isalnum() else "-" for c in variant) + "-" + "x".join(map(str, hidden))
    config = TrainConfig(
        task="unsupervised",
        substrate=substrate,
        dataset="digits",
        hidden=list(hidden),
        epochs=epochs,
        seed=seed,
        activation=activation,
        rule_options=options,
        out=str(out / "runs" / f"unsup-{substrate}-{slug}-{seed}"),
    )
    summary = train(config, progress=False, overwrite=True)
    u = summary["unsupervised"]
    return {
        "substrate": substrate,
        "seed": seed,
        "variant": variant,
        "hidden": list(hidden),
        "activation": activation,
        **{f"probe_{k}": v for k, v in u["probe"].items()},
        **{f"nmi_{k}": v for k, v in u["nmi"].items()},
        "pca_width": u["pca_width"],
        "physical_queries": summary["physical_queries"],
        "wall_seconds": summary["wall_seconds"],
    }


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} +- {statistics.stdev(values):.4f}"


def table(rows: list[dict[str, Any]]) -> str:
    """One line per (substrate, variant): means +- std over seeds, and the gains."""
    lines = [
        "| substrate | variant | probe learned | probe untrained | gain | NMI learned "
        "| NMI untrained | gain | probe raw / PCA | NMI raw / PCA |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["substrate"], row["variant"]), []).append(row)
    for (substrate, variant), group in groups.items():

        def col(key: str, group: list[dict[str, Any]] = group) -> list[float]:
            return [r[key] for r in group]

        pairs = zip(col("probe_learned"), col("probe_untrained"), strict=True)
        probe_gain = [a - b for a, b in pairs]
        pairs = zip(col("nmi_learned"), col("nmi_untrained"), strict=True)
        nmi_gain = [a - b for a, b in pairs]
        lines.append(
            f"| {substrate} | {variant} | {mean_std(col('probe_learned'))} "
            f"| {mean_std(col('probe_untrained'))} | {100 * statistics.mean(probe_gain):+.1f} pt "
            f"| {mean_std(col('nmi_learned'))} | {mean_std(col('nmi_untrained'))} "
            f"| {statistics.mean(nmi_gain):+.3f} "
            f"| {statistics.mean(col('probe_raw')):.4f} / {statistics.mean(col('probe_pca')):.4f} "
            f"| {statistics.mean(col('nmi_raw')):.3f} / {statistics.mean(col('nmi_pca')):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substrates", nargs="+", default=["crossbar", "scattering"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--sweep", action="store_true", help="the SWEEP variants on seed 0")
    parser.add_argument("--variants", nargs="*", choices=list(SWEEP), default=list(SWEEP))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="unit widths")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a MultiViewConfig setting for every run (gamma=0, lr=1e-3, estimator.sigma2=1)",
    )
    parser.add_argument("--name", default=None, help="results file unsupervised_NAME.json")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    assigned = [f"rule.{a}" for a in args.assignments]
    options = apply_overrides({}, assigned, TrainConfig.LAYOUT).get("rule_options", {})
    label = ", ".join(args.assignments) or "defaults"
    if args.sweep:
        jobs = [(s, 0, v, {**options, **SWEEP[v]}) for s in args.substrates for v in args.variants]
    else:
        jobs = [(s, seed, label, options) for s in args.substrates for seed in args.seeds]
    start = time.perf_counter()
    hidden = tuple(args.hidden)
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [
            pool.submit(run_one, s, seed, args.epochs, v, o, args.out, hidden)
            for s, seed, v, o in jobs
        ]
        rows = [f.result() for f in futures]
    name = "unsupervised_sweep.json" if args.sweep else "unsupervised.json"
    if args.name:
        name = f"unsupervised_{args.name}.json"
    (args.out / name).write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print(f"\n{len(rows)} runs, {args.epochs} epochs each, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
