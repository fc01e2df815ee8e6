"""Tasks: what a run learns and how it is judged.

``pnnkit train --task NAME`` runs the task :data:`TASKS` names on the shared training loop
(:class:`pnnkit.experiment.trainer.Trainer`): :mod:`~pnnkit.tasks.supervised` (learn from the
labels) and :mod:`~pnnkit.tasks.unsupervised` (multi-view PIB, labels only to judge). A task
is a :class:`pnnkit.tasks.base.Task`: how a batch becomes a step, what an epoch's evaluation
measures, which summary fields it writes. :mod:`pnnkit.tasks.rl` (``pnnkit rl``) plays
episodes instead of epochs, on the same run folder, recorder and Ctrl-C handling.

Adding a task: its module here, its line in :data:`TASKS`, a row in docs/guide/05-tasks.md.
The registry names modules rather than importing them, so that the config can check a task's
name without importing the training code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pnnkit.tasks.base import Task

#: task name -> ``module:class`` of its :class:`~pnnkit.tasks.base.Task`
TASKS: dict[str, str] = {
    "supervised": "pnnkit.tasks.supervised:Supervised",
    "unsupervised": "pnnkit.tasks.unsupervised:Unsupervised",
}


def task_class(name: str) -> type[Task]:
    """The task class registered as ``name`` (a name the config has checked)."""
    module, _, attribute = TASKS[name].partition(":")
    found: type[Task] = getattr(importlib.import_module(module), attribute)
    return found


__all__ = ["TASKS", "task_class"]
