"""The task registry: every name ``--task`` accepts resolves to its task, and back."""

from __future__ import annotations

from pnnkit.experiment.config import TASKS as CONFIG_TASKS
from pnnkit.tasks import TASKS, task_class
from pnnkit.tasks.base import Task


def test_every_registered_task_resolves_to_a_task_of_its_name():
    for name in TASKS:
        found = task_class(name)
        assert issubclass(found, Task) and found.name == name
        assert found.losses and found.losses[0] == "loss"


def test_the_config_accepts_exactly_the_registered_tasks():
    assert set(CONFIG_TASKS) == set(TASKS)
