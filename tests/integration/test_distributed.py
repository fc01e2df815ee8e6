"""Distributed PIB: per-unit workers equal the sequential rule, the Ray pipeline equals the
sequential run to the last digit (also after killed units are restarted), settings are checked,
and every substrate's simulated latency is slept and counted."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from pnnkit.distributed import DistributedConfig, train_distributed
from pnnkit.distributed.messages import UnitNotReadyError
from pnnkit.distributed.unit import Replica, UnitWorker
from pnnkit.errors import BadMeasurementError, ConfigError
from pnnkit.experiment import Trainer, train
from pnnkit.experiment.config import TrainConfig
from pnnkit.physics import SUBSTRATES, IdealConfig, make_substrate
from pnnkit.results import RunFolder

SKIP = {"hardware_seconds", "wall_seconds", "train_seconds", "out", "torch"}


def _same(a, b, where=""):
    """Assert two checkpoints (nested dicts, lists, tensors, numbers) are equal, times aside."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if key not in SKIP:
                _same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _same(u, v, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


# --- simulated latency ------------------------------------------------------------------------


def test_latency_is_slept_inside_measure_and_counted_as_hardware_time():
    fast = make_substrate("ideal", 8, 4, seed=3)
    slow = make_substrate("ideal", 8, 4, seed=3, config={"latency": 0.05})
    x = torch.randn(16, 8)
    began = time.perf_counter()
    out = slow.measure(x)
    assert time.perf_counter() - began >= 0.05
    assert slow.counters.hardware_seconds >= 0.05
    assert torch.equal(out, fast.measure(x))  # latency changes no value
    assert fast.counters.hardware_seconds < 0.05
    assert slow.counters.physical_queries == fast.counters.physical_queries == 16


def test_every_substrate_has_a_latency_setting_checked_and_settable_from_the_command_line():
    for cls in SUBSTRATES.values():
        assert cls.config_class().latency == 0.0
    with pytest.raises(ConfigError, match="latency"):
        IdealConfig(latency=-0.1).validate()
    config = TrainConfig().with_overrides(["substrate.latency=0.02", "stage.latency=0.01"])
    resolved = config.resolved()
    assert resolved["substrate_options"]["latency"] == 0.02
    assert resolved["stage_options"]["latency"] == 0.01


def test_a_state_saved_at_one_latency_loads_at_another():
    a = make_substrate("crossbar", 6, 3, seed=1, config={"latency": 0.01})
    b = make_substrate("crossbar", 6, 3, seed=2)
    b.load_state_dict(a.state_dict())
    assert torch.equal(b.read_parameters(), a.read_parameters())


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_in_flight": -1}, "max_in_flight"),
        ({"checkpoint_every": -2}, "checkpoint_every"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"restart_timeout": 0}, "restart_timeout"),
        ({"num_cpus_per_actor": 0}, "num_cpus_per_actor"),
        ({"unit_resources": ["lab_a", ""]}, "unit_resources"),
        ({"kill_unit": 2}, "kill_at_step"),
        ({"kill_at_step": 5}, "kill_unit"),
        ({"kill_unit": 1, "kill_at_step": 3, "max_restarts": 0}, "max_restarts"),
    ],
)
def test_distributed_config_names_the_bad_field(values, field):
    with pytest.raises(ConfigError, match=field):
        DistributedConfig.from_dict(values)


def test_distributed_config_reads_loose_values_and_fills_max_in_flight():
    options = DistributedConfig.from_dict({"max_in_flight": "0", "checkpoint_every": "5"})
    assert options.checkpoint_every == 5
    assert options.in_flight(3) == 6
    assert DistributedConfig(max_in_flight=2).in_flight(3) == 2


@pytest.mark.parametrize(
    ("overrides", "words"),
    [({"method": "backprop"}, "only pib"), ({"task": "unsupervised"}, "supervised")],
)
def test_only_supervised_pib_is_distributed(overrides, words, tmp_path):
    config = TrainConfig(**overrides, out=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=words):
        train_distributed(config, progress=False)
    assert not (tmp_path / "run").exists()


