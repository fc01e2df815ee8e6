"""PIB-trained physical policies: the actions taken, weighted by how good they turned out.

docs/pib.md section 4: in reinforcement learning the policy is the physical network, and the
training signal of PIB's local bottleneck ``L_k = gamma I(X; T_k) - beta I(T_k; Y)`` is the
action taken, ``Y = a``, in one of two weightings (``signal``):

* ``elite`` (the default; the cross-entropy method, Rubinstein, "The cross-entropy method
  for combinatorial and continuous optimization", Methodol. Comput. Appl. Probab. 1:127,
  1999; used for control by Szita & Lorincz, Neural Comput. 18:2936, 2006): from each batch of
  episodes only the elite, the top ``elite_fraction`` by return, is kept, and its
  ``(observation, action)`` pairs are ordinary labelled data. The units take
  :meth:`pnnkit.learning.pib.PIB.train_step` on them: the label Gram is ``L_ij = [a_i = a_j]``.
* ``advantage``: every pair is kept with the weight ``w_i = exp(A_i / tau)`` (capped at 20),
  ``A_i`` the standardised discounted return-to-go of step ``i`` (the advantage-weighted
  regression of Peng, Kumar, Zhang & Levine, arXiv 1910.00177, 2019). The label Gram becomes
  ``L_ij = w_i w_j [a_i = a_j]`` (trace-normalised; a positive-definite kernel: the linear
  kernel of the rows ``w_i onehot(a_i)``), so well-rewarded actions dominate the relevance
  term, and the readout minimises the ``w``-weighted cross-entropy.

Per iteration the units take ``unit_steps`` local PIB steps (each one physical pass of a
minibatch per unit, then an outer-product update programmed into the hardware, exactly as in
supervised PIB: only measured values, no gradient across units, no model of the physics). Then
the training pairs are measured once more and the digital readout takes ``readout_steps``
cross-entropy steps on those features. One unit step per iteration is the default: more steps
on the few hundred pairs of one iteration's elite fit the exploration noise in their labels
(the actions were sampled), and with 8 steps one seed of three never solved CartPole
(docs/BENCHMARKS.md). ``elite`` is the default signal: it solved CartPole-v1 on the crossbar
slightly sooner than ``advantage`` (seeds 0-2, 288 against 325 episodes on average).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import normalize_gram, one_hot
from pnnkit.learning.base import StepStats
from pnnkit.learning.pib import PIB
from pnnkit.rl.envs import Episode
from pnnkit.rl.policy import PhysicalPolicy
from pnnkit.rl.reinforce import standardised_returns

SIGNALS = ("elite", "advantage")
#: largest advantage weight (AWR's cap: one lucky step cannot dominate a batch)
MAX_WEIGHT = 20.0


def select_elite(returns: Tensor, fraction: float) -> Tensor:
    """Indices of the ``ceil(fraction * n)`` episodes with the highest returns, best first
    (equal returns keep their collection order)."""
    k = max(1, math.ceil(fraction * returns.shape[0]))
    return torch.sort(returns, descending=True, stable=True).indices[:k]


def advantage_weights(episodes: Sequence[Episode], discount: float, temperature: float) -> Tensor:
    """``exp(A / temperature)``, capped at :data:`MAX_WEIGHT`, for every step of a batch."""
    advantages = standardised_returns(episodes, discount)
    return torch.exp(advantages / temperature).clamp(max=MAX_WEIGHT)


def weighted_label_gram(y: Tensor, weights: Tensor, num_classes: int) -> Tensor:
    """``L_ij = w_i w_j [y_i = y_j]``, trace-normalised."""
    rows = one_hot(y, num_classes, dtype=torch.float32) * weights[:, None]
    return normalize_gram(rows @ rows.T)


class WeightedPIB(PIB):
    """:class:`~pnnkit.learning.pib.PIB` with an optional weight per sample: the label Gram is
    :func:`weighted_label_gram` and the readout minimises the weighted cross-entropy. Without
    weights a step is exactly PIB's."""

    def train_step(self, x: Tensor, y: Tensor, weights: Tensor | None = None) -> StepStats:
        if weights is None:
            return super().train_step(x, y)
        y_gram = weighted_label_gram(y, weights, self.network.readout.out_features)
        return self.bottleneck_step(
            x, y_gram, lambda t: self.readout_step(t, y, weights), labels=y, weights=weights
        )

    def readout_step(self, features: Tensor, y: Tensor, weights: Tensor | None = None) -> float:
        """One Adam step of the readout on measured ``features``: the (weighted) cross-entropy,
        ``sum_i w_i CE_i / sum_i w_i``."""
        return self.readout_trainer.train(features, y, self.lr_factor(), weights)


