"""Malformed CSV files are refused with a message naming the file, row and column."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pnnkit.data import load_csv, load_dataset
from pnnkit.errors import DataError
from tests.fixtures.csv_files import balanced_csv, rows_csv, write

# -- CSV: malformed files ------------------------------------------------------------------------


def load_error(path: Path, label_column: str | None = None) -> str:
    with pytest.raises(DataError) as info:
        load_csv(path, label_column=label_column)
    message = str(info.value)
    assert path.name in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / "absent.csv")
    assert "cannot read" in message
    with pytest.raises(DataError, match=r"absent\.csv"):
        load_dataset(f"csv:{tmp_path / 'absent.csv'}")


def test_unreadable_file_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert "cannot read" in load_error(folder)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,label\n1,caf\xe9\n")
    assert "UTF-8" in load_error(path)


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in load_error(write(tmp_path, ""))


def test_blank_lines_only(tmp_path: Path) -> None:
    assert "empty" in load_error(write(tmp_path, "\n\n  \n"))


def test_no_data_rows(tmp_path: Path) -> None:
    assert "no data rows" in load_error(write(tmp_path, "a,b,label\n\n"))


def test_label_column_not_found_lists_columns(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, balanced_csv(["p", "q"])), label_column="klass")
    assert "'klass'" in message and "not found" in message
    for column in ("'a'", "'b'", "'label'"):
        assert column in message


def test_non_numeric_feature_value(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", "3,4,y", "5,seven,x"]))
    message = load_error(path)
    assert "row 4" in message and "'b'" in message and "'seven'" in message
    assert "non-numeric" in message


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_non_finite_feature_value(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", f"{bad},4,y"]))
    message = load_error(path)
    assert "row 3" in message and "'a'" in message and "not finite" in message


def test_empty_feature_value(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", "3,4,y", "5, ,x"]))
    message = load_error(path)
    assert "row 4" in message and "'b'" in message and "empty feature value" in message


def test_empty_label(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", "3,4,"]))
    message = load_error(path)
    assert "row 3" in message and "'label'" in message and "empty label" in message


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", "3,4,y", "5,6,7,x"]))
    message = load_error(path)
    assert "row 4" in message and "4 field(s)" in message and "3 columns" in message
    path = write(tmp_path, rows_csv("a,b,label", ["1,2,x", "3,y"]), name="short.csv")
    assert "row 3" in load_error(path)


def test_row_number_is_the_line_number(tmp_path: Path) -> None:
    # a blank line and a quoted field spanning two lines both shift later line numbers
    text = 'a,label\n1,x\n\n2,"multi\nline"\n3,y\noops,x\n'
    message = load_error(write(tmp_path, text))
    assert "row 7" in message


def test_malformed_csv_record(tmp_path: Path) -> None:
    huge = "x" * 200_000  # longer than the csv module's field size limit
    message = load_error(write(tmp_path, f'a,label\n1,y\n2,"{huge}"\n'))
    assert "row 3" in message and "malformed CSV" in message


def test_only_one_class(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, balanced_csv(["solo"])))
    assert "one class" in message and "'solo'" in message


def test_duplicate_column_names(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, rows_csv("a,a,label", ["1,2,x", "3,4,y"])))
    assert "duplicate" in message and "'a'" in message and "row 1" in message


def test_empty_column_name(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, rows_csv(",a,label", ["0,1,x", "1,3,y"])))
    assert "column 1" in message and "empty name" in message


def test_no_feature_columns(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, rows_csv("label", ["x", "y"])))
    assert "no feature columns" in message


def test_class_with_a_single_sample_cannot_be_split(tmp_path: Path) -> None:
    rows = [f"{i},{'a' if i < 5 else 'b'}" for i in range(5)] + ["9,lonely"]
    path = write(tmp_path, rows_csv("f,label", [*rows, "7,b", "8,b"]))
    with pytest.raises(DataError) as info:
        load_dataset(f"csv:{path}")
    message = str(info.value)
    assert path.name in message and "'lonely'" in message and "at least 2" in message


def test_too_few_samples_for_a_stratified_split(tmp_path: Path) -> None:
    path = write(tmp_path, balanced_csv(["a", "b", "c"], per_class=2))
    with pytest.raises(DataError, match="stratified"):
        load_dataset(f"csv:{path}", test_size=0.1)


# -- property: arbitrary small CSV texts load or raise DataError ---------------------------------

NUMBERS = st.sampled_from(["0", "1", "2", "3", " 4 ", "-1.5", "2e2", "+7"])
GARBAGE = st.one_of(
    st.sampled_from(["", " ", "x", "yes", "nan", "-inf", "1e999", '"', '"a,b"', "1,5", "\ufeff"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet='ab1.,"\n\r -e', max_size=4),
)
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, NUMBERS, GARBAGE)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """A CSV text: mostly well formed (so some files load), with random damage."""
    clean = draw(st.booleans())
    width = draw(st.integers(min_value=2 if clean else 1, max_value=4))
    header = ["a", "b", "c", "label"][-width:]
    if not clean and draw(st.booleans()):
        header = draw(st.lists(st.sampled_from(["a", "b", "label", "", " a", "z"]), max_size=4))
    sizes = [width] if clean else [width] * 6 + [0, width - 1, width + 1]
    cells = NUMBERS if clean else CELLS
    rows = [header]
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        size = draw(st.sampled_from(sizes))
        rows.append([draw(cells) for _ in range(size)])
    return "\n".join(",".join(row) for row in rows) + draw(st.sampled_from(["", "\n", "\n\n"]))


RAW_TEXTS = st.lists(st.lists(CELLS, max_size=4), max_size=10).map(
    lambda rows: "\n".join(",".join(row) for row in rows)
)


@settings(max_examples=200, deadline=None)
@given(
    body=st.one_of(csv_texts(), RAW_TEXTS),
    label=st.sampled_from([None, None, "label", "a", "zzz"]),
    bom=st.booleans(),
)
def test_random_csv_loads_or_raises_data_error(body: str, label: str | None, bom: bool) -> None:
    text = ("\ufeff" if bom else "") + body
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.csv"
        path.write_text(text, encoding="utf-8")
        try:
            x, y, class_names, feature_names = load_csv(path, label_column=label)
        except DataError as exc:
            assert "random.csv" in str(exc)
        else:
            assert x.dtype == np.float64 and np.isfinite(x).all()
            assert x.shape == (len(y), len(feature_names))
            assert len(class_names) >= 2 and set(y.tolist()) == set(range(len(class_names)))
        try:
            ds = load_dataset(f"csv:{path}", label_column=label, test_size=0.5)
        except DataError:
            pass
        else:
            assert torch.isfinite(ds.x_train).all() and torch.isfinite(ds.x_test).all()
