"""The examples and the user guide: every script runs at small size and prints what it claims;
every ``pnnkit`` command the guide shows parses with the current command line, and those that
need no files of the user's run at tiny size; the guide's Python blocks run; its tables of
substrates and methods match the registries and the measured query counts.

Guide conventions checked here (docs/guide/README.md states them for readers):

* a line of a ```bash or ```sh block that starts with ``pnnkit `` is a command to check;
* ``<!-- in progress: ... -->`` up to ``<!-- end in progress -->`` marks a feature being added:
  its commands and code are skipped (the lead checks them when the feature lands);
* a ```python block right after ``<!-- not run: reason -->`` is not executed (it needs the
  user's hardware or files); every other Python block is executed in a temporary folder.
"""

from __future__ import annotations

import re
import runpy
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from pnnkit.cli import build_parser, main
from pnnkit.learning import RULES, make_rule, rule_config
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import SUBSTRATES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GUIDE = ROOT / "docs" / "guide"
#: training samples of digits at the default 25% stratified test split
DIGITS_TRAIN = 1347
#: documents the guide links to that other work is still writing
PENDING_DOCS: set[str] = set()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Run in a temporary folder; restore the substrate registry (an example registers its
    own substrate) and torch's global random state afterwards."""
    monkeypatch.chdir(tmp_path)
    registry = dict(SUBSTRATES)
    rng = torch.get_rng_state()
    yield
    SUBSTRATES.clear()
    SUBSTRATES.update(registry)
    torch.set_rng_state(rng)


def run_example(name: str, monkeypatch, capsys, *args: str) -> str:
    """Run ``examples/NAME.py ARGS`` in this process (imports are shared: seconds, not tens of
    seconds) and return what it printed."""
    path = EXAMPLES / f"{name}.py"
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


def number(text: str, label: str) -> float:
    """The number printed after ``label`` on a line of ``text``."""
    match = re.search(rf"^{re.escape(label)}\s+(-?[0-9.]+)", text, re.MULTILINE)
    assert match, f"no line starting with {label!r} in:\n{text}"
    return float(match.group(1))


# --- the examples -------------------------------------------------------------------------------


def test_every_example_has_a_docstring_and_a_small_mode():
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert len(scripts) >= 6
    for script in scripts:
        text = script.read_text()
        assert text.startswith('"""'), f"{script.name} has no module docstring"
        assert "--small" in text, f"{script.name} has no --small mode"


def test_quickstart(monkeypatch, capsys):
    out = run_example("quickstart", monkeypatch, capsys, "--small")
    accuracy = number(out, "test accuracy")
    assert 0.4 < accuracy <= 1.0  # chance is 0.1; measured 0.76
    # PIB: one physical query per training sample, unit and epoch (one unit, 5 epochs)
    assert number(out, "physical queries") == 5 * DIGITS_TRAIN
    assert number(out, "queries per training sample and epoch") == 1.0
    assert number(out, "device writes") > 0


def test_compare_methods(monkeypatch, capsys):
    out = run_example("compare_methods", monkeypatch, capsys, "--small")
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in RULES:
            rows[parts[0]] = parts
    assert set(rows) == {"pib", "dfa", "backprop", "readout"}
    epochs, calibration = 4, 512
    for method, (_, model_free, accuracy, queries, _) in rows.items():
        assert model_free == ("yes" if RULES[method][0].model_free else "no")
        assert 0.1 < float(accuracy) <= 1.0
        if method == "backprop":  # trains on the twin: only the calibration pass is measured
            assert int(queries) == calibration
        else:  # calibration, then one pass per sample through the medium and the stage
            assert int(queries) == calibration + epochs * DIGITS_TRAIN * 2
    assert int(rows["readout"][4]) == 0  # frozen hardware: nothing written
    assert int(rows["pib"][4]) > 0 and int(rows["backprop"][4]) > 0  # backprop deploys


def test_unsupervised(monkeypatch, capsys, tmp_path):
    out = run_example("unsupervised", monkeypatch, capsys, "--small", "--out", "run")
    for name in ("learned", "untrained", "raw", "pca"):
        match = re.search(rf"^{name}\s+([0-9.]+)\s+([0-9.]+)", out, re.MULTILINE)
        assert match, out
        probe, nmi = float(match.group(1)), float(match.group(2))
        assert 0.1 < probe <= 1.0 and 0.0 <= nmi <= 1.0
    # two views: two queries per sample and unit (one unit, 3 epochs), no labels needed
    assert number(out, "physical queries") == 2 * 3 * DIGITS_TRAIN
    assert (tmp_path / "run" / "embedding.png").is_file()


