"""Checkpoints and resume: an interrupted run, resumed, ends exactly where the uninterrupted run
ends; damaged checkpoints are clear errors; resuming changes nothing but the run's length."""

from __future__ import annotations

import json
import pickle
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from pnnkit.errors import CheckpointError, ConfigError, PnnkitError, TrainingInterrupted
from pnnkit.experiment import TrainConfig, Trainer
from pnnkit.results import RunFolder
from pnnkit.results.folder import CHECKPOINT_FORMAT
from tests.fixtures.configs import tiny_config

#: the runs compared: rule, substrate, task and sizes (iris: 112 training samples, so batches
#: of 32 make 4 steps per epoch)
CASES: dict[str, dict[str, Any]] = {
    # faults injected at the start of the epoch that is interrupted
    "pib": {
        "method": "pib",
        "substrate": "crossbar",
        "hidden": [16, 12],
        "faults": "stuck:0.1@epoch=2",
    },
    "ff": {"method": "ff", "substrate": "crossbar", "hidden": [16, 12]},
    "pat": {"method": "pat", "substrate": "scattering", "hidden": [12]},
    # the randomized estimator draws its probes from torch's global generator
    "lanczos": {
        "method": "pib",
        "hidden": [16, 12],
        "rule_options": {"estimator": {"entropy_method": "lanczos"}},
    },
    "unsupervised": {"task": "unsupervised", "hidden": [8, 6], "activation": "tanh"},
}
STEPS_PER_EPOCH = 4
#: times and paths differ between two runs; everything else must not
UNEQUAL = {"wall_seconds", "train_seconds", "hardware_seconds", "digital_seconds", "run_dir"}


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own SIGINT handler for every test here, whatever the test run inherited: a
    process started with SIGINT ignored (a background job, nohup, some CI runners) keeps it
    ignored, and pnnkit rightly leaves an inherited handler alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def config(out: Path, case: str, **changes: Any) -> TrainConfig:
    return tiny_config(out, **{"epochs": 3, **CASES[case], **changes})


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts, lists and tensors equal to the last bit (times and paths excepted)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            if key not in UNEQUAL and key not in ("plots", "embedding"):
                assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


_REFERENCE: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = {}


def uninterrupted(tmp_path_factory: pytest.TempPathFactory, case: str) -> tuple[Any, ...]:
    """Summary, metrics and final state of the uninterrupted run (computed once per case)."""
    if case not in _REFERENCE:
        out = tmp_path_factory.mktemp(f"reference-{case}")
        trainer = Trainer(config(out, case))
        summary = trainer.train(progress=False)
        state = {"network": trainer.network.state_dict(), "rule": trainer.rule.state_dict()}
        _REFERENCE[case] = (summary, RunFolder(out).read_metrics(), state)
    return _REFERENCE[case]


