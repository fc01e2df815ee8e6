"""Same commands, same numbers: the behaviour check that guards refactors.

Runs a fixed set of small ``pnnkit`` commands (PIB on a crossbar, forward-forward on a
scattering medium, equilibrium propagation on a resistive network, the unsupervised task,
``pnnkit rl`` on CartPole, a distributed run, an interrupted-then-resumed run), keeps the
deterministic part of each ``--json`` summary (timings, paths and plot lists dropped) and
either records it (``--record``) or compares it, field by field and to the last digit, with the
recording in ``benchmarks/behaviour_golden.json``.

    python benchmarks/behaviour_check.py --record    # before a refactor
    python benchmarks/behaviour_check.py             # after it: exit 1 on any difference

The recording belongs to one machine and torch build (floating-point reductions differ between
builds); re-record on a new machine from a commit known to be right.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("behaviour_golden.json")

#: Fields that differ between two identical runs (clocks, folders) and are not compared, besides
#: every field whose name ends in ``seconds``.
VOLATILE = {"run_dir", "plots", "embedding", "samples_per_second", "units_busy_on_average"}

#: name -> list of pnnkit argument lists run in order (the last one's summary is kept); ``{out}``
#: is the run folder.
COMMANDS: dict[str, list[list[str]]] = {
    "pib-crossbar-digits": [
        ["train", "--method", "pib", "--substrate", "crossbar", "--epochs", "3", "--seed", "0"]
    ],
    "ff-scattering": [
        ["train", "--method", "ff", "--substrate", "scattering", "--epochs", "3", "--hidden", "64"]
    ],
    "eqprop-resistive": [
        ["train", "--method", "eqprop", "--substrate", "resistive", "--epochs", "2"]
    ],
    "unsupervised": [["train", "--task", "unsupervised", "--epochs", "2", "--hidden", "64,64"]],
    "rl-cartpole": [["rl", "--episodes", "50", "--seed", "0"]],
    "distributed": [["train", "--distributed", "--epochs", "2", "--hidden", "64,64"]],
    "resumed": [
        ["train", "--epochs", "1"],
        ["train", "--resume", "{out}", "--epochs", "3"],
    ],
}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            if k not in VOLATILE and not k.endswith("seconds")
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def run_case(name: str, workdir: Path) -> dict[str, Any]:
    """Run one case's commands; return the last command's summary without volatile fields."""
    out = workdir / name
    summary: dict[str, Any] = {}
    for args in COMMANDS[name]:
        argv = [a.replace("{out}", str(out)) for a in args]
        if "--resume" not in argv:
            argv += ["--out", str(out), "--overwrite"]
        argv += ["--json", "--quiet"]
        done = subprocess.run(
            [sys.executable, "-m", "pnnkit", *argv], capture_output=True, text=True, check=False
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode not in (0, 130) or not lines:
            raise SystemExit(f"{name}: pnnkit {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        summary = json.loads(lines[-1])
    return _stable(summary)


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Every field where ``new`` differs from ``old``, as readable lines."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new)):
            where = f"{path}.{key}" if path else key
            if key not in new:
                lines.append(f"{where}: missing now (was {old[key]!r})")
            elif key not in old:
                lines.append(f"{where}: new field ({new[key]!r})")
            else:
                lines += differences(old[key], new[key], where)
        return lines
    if old != new:
        return [f"{path}: {old!r} -> {new!r}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the golden file")
    parser.add_argument("--only", nargs="*", default=None, help="run only these cases")
    args = parser.parse_args(argv)
    names = args.only or list(COMMANDS)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name in names:
            print(f"running {name} ...", flush=True)
            results[name] = run_case(name, Path(tmp))
    if args.record:
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        golden.update(results)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(results)} cases in {GOLDEN}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    failed = 0
    for name, summary in results.items():
        lines = differences(golden[name], summary)
        print(f"{name}: {'same' if not lines else f'{len(lines)} differences'}")
        for line in lines:
            print(f"    {line}")
        failed += bool(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