# --- one unit per worker, without Ray ---------------------------------------------------------

SMALL = {"dataset": "digits", "hidden": [16, 12], "epochs": 2, "batch_size": 64}


def _workers(config: TrainConfig, total_steps: int) -> list[UnitWorker]:
    return [UnitWorker(config, k, 64, 10, total_steps) for k in range(len(config.hidden))]


def _chain(workers, message, x, y):
    h = None
    for worker in workers:
        h, stats = worker.train(message, 1, (x, y), h)
    return stats


def test_units_stepped_one_by_one_equal_the_sequential_pib_rule():
    """Scattering physics before every stage: calibration passes along the chain too."""
    config = TrainConfig(**SMALL, substrate="scattering")
    x, y = torch.randn(300, 64), torch.arange(300) % 10
    reference = Replica.build(config, 64, 10, total_steps=5)
    reference.network.calibrate(x[:200])
    workers = _workers(config, total_steps=5)
    h = x[:200]
    for worker in workers:
        h = worker.start(h)
    assert h is None  # the last unit's output calibrates nothing
    for step in range(3):
        batch = slice(64 * step, 64 * step + 64)
        stats = reference.rule.train_step(x[batch], y[batch])
        last = _chain(workers, step + 1, x[batch], y[batch])
        assert last["readout_loss"] == stats.readout_loss
    for k, worker in enumerate(workers):
        mine = worker.replica.network.state_dict()["units"][k]
        theirs = reference.network.state_dict()["units"][k]
        assert torch.equal(mine["p_mean"], theirs["p_mean"])
        assert torch.equal(
            mine["stage"]["physical"]["weight"], theirs["stage"]["physical"]["weight"]
        )
        assert worker.replica.rule.step_count == reference.rule.step_count == 3
    assert torch.equal(workers[-1].replica.network.readout.weight, reference.network.readout.weight)


def test_a_worker_restored_from_a_checkpoint_continues_identically():
    config = TrainConfig(**SMALL, faults="stuck:0.1")
    x, y = torch.randn(64, 64), torch.arange(64) % 10
    first = _workers(config, total_steps=4)
    for worker in first:
        worker.start(None)
    _chain(first, 1, x, y)
    saved = [torch.load(io.BytesIO(w.checkpoint()[0]), weights_only=True) for w in first]
    second = _workers(config, total_steps=4)
    with pytest.raises(UnitNotReadyError):
        second[0].train(2, 1, (x, y), None)
    with pytest.raises(ConfigError, match="unit 2"):
        second[1].restore(saved[0])
    for worker, state in zip(second, saved, strict=True):
        assert worker.restore(state)["position"] == 1
    a, b = _chain(first, 2, x, y), _chain(second, 2, x, y)
    assert a["readout_loss"] == b["readout_loss"]
    for one, two in zip(first, second, strict=True):
        k = one.index
        _same(one.replica.units[k].stage.state_dict(), two.replica.units[k].stage.state_dict())
        assert one.counters() == two.counters()


def test_a_bad_measurement_skips_the_batch_at_that_unit_and_after_it():
    config = TrainConfig(**SMALL)
    x, y = torch.randn(64, 64), torch.arange(64) % 10
    workers = _workers(config, total_steps=4)
    for worker in workers:
        worker.start(None)
    first, second = workers
    stage = second.unit.stage
    before = stage.state_dict()["physical"]

    def glitch(h):
        raise BadMeasurementError("crossbar substrate returned 3 NaN/Inf value(s)")

    stage.measure = glitch
    h, stats = first.train(1, 1, (x, y), None)
    assert "loss" in stats and h is not None  # the first unit learned from the batch
    out, stats = second.train(1, 1, (x, y), h)
    assert out is None and "unit 2" in stats["bad"] and "NaN" in stats["bad"]
    del stage.measure
    _same(stage.state_dict()["physical"], before)
    assert second.replica.rule.step_count == 1  # the schedule stays in step with unit 1
    assert second.train(2, 1, (x, y), None)[1]["bad"] == ""  # skipped upstream


