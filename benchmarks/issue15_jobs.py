"""The job list behind issue 15's measurements (PIB against the other rules and backprop).

    python benchmarks/issue15_jobs.py --candidate "NAME=KEY=VALUE;..." ... > jobs.json
    python benchmarks/run_jobs.py jobs.json --workers 16 --out results.jsonl

Every PIB job is run once per ``--candidate`` (a name and ``--set`` assignments on top of the
library defaults; no candidate: the defaults alone), every other method once with its own
defaults, all with a 10% validation split and 30 epochs on seeds 0-2 unless said:

- ``bench``: digits, PIB / FF / HSIC on the crossbar and the scattering medium, and backprop
  (the ceiling) on the ideal layer and the medium;
- ``mnist1d`` and ``mnist5k``: PIB on the crossbar, backprop on the ideal layer;
- ``faults``: 40% stuck devices from the start (30 epochs), and 20% at the start of epoch 30
  of 60, PIB and FF on the crossbar;
- ``held``: the numbers earlier issues hold, 60 epochs: PIB on the crossbar, the ideal layer
  and the diffractive stack;
- ``wide``: the bench on units of 512 (``--wide``).

The candidate to report is chosen on the rows' ``val_accuracy``; their ``test_accuracy`` is
read once, for that candidate.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from run_jobs import named_assignments


def jobs_for(
    candidates: dict[str, list[str]], seeds: list[int], wide: bool, pib_only: bool = False
) -> list[dict[str, Any]]:
    """Every job of the module docstring (only PIB's with ``pib_only``)."""
    jobs: list[dict[str, Any]] = []

    def add(group: str, method: str, substrate: str, dataset: str, sets: list[str], **kw: Any):
        if pib_only and method != "pib":
            return
        name = kw.pop("name", method)
        epochs = kw.pop("epochs", 30)
        for seed in seeds:
            jobs.append(
                {
                    "group": group,
                    "name": name,
                    "method": method,
                    "substrate": substrate,
                    "dataset": dataset,
                    "epochs": epochs,
                    "seed": seed,
                    "sets": ["val_fraction=0.1", *sets],
                }
            )

    widths = {"bench": []} if not wide else {"bench": [], "wide": ["hidden=[512,512]"]}
    for group, hidden in widths.items():
        for substrate in ("crossbar", "scattering"):
            for cand, sets in candidates.items():
                add(group, "pib", substrate, "digits", [*hidden, *sets], name=f"pib {cand}")
            for method in ("ff", "hsic"):
                add(group, method, substrate, "digits", hidden)
        add(group, "backprop", "ideal", "digits", hidden)
        add(group, "backprop", "scattering", "digits", hidden)
    for dataset in ("mnist1d", "mnist5k"):
        for cand, sets in candidates.items():
            add(dataset, "pib", "crossbar", dataset, sets, name=f"pib {cand}")
        add(dataset, "backprop", "ideal", dataset, [])
    for fault, epochs in (("stuck:0.4", 30), ("stuck:0.2@epoch=30", 60)):
        for cand, sets in candidates.items():
            add(
                f"faults {fault}",
                "pib",
                "crossbar",
                "digits",
                [f"faults={fault}", *sets],
                name=f"pib {cand}",
                epochs=epochs,
            )
        add(f"faults {fault}", "ff", "crossbar", "digits", [f"faults={fault}"], epochs=epochs)
    for substrate in ("crossbar", "ideal", "diffractive"):
        for cand, sets in candidates.items():
            add("held", "pib", substrate, "digits", sets, name=f"pib {cand}", epochs=60)
    return sorted(jobs, key=rough_cost, reverse=True)  # the longest first: fewer stragglers


def rough_cost(job: dict[str, Any]) -> float:
    """A rough single-thread run time, for ordering the jobs (measured ratios on digits)."""
    cost = {"ff": 4.0, "hsic": 2.0}.get(job["method"], 1.0) * job["epochs"]
    cost *= {"scattering": 3.0, "diffractive": 8.0}.get(job["substrate"], 1.0)
    cost *= {"mnist5k": 6.0, "mnist1d": 2.0}.get(job["dataset"], 1.0)
    return cost * (2.0 if any(s.startswith("hidden=") for s in job["sets"]) else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", action="append", default=[], help="NAME=KEY=VALUE;...")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--wide", action="store_true", help="also the bench at width 512")
    parser.add_argument("--pib-only", action="store_true", help="no FF, HSIC or backprop jobs")
    args = parser.parse_args()
    candidates = dict(named_assignments(c) for c in args.candidate) or {"defaults": []}
    print(json.dumps(jobs_for(candidates, args.seeds, args.wide, args.pib_only), indent=1))


if __name__ == "__main__":
    main()