def test_rl_cartpole(monkeypatch, capsys, tmp_path):
    out = run_example("rl_cartpole", monkeypatch, capsys, "--small", "--out", "run")
    # a CartPole episode lasts between about 8 and 500 steps, one reward per step
    assert 8 <= number(out, "mean return") <= 500
    assert number(out, "training episodes") == 32
    assert number(out, "physical queries") > 0
    assert (tmp_path / "run" / "returns.png").is_file()


def test_fault_injection(monkeypatch, capsys):
    out = run_example("fault_injection", monkeypatch, capsys, "--small")
    # 30% of the crossbar's devices: 2 per weight, (64 inputs + bias) x 32 outputs
    injected = re.search(r"stuck injected into unit 1 \(crossbar\): (\d+) devices", out)
    assert injected, out
    assert int(injected.group(1)) == round(0.3 * 2 * 65 * 32)
    before = number(out, "accuracy before faults")
    after = number(out, "accuracy just after faults")
    end = number(out, "accuracy at the end")
    assert after < before  # measured 0.69 -> 0.45: stuck devices cost accuracy at once
    assert 0.1 < end <= 1.0


def test_custom_substrate(monkeypatch, capsys):
    out = run_example("custom_substrate", monkeypatch, capsys, "--small")
    assert "backprop refused" in out  # no twin: a model-based method must say no
    assert 0.2 < number(out, "test accuracy") <= 1.0  # chance 0.1; measured 0.53
    # calibration (512 samples), then one pass per training sample and epoch (4 epochs)
    assert number(out, "physical queries of the first absorber") == 512 + 4 * DIGITS_TRAIN


def test_wrap_instrument(monkeypatch, capsys):
    out = run_example("wrap_instrument", monkeypatch, capsys, "--small")
    assert "inputs (100, 16) -> measurements (100, 8)" in out
    assert 0.3 < number(out, "test accuracy") <= 1.0  # chance 0.1; measured 0.78
    assert number(out, "instrument queries in training") == 512 + 3 * DIGITS_TRAIN
    assert re.search(r"failed attempts 0$", out, re.MULTILINE)


# --- the guide ----------------------------------------------------------------------------------


@dataclass
class Block:
    """A fenced code block of the guide."""

    path: Path
    line: int
    language: str
    code: str
    in_progress: bool
    not_run: bool


def guide_blocks() -> list[Block]:
    """Every fenced block of every guide page, with the markers around it."""
    blocks = []
    for path in sorted(GUIDE.glob("*.md")):
        lines = path.read_text().splitlines()
        in_progress, fence, body, start, previous = False, None, [], 0, ""
        for number_, line in enumerate(lines, start=1):
            stripped = line.strip()
            if fence is None:
                if stripped.startswith("<!-- in progress"):
                    in_progress = True
                elif stripped.startswith("<!-- end in progress"):
                    in_progress = False
                elif stripped.startswith("```"):
                    fence, body, start = stripped[3:].strip(), [], number_
                    not_run = previous.startswith("<!-- not run")
                if stripped:
                    previous = stripped
            elif stripped.startswith("```"):
                blocks.append(Block(path, start, fence, "\n".join(body), in_progress, not_run))
                fence = None
            else:
                body.append(line)
        assert fence is None, f"{path.name}: unclosed code block from line {start}"
        assert not in_progress, f"{path.name}: an in-progress section is never closed"
    return blocks


def guide_commands(*, in_progress: bool = False) -> list[tuple[str, list[str]]]:
    """``(where, argv)`` of every ``pnnkit`` command in the guide's shell blocks."""
    commands = []
    for block in guide_blocks():
        if block.language not in ("bash", "sh") or block.in_progress != in_progress:
            continue
        for offset, line in enumerate(block.code.splitlines(), start=1):
            if line.startswith("pnnkit "):
                argv = shlex.split(line, comments=True)[1:]
                commands.append((f"{block.path.name}:{block.line + offset}", argv))
    return commands


def test_the_guide_has_an_index_linking_every_chapter_and_its_links_resolve():
    pages = sorted(p.name for p in GUIDE.glob("*.md") if p.name != "README.md")
    assert len(pages) == 10
    index = (GUIDE / "README.md").read_text()
    positions = [index.find(f"]({page})") for page in pages]
    assert all(p >= 0 for p in positions), "a chapter is missing from the index"
    assert positions == sorted(positions), "the index lists the chapters out of order"
    for path in GUIDE.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            resolved = (path.parent / target).resolve()
            if resolved.name in PENDING_DOCS and not resolved.exists():
                continue
            assert resolved.exists(), f"{path.name} links to {target}, which does not exist"


