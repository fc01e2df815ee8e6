"""``step`` and ``scaling``: one training step of PIB against backprop, its digital time, and
how that time grows with the batch size and the unit width."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from pnnkit.learning import Backprop, rule_config
from pnnkit.network import PhysicalNetwork

from .harness import (
    CLASSES,
    VARIANTS,
    WIDTH,
    clustered_batch,
    fit_exponent,
    interleaved,
    loglog_plot,
    markdown,
    median_ms,
    now,
    write_csv,
)
from .replay import HardwareClock, ReplayedHardware, pib_rule, torch_mlp


def step_table_rows(
    batch: int,
    widths: list[int],
    variants: dict[str, dict[str, Any]],
    repeats: int,
    device: torch.device,
    budget: float | None,
    with_torch: bool = True,
    replayed: str | None = None,
) -> list[dict[str, Any]]:
    """Median time, hardware time and digital time (the difference) of one training step for
    PIB variants (crossbar), pnnkit backprop (ideal) and a torch MLP, on :data:`CLOCK`; with
    ``replayed`` (a row name), also :data:`REPLAYED_VARIANT` on :class:`ReplayedHardware`."""
    x, y, _ = clustered_batch(batch, width=8)
    nets: dict[str, tuple[PhysicalNetwork | None, Any]] = {}
    for name, settings in variants.items():
        nets[name] = pib_rule("crossbar", widths, settings)
    if replayed:
        net, rule = nets[replayed] = pib_rule("crossbar", widths, variants[REPLAYED_VARIANT])
        ReplayedHardware(net, lambda: rule.train_step(x, y))
    bp_net = PhysicalNetwork.build("ideal", 64, widths, CLASSES, seed=0)
    nets["backprop (pnnkit, ideal)"] = (bp_net, Backprop(bp_net, rule_config("backprop"), 10**5))
    if with_torch:
        model, opt = torch_mlp(widths)

        def mlp_step(x: torch.Tensor, y: torch.Tensor) -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        nets["torch MLP + Adam"] = (None, mlp_step)
    record: dict[str, dict[str, list[float]]] = {}

    def make(name: str) -> Callable[[], None]:
        net, rule = nets[name]
        hardware = HardwareClock(net) if net is not None else None
        local = getattr(rule, "local_gradient", None)
        grams = getattr(rule, "gram_clock", None)
        step = rule.train_step if net is not None else rule
        record[name] = {"step": [], "hardware": [], "local": [], "grams": []}

        def run() -> None:
            h0 = hardware.seconds if hardware else 0.0
            l0, g0 = getattr(local, "seconds", 0.0), getattr(grams, "seconds", 0.0)
            t0 = now()
            step(x, y)
            record[name]["step"].append(now() - t0)
            record[name]["hardware"].append((hardware.seconds if hardware else 0.0) - h0)
            record[name]["local"].append(getattr(local, "seconds", 0.0) - l0)
            record[name]["grams"].append(getattr(grams, "seconds", 0.0) - g0)

        return run

    interleaved({name: make(name) for name in nets}, repeats, device, warmup=2, budget_s=budget)
    rows: list[dict[str, Any]] = []
    for name, rec in record.items():
        step_s, hard = rec["step"][2:], rec["hardware"][2:]  # the warm-up calls were recorded
        digital = [a - b for a, b in zip(step_s, hard, strict=True)]
        rows.append(
            {
                "method": name,
                "batch": batch,
                "width": widths[0],
                "units": len(widths),
                "step ms": median_ms(step_s),
                "hardware ms": median_ms(hard),
                "digital ms": median_ms(digital),
                "local loss ms (all units)": median_ms(rec["local"][2:]),
                "X and Y grams ms": median_ms(rec["grams"][2:]),
                "steps timed": len(step_s),
            }
        )
    bp_ms = next(r["digital ms"] for r in rows if r["method"].startswith("backprop"))
    for r in rows:
        r["digital / backprop"] = r["digital ms"] / bp_ms
    return rows


#: the PIB variant also timed on :class:`ReplayedHardware` in the step table
REPLAYED_VARIANT = "frobenius closed form (alpha 2)"


def table_step(args: argparse.Namespace, device: torch.device, env: str) -> None:
    replayed = f"{REPLAYED_VARIANT}, hardware replayed"
    rows = step_table_rows(
        256, [WIDTH] * 3, VARIANTS, args.repeats, device, args.budget, replayed=replayed
    )
    cols = [
        "method",
        "step ms",
        "hardware ms",
        "digital ms",
        "local loss ms (all units)",
        "X and Y grams ms",
        "digital / backprop",
    ]
    fmt = {c: ".2f" for c in cols[1:]}
    print(
        f"\nOne training step, 3 units of width {WIDTH}, batch 256 (PIB on the crossbar); {env}\n"
    )
    print(markdown(rows, cols, fmt))
    write_csv(rows, args.out / "perf_step.csv", env)


def table_scaling(args: argparse.Namespace, device: torch.device, env: str) -> None:
    variants = {k: v for k, v in VARIANTS.items() if "closed form" in k}
    rows = []
    for batch in args.batches:
        for r in step_table_rows(
            batch, [WIDTH] * 3, variants, args.repeats, device, args.budget, with_torch=False
        ):
            rows.append({**r, "sweep": "batch"})
        print(f"batch {batch} done")
    for width in args.widths:
        for r in step_table_rows(
            256, [width] * 3, variants, args.repeats, device, args.budget, with_torch=False
        ):
            rows.append({**r, "sweep": "width"})
        print(f"width {width} done")
    fits = []
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for sweep, key in (("batch", "batch"), ("width", "width")):
        for method in [*variants, "backprop (pnnkit, ideal)"]:
            sel = [r for r in rows if r["sweep"] == sweep and r["method"] == method]
            xs, ys = [r[key] for r in sel], [r["digital ms"] for r in sel]
            curves[f"{method}, vs {sweep}"] = (xs, ys)
            fits.append(
                {
                    "sweep": sweep,
                    "method": method,
                    "exponent (all points)": fit_exponent(xs, ys),
                    "exponent (largest 3)": fit_exponent(xs[-3:], ys[-3:]),
                    "sizes": " ".join(str(v) for v in xs),
                    "digital ms": " ".join(f"{v:.1f}" for v in ys),
                }
            )
    print(
        f"\nPIB step digital time against batch size (width {WIDTH}) and unit width "
        f"(batch 256), 3 units, crossbar; {env}\n"
    )
    cols = [
        "sweep",
        "method",
        "sizes",
        "digital ms",
        "exponent (all points)",
        "exponent (largest 3)",
    ]
    print(markdown(fits, cols, {c: ".2f" for c in cols[4:]}))
    write_csv(rows, args.out / "perf_scaling.csv", env)
    write_csv(fits, args.out / "perf_scaling_fit.csv", env)
    for sweep in ("batch", "width"):
        of_sweep = {k.split(", vs")[0]: v for k, v in curves.items() if k.endswith(sweep)}
        loglog_plot(
            of_sweep,
            sweep if sweep == "batch" else "unit width",
            "digital ms per step",
            f"PIB step (3 units) against {sweep}",
            args.out / f"perf_scaling_{sweep}.png",
        )
