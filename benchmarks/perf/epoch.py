"""``epoch``: one end-to-end training epoch on digits (training steps and one evaluation)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from pnnkit.data import load_dataset
from pnnkit.learning import Backprop, rule_config
from pnnkit.network import PhysicalNetwork

from .harness import CLASSES, VARIANTS, WIDTH, interleaved, markdown, now, write_csv
from .replay import HardwareClock, pib_rule


def table_epoch(args: argparse.Namespace, device: torch.device, env: str) -> None:
    data = load_dataset("digits", seed=0)
    n = data.x_train.shape[0]
    widths = [WIDTH] * 3
    rules = {}
    for name, settings in VARIANTS.items():
        rules[name] = pib_rule("crossbar", widths, settings)
    bp_net = PhysicalNetwork.build("ideal", 64, widths, CLASSES, seed=0)
    rules["backprop (pnnkit, ideal)"] = (bp_net, Backprop(bp_net, rule_config("backprop"), 10**5))
    record: dict[str, list[tuple[float, float, float]]] = {name: [] for name in rules}

    def epoch(name: str) -> Callable[[], None]:
        net, rule = rules[name]
        hardware = HardwareClock(net)
        gen = torch.Generator().manual_seed(0)

        def run() -> None:
            h0 = hardware.seconds
            w0, t0 = time.perf_counter(), now()
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, 256):
                idx = perm[i : i + 256]
                rule.train_step(data.x_train[idx], data.y_train[idx])
            rule.before_evaluation()
            rule.predict(data.x_test)
            spent = now() - t0
            record[name].append((time.perf_counter() - w0, spent, spent - (hardware.seconds - h0)))

        return run

    interleaved(
        {name: epoch(name) for name in rules}, args.repeats, device, warmup=1, budget_s=args.budget
    )
    rows: list[dict[str, Any]] = []
    for name, rec in record.items():
        rec = rec[1:]
        rows.append(
            {
                "method": name,
                "epoch wall s": statistics.median(r[0] for r in rec),
                "epoch s": statistics.median(r[1] for r in rec),
                "epoch digital s": statistics.median(r[2] for r in rec),
                "epochs timed": len(rec),
            }
        )
    bp = next(r["epoch digital s"] for r in rows if r["method"].startswith("backprop"))
    for r in rows:
        r["digital / backprop"] = r["epoch digital s"] / bp
    print(
        f"\nOne epoch on digits ({n} training samples, batch 256, 3 units of width {WIDTH}; "
        f"PIB on the crossbar), training steps and one test evaluation; {env}\n"
    )
    cols = ["method", "epoch wall s", "epoch s", "epoch digital s", "digital / backprop"]
    print(markdown(rows, cols, {c: ".3f" for c in cols[1:]}))
    write_csv(rows, args.out / "perf_epoch.csv", env)
