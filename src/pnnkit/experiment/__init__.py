"""Runs: typed config, run folder, the training loop and what it is made of (builder,
evaluation, checkpoint, recorder, Ctrl-C), plots, benches and sweeps."""

from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.trainer import Trainer, resume, train

__all__ = ["TrainConfig", "Trainer", "resume", "train"]
