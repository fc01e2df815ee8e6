"""The task registry (every name ``--task`` accepts resolves to its task, and back), and the
RL task on the shared Ctrl-C handling."""

from __future__ import annotations

import os
import signal

import pytest

from pnnkit.errors import TrainingInterrupted
from pnnkit.results.folder import RunFolder
from pnnkit.rl import RLConfig
from pnnkit.tasks import TASKS, task_class
from pnnkit.tasks.base import Task
from pnnkit.tasks.rl import RLRunner


def test_every_registered_task_resolves_to_a_task_of_its_name():
    for name in TASKS:
        found = task_class(name)
        assert issubclass(found, Task) and found.name == name
        assert found.losses and found.losses[0] == "loss"


def test_the_config_accepts_exactly_the_registered_tasks(tmp_path):
    from pnnkit.errors import ConfigError
    from pnnkit.experiment import TrainConfig

    for name in TASKS:
        assert TrainConfig(task=name, out=str(tmp_path)).task == name
    with pytest.raises(ConfigError, match="task = 'reinforcement' is invalid"):
        TrainConfig(task="reinforcement")


def test_ctrl_c_stops_after_the_iteration_with_its_metrics_and_checkpoint(tmp_path, monkeypatch):
    """The first Ctrl-C lets the iteration at hand finish (its metrics line and checkpoint
    written), then stops with a message that names where (as training runs do)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runner = RLRunner(
            RLConfig.from_dict(
                {
                    "episodes": 12,
                    "episodes_per_iteration": 4,
                    "hidden": [8, 8],
                    "batch_size": 32,
                    "eval_episodes": 3,
                    "eval_every": 4,
                    "out": str(tmp_path / "run"),
                }
            )
        )
        real = runner.iterate

        def iterate_then_interrupt():
            record = real()
            os.kill(os.getpid(), signal.SIGINT)
            return record

        monkeypatch.setattr(runner, "iterate", iterate_then_interrupt)
        with pytest.raises(TrainingInterrupted, match="interrupted after iteration 1"):
            runner.train(progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    folder = RunFolder(tmp_path / "run")
    assert len(folder.read_metrics()) == 1
    assert folder.load_checkpoint()["iteration"] == 1
    assert not folder.summary.exists()
