"""Gymnasium environments and batched episode collection.

A batch of ``n`` episodes runs ``n`` independent environments side by side, one episode each:
at every time step the observations of the environments still running are stacked and the
policy is asked once for all of them. For a physical policy that is one measurement of a
batch, and every observation in it is a physical query (the counters count samples, not
calls). Episodes end when the environment terminates or its time limit truncates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from pnnkit.errors import ConfigError

#: environments this project measured (docs/BENCHMARKS.md); any discrete-action gymnasium
#: environment with a flat observation vector works
CLASSIC_CONTROL = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")


@dataclass(frozen=True)
class EnvInfo:
    """What a policy needs to know about an environment."""

    name: str
    obs_dim: int
    n_actions: int
    #: return at which gymnasium considers the task solved (``env.spec.reward_threshold``),
    #: ``None`` when the environment defines none
    reward_threshold: float | None
    max_episode_steps: int | None


def make_env(name: str) -> gym.Env:
    """``gymnasium.make(name)``, refusing names gymnasium does not know and environments whose
    actions are not discrete or whose observations are not a flat vector."""
    try:
        env = gym.make(name)
    except gym.error.Error as error:
        raise ConfigError(
            f"env = {name!r} is invalid: gymnasium cannot make it ({error}); "
            f"e.g. {', '.join(CLASSIC_CONTROL)}"
        ) from None
    if not isinstance(env.action_space, gym.spaces.Discrete):
        env.close()
        raise ConfigError(
            f"env = {name!r} is invalid: its actions are {env.action_space}, and the policy "
            f"chooses among discrete actions; e.g. {', '.join(CLASSIC_CONTROL)}"
        )
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        env.close()
        raise ConfigError(
            f"env = {name!r} is invalid: its observations are {space}, and the policy takes "
            f"a flat vector"
        )
    return env


def env_info(name: str) -> EnvInfo:
    """Sizes and solving threshold of the environment ``name``."""
    env = make_env(name)
    spec, observations, actions = env.spec, env.observation_space, env.action_space
    # make_env has checked both spaces
    assert isinstance(observations, gym.spaces.Box) and isinstance(actions, gym.spaces.Discrete)
    info = EnvInfo(
        name=name,
        obs_dim=int(observations.shape[0]),
        n_actions=int(actions.n),
        reward_threshold=None if spec is None else spec.reward_threshold,
        max_episode_steps=None if spec is None else spec.max_episode_steps,
    )
    env.close()
    return info


@dataclass
class Episode:
    """One episode: observations ``(T, d)`` as returned by the environment (unscaled), the
    actions taken ``(T,)`` and the rewards received ``(T,)``."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor

    @property
    def total(self) -> float:
        """The undiscounted return."""
        return float(self.rewards.sum())

    def __len__(self) -> int:
        return int(self.actions.shape[0])


class EnvPool:
    """Environments of one name, created on demand and reused across batches."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.envs: list[gym.Env] = []

    def take(self, n: int) -> list[gym.Env]:
        """The first n environments, creating the missing ones."""
        while len(self.envs) < n:
            self.envs.append(make_env(self.name))
        return self.envs[:n]

    def close(self) -> None:
        """Close every environment of the pool and forget them."""
        for env in self.envs:
            env.close()
        self.envs = []


def run_episodes(
    pool: EnvPool, seeds: list[int], act: Callable[[np.ndarray], np.ndarray]
) -> list[Episode]:
    """One episode per seed, all side by side; ``act`` maps a stacked ``(m, d)`` array of the
    running environments' observations to ``m`` actions (one call per time step)."""
    envs = pool.take(len(seeds))
    current = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)]
    obs: list[list[np.ndarray]] = [[] for _ in seeds]
    actions: list[list[int]] = [[] for _ in seeds]
    rewards: list[list[float]] = [[] for _ in seeds]
    running = list(range(len(seeds)))
    while running:
        chosen = act(np.stack([current[i] for i in running]).astype(np.float32))
        still = []
        for i, action in zip(running, chosen.tolist(), strict=True):
            obs[i].append(current[i])
            actions[i].append(int(action))
            current[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            rewards[i].append(float(reward))
            if not (terminated or truncated):
                still.append(i)
        running = still
    return [
        Episode(
            torch.as_tensor(np.stack(o), dtype=torch.float32),
            torch.as_tensor(a, dtype=torch.int64),
            torch.as_tensor(r, dtype=torch.float32),
        )
        for o, a, r in zip(obs, actions, rewards, strict=True)
    ]