def interrupt_during_step(trainer: Trainer, step: int, how: str) -> None:
    """Ctrl-C in the middle of training step ``step`` (counted from 1 over the run), while the
    last unit's stage is being measured: ``sigint`` sends a real SIGINT to the process,
    ``raw`` raises KeyboardInterrupt out of the measurement (as a second Ctrl-C would)."""
    steps = [0]
    real_step = trainer.rule.train_step

    def train_step(x, y=None):  # the unsupervised task gives no labels
        steps[0] += 1
        return real_step(x, y)

    stage = trainer.network.units[-1].stage
    real_measure = stage._measure

    def measure(x):
        if steps[0] == step:
            steps[0] = -1  # fire once
            if how == "sigint":
                signal.raise_signal(signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return real_measure(x)

    trainer.rule.train_step = train_step
    stage._measure = measure


@pytest.mark.parametrize(
    "case, how",
    [
        ("pib", "sigint"),
        ("pib", "raw"),
        ("ff", "sigint"),
        ("pat", "raw"),
        ("lanczos", "sigint"),
        ("unsupervised", "sigint"),
    ],
)
def test_interrupted_and_resumed_run_ends_as_the_uninterrupted_one(
    tmp_path, tmp_path_factory, case, how
):
    summary, metrics, state = uninterrupted(tmp_path_factory, case)
    assert bool(summary["faults"]["injected"]) == ("faults" in CASES[case])
    trainer = Trainer(config(tmp_path, case))
    interrupt_during_step(trainer, STEPS_PER_EPOCH + 2, how)  # epoch 2, its second step
    with pytest.raises(TrainingInterrupted) as caught:
        trainer.train(progress=False)
    interrupted = caught.value
    assert isinstance(interrupted, KeyboardInterrupt) and interrupted.exit_code == 130
    assert (interrupted.epoch, interrupted.run_dir) == (2, tmp_path)
    copy = pickle.loads(pickle.dumps(interrupted))  # crosses from a bench worker process
    assert (str(copy), copy.epoch, copy.batch) == (str(interrupted), 2, interrupted.batch)
    folder = RunFolder(tmp_path)
    saved = folder.load_checkpoint()
    resume_line = f"resume with: pnnkit train --resume {tmp_path}"
    if how == "sigint":
        # the step in progress finished: the checkpoint is mid-epoch, and resumes from there
        assert str(interrupted) == f"interrupted at epoch 2 after batch 2/4; {resume_line}"
        assert saved["epoch"] == 1 and saved["position"]["cursor"] == 2
        assert len(saved["position"]["order"]) == STEPS_PER_EPOCH
    else:
        # cut inside the step: the last checkpoint (end of epoch 1) stays, epoch 2 is repeated
        assert str(interrupted).startswith("interrupted at epoch 2 after batch 1/4; ")
        assert "holds the end of epoch 1" in str(interrupted)
        assert str(interrupted).endswith(f"pnnkit train --resume {tmp_path}")
        assert saved["epoch"] == 1 and saved["position"] is None
        # a session that wrote more than its checkpoint: resume drops those lines
        with folder.metrics.open("a") as stream:
            stream.write('{"epoch": 2, "loss": "from the interrupted session"}\n')
    assert len(folder.read_metrics()) == (1 if how == "sigint" else 2)

    resumed = Trainer.resume(tmp_path)
    assert_same(resumed.train(progress=False), summary, "summary")
    assert_same(folder.read_metrics(), metrics, "metrics")
    assert_same(resumed.network.state_dict(), state["network"], "network")
    assert_same(resumed.rule.state_dict(), state["rule"], "rule")


def test_interrupt_during_evaluation_saves_the_epoch_and_resumes(tmp_path, tmp_path_factory):
    """A Ctrl-C while an epoch is evaluated lets the epoch finish and be checkpointed."""
    summary, metrics, _ = uninterrupted(tmp_path_factory, "pib")
    trainer = Trainer(config(tmp_path, "pib"))
    real = trainer.rule.predict
    calls = [0]

    def predict(x):
        calls[0] += 1
        if calls[0] == 1:  # epoch 1, training accuracy
            signal.raise_signal(signal.SIGINT)
        return real(x)

    trainer.rule.predict = predict
    with pytest.raises(TrainingInterrupted, match=r"^interrupted after epoch 1; resume with"):
        trainer.train(progress=False)
    assert len(RunFolder(tmp_path).read_metrics()) == 1
    resumed = Trainer.resume(tmp_path)
    assert_same(resumed.train(progress=False), summary, "summary")
    assert_same(RunFolder(tmp_path).read_metrics(), metrics, "metrics")


def test_resume_extends_a_run_to_more_epochs(tmp_path):
    """With a constant learning rate, 2 epochs extended to 4 are the 4-epoch run."""
    constant = {"rule_options": {"schedule": "constant"}}
    whole = Trainer(config(tmp_path / "whole", "pib", epochs=4, **constant))
    whole.train(progress=False)
    Trainer(config(tmp_path / "part", "pib", epochs=2, **constant)).train(progress=False)
    assert (tmp_path / "part" / "summary.json").exists()
    resumed = Trainer.resume(tmp_path / "part", overrides=["epochs=4", "seed=0"])
    assert not (tmp_path / "part" / "summary.json").exists()  # stale until the run ends
    summary = resumed.train(progress=False)
    assert summary["epochs"] == 4
    assert json.loads((tmp_path / "part" / "config.json").read_text())["epochs"] == 4
    assert_same(RunFolder(tmp_path / "part").read_metrics(), whole.history, "metrics")
    assert_same(resumed.network.state_dict(), whole.network.state_dict(), "network")


def test_resume_refuses_changes_that_make_another_run(tmp_path):
    Trainer(config(tmp_path, "pib", epochs=2)).train(progress=False)
    with pytest.raises(ConfigError, match=r"cannot change hidden, rule_options\.beta") as caught:
        Trainer.resume(tmp_path, overrides=["rule.beta=3", "hidden=[4, 4]"])
    assert "epochs, max_bad_batches, tensorboard" in str(caught.value)
    with pytest.raises(ConfigError, match=r"epochs = 1 is invalid.*use epochs >= 2"):
        Trainer.resume(tmp_path, overrides=["epochs=1"])
    with pytest.raises(ConfigError, match="max_bad_batches = 0 is invalid"):
        Trainer.resume(tmp_path, overrides=["max_bad_batches=0"])
    # a finished run resumed as it is only writes its summary again
    summary = Trainer.resume(tmp_path, overrides=["max_bad_batches=3"]).train(progress=False)
    assert summary["epochs"] == 2 and len(RunFolder(tmp_path).read_metrics()) == 2


def test_the_resolved_config_is_saved_with_the_run_and_every_checkpoint(tmp_path):
    trainer = Trainer(config(tmp_path, "pib", epochs=1))
    trainer.train(progress=False)
    state = RunFolder(tmp_path).load_checkpoint()
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert state["config"] == on_disk == trainer.config.resolved()
    assert on_disk["substrate_options"]["levels"] == 64 and on_disk["max_bad_batches"] == 10
    assert TrainConfig.from_dict(on_disk).resolved() == on_disk  # rebuilds the same run


def _damage(folder: RunFolder, how: str) -> None:
    good = folder.checkpoint.read_bytes()
    if how == "truncated":
        folder.checkpoint.write_bytes(good[: len(good) // 2])
    elif how == "empty":
        folder.checkpoint.write_bytes(b"")
    elif how == "random bytes":
        generator = torch.Generator().manual_seed(0)
        noise = torch.randint(0, 256, (4096,), generator=generator, dtype=torch.uint8)
        folder.checkpoint.write_bytes(bytes(noise.tolist()))
    elif how == "json renamed":
        folder.checkpoint.write_bytes(folder.config.read_bytes())
    elif how == "other format":
        torch.save({"weights": torch.zeros(3)}, folder.checkpoint)
    elif how == "other kind":  # a pnnkit checkpoint, but not of a training run
        torch.save({"format": CHECKPOINT_FORMAT, "iteration": 3}, folder.checkpoint)
    elif how == "unsafe pickle":  # weights_only=True refuses arbitrary objects
        torch.save({"format": CHECKPOINT_FORMAT, "payload": Path("x")}, folder.checkpoint)
    elif how == "missing":
        folder.checkpoint.unlink()
    elif how == "wrong network":
        state = torch.load(folder.checkpoint, weights_only=True)
        state["network"]["units"] = state["network"]["units"][:1]
        torch.save(state, folder.checkpoint)


@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "empty",
        "random bytes",
        "json renamed",
        "other format",
        "other kind",
        "unsafe pickle",
        "missing",
        "wrong network",
    ],
)
def test_a_damaged_checkpoint_is_a_clear_error_naming_the_file(tmp_path, how):
    Trainer(config(tmp_path, "pib", epochs=1)).train(progress=False)
    folder = RunFolder(tmp_path)
    _damage(folder, how)
    with pytest.raises(CheckpointError) as caught:
        Trainer.resume(tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, PnnkitError)  # the command line prints it as one line
    assert str(folder.checkpoint) in message and "\n" not in message


def test_tensorboard_holds_every_epoch_scalar_and_a_resume_replaces_what_it_redoes(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(config(tmp_path, "pib", epochs=2, tensorboard=True)).train(progress=False)
    shutil.copy(tmp_path / "checkpoint.pt", tmp_path / "after-epoch-2.pt")
    Trainer.resume(tmp_path, overrides=["epochs=3"]).train(progress=False)
    # as if the last session had logged epoch 3 and died before its checkpoint
    shutil.copy(tmp_path / "after-epoch-2.pt", tmp_path / "checkpoint.pt")
    Trainer.resume(tmp_path, overrides=["epochs=3"]).train(progress=False)
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 3
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    metrics = RunFolder(tmp_path).read_metrics()
    assert [len(m["faults"]) for m in metrics] == [0, 2, 0]  # stuck devices in both units
    expected = {
        "loss": [m["loss"] for m in metrics],
        "readout_loss": [m["readout_loss"] for m in metrics],
        "train_accuracy": [m["train_accuracy"] for m in metrics],
        "test_accuracy": [m["test_accuracy"] for m in metrics],
        "info_i_xt/unit1": [m["info_i_xt"][0] for m in metrics],
        "info_i_ty/unit2": [m["info_i_ty"][1] for m in metrics],
        "physical_queries": [m["physical_queries"] for m in metrics],
        "bad_batches": [m["bad_batches"] for m in metrics],
        "faults_injected": [len(m["faults"]) for m in metrics],
    }
    for tag, values in expected.items():
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2, 3], tag
        assert [s.value for s in scalars] == pytest.approx(values, rel=1e-6), tag


def test_tensorboard_without_the_package_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r"pip install pnnkit\[tensorboard\]"):
        Trainer(config(tmp_path / "run", "pib", tensorboard=True))
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------- the command line