def test_the_guide_has_commands_and_their_blocks_are_well_formed():
    commands = guide_commands()
    verbs = {argv[0] for _, argv in commands}
    assert {"train", "rl", "bench", "faults", "demo"} <= verbs


def test_every_guide_command_parses(capsys):
    parser = build_parser()
    for where, argv in guide_commands():
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(
                f"{where}: `pnnkit {shlex.join(argv)}` does not parse:\n{capsys.readouterr().err}"
            )


#: command-line pieces that refer to the user's own files, runs or downloads
NEEDS_FILES = ("csv:", "npz:", "measured:", "--data-dir", "--download", "--config", "--resume")
#: commands that start or join a Ray cluster: parsed, not run (test_distributed.py runs it)
NOT_RUN = ("--distributed",)
#: appended to a guide command to run it in about a second (later options win)
TINY = {
    "train": shlex.split(
        "--quiet --overwrite --set dataset=iris --set epochs=1 --set hidden=[8] "
        "--set batch_size=64 --set calibration_samples=32 --set info_samples=32"
    ),
    "rl": shlex.split(
        "--quiet --overwrite --episodes 4 --set hidden=[8] --set episodes_per_iteration=4 "
        "--set eval_episodes=2 --set eval_every=4 --set batch_size=32"
    ),
}


def test_guide_train_and_rl_commands_run_at_tiny_size(capsys):
    ran = 0
    for k, (where, argv) in enumerate(guide_commands()):
        if argv[0] not in TINY or any(p in arg for arg in argv for p in NEEDS_FILES + NOT_RUN):
            continue
        code = main([*argv, *TINY[argv[0]], "--out", f"guide-run-{k}"])
        output = capsys.readouterr()
        assert code == 0, f"{where}: `pnnkit {shlex.join(argv)}` failed:\n{output.err}"
        ran += 1
    assert ran >= 10


def test_guide_python_blocks_run(capsys):
    ran = 0
    for block in guide_blocks():
        if block.language != "python" or block.in_progress or block.not_run:
            continue
        try:
            exec(compile(block.code, f"{block.path.name}:{block.line}", "exec"), {})
        except Exception as error:
            pytest.fail(f"{block.path.name}:{block.line}: the Python block fails: {error!r}")
        ran += 1
    capsys.readouterr()
    assert ran >= 3


def table_rows(page: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table of ``docs/page`` whose header starts with
    ``first_header``, cells stripped of backticks."""
    lines = (ROOT / "docs" / page).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    return rows


def test_substrate_table_matches_the_registry():
    rows = table_rows("substrates.md", "`--substrate`")
    documented = {}
    for name, kind, *_ in rows:
        documented[name.split(":")[0].split(" ")[0]] = kind
    ours = {n: c for n, c in SUBSTRATES.items() if c.__module__.startswith("pnnkit.")}
    assert set(documented) == set(ours)
    for name, cls in ours.items():
        kind = "linear stage" if cls.linear else "energy-based" if cls.energy_based else "physics"
        assert documented[name].startswith(kind), name


def measured_queries_per_sample(method: str) -> list[float]:
    """Physical queries per sample of one training step, per substrate, on a tiny network."""
    substrate = "resistive" if method == "eqprop" else "ideal"
    network = PhysicalNetwork.build(substrate, 6, [8, 8], 3, seed=0)
    rule = make_rule(method, network, rule_config(method), total_steps=4)
    x, y = torch.randn(32, 6, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 3
    before = [s.counters.physical_queries for s in network.substrates()]
    rule.train_step(x, y)
    after = [s.counters.physical_queries for s in network.substrates()]
    return [(a - b) / 32 for a, b in zip(after, before, strict=True)]


def test_methods_table_matches_the_rules_and_their_measured_queries():
    rows = table_rows("methods.md", "`--method`")
    assert {row[0] for row in rows} == set(RULES)
    for method, _, model, passes, *_ in rows:
        rule_class = RULES[method][0]
        assert model.startswith("no" if rule_class.model_free else "yes"), method
        queries = passes.split(" ")[0]  # "2 (inference: C)", "3 (centred) or 2": the default
        assert measured_queries_per_sample(method) == [float(queries)] * (
            1 if method == "eqprop" else 2
        ), method
