"""Hostile input: generated files and settings for the CSV and NPZ loaders and the config parser.

Each input is either a valid file with one mutation (a bad cell, a missing column, a ragged row,
a wrong dtype, NaN, huge numbers, an empty file, a byte-order mark, another encoding, a duplicate
header, one class only, a damaged archive, a TOML syntax error, a value of the wrong type, ...)
or random bytes. The property: the input loads into something valid (the invariants are
checked), or it raises the project's own error (:class:`pnnkit.errors.PnnkitError`) naming the
file. Any other exception is a bug. 500 generated cases per property.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pnnkit.config import dump_toml, file_layout, resolve_config
from pnnkit.data import Dataset, load_csv, load_dataset, load_npz
from pnnkit.errors import DataError, PnnkitError
from pnnkit.experiment import TrainConfig
from pnnkit.learning import RULES, rule_config
from pnnkit.physics import SUBSTRATES

#: the sections of a train config file and of --set (substrate, stage, rule)
SECTION_NAMES = [s.key for s in TrainConfig.LAYOUT.sections]

EXAMPLES = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: text that is many things but a clean number
CELLS = st.sampled_from(
    ["", " ", "abc", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e308", "1e39", "1e-320",
     "0x10", "1_000", "१२", "\u00a0", '"1"', "'1'", "1,5", "--1", "\x00", "\ud7ff", "True"]
)  # fmt: skip
NUMBERS = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: repr(round(v, 3)))
LABELS = st.sampled_from(["a", "b", "c", "0", "1", "2", "07", "7", " x ", "é", "a,b"])
ENCODINGS = ["utf-16", "latin-1", "cp1252", "utf-32", "utf-8-sig"]


# -- invariants ----------------------------------------------------------------------------------


def check_dataset(ds: Dataset, n_samples: int | None = None) -> None:
    """A loaded dataset is usable: finite standardised features, labels in range, two
    non-empty splits that hold every class."""
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (len(y), ds.num_features) and len(y) > 0
        assert torch.isfinite(x).all()
        assert int(y.min()) >= 0 and int(y.max()) < ds.num_classes
    assert ds.num_classes >= 2 and len(ds.class_names) == ds.num_classes
    assert set(ds.y_train.tolist()) == set(range(ds.num_classes))
    if n_samples is not None:
        assert len(ds.y_train) + len(ds.y_test) == n_samples
    x = ds.x_train.double()
    mean, std = x.mean(0), x.std(0, unbiased=False)
    constant = (x == x[:1]).all(0)
    assert torch.all(constant | ((mean.abs() < 1e-3) & ((std - 1).abs() < 1e-3))), (mean, std)
    assert torch.all(~constant | (x[0] == 0))  # a constant feature is centred to exactly 0


def names_the_file(error: PnnkitError, path: Path) -> None:
    assert isinstance(error, PnnkitError)
    assert path.name in str(error), str(error)


# -- CSV -----------------------------------------------------------------------------------------


@st.composite
def near_valid_csv(draw: st.DrawFn) -> bytes:
    """A valid labelled CSV file with (usually) one mutation."""
    width = draw(st.integers(1, 3))
    classes = draw(st.lists(LABELS, min_size=2, max_size=3, unique_by=str.strip))
    header = [f"f{j}" for j in range(width)] + ["label"]
    rows = [
        [draw(NUMBERS) for _ in range(width)] + [label]
        for label in classes
        for _ in range(draw(st.integers(3, 6)))
    ]
    rows = draw(st.permutations(rows))
    mutation = draw(
        st.sampled_from(
            [None, None, None, "cell", "cell", "missing_column", "ragged", "nan", "huge", "empty",
             "tiny", "header_only", "duplicate_header", "one_class", "empty_label", "tiny_class",
             "blank_lines", "quotes", "crlf", "no_header_name", "label_first", "constant",
             "encoding", "bom", "nul", "truncate", "long_field"]
        )
    )  # fmt: skip
    quote = mutation == "quotes"

    def line(cells: list[str]) -> str:
        return ",".join(f'"{c}"' if quote else c for c in cells)

    r = draw(st.integers(0, len(rows) - 1))
    c = draw(st.integers(0, width))
    if mutation == "cell":
        rows[r][c] = draw(CELLS)
    elif mutation == "missing_column":
        header.pop(c)
    elif mutation == "ragged":
        rows[r] = rows[r][: draw(st.integers(0, width))] + draw(st.lists(NUMBERS, max_size=2))
    elif mutation == "nan":
        rows[r][min(c, width - 1)] = draw(st.sampled_from(["nan", "inf", "-inf"]))
    elif mutation == "huge":
        big = draw(st.sampled_from(["1e308", "-1e308", "1.7e308", "1e200", "3e38", "1e39"]))
        for row in rows[: draw(st.integers(1, len(rows)))]:
            row[min(c, width - 1)] = big
    elif mutation == "tiny":
        for row in rows:
            row[min(c, width - 1)] = draw(st.sampled_from(["1e-320", "2e-310", "-3e-200", "0"]))
    elif mutation == "header_only":
        rows = []
    elif mutation == "duplicate_header":
        header[c] = header[(c + 1) % len(header)]
    elif mutation == "one_class":
        for row in rows:
            row[-1] = classes[0]
    elif mutation == "empty_label":
        rows[r][-1] = ""
    elif mutation == "tiny_class":
        rows.append([draw(NUMBERS) for _ in range(width)] + ["lonely"])
    elif mutation == "no_header_name":
        header[c] = ""
    elif mutation == "label_first":
        header = header[-1:] + header[:-1]
    elif mutation == "constant":
        for row in rows:
            row[min(c, width - 1)] = "5"
    elif mutation == "long_field":
        rows[r][min(c, width - 1)] = "1" * draw(st.sampled_from([400, 5000]))
    sep = "\r\n" if mutation == "crlf" else "\n\n" if mutation == "blank_lines" else "\n"
    text = sep.join(line(cells) for cells in [header, *rows]) + sep
    if mutation == "empty":
        return b""
    if mutation == "encoding":
        return text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if mutation == "bom":
        return "\ufeff".encode() + text.encode()
    data = text.encode("utf-8", errors="surrogatepass")
    if mutation == "nul":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" + data[at:]
    if mutation == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    return data


@EXAMPLES
@given(
    data=st.one_of(near_valid_csv(), near_valid_csv(), st.binary(max_size=200)),
    label=st.sampled_from([None, None, "label", "f0", "missing"]),
    test_size=st.sampled_from([0.25, 0.5]),
)
def test_csv_loads_or_raises_a_clear_error(data: bytes, label: str | None, test_size: float):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.csv"
        path.write_bytes(data)
        try:
            x, y, class_names, feature_names = load_csv(path, label_column=label)
        except PnnkitError as error:
            names_the_file(error, path)
            rows = None
        else:
            assert x.dtype == np.float64 and np.isfinite(x).all()
            assert x.shape == (len(y), len(feature_names)) and len(feature_names) >= 1
            assert len(class_names) >= 2 and set(y.tolist()) == set(range(len(class_names)))
            rows = len(y)
        try:
            ds = load_dataset(f"csv:{path}", label_column=label, test_size=test_size)
        except PnnkitError as error:
            names_the_file(error, path)
            event(f"refused: {type(error).__name__}")
        else:
            assert rows is not None, "load_dataset accepted a file that load_csv refused"
            check_dataset(ds, rows)
            event("loaded")


def test_features_of_extreme_magnitude_are_standardised_not_refused(tmp_path):
    """Regression: the variance of a feature near the float64 limits overflowed (1e308) or
    underflowed (1e-320), and the loader refused usable data as 'too large'."""
    rows = [f"{big},{tiny},{k % 2}" for k, (big, tiny) in enumerate(
        [("1e308", "1e-320"), ("-1e308", "3e-320"), ("1.7e308", "2e-320"), ("5e307", "4e-320")] * 3
    )]  # fmt: skip
    path = tmp_path / "extreme.csv"
    path.write_text("big,tiny,label\n" + "\n".join(rows) + "\n")
    ds = load_dataset(f"csv:{path}", test_size=0.5)
    check_dataset(ds, 12)


# -- NPZ -----------------------------------------------------------------------------------------


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def near_valid_npz(draw: st.DrawFn) -> bytes:
    """A valid .npz file (whole or split) with (usually) one mutation of its arrays or bytes."""
    split = draw(st.booleans())
    d = draw(st.integers(1, 3))
    classes = draw(st.sampled_from([[0, 1], [0, 1, 2], ["a", "b"], [3.0, 7.0], [True, False]]))
    arrays: dict[str, np.ndarray] = {}
    for x_name, y_name in [("x_train", "y_train"), ("x_test", "y_test")] if split else [("x", "y")]:
        labels = [k for k in classes for _ in range(draw(st.integers(2, 4)))]
        x = np.array([[draw(NUMBERS) for _ in range(d)] for _ in labels], dtype=np.float64)
        arrays[x_name], arrays[y_name] = x, np.array(labels)
    names = sorted(arrays)
    target = draw(st.sampled_from(names))
    mutation = draw(
        st.sampled_from(
            [None, "nan", "inf", "huge", "object", "complex", "strings", "3d", "1d", "0d",
             "empty", "no_features", "mismatch", "one_class", "drop", "extra", "fraction",
             "y_2d", "bytes_labels", "empty_label", "features_mismatch", "float16", "uint64",
             "big_endian", "fortran", "truncate", "garbage_member", "npy", "random_tail",
             "bad_header", "lying_shape", "not_zip"]
        )
    )  # fmt: skip
    x_key = target.replace("y", "x") if target.startswith("y") else target
    y_key = x_key.replace("x", "y", 1)
    x = arrays[x_key]
    if mutation in ("nan", "inf"):
        x[draw(st.integers(0, len(x) - 1)), 0] = np.nan if mutation == "nan" else -np.inf
    elif mutation == "huge":
        x[:, 0] = draw(st.sampled_from([1e308, -1e308, 1e200, 3.4e38, 1e39]))
        x[0, 0] = 0.0
    elif mutation == "object":
        arrays[target] = np.array([object()] * len(x), dtype=object)
    elif mutation == "complex":
        arrays[x_key] = x.astype(np.complex128)
    elif mutation == "strings":
        arrays[x_key] = x.astype(str)
    elif mutation == "3d":
        arrays[x_key] = np.repeat(x[:, :, None], 2, axis=2)
    elif mutation == "1d":
        arrays[x_key] = x[:, 0]
    elif mutation == "0d":
        arrays[target] = np.array(1.0)
    elif mutation == "empty":
        arrays[x_key], arrays[y_key] = x[:0], arrays[y_key][:0]
    elif mutation == "no_features":
        arrays[x_key] = x[:, :0]
    elif mutation == "mismatch":
        arrays[y_key] = arrays[y_key][:-1]
    elif mutation == "one_class":
        arrays[y_key] = np.repeat(arrays[y_key][:1], len(x))
    elif mutation == "drop":
        del arrays[target]
    elif mutation == "extra":
        arrays["other"] = np.arange(3)
    elif mutation == "fraction":
        arrays[y_key] = np.full(len(x), 0.5)
    elif mutation == "y_2d":
        arrays[y_key] = np.stack([arrays[y_key]] * 2, axis=1)
    elif mutation == "bytes_labels":
        arrays[y_key] = np.array([b"\xff\xfe", b"ok"] * (len(x) // 2) + [b"ok"] * (len(x) % 2))
    elif mutation == "empty_label":
        arrays[y_key] = np.array([" "] + ["a"] * (len(x) - 1))
    elif mutation == "features_mismatch" and split:
        arrays["x_test"] = np.hstack([arrays["x_test"], arrays["x_test"]])
    elif mutation == "float16":
        with np.errstate(over="ignore"):
            arrays[x_key] = (x * 1e3).astype(np.float16)  # may overflow to inf
    elif mutation == "uint64":
        arrays[x_key] = np.full(x.shape, 2**64 - 1, dtype=np.uint64)
        arrays[x_key][0] = 0
    elif mutation == "big_endian":
        arrays[x_key] = x.astype(">f8")
    elif mutation == "fortran":
        arrays[x_key] = np.asfortranarray(x)
    data = npz_bytes(arrays)
    if mutation == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if mutation == "random_tail":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at + 1 :]
    if mutation in ("garbage_member", "bad_header", "lying_shape"):
        member = {
            "garbage_member": draw(st.binary(max_size=60)),
            "bad_header": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8'}  \n",
            "lying_shape": b"\x93NUMPY\x01\x00v\x00"
            + b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 3), }".ljust(117)
            + b"\n"
            + b"\x00" * 48,
        }[mutation]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, array in arrays.items():
                if name == target:
                    archive.writestr(f"{name}.npy", member)
                else:
                    one = io.BytesIO()
                    np.save(one, array)
                    archive.writestr(f"{name}.npy", one.getvalue())
        return buffer.getvalue()
    if mutation == "npy":
        one = io.BytesIO()
        np.save(one, x)
        return one.getvalue()
    if mutation == "not_zip":
        return b"x,y\n1,2\n"
    return data


@EXAMPLES
@given(
    data=st.one_of(near_valid_npz(), near_valid_npz(), st.binary(max_size=200)),
    test_size=st.sampled_from([0.25, 0.5]),
)
def test_npz_loads_or_raises_a_clear_error(data: bytes, test_size: float):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.npz"
        path.write_bytes(data)
        try:
            x, y, x_test, y_test, class_names, feature_names = load_npz(path)
        except PnnkitError as error:
            names_the_file(error, path)
            total = None
        else:
            for features, labels in ((x, y), (x_test, y_test)):
                if features is None:
                    continue
                assert features.dtype == np.float64 and np.isfinite(features).all()
                assert features.shape == (len(labels), len(feature_names))
                assert labels.min() >= 0 and labels.max() < len(class_names)
            total = len(y) + (0 if y_test is None else len(y_test))
        try:
            ds = load_dataset(f"npz:{path}", test_size=test_size)
        except PnnkitError as error:
            names_the_file(error, path)
            event(f"refused: {type(error).__name__}")
        else:
            assert total is not None, "load_dataset accepted a file that load_npz refused"
            check_dataset(ds, total)
            event("loaded")


def test_a_path_with_a_nul_byte_is_a_data_error():
    """Regression: open() refuses a NUL in a path with ValueError, which escaped load_csv."""
    for spec in ("csv:runs/a\x00b.csv", "npz:runs/a\x00b.npz"):
        with pytest.raises(DataError, match="cannot read the file"):
            load_dataset(spec)


def test_npz_regressions(tmp_path):
    """Regressions found by the property above: a member header claiming a huge shape made
    numpy allocate terabytes (MemoryError); a member that is not .npy data came back as bytes
    (AttributeError); a test split with a class the training split lacks was accepted."""
    arrays = {"x": np.eye(4), "y": np.array([0, 1, 0, 1])}
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 3), }"
    lying = b"\x93NUMPY\x01\x00v\x00" + header.ljust(117) + b"\n" + b"\x00" * 48
    for member, message in ((lying, "header claims shape"), (b"", "not NumPy array data")):
        path = tmp_path / "bad.npz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", member)
            one = io.BytesIO()
            np.save(one, arrays["y"])
            archive.writestr("y.npy", one.getvalue())
        with pytest.raises(DataError, match=message):
            load_npz(path)
    path = tmp_path / "split.npz"
    np.savez(path, x_train=np.eye(4), y_train=[0, 1, 0, 1], x_test=np.eye(4), y_test=[0, 1, 2, 2])
    with pytest.raises(DataError, match=r"'y_test' holds class.*'2'.*'y_train' never has"):
        load_npz(path)


# -- the config parser ---------------------------------------------------------------------------

METHODS = sorted(RULES)
SUBSTRATE_NAMES = sorted(SUBSTRATES)
FIELDS = list(TrainConfig.__dataclass_fields__)
#: every option name some substrate or rule has (so a mutation often hits a real one)
OPTION_NAMES = sorted(
    {f for c in SUBSTRATES.values() for f in c.config_class.__dataclass_fields__}
    | {k for m in METHODS for k in rule_config(m, {}).to_dict()}
)
TOML_VALUES = st.one_of(
    st.integers(-5, 300),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(METHODS + SUBSTRATE_NAMES + ["none", "relu", "tanh", "stuck:0.1"]),
    st.lists(st.integers(-2, 20), max_size=3),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.sampled_from(OPTION_NAMES), st.integers(-1, 5), max_size=2),
)
TOML_LITERALS = st.sampled_from(
    ["1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "nan", "-inf", "0x1F", "1_000", "'lit'",
     '"""multi\nline"""', "[1, [2, 3]]", "{ a = 1 }", "[[1]]", "= 1", "[", "]", '"unterminated',
     "true false", "9" * 30, "[]"]
)  # fmt: skip


@st.composite
def near_valid_toml(draw: st.DrawFn) -> bytes:
    """A valid config file (as ``pnnkit config --show`` writes one, often only some of its
    keys) with (usually) one mutation of a value, a key or the text."""
    method = draw(st.sampled_from(METHODS))
    substrate = draw(st.sampled_from(SUBSTRATE_NAMES))
    task = "unsupervised" if method == "pib" and draw(st.integers(0, 4)) == 0 else "supervised"
    base = TrainConfig(method=method, substrate=substrate, task=task)
    document = file_layout(base.resolved(), TrainConfig.LAYOUT)
    if draw(st.booleans()):  # only some keys, as people write files
        keep = draw(st.sets(st.sampled_from(sorted(document)), max_size=6))
        document = {k: v for k, v in document.items() if k in keep | {"method", "task"}}
    mutation = draw(
        st.sampled_from(
            [None, "value", "value", "nested_value", "unknown_key", "unknown_option", "literal",
             "section_scalar", "faults_tables", "text_insert", "text_delete", "truncate",
             "duplicate_line", "encoding", "bom", "json"]
        )
    )  # fmt: skip
    if mutation == "value":
        document[draw(st.sampled_from(FIELDS))] = draw(TOML_VALUES)
    elif mutation == "nested_value" and any(isinstance(v, dict) for v in document.values()):
        table = draw(st.sampled_from([k for k, v in document.items() if isinstance(v, dict)]))
        key = draw(st.sampled_from(sorted(document[table]) or ["name"]))
        document[table][key] = draw(TOML_VALUES)
    elif mutation == "unknown_key":
        document[draw(st.text(min_size=1, max_size=8))] = draw(TOML_VALUES)
    elif mutation == "unknown_option":
        section = draw(st.sampled_from(sorted(SECTION_NAMES)))
        document.setdefault(section, {})[draw(st.sampled_from(OPTION_NAMES))] = draw(TOML_VALUES)
    elif mutation == "section_scalar":
        document[draw(st.sampled_from(sorted(SECTION_NAMES)))] = draw(TOML_VALUES)
    elif mutation == "faults_tables":
        kinds = st.sampled_from(["stuck", "drift", "dead_cols", "nope", ""])
        entry = {"kind": draw(st.one_of(kinds, kinds, TOML_VALUES))}
        keys = st.sampled_from(["rate", "epoch", "units"])
        entry.update(draw(st.dictionaries(keys, TOML_VALUES)))
        document["faults"] = draw(st.sampled_from([[entry], [entry, entry], [entry, 1]]))
    text = dump_toml(document)
    if mutation == "literal":
        key = draw(st.sampled_from(FIELDS))
        text = f"{key} = {draw(TOML_LITERALS)}\n" + text.replace(f"\n{key} = ", "\n#")
    elif mutation in ("text_insert", "text_delete", "duplicate_line", "truncate"):
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        if mutation == "text_insert":
            lines.insert(at, draw(st.one_of(st.text(max_size=12), TOML_LITERALS)))
        elif mutation == "text_delete" and lines:
            del lines[min(at, len(lines) - 1)]
        elif mutation == "duplicate_line" and lines:
            lines.insert(at, lines[min(at, len(lines) - 1)])
        text = "\n".join(lines)
        if mutation == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    if mutation == "json":
        return json.dumps(base.resolved()).encode()[: draw(st.integers(0, 4000))]
    if mutation == "encoding":
        return text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if mutation == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    return text.encode("utf-8", errors="surrogatepass")


def check_config(config: TrainConfig) -> None:
    """A parsed config is valid and can be saved with a run."""
    assert isinstance(config, TrainConfig)
    config.validate()
    resolved = config.resolved()
    assert json.loads(json.dumps(resolved, allow_nan=False)) == resolved
    assert TrainConfig.from_dict(json.loads(json.dumps(resolved))).resolved() == resolved


@EXAMPLES
@given(
    data=st.one_of(near_valid_toml(), near_valid_toml(), st.binary(max_size=200)),
    suffix=st.sampled_from([".toml", ".toml", ".json", ".cfg"]),
)
def test_config_files_load_or_raise_a_clear_error(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"hostile{suffix}"
        path.write_bytes(data)
        try:
            config = resolve_config(TrainConfig, path=path)
        except PnnkitError as error:
            names_the_file(error, path)
            event(f"refused: {type(error).__name__}")
        else:
            check_config(config)
            event("loaded")


SET_KEYS = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(sorted(SECTION_NAMES)).flatmap(
        lambda s: st.sampled_from([*OPTION_NAMES, "name", "estimator.alpha", "x.y"]).map(
            lambda n: f"{s}.{n}"
        )
    ),
    st.text(max_size=10),
)
SET_VALUES = st.one_of(
    TOML_VALUES.map(json.dumps),  # NaN and infinities come out as JSON's NaN and Infinity
    st.text(max_size=10),
    st.sampled_from(["none", "null", "1e400", "[", "{}", '{"a": 1}', "-", "9" * 5000]),
)


#: assignments that are valid on their own (combinations may not be)
GOOD_SETS = st.sampled_from(
    ["epochs=3", "seed=5", "batch_size=16", "rule.lr=0.01", "substrate.levels=32",
     "method=ff", "hidden=[8, 4]", "faults=stuck:0.1@epoch=2", "activation=tanh",
     "label_column=none", "rule.estimator.alpha=2", "test_size=0.3", "substrate.name=ideal",
     "stage.name=crossbar", "task=supervised", "info_samples=64", "out=runs/x"]
)  # fmt: skip


@EXAMPLES
@given(
    assignments=st.lists(
        st.one_of(
            GOOD_SETS,
            GOOD_SETS,
            GOOD_SETS,
            st.tuples(SET_KEYS, SET_VALUES).map("=".join),
            st.text(max_size=12),
        ),
        max_size=4,
    )
)
def test_set_assignments_give_a_valid_config_or_a_clear_error(assignments: list[str]):
    try:
        config = resolve_config(TrainConfig, assignments=assignments)
    except PnnkitError as error:
        event(f"refused: {type(error).__name__}")
    else:
        check_config(config)
        event("loaded")
    try:  # the same through the config's own method
        config = TrainConfig().with_overrides(assignments)
    except PnnkitError:
        pass
    else:
        check_config(config)
