"""The digital baseline: REINFORCE with a baseline, on an MLP trained by backpropagation.

Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 8:229 (1992). For a batch of episodes the policy-gradient estimate
is the gradient of

    loss = -(1 / N) sum_{episodes} sum_t A_t log pi(a_t | s_t),

with ``N`` the number of steps in the batch and ``A_t`` the discounted return-to-go
``G_t = sum_{k >= t} gamma^(k - t) r_k`` standardised over the batch (subtracting the batch
mean is the baseline that reduces the variance without biasing the gradient; dividing by the
standard deviation sets the step size independently of the reward scale). The network has the
same widths as the physical policy and the same observation scaling; it spends no physical
queries, and the samples it evaluates are counted the same way for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pnnkit.config import Validated, check_types
from pnnkit.errors import ConfigError
from pnnkit.rl.envs import Episode
from pnnkit.rl.policy import ObsScaler, choose_actions


@dataclass
class ReinforceConfig(Validated):
    """Settings of :class:`Reinforce`.

    ``lr``: Adam step size (1e-2: one update per batch of episodes leaves a few hundred updates
    in a budget of 1,000 episodes, so the step must be large; how it fares with the batch
    size is measured in docs/BENCHMARKS.md).
    ``discount``: ``gamma`` of the returns-to-go (0.99, the usual value for episodes of a few
    hundred steps).
    """

    lr: float = 1e-2
    discount: float = 0.99

    def validate(self) -> None:
        """Raise ConfigError naming the field (learning rate, discount in (0, 1], ...) and its
        allowed range."""
        check_types(self)
        if not self.lr > 0:
            raise ConfigError(f"ReinforceConfig.lr = {self.lr!r} is invalid: must be > 0")
        if not 0 < self.discount <= 1:
            raise ConfigError(
                f"ReinforceConfig.discount = {self.discount!r} is invalid: must be in (0, 1]"
            )


def returns_to_go(rewards: Tensor, discount: float) -> Tensor:
    """``G_t = sum_{k >= t} discount^(k - t) r_k`` of one episode's rewards ``(T,)``."""
    out = torch.empty(rewards.shape[0], dtype=torch.float64)
    running = 0.0
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = float(rewards[t]) + discount * running
        out[t] = running
    return out.to(torch.float32)


def standardised_returns(episodes: Sequence[Episode], discount: float) -> Tensor:
    """Returns-to-go of every step of a batch, minus their mean, over their standard deviation
    (all zeros when they are all equal)."""
    g = torch.cat([returns_to_go(e.rewards, discount) for e in episodes])
    centred = g - g.mean()
    std = float(centred.std()) if g.numel() > 1 else 0.0
    return centred / std if std > 1e-8 else torch.zeros_like(g)


def reinforce_loss(logits: Tensor, actions: Tensor, advantages: Tensor) -> Tensor:
    """``-mean_t A_t log softmax(logits_t)[a_t]``: its gradient is the REINFORCE estimate."""
    log_probs = F.log_softmax(logits, dim=1).gather(1, actions[:, None]).squeeze(1)
    return -(advantages * log_probs).mean()


def mlp(in_features: int, widths: Sequence[int], n_actions: int, seed: int) -> nn.Sequential:
    """ReLU MLP ``in -> widths -> n_actions`` with PyTorch's default initialisation, seeded."""
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    n_in = in_features
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    layers.append(nn.Linear(n_in, n_actions))
    torch.set_rng_state(generator_state)
    return nn.Sequential(*layers)


class Reinforce:
    """A digital MLP policy and its REINFORCE updates. ``samples`` counts observations that went
    through the network (acting and updating)."""

    def __init__(
        self,
        obs_dim: int,
        widths: Sequence[int],
        n_actions: int,
        scaler: ObsScaler,
        config: ReinforceConfig,
        *,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.config, self.scaler, self.temperature = config, scaler, temperature
        self.net = mlp(obs_dim, widths, n_actions, seed)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = 0

    def act(self, obs: np.ndarray, *, greedy: bool = False) -> np.ndarray:
        """Actions for a stacked batch of raw observations (m, d): sampled, or the most likely when
        greedy."""
        x = self.scaler.transform(torch.as_tensor(obs))
        self.samples += int(x.shape[0])
        with torch.no_grad():
            logits = self.net(x)
        return choose_actions(
            logits, greedy=greedy, temperature=self.temperature, generator=self.generator
        ).numpy()

    def update(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """One gradient step from a batch of episodes (collected with the current policy)."""
        x = self.scaler.transform(torch.cat([e.obs for e in episodes]))
        actions = torch.cat([e.actions for e in episodes])
        advantages = standardised_returns(episodes, self.config.discount)
        self.samples += int(x.shape[0])
        loss = reinforce_loss(self.net(x) / self.temperature, actions, advantages)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}

    def state_dict(self) -> dict[str, Any]:
        """Policy weights, optimiser state, observation scaler, generator and sample count."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "samples": self.samples,
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict of the same architecture."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.samples = int(state["samples"])
        self.scaler.load_state_dict(state["scaler"])
