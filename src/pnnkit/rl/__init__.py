"""Reinforcement learning with physical policies: PIB from the actions taken, weighted by how
good they turned out (cross-entropy-method elite or advantage weights), against a REINFORCE
baseline trained by backprop. See :mod:`pnnkit.rl.pib_rl` and docs/BENCHMARKS.md. The run
itself (``pnnkit rl``, :func:`pnnkit.tasks.rl.run_rl`) is the RL task, :mod:`pnnkit.tasks.rl`."""

from pnnkit.rl.config import METHODS, PIB_RL_DEFAULTS, RLConfig
from pnnkit.rl.envs import EnvInfo, EnvPool, Episode, env_info, make_env, run_episodes
from pnnkit.rl.pib_rl import PIBAgent, WeightedPIB, select_elite, weighted_label_gram
from pnnkit.rl.policy import ObsScaler, PhysicalPolicy
from pnnkit.rl.reinforce import Reinforce, ReinforceConfig, reinforce_loss, returns_to_go

__all__ = [
    "METHODS",
    "PIB_RL_DEFAULTS",
    "EnvInfo",
    "EnvPool",
    "Episode",
    "ObsScaler",
    "PIBAgent",
    "PhysicalPolicy",
    "RLConfig",
    "Reinforce",
    "ReinforceConfig",
    "WeightedPIB",
    "env_info",
    "make_env",
    "reinforce_loss",
    "returns_to_go",
    "run_episodes",
    "select_elite",
    "weighted_label_gram",
]
