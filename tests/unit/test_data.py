"""Tests of pnnkit.data: built-in datasets, the CSV loader, splitting and standardisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pnnkit.data import Dataset, available_datasets, load_csv, load_dataset
from pnnkit.errors import ConfigError, DataError
from tests.fixtures.csv_files import balanced_csv, rows_csv, write

# -- built-in datasets ---------------------------------------------------------------------------


def test_available_datasets() -> None:
    assert available_datasets() == (
        "digits",
        "iris",
        "mnist1d",
        "mnist5k",
        "csv:PATH",
        "npz:PATH",
        "mnist:DIR",
        "fashion-mnist:DIR",
        "cifar10:DIR",
    )


def test_digits_shapes_and_dtypes() -> None:
    ds = load_dataset("digits")
    assert ds.name == "digits"
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 1797
    assert ds.x_test.shape[0] == 450  # ceil(0.25 * 1797)
    assert ds.num_features == 64 and ds.x_test.shape[1] == 64
    assert ds.num_classes == 10
    assert ds.class_names == tuple(str(k) for k in range(10))
    assert len(ds.feature_names) == 64
    assert ds.x_train.dtype == torch.float32 and ds.x_test.dtype == torch.float32
    assert ds.y_train.dtype == torch.int64 and ds.y_test.dtype == torch.int64
    assert set(ds.y_train.tolist()) == set(range(10))
    assert torch.isfinite(ds.x_train).all() and torch.isfinite(ds.x_test).all()


def test_digits_split_is_stratified() -> None:
    ds = load_dataset("digits", seed=3)
    y_all = torch.cat([ds.y_train, ds.y_test])
    overall = torch.bincount(y_all, minlength=10).double() / len(y_all)
    in_test = torch.bincount(ds.y_test, minlength=10).double() / len(ds.y_test)
    assert torch.max(torch.abs(in_test - overall)).item() < 0.005


def test_same_seed_same_split_different_seed_different_split() -> None:
    a = load_dataset("digits", seed=7)
    b = load_dataset("digits", seed=7)
    c = load_dataset("digits", seed=8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_test, c.x_test)


def test_test_size_is_respected() -> None:
    ds = load_dataset("iris", test_size=0.2)
    assert ds.x_test.shape[0] == 30 and ds.x_train.shape[0] == 120


def test_standardisation_uses_training_statistics_only() -> None:
    raw = load_dataset("digits", seed=1, standardize=False)
    std = load_dataset("digits", seed=1)
    x_tr = raw.x_train.double().numpy()
    x_te = raw.x_test.double().numpy()
    # the raw split is the same split, unscaled
    assert torch.equal(raw.y_train, std.y_train)
    assert float(x_tr.max()) == 16.0

    mean = x_tr.mean(axis=0)
    scale = x_tr.std(axis=0)
    constant = scale == 0
    assert constant.any()  # digits has always-blank border pixels
    scale[constant] = 1.0
    np.testing.assert_allclose(std.x_train.numpy(), (x_tr - mean) / scale, atol=1e-5)
    np.testing.assert_allclose(std.x_test.numpy(), (x_te - mean) / scale, atol=1e-5)

    z = std.x_train.double().numpy()
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=0)[~constant], 1.0, atol=1e-5)
    np.testing.assert_array_equal(z[:, constant], 0.0)
    # test statistics were not used: the test split is not exactly centred
    assert np.abs(std.x_test.double().numpy().mean(axis=0)).max() > 1e-3


def test_constant_column_gives_no_nan(tmp_path: Path) -> None:
    rows = [f"3.25,{i % 4},{'ab'[i % 2]}" for i in range(12)]
    path = write(tmp_path, rows_csv("const,varying,label", rows))
    ds = load_dataset(f"csv:{path}", seed=0)
    assert torch.isfinite(ds.x_train).all() and torch.isfinite(ds.x_test).all()
    assert torch.all(ds.x_train[:, 0] == 0) and torch.all(ds.x_test[:, 0] == 0)
    assert ds.x_train[:, 1].std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)


def test_iris_loads() -> None:
    ds = load_dataset("iris")
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 150
    assert ds.num_features == 4
    assert ds.class_names == ("setosa", "versicolor", "virginica")
    assert ds.feature_names[0] == "sepal length (cm)"


def test_summary_is_json_serialisable() -> None:
    summary = load_dataset("iris").summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["name"] == "iris"
    assert (summary["n_train"], summary["n_test"]) == (112, 38)
    assert (summary["num_features"], summary["num_classes"]) == (4, 3)
    assert summary["class_names"] == ["setosa", "versicolor", "virginica"]


def test_unknown_spec_lists_accepted_specs() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert "mnist" in message
    for spec in available_datasets():
        assert spec in message
    assert "mnist:DIR" in message  # the bare name hints at the folder form


def test_csv_spec_without_path() -> None:
    with pytest.raises(DataError, match="csv:PATH"):
        load_dataset("csv:")


@pytest.mark.parametrize("test_size", [0, 0.0, 1.0, 1.5, -0.2, float("nan"), True, "0.25"])
def test_invalid_test_size(test_size: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_dataset("iris", test_size=test_size)  # type: ignore[arg-type]
    assert "test_size" in str(info.value) and repr(test_size) in str(info.value)


def test_label_column_with_builtin_dataset_is_rejected() -> None:
    with pytest.raises(ConfigError, match="label_column"):
        load_dataset("iris", label_column="species")


def test_dataset_rejects_mismatched_shapes() -> None:
    ds = load_dataset("iris")
    with pytest.raises(ValueError):
        Dataset(
            name="x",
            x_train=ds.x_train,
            y_train=ds.y_train[:-1],
            x_test=ds.x_test,
            y_test=ds.y_test,
            class_names=ds.class_names,
            feature_names=ds.feature_names,
        )


# -- CSV: good files -----------------------------------------------------------------------------


def test_csv_round_trip_string_labels(tmp_path: Path) -> None:
    path = write(tmp_path, balanced_csv(["cat", "ant", "bee"]))
    x, y, class_names, feature_names = load_csv(path)
    assert x.dtype == np.float64 and x.shape == (12, 2)
    assert y.dtype == np.int64
    assert class_names == ("ant", "bee", "cat")
    assert feature_names == ("a", "b")
    assert y[:4].tolist() == [2] * 4  # "cat" rows come first in the file
    assert x[0].tolist() == [0.5, 0.0]

    ds = load_dataset(f"csv:{path}", test_size=0.5, standardize=False)
    assert ds.name == f"csv:{path}"
    assert ds.class_names == ("ant", "bee", "cat")
    assert ds.x_train.shape == (6, 2) and ds.x_test.shape == (6, 2)
    # every training row still carries its own label
    for row, label in zip(ds.x_train.tolist(), ds.y_train.tolist(), strict=True):
        assert ["cat", "ant", "bee"][int(row[0])] == ds.class_names[label]


def test_csv_integer_labels_sort_numerically(tmp_path: Path) -> None:
    path = write(tmp_path, balanced_csv(["10", "2", "-1"]))
    _, y, class_names, _ = load_csv(path)
    assert class_names == ("-1", "2", "10")
    assert y[:4].tolist() == [2] * 4


def test_csv_mixed_labels_sort_as_strings(tmp_path: Path) -> None:
    path = write(tmp_path, balanced_csv(["10", "9", "x"]))
    assert load_csv(path)[2] == ("10", "9", "x")


def test_csv_integer_spellings_of_one_value_stay_distinct(tmp_path: Path) -> None:
    path = write(tmp_path, balanced_csv(["7", "07", "3"]))
    assert load_csv(path)[2] == ("07", "3", "7")


def test_csv_named_label_column_in_the_middle(tmp_path: Path) -> None:
    rows = [f"{i},{'no' if i % 2 else 'yes'},{i * 10}" for i in range(8)]
    path = write(tmp_path, rows_csv("first,target,last", rows))
    x, y, class_names, feature_names = load_csv(path, label_column="target")
    assert feature_names == ("first", "last")
    assert class_names == ("no", "yes")
    assert x[3].tolist() == [3.0, 30.0]
    assert y.tolist() == [1, 0] * 4
    ds = load_dataset(f"csv:{path}", label_column="target", test_size=0.5)
    assert ds.num_features == 2 and ds.num_classes == 2


def test_default_label_column_is_label_when_present(tmp_path: Path) -> None:
    rows = [f"{'ab'[i % 2]},{i},{i + 1}" for i in range(6)]
    path = write(tmp_path, rows_csv("label,f1,f2", rows))
    x, _, class_names, feature_names = load_csv(path)
    assert feature_names == ("f1", "f2")
    assert class_names == ("a", "b")
    assert x[5].tolist() == [5.0, 6.0]


def test_default_label_column_is_last_otherwise(tmp_path: Path) -> None:
    rows = [f"{i},{i + 1},{i % 3}" for i in range(9)]
    path = write(tmp_path, rows_csv("f1,f2,species", rows))
    _, y, class_names, feature_names = load_csv(path)
    assert feature_names == ("f1", "f2")
    assert class_names == ("0", "1", "2")
    assert y.tolist() == [0, 1, 2] * 3


def test_csv_quotes_bom_spaces_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufeff"x, 1", "y"\r\n\r\n 1.5 , "a,b"\r\n"2e1",c\r\n\r\n'
    path = tmp_path / "quoted.csv"
    path.write_bytes(text.encode("utf-8"))
    x, y, class_names, feature_names = load_csv(path)
    assert feature_names == ("x, 1",)
    assert class_names == ("a,b", "c")
    assert x[:, 0].tolist() == [1.5, 20.0]
    assert y.tolist() == [0, 1]
