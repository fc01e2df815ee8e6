"""Runs: typed config, run folder, training loop, plots."""

from pnnkit.experiment.config import TrainConfig
from pnnkit.experiment.run import Trainer, resume, train

__all__ = ["TrainConfig", "Trainer", "resume", "train"]