class PIBAgent:
    """Turns batches of episodes into PIB updates of a :class:`PhysicalPolicy`."""

    def __init__(
        self,
        policy: PhysicalPolicy,
        rule: WeightedPIB,
        *,
        signal: str = "elite",
        elite_fraction: float = 0.3,
        advantage_temperature: float = 1.0,
        discount: float = 0.99,
        unit_steps: int = 1,
        readout_steps: int = 8,
        batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        # ``signal`` itself is validated with RLConfig; this pairing involves the rule's config
        if signal == "advantage" and rule.config.physics_lr > 0:
            raise ConfigError(
                "signal = 'advantage' does not train physical parameters (rule.physics_lr > 0); "
                "use signal = 'elite' or rule.physics_lr=0"
            )
        self.policy, self.rule = policy, rule
        self.signal, self.elite_fraction = signal, elite_fraction
        self.advantage_temperature, self.discount = advantage_temperature, discount
        self.unit_steps, self.readout_steps, self.batch_size = unit_steps, readout_steps, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def training_pairs(self, episodes: Sequence[Episode]) -> tuple[list[Episode], Tensor | None]:
        """The episodes that train the policy and the weights of their steps (``None``: all
        equal)."""
        if self.signal == "elite":
            returns = torch.tensor([e.total for e in episodes])
            return [episodes[int(i)] for i in select_elite(returns, self.elite_fraction)], None
        weights = advantage_weights(episodes, self.discount, self.advantage_temperature)
        return list(episodes), weights

    def update(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """``unit_steps`` PIB steps on minibatches of the training pairs (units and readout,
        :meth:`WeightedPIB.train_step`), then ``readout_steps`` readout steps on the pairs'
        features, measured once."""
        chosen, weights = self.training_pairs(episodes)
        scaler = self.policy.scaler
        x = torch.cat([scaler.transform(e.obs) for e in chosen])
        y = torch.cat([e.actions for e in chosen])
        n = int(y.shape[0])
        stats: dict[str, float] = {"pairs": float(n)}
        if self.signal == "elite":
            stats["elite_min_return"] = min(e.total for e in chosen)
        if n < 2:  # a Gram matrix needs two samples
            return stats
        unit_loss = 0.0
        for _ in range(self.unit_steps):
            idx = torch.randperm(n, generator=self.generator)[: self.batch_size]
            w = None if weights is None else weights[idx]
            self.policy.samples += int(idx.shape[0])
            unit_loss += self.rule.train_step(x[idx], y[idx], w).loss / self.unit_steps
        stats["unit_loss"] = unit_loss
        if self.readout_steps:
            features = self.policy.features(x)
            for _ in range(self.readout_steps):
                idx = torch.randperm(n, generator=self.generator)[: self.batch_size]
                w = None if weights is None else weights[idx]
                stats["readout_loss"] = self.rule.readout_step(features[idx], y[idx], w)
        return stats

    def state_dict(self) -> dict[str, Any]:
        """The PIB rule's state and the generator that draws the agent's minibatches."""
        return {"rule": self.rule.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict of an agent on the same network."""
        self.rule.load_state_dict(state["rule"])
        self.generator.set_state(state["generator"])
