"""The measured substrate: recordings, the kernel-ridge emulator, its noise and its state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pnnkit.data.recordings import load_recording, make_synthetic_recording
from pnnkit.errors import ConfigError, DataError
from pnnkit.physics import make_substrate
from pnnkit.physics.measured import MeasuredConfig, MeasuredSubstrate

NOISE = 0.05


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[MeasuredSubstrate, dict]:
    path = tmp_path_factory.mktemp("rec") / "big.npz"
    info = make_synthetic_recording(path, 1500, 4, 3, noise=NOISE, seed=1)
    return MeasuredSubstrate.from_file(path, seed=0), info


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.npz"
    make_synthetic_recording(path, 200, 3, 2, noise=0.02, seed=2)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_error_matches_the_known_noise(big):
    substrate, info = big
    report = substrate.fit_report
    truth = info["noise_to_signal"]
    for j, rel in enumerate(report["rel_rmse"]):
        assert truth[j] / 1.5 <= rel <= truth[j] * 1.5, (j, rel, truth[j])
    for std in report["residual_std"]:
        assert abs(std - NOISE) <= 0.3 * NOISE
    assert report["n_holdout"] == 300 and report["n_train"] == 1200
    assert report["r2_overall"] > 0.9
    assert report["width"] > 0 and report["ridge"] > 0


def test_measure_adds_the_residual_noise_and_counts(big):
    substrate, _ = big
    x = torch.rand(4000, 4) * 2 - 1
    before = substrate.counters.physical_queries
    y = substrate.measure(x)
    assert y.shape == (4000, 3) and y.dtype == torch.float32
    assert substrate.counters.physical_queries - before == 4000
    noise_std = (y - substrate.twin()(x, torch.empty(0))).std(0)
    torch.testing.assert_close(
        noise_std, substrate.residual_std.to(torch.float32), rtol=0.1, atol=0.0
    )


def test_twin_is_differentiable_and_noise_free(small):
    substrate = MeasuredSubstrate.from_file(small, noise_scale=0.0)
    assert substrate.exact_twin and not substrate.linear
    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    twin = substrate.twin()
    z = twin(x, substrate.read_parameters())
    torch.testing.assert_close(substrate.measure(x.detach()), z.detach())
    z.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    probe = x.detach()[:2].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda v: twin(v, torch.empty(0)), (probe,))


def test_far_outside_the_recording_predicts_the_mean(small):
    substrate = MeasuredSubstrate.from_file(small, noise_scale=0.0)
    _, y = load_recording(small)
    far = torch.full((1, 3), 1e3, dtype=torch.float64)
    torch.testing.assert_close(
        substrate.measure(far)[0], torch.from_numpy(y).mean(0), rtol=0.05, atol=0.02
    )


def test_nothing_is_programmable(small):
    substrate = MeasuredSubstrate.from_file(small)
    assert substrate.parameter_shape() == (0,)
    substrate.program(torch.empty(0))
    assert substrate.read_parameters().shape == (0,)
    assert substrate.program_to(torch.empty(0)) == 0.0


def test_state_dict_rebuilds_without_the_file(small, tmp_path):
    substrate = MeasuredSubstrate.from_file(small, seed=3)
    substrate.measure(torch.rand(7, 3))
    state = substrate.state_dict()
    copy_path = tmp_path / "state.pt"
    torch.save(state, copy_path)
    small.unlink()
    restored = MeasuredSubstrate.from_state_dict(torch.load(copy_path, weights_only=False))
    x = torch.rand(9, 3)
    torch.testing.assert_close(restored.measure(x), substrate.measure(x))
    assert restored.fit_report == substrate.fit_report
    assert restored.counters == substrate.counters


def test_same_seed_same_emulator(small):
    a, b = MeasuredSubstrate.from_file(small, seed=5), MeasuredSubstrate.from_file(small, seed=5)
    x = torch.rand(6, 3)
    torch.testing.assert_close(a.measure(x), b.measure(x))


def test_registry_and_dimension_checks(small):
    substrate = make_substrate("measured", 3, 2, config={"path": str(small)})
    assert isinstance(substrate, MeasuredSubstrate)
    with pytest.raises(ConfigError, match=r"3 inputs and 2 outputs.*in_features = 4"):
        MeasuredSubstrate(4, 2, config=MeasuredConfig(path=str(small)))
    with pytest.raises(ConfigError, match="path"):
        MeasuredSubstrate(3, 2)
    with pytest.raises(ConfigError, match="holdout"):
        MeasuredSubstrate.from_file(small, holdout=1.5)


def test_csv_with_custom_prefixes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (120, 2))
    y = np.stack([np.sin(2 * x[:, 0]) + x[:, 1] ** 2], axis=1)
    rows = np.concatenate([x, y], axis=1).tolist()
    path = write_csv(tmp_path / "rec.csv", ["in0", "in1", "out0"], rows)
    substrate = MeasuredSubstrate.from_file(path, x_prefix="in", y_prefix="out")
    assert (substrate.in_features, substrate.out_features) == (2, 1)
    assert substrate.fit_report["r2_overall"] > 0.95


def _rows(n: int = 20) -> list[list[object]]:
    return [[i * 0.1, 1.0, i * 0.2] for i in range(n)]


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (["x0", "x2", "y0"], _rows(), r"x1.*missing"),
        (["x0", "x1", "z0"], _rows(), r"no y0"),
        (["x0", "x1", "y0", "t"], [[*r, 0] for r in _rows()], r"unexpected column.*'t'"),
        (["x0", "x1", "y0"], _rows(5), r"5 rows; at least 10"),
        (["x0", "x1", "y0"], [*_rows(), [1, "abc", 2]], r"row 22, column 'x1'.*'abc'"),
        (["x0", "x1", "y0"], [*_rows(), [1, 2]], r"row 22 has 2 values for 3 columns"),
        (["x0", "x1", "y0"], [*_rows(12), [1, 2, "nan"]], r"row 14, column 'y0'.*not finite"),
    ],
)
def test_bad_csv_files_name_the_problem(tmp_path, header, rows, message):
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataError, match=message) as info:
        load_recording(path)
    assert "bad.csv" in str(info.value)


def test_bad_npz_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MeasuredSubstrate.from_file(tmp_path / "nope.npz")
    path = tmp_path / "rows.npz"
    np.savez(path, x=np.zeros((20, 2)), y=np.zeros((19, 1)))
    with pytest.raises(DataError, match="x has 20 rows but y has 19"):
        load_recording(path)
    np.savez(path, x=np.zeros((20, 2)))
    with pytest.raises(DataError, match=r"lacks array\(s\) \['y'\]"):
        load_recording(path)
    x = np.zeros((20, 2))
    x[3, 1] = np.inf
    np.savez(path, x=x, y=np.zeros((20, 1)))
    with pytest.raises(DataError, match="row 3, column x1"):
        load_recording(path)
    np.savez(path, x=np.zeros(20), y=np.zeros((20, 1)))
    with pytest.raises(DataError, match=r"shape \(N, features\)"):
        load_recording(path)
    other = tmp_path / "rec.txt"
    other.write_text("x0,y0\n")
    with pytest.raises(DataError, match="unknown format"):
        load_recording(other)