# --- the Ray pipeline -------------------------------------------------------------------------

#: 3 units with a simulated latency, a fault injected mid-run: small enough for a few seconds
PIPELINE = {
    "dataset": "digits",
    "hidden": [32, 32, 32],
    "epochs": 3,
    "faults": "stuck:0.05@epoch=2",
    "substrate_options": {"latency": 0.02},
}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip(
        "ray", reason="ray is not installed (pip install 'pnnkit[distributed]')"
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The sequential run, with one torch thread as each actor has (BLAS sums in a different
    order with another thread count, which moves the last bits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("sequential") / "run"
        train(TrainConfig(**PIPELINE, out=str(out)), progress=False)
    finally:
        torch.set_num_threads(threads)
    return RunFolder(out)


def _metrics(folder: RunFolder) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in SKIP} for m in folder.read_metrics()]


@pytest.mark.slow
def test_the_pipeline_trains_exactly_as_the_sequential_run(ray_session, sequential, tmp_path):
    out = tmp_path / "run"
    summary = train_distributed(TrainConfig(**PIPELINE, out=str(out)), progress=False)
    folder = RunFolder(out)
    assert _metrics(folder) == _metrics(sequential)
    assert folder.metrics.read_text().count("\n") == 3
    assert summary["test_accuracy"] == json.loads(sequential.summary.read_text())["test_accuracy"]
    _same(folder.load_checkpoint(), sequential.load_checkpoint())
    config = json.loads(folder.config.read_text())
    assert config == {**json.loads(sequential.config.read_text()), "out": str(out)}
    assert all("val_accuracy" in m for m in folder.read_metrics())  # validated as sequentially
    assert summary["val_accuracy"] == json.loads(sequential.summary.read_text())["val_accuracy"]
    for name in ("learning_curves.png", "information_plane.png", "distributed.json"):
        assert (out / name).exists()
    n_train = summary["dataset_summary"]["n_train"]  # digits less its test and validation parts
    steps = math.ceil(n_train / 256)  # batches per epoch
    rows = math.ceil(n_train / steps)  # samples in the first (largest) batch
    for k in (1, 2, 3):
        state = torch.load(out / "units" / f"unit_{k}.pt", weights_only=True)
        assert state["index"] == k - 1 and state["step_count"] == 3 * steps
    assert not (out / "restarts.jsonl").exists()
    info = summary["distributed"]
    assert info["restarts"] == []
    # a batch of `rows` samples x 32 float32 outputs crosses between units, and the batch itself
    sent = info["bytes"]
    assert all(rows * 32 * 4 <= b < rows * 32 * 4 + 2000 for b in sent["unit_outputs"])
    assert rows * 64 * 4 <= sent["input_batch"] < rows * 64 * 4 + rows * 8 + 2000
    # the units worked (mostly: waited on their hardware) at the same time
    assert info["units_busy_on_average"] > 1.0
    assert summary["hardware_seconds"] > 3 * steps * 0.02
    # the sequential trainer continues the distributed run from its checkpoint
    resumed = Trainer.resume(out, overrides=["epochs=4"])
    assert resumed.train(progress=False)["epochs"] == 4
    assert len(folder.read_metrics()) == 4