def test_cli_resume_extends_a_finished_run_and_refuses_other_settings(tmp_path, capsys):
    from pnnkit.cli import main

    run = str(tmp_path / "run")
    base = ["train", "--dataset", "iris", "--hidden", "8", "--quiet", "--out", run]
    assert main([*base, "--epochs", "2"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", run, "--set", "epochs=3", "--json", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["epoch"] for r in RunFolder(run).read_metrics()] == [1, 2, 3]
    assert summary["run_dir"] == run
    assert main(["train", "--resume", run, "--hidden", "16", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pnnkit: error: --resume") and "drop hidden" in err
    assert main(["train", "--resume", str(tmp_path / "none"), "--quiet"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_cli_ctrl_c_prints_where_it_stopped_and_exits_130(tmp_path, capsys, monkeypatch):
    import pnnkit.experiment
    from pnnkit.cli import main

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise TrainingInterrupted("interrupted at epoch 3 after batch 2/6; resume with: ...")

    monkeypatch.setattr(pnnkit.experiment, "train", interrupted)
    assert main(["train", "--dataset", "iris", "--out", str(tmp_path / "r"), "--quiet"]) == 130
    assert (
        capsys.readouterr().err
        == "pnnkit: interrupted at epoch 3 after batch 2/6; resume with: ...\n"
    )


def test_a_checkpoint_that_kept_the_task_state_as_unsupervised_still_resumes(tmp_path):
    """Checkpoints written before the task axis held the unsupervised task's state under
    ``unsupervised`` (empty baselines for a supervised run): they resume as before."""
    Trainer(config(tmp_path, "pib", epochs=1)).train(progress=False)
    folder = RunFolder(tmp_path)
    state = folder.load_checkpoint()
    del state["task"], state["format"]
    state["unsupervised"] = {
        "baselines": {},
        "untrained_embedding": None,
        "learned_embedding": None,
    }
    folder.save_checkpoint(state)
    summary = Trainer.resume(tmp_path, overrides=["epochs=2"]).train(progress=False)
    assert summary["epochs"] == 2 and len(folder.read_metrics()) == 2
