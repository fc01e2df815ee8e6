"""``local-loss``: one unit's whole local loss, per estimator implementation, against n."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from pnnkit.info import BottleneckEstimator

from .harness import (
    CLASSES,
    VARIANTS,
    WIDTH,
    clustered_batch,
    interleaved,
    loglog_plot,
    markdown,
    median_ms,
    one_unit,
    write_csv,
)


def table_local_loss(args: argparse.Namespace, device: torch.device, env: str) -> None:
    rows = []
    for n in args.sizes:
        x, y, t = clustered_batch(n, device=str(device))
        base = BottleneckEstimator()
        x_gram, y_gram = base.input_gram(x), base.label_gram(y, CLASSES)
        fns = {
            name: one_unit(BottleneckEstimator(**settings), x_gram, t, y_gram)
            for name, settings in VARIANTS.items()
        }
        times = interleaved(fns, args.repeats, device, budget_s=args.budget)
        row: dict[str, Any] = {"n": n, "width": WIDTH, "repeats": len(times[next(iter(fns))])}
        for name in fns:
            row[f"{name} ms"] = median_ms(times[name])
        eig_ag, eig_cf, lanczos, frob_ag, frob_cf = (row[f"{k} ms"] for k in VARIANTS)
        row["alpha2 closed form vs eig autograd"] = eig_ag / frob_cf
        row["alpha2 closed form vs eig closed form"] = eig_cf / frob_cf
        row["alpha2 autograd vs eig autograd"] = eig_ag / frob_ag
        row["lanczos vs eig closed form"] = eig_cf / lanczos
        rows.append(row)
        print(f"n = {n}: " + ", ".join(f"{k} {row[f'{k} ms']:.1f} ms" for k in VARIANTS))
    columns = [
        "n",
        *[f"{k} ms" for k in VARIANTS],
        "alpha2 closed form vs eig autograd",
        "alpha2 closed form vs eig closed form",
    ]
    fmt = {c: ".1f" for c in columns if c.endswith("ms")}
    fmt |= {c: ".1f" for c in columns if " vs " in c}
    print(f"\nOne unit's local loss with gradient, width {WIDTH}, float32; {env}\n")
    print(markdown(rows, columns, fmt))
    write_csv(rows, args.out / "perf_local_loss.csv", env)
    curves = {k: ([r["n"] for r in rows], [r[f"{k} ms"] for r in rows]) for k in VARIANTS}
    loglog_plot(
        curves,
        "batch size n",
        "ms per unit (loss and gradient)",
        f"local loss of one unit, width {WIDTH}",
        args.out / "perf_local_loss.png",
    )