@pytest.mark.slow
def test_killed_units_restart_from_their_checkpoint_and_the_run_ends_as_undisturbed(
    ray_session, sequential, tmp_path
):
    """Unit 3 is killed by the drill in epoch 1; unit 1's process gets SIGKILL after epoch 1."""
    out = tmp_path / "run"
    options = DistributedConfig(checkpoint_every=2, kill_unit=3, kill_at_step=2)

    def kill_unit_1():
        settings, metrics = out / "distributed.json", out / "metrics.jsonl"
        deadline = time.monotonic() + 60
        while not (metrics.exists() and settings.exists()) and time.monotonic() < deadline:
            time.sleep(0.005)
        pid = json.loads(settings.read_text())["actors"][0]["pid"]
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_unit_1, daemon=True)
    killer.start()
    summary = train_distributed(TrainConfig(**PIPELINE, out=str(out)), options, progress=False)
    killer.join(timeout=5)
    folder = RunFolder(out)
    restarts = [json.loads(line) for line in (out / "restarts.jsonl").read_text().splitlines()]
    assert [(r["unit"], r["cause"]) for r in restarts] == [
        (3, "drill (ray.kill)"),
        (1, "actor died"),
    ]
    assert restarts[0]["epoch"] == 1 and restarts[1]["epoch"] >= 2
    assert all(r["batches_lost"] == 0 and r["pid_after"] != r["pid_before"] for r in restarts)
    assert summary["distributed"]["restarts"] == restarts
    assert _metrics(folder) == _metrics(sequential)
    _same(folder.load_checkpoint(), sequential.load_checkpoint())


def test_placement_the_cluster_cannot_satisfy_is_refused(ray_session, tmp_path):
    config = TrainConfig(**PIPELINE, out=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=r"lab_b.*ray start --resources"):
        train_distributed(config, DistributedConfig(unit_resources=["lab_b"] * 3))
    with pytest.raises(ConfigError, match="3 units"):
        train_distributed(config, DistributedConfig(unit_resources=["lab_b"]))
    with pytest.raises(ConfigError, match="num_cpus_per_actor"):
        train_distributed(config, DistributedConfig(num_cpus_per_actor=1.0))
    assert not Path(config.out).exists()


def test_the_command_line_trains_distributed_and_refuses_misplaced_options(
    ray_session, tmp_path, capsys
):
    from pnnkit.cli import main

    out = str(tmp_path / "cli")
    argv = ["train", "--dataset", "iris", "--hidden", "8,8", "--epochs", "2", "--quiet"]
    assert main([*argv, "--distributed", "--dist-set", "checkpoint_every=2", "--out", out]) == 0
    assert json.loads((tmp_path / "cli" / "distributed.json").read_text())["checkpoint_every"] == 2
    assert len(RunFolder(out).read_metrics()) == 2
    capsys.readouterr()
    assert main([*argv, "--address", "auto", "--out", str(tmp_path / "x")]) == 2
    assert "apply to a run with --distributed" in capsys.readouterr().err
    assert main([*argv, "--distributed", "--dist-set", "max_restarts=-1", "--out", out]) == 2
    assert "max_restarts" in capsys.readouterr().err
    refresh = ["--set", "rule.refresh.every=6", "--overwrite"]
    assert main([*argv, "--distributed", *refresh, "--out", out]) == 2
    assert "refresh" in capsys.readouterr().err


def test_ctrl_c_stops_after_the_next_recorded_epoch_and_the_run_resumes(
    ray_session, tmp_path, monkeypatch
):
    from pnnkit.distributed.driver import Driver
    from pnnkit.errors import TrainingInterrupted
    from pnnkit.experiment import resume

    out = tmp_path / "run"
    config = TrainConfig(
        dataset="iris", hidden=[8, 8], epochs=3, batch_size=32, tensorboard=True, out=str(out)
    )
    record = Driver._record_epoch

    def ctrl_c_during_epoch_1(self, message, stats):
        if message.epoch == 1:
            self.ctrl_c.requested = True  # as the first Ctrl-C does
        record(self, message, stats)

    monkeypatch.setattr(Driver, "_record_epoch", ctrl_c_during_epoch_1)
    with pytest.raises(TrainingInterrupted, match="after epoch 1; resume with"):
        train_distributed(config, progress=False)
    monkeypatch.setattr(Driver, "_record_epoch", record)
    assert [r["epoch"] for r in RunFolder(out).read_metrics()] == [1]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))  # written by the recorder
    summary = resume(out, progress=False)
    assert [r["epoch"] for r in RunFolder(out).read_metrics()] == [1, 2, 3]
    assert 0 <= summary["test_accuracy"] <= 1
