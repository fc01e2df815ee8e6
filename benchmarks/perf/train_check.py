"""``train-check``: test accuracy of PIB on digits after a short training with each estimator
implementation (does the randomized gradient train?)."""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from pnnkit.data import load_dataset
from pnnkit.learning import PIB, PIBConfig, rule_config
from pnnkit.network import PhysicalNetwork

from .harness import CLASSES, VARIANTS, WIDTH, markdown, write_csv


def table_train_check(args: argparse.Namespace, device: torch.device, env: str) -> None:
    data = load_dataset("digits", seed=0)
    n = data.x_train.shape[0]
    steps = args.epochs * math.ceil(n / 256)
    rows = []
    for name, settings in VARIANTS.items():
        for seed in args.train_seeds:
            torch.manual_seed(seed)
            net = PhysicalNetwork.build("ideal", 64, [WIDTH, WIDTH], CLASSES, seed=seed)
            config = rule_config("pib", {"estimator": settings})
            assert isinstance(config, PIBConfig)
            rule = PIB(net, config, steps)
            gen = torch.Generator().manual_seed(seed)
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                perm = torch.randperm(n, generator=gen)
                for i in range(0, n, 256):
                    idx = perm[i : i + 256]
                    rule.train_step(data.x_train[idx], data.y_train[idx])
            acc = (rule.predict(data.x_test) == data.y_test).float().mean().item()
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "test accuracy": acc,
                    "train s": time.perf_counter() - t0,
                }
            )
            print(rows[-1])
    summary = []
    for name in VARIANTS:
        accs = [r["test accuracy"] for r in rows if r["method"] == name]
        summary.append(
            {
                "method": name,
                "mean test accuracy": statistics.mean(accs),
                "per seed": ", ".join(f"{a:.4f}" for a in accs),
            }
        )
    print(
        f"\nPIB on digits, ideal substrate, 2 units of width {WIDTH}, {args.epochs} epochs, "
        f"other settings default; {env}\n"
    )
    print(
        markdown(
            summary, ["method", "mean test accuracy", "per seed"], {"mean test accuracy": ".4f"}
        )
    )
    write_csv(rows, args.out / "perf_train_check.csv", env)
