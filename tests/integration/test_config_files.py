"""Config files: ``pnnkit train --config FILE`` (TOML, or a run's config.json), precedence of
defaults < file < flags < ``--set``, ``pnnkit config --show``, errors, and the field docs."""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnnkit.cli import main
from pnnkit.config import dump_toml, field_docs, markdown_fields, read_config_file
from pnnkit.experiment import TrainConfig
from pnnkit.faults import format_faults, parse_faults

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
START, END = "<!-- fields:start -->", "<!-- fields:end -->"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def resolved(capsys, *args: str) -> dict:
    """The resolved config ``pnnkit config --show --format json`` prints for ``args``."""
    code, out, err = run_cli(capsys, "config", "--show", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


FILE = """
method = "pib"
epochs = 5
seed = 3
batch_size = 64
hidden = [16, 8]

[substrate]
levels = 32

[rule]
beta = 20

[rule.estimator]
sigma2 = 0.7
"""


# -- precedence ----------------------------------------------------------------------------------


def test_file_overrides_defaults_and_nested_tables_reach_the_rule(tmp_path, capsys):
    config = resolved(capsys, "--config", str(write(tmp_path, FILE)))
    assert (config["epochs"], config["seed"], config["batch_size"]) == (5, 3, 64)
    assert config["hidden"] == [16, 8]
    assert config["substrate_options"]["levels"] == 32
    assert config["rule_options"]["beta"] == 20.0
    assert config["rule_options"]["estimator"]["sigma2"] == 0.7
    defaults = TrainConfig().resolved()
    # what the file leaves out keeps its default, nested ones included
    assert config["test_size"] == defaults["test_size"]
    assert config["substrate_options"]["g_max"] == defaults["substrate_options"]["g_max"]
    assert config["rule_options"]["gamma"] == defaults["rule_options"]["gamma"]
    assert (
        config["rule_options"]["estimator"]["alpha"]
        == (defaults["rule_options"]["estimator"]["alpha"])
    )


def test_explicit_flags_beat_the_file_and_set_beats_both(tmp_path, capsys):
    path = str(write(tmp_path, FILE))
    config = resolved(
        capsys,
        "--config",
        path,
        "--epochs",
        "60",  # equal to the default, but given: it must still beat the file's 5
        "--seed",
        "4",
        "--set",
        "seed=9",
        "--set",
        "rule.beta=30",
    )
    assert config["epochs"] == 60
    assert config["seed"] == 9
    assert config["rule_options"]["beta"] == 30.0
    assert config["batch_size"] == 64  # no --batch-size flag: the file's value stays


def test_flags_not_given_never_override_the_file(tmp_path, capsys):
    path = write(tmp_path, 'method = "ff"\nsubstrate = "ideal"\nout = "elsewhere"\n')
    config = resolved(capsys, "--config", str(path))
    assert (config["method"], config["substrate"], config["out"]) == ("ff", "ideal", "elsewhere")


def test_set_names_a_substrate_as_the_file_does(tmp_path, capsys):
    path = write(
        tmp_path, '[substrate]\nname = "mzi"\nphase_bits = 6\n[stage]\nname = "crossbar"\n'
    )
    config = resolved(capsys, "--config", str(path))
    assert (config["substrate"], config["stage"]) == ("mzi", "crossbar")
    assert config["substrate_options"]["phase_bits"] == 6
    assert resolved(capsys, "--set", "substrate.name=scattering")["substrate"] == "scattering"


def test_fault_tables_become_the_spec_string(tmp_path, capsys):
    text = '[[faults]]\nkind = "stuck"\nrate = 0.2\nepoch = 3\n[[faults]]\nkind = "drift"\n'
    text += "rate = 0.05\n"
    config = resolved(capsys, "--config", str(write(tmp_path, text)))
    tables = tomllib.loads(text)["faults"]
    assert config["faults"] == format_faults(parse_faults(tables))
    assert [f.kind for f in parse_faults(config["faults"])] == ["stuck", "drift"]


def test_a_folder_dataset_in_the_file_takes_data_dir_from_the_command_line(tmp_path, capsys):
    path = str(write(tmp_path, 'dataset = "mnist"\n'))
    assert resolved(capsys, "--config", path, "--data-dir", "raw")["dataset"] == "mnist:raw"
    code, _, err = run_cli(capsys, "config", "--config", path)
    assert code == 2 and "--data-dir" in err


# -- round trips ---------------------------------------------------------------------------------

VARIANTS = [
    [],
    ["--method", "ff"],  # an optional setting that is None (rule seed)
    ["--method", "pat", "--substrate", "scattering", "--stage", "crossbar"],
    ["--task", "unsupervised", "--set", "activation=tanh"],
    ["--method", "eqprop", "--substrate", "resistive"],
    ["--faults", "stuck:0.2@epoch=3;drift:0.05", "--set", "rule.estimator.alpha=2"],
    ["--dataset", 'csv:data/my "odd" file\\x.csv', "--label-column", "species", "--out", "rüns/ä"],
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("form", ["toml", "json"])
def test_show_output_loads_back_to_the_same_config(tmp_path, capsys, variant, form):
    code, shown, err = run_cli(capsys, "config", "--show", "--format", form, *variant)
    assert code == 0, err
    path = write(tmp_path, shown, f"shown.{form}")
    assert resolved(capsys, "--config", str(path)) == resolved(capsys, *variant)


def test_rerun_from_a_run_folder_config_json(tmp_path, capsys):
    small = ["--dataset", "iris", "--hidden", "8", "--epochs", "1", "--quiet"]
    first = tmp_path / "first"
    code, _, err = run_cli(capsys, "train", *small, "--set", "rule.beta=12", "--out", str(first))
    assert code == 0, err
    again = tmp_path / "again"
    args = ["--config", str(first / "config.json"), "--set", "seed=1", "--out", str(again)]
    code, _, err = run_cli(capsys, "train", "--quiet", *args)
    assert code == 0, err
    old = json.loads((first / "config.json").read_text())
    new = json.loads((again / "config.json").read_text())
    assert {k for k in old if old[k] != new[k]} == {"seed", "out"}
    assert new["rule_options"]["beta"] == 12.0


def test_changing_the_method_of_a_run_config_drops_the_old_defaults_only(tmp_path, capsys):
    first = resolved(capsys, "--set", "rule.beta=12", "--set", "substrate.levels=16")
    path = write(tmp_path, json.dumps(first), "config.json")
    # pib's resolved defaults are dropped; its non-default beta is kept, and ff has no beta
    code, _, err = run_cli(capsys, "config", "--config", str(path), "--method", "ff")
    assert code == 2
    assert "unknown FFConfig field(s) ['beta']" in err
    assert str(path) in err and "command line" in err
    code, _, err = run_cli(capsys, "config", "--config", str(path), "--substrate", "mzi")
    assert code == 2 and "unknown MZIConfig field(s) ['levels']" in err
    plain = resolved(capsys, "--set", "rule.lr=0.002", "--set", "stage.init_scale=0.5")
    path = write(tmp_path, json.dumps(plain), "config.json")
    changed = resolved(capsys, "--config", str(path), "--method", "ff")
    ff = resolved(capsys, "--method", "ff")["rule_options"]
    assert changed["rule_options"] == {**ff, "lr": 0.002}  # only the changed lr carried over
    swapped = resolved(capsys, "--config", str(path), "--set", "substrate.name=mzi")
    mzi = resolved(capsys, "--substrate", "mzi")["substrate_options"]
    assert swapped["substrate_options"] == mzi
    assert swapped["rule_options"]["lr"] == 0.002  # the rule did not change
    assert swapped["stage_options"]["init_scale"] == 0.5


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("epoch = 5\n", ["unknown key 'epoch'", "did you mean 'epochs'"]),
        ("[substrat]\nlevels = 3\n", ["unknown key 'substrat'", "did you mean 'substrate'"]),
        ("[substrate]\nlvels = 3\n", ["unknown CrossbarConfig field(s) ['lvels']", "'levels'"]),
        ("[rule.estimator]\nsigm2 = 1\n", ["BottleneckEstimator", "did you mean 'sigma2'"]),
        ("epochs = 5\nseed = \n", ["not valid TOML", "line 2, column 8"]),
        ('method = "pib\n', ["not valid TOML", "line 1"]),
        ('substrate = "mzi"\n[substrate]\nlevels = 3\n', ["not valid TOML", "line 2"]),
        ("epochs = 0\n", ["epochs = 0 is invalid", "must be an integer >= 1"]),
        ('epochs = "ten"\n', ["TrainConfig.epochs = 'ten' is invalid: must be an integer"]),
        ('method = "magic"\n', ["method = 'magic' is invalid", "choose one of"]),
        ("[rule]\nbeta = -1\n", ["beta = -1"]),
        ("test_size = inf\n", ["test_size = inf is invalid: must be a finite number"]),
        ("hidden = [8, 0]\n", ["hidden = [8, 0] is invalid"]),
        ("rule = 5\n", ["rule = 5 is invalid: must be a table"]),
        ("substrate_options = {}\n[substrate]\nlevels = 3\n", ["both [substrate] and"]),
        ('[[faults]]\nkind = "stuk"\n', ["unknown fault kind 'stuk'"]),
        ("[[faults]]\nrate = 1\n", ["faults[0]", "must be a table with a 'kind'"]),
        ("activation = 1979-05-27\n", ["activation = datetime.date(1979, 5, 27) is invalid"]),
    ],
)
def test_bad_files_name_the_file_the_key_and_what_is_allowed(tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    code, _, err = run_cli(capsys, "train", "--config", str(path), "--out", str(tmp_path / "x"))
    assert code == 2
    assert err.startswith(f"pnnkit: error: {path}: ") and err.count("\n") == 1, err
    for part in expected:
        assert part in err, err
    assert not (tmp_path / "x").exists()  # nothing trained


def test_bad_json_and_unreadable_files(tmp_path, capsys):
    cases = [
        (write(tmp_path, '{"epochs": 5,\n "seed": }', "c.json"), "line 2, column 10"),
        (write(tmp_path, "[1, 2]", "list.json"), "top level must be a table"),
        (tmp_path / "missing.toml", "cannot read the config file"),
        (tmp_path, "cannot read the config file"),
    ]
    latin = tmp_path / "latin.toml"
    latin.write_bytes('out = "caf\u00e9"\n'.encode("latin-1"))
    cases.append((latin, "not UTF-8 text (line 1, column 11"))
    for path, expected in cases:
        code, _, err = run_cli(capsys, "config", "--config", str(path))
        assert code == 2 and str(path) in err and expected in err, err


def test_a_bad_flag_with_a_good_file_is_not_blamed_on_the_file(tmp_path, capsys):
    path = write(tmp_path, FILE)
    code, _, err = run_cli(capsys, "config", "--config", str(path), "--set", "epochs=0")
    assert code == 2
    assert "epochs = 0 is invalid" in err and not err.startswith(f"pnnkit: error: {path}:")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbfepochs = 7\n")
    assert read_config_file(path, TrainConfig) == {"epochs": 7}


# -- the TOML writer -----------------------------------------------------------------------------

KEYS = st.text(min_size=1, max_size=8)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_dump_toml_round_trips_through_tomllib(document):
    assert tomllib.loads(dump_toml(document)) == document


def test_dump_toml_writes_none_as_a_comment_and_nan_as_toml():
    text = dump_toml({"a": None, "b": math.inf, "t": {"c": None, "d": 1}})
    assert tomllib.loads(text) == {"b": math.inf, "t": {"d": 1}}
    assert "# a = " in text and "# c = " in text


# -- documentation -------------------------------------------------------------------------------


def test_every_train_setting_is_documented_in_its_docstring():
    docs = field_docs(TrainConfig)
    for name in TrainConfig.__dataclass_fields__:
        assert docs.get(name), f"TrainConfig.{name} has no entry in the docstring's Attributes"


def test_docs_configuration_holds_the_current_field_table(capsys):
    """docs/configuration.md holds the table generated from TrainConfig, so it cannot go stale.
    After adding or changing a setting, regenerate it: PNNKIT_UPDATE_DOCS=1 pytest this test."""
    table = markdown_fields(TrainConfig)
    text = DOCS.read_text(encoding="utf-8")
    before, start, rest = text.partition(START)
    current, end, after = rest.partition(END)
    assert start and end, f"{DOCS} lost its {START} ... {END} markers"
    if os.environ.get("PNNKIT_UPDATE_DOCS") == "1":
        DOCS.write_text(f"{before}{START}\n{table}\n{END}{after}", encoding="utf-8")
        current = f"\n{table}\n"
    assert current.strip() == table, (
        "docs/configuration.md is stale: run PNNKIT_UPDATE_DOCS=1 pytest "
        "tests/integration/test_config_files.py -k docs"
    )
    for name in TrainConfig.__dataclass_fields__:
        assert re.search(rf"^\| `{name}` \|", current, re.MULTILINE), name
    code, out, _ = run_cli(capsys, "config", "--fields")
    assert code == 0 and out.strip() == table


def test_an_unquoted_bracket_list_on_the_command_line_is_a_list_of_words():
    from pnnkit.config import apply_overrides

    values = apply_overrides(
        {}, ["unit_resources=[lab_a, lab_b]", "hidden=[8,4]", "none=[]", "odd=[a,[b]]"]
    )
    assert values == {
        "unit_resources": ["lab_a", "lab_b"],
        "hidden": [8, 4],
        "none": [],
        "odd": "[a,[b]]",  # nested: left as text for the config to refuse
    }


# -- the shape of the code: no import circles, one resolver -------------------------------------

SRC = Path(__file__).resolve().parents[2] / "src"


def _module_imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The pnnkit modules ``name`` imports, at module level or inside functions (an import
    under ``if TYPE_CHECKING:`` is for the type checker only and does not count). Importing
    ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, unless ``name`` is inside them."""
    import ast

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            subs = {f"{base}.{alias.name}" for alias in node.names} & modules
            found.update(subs)
            if len(subs) < len(node.names):  # names defined in the package itself
                found.add(base)
    with_parents = set()
    for module in found & modules:
        parts = module.split(".")
        for end in range(1, len(parts) + 1):
            parent = ".".join(parts[:end])
            if parent in modules and not (name == parent or name.startswith(parent + ".")):
                with_parents.add(parent)
    return with_parents


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the ``pnnkit`` package under ``root`` -> the pnnkit modules it imports."""
    paths = {}
    for path in (root / "pnnkit").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    modules = set(paths)
    return {name: _module_imports(path, name, modules) for name, path in paths.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_import_circles_among_pnnkit_modules():
    graph = import_graph(SRC)
    assert "pnnkit.config.build" in graph and "pnnkit.cli.resolve" in graph
    assert import_cycles(graph) == []


def test_the_config_package_knows_nothing_of_what_it_configures():
    graph = import_graph(SRC)
    for name, imported in graph.items():
        if name.startswith("pnnkit.config"):
            assert imported <= {m for m in graph if m.startswith("pnnkit.config")} | {
                "pnnkit",
                "pnnkit.errors",
            }, name


def test_train_and_bench_build_the_same_config_through_the_one_resolver(tmp_path):
    from pnnkit.cli import build_parser
    from pnnkit.cli.resolve import train_config
    from pnnkit.experiment.sweeps.bench import BenchConfig

    sets = ["rule.estimator.alpha=1.5", "substrate.levels=32", "epochs=4"]
    argv = ["train", "--dataset", "iris", "--seed", "1", "--hidden", "8"]
    argv += [f"--set={s}" for s in sets]
    bench = BenchConfig(datasets=["iris"], seeds=[1], methods=["pib"], substrates=["crossbar"])
    bench.hidden, bench.overrides, bench.epochs = [8], sets, 30
    from_bench = bench.train_config(bench.jobs()[0], tmp_path)
    argv += ["--out", from_bench.out, "--val-fraction", "0.1"]
    from_train = train_config(build_parser().parse_args(argv))
    assert from_train == from_bench
    assert from_train.rule_config().estimator.alpha == 1.5  # type: ignore[attr-defined]
    args = build_parser().parse_args(["bench", "--datasets", "iris", "--set", "rule.x=1"])
    assert args.overrides == ["rule.x=1"]


def test_every_verb_reports_a_bad_set_the_same_way(capsys, tmp_path):
    pib = ["--methods", "pib"]  # (a bench of every rule would first meet one without a beta)
    verbs = [["train"], ["config"], ["rl"], ["bench", "--datasets", "iris", *pib], ["faults", *pib]]
    for verb in verbs:
        code, _, err = run_cli(capsys, *verb, "--out", str(tmp_path), "--set", "rule.beta=-1")
        assert code == 2 and "beta = -1.0 is invalid: must be >= 0" in err, (verb, err)
        code, _, err = run_cli(capsys, *verb, "--out", str(tmp_path), "--set", "nonsense")
        assert code == 2 and "--set expects KEY=VALUE" in err, (verb, err)
