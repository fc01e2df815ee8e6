"""Policies: a physical network (or, for the digital baseline, an MLP) choosing discrete actions.

The policy scores the actions of an observation ``s`` as ``logits = readout(t(s)) / tau``, where
``t(s)`` is the measured output of the network's last unit (every evaluation of the policy is a
physical measurement) and ``tau`` a temperature. In training the action is *sampled* from
``softmax(logits)`` (the exploration every method here relies on); in evaluation it is the
``argmax`` (the greedy policy, which is the policy one deploys; the hardware's own read noise
still makes it slightly random).

Observations are standardised before they reach the hardware, ``x = clip((s - mu) / sigma,
-c, c)``, with ``mu`` and ``sigma`` the running mean and standard deviation of every training
observation seen so far (pooled exactly over batches: Chan, Golub & LeVeque, "Updating formulae
and a pairwise algorithm for computing sample variances", COMPSTAT 1982). Standardising matters
on a crossbar: its DAC scales each input vector by its largest entry (the bias line is 1), so
an unscaled CartPole angle of a few hundredths of a radian would be lost in the 8-bit
quantisation. The statistics change only between training iterations, never inside one batch
of episodes, and evaluation episodes do not update them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from pnnkit.network import PhysicalNetwork


class ObsScaler:
    """Running mean and standard deviation of observations; ``transform`` standardises and
    clips to ``[-clip, clip]``. Before any update it is the identity (mean 0, std 1)."""

    def __init__(self, dim: int, clip: float = 5.0) -> None:
        self.count = 0
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.m2 = torch.zeros(dim, dtype=torch.float64)
        self.clip = clip

    def update(self, obs: Tensor) -> None:
        """Pool the statistics of a batch ``(n, d)`` into the running ones."""
        obs = obs.to(torch.float64)
        n = int(obs.shape[0])
        if n == 0:
            return
        batch_mean = obs.mean(dim=0)
        batch_m2 = ((obs - batch_mean) ** 2).sum(dim=0)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + batch_m2 + delta**2 * self.count * n / total
        self.count = total

    @property
    def std(self) -> Tensor:
        """Running standard deviation of each observation feature (1 until two samples are seen)."""
        if self.count < 2:
            return torch.ones_like(self.mean)
        return (self.m2 / (self.count - 1)).sqrt().clamp_min(1e-6)

    def transform(self, obs: Tensor) -> Tensor:
        """Observations standardised by the running statistics and clipped to +-clip, as float32."""
        x = (obs.to(torch.float64) - self.mean) / self.std
        return x.clamp(-self.clip, self.clip).to(torch.float32)

    def state_dict(self) -> dict[str, Any]:
        """Sample count, running mean and sum of squared deviations (Welford)."""
        return {"count": self.count, "mean": self.mean.clone(), "m2": self.m2.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the running statistics."""
        self.count = int(state["count"])
        self.mean, self.m2 = state["mean"].clone(), state["m2"].clone()


def choose_actions(
    logits: Tensor, *, greedy: bool, temperature: float, generator: torch.Generator
) -> Tensor:
    """``argmax`` of the logits (greedy), or a sample of ``softmax(logits / temperature)``."""
    if greedy:
        return logits.argmax(dim=1)
    probs = torch.softmax(logits / temperature, dim=1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class PhysicalPolicy:
    """A :class:`~pnnkit.network.PhysicalNetwork` acting on standardised observations.

    ``samples`` counts observations that went through the policy (each one is a physical query
    per substrate of the network)."""

    def __init__(
        self,
        network: PhysicalNetwork,
        scaler: ObsScaler,
        *,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.network, self.scaler, self.temperature = network, scaler, temperature
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = 0

    def features(self, x: Tensor) -> Tensor:
        """The last unit's measured output for standardised observations ``x`` (one physical
        pass of the batch through every unit)."""
        self.samples += int(x.shape[0])
        with torch.no_grad():
            return self.network.forward(x)[-1]

    def logits(self, x: Tensor) -> Tensor:
        """Action scores of standardised observations ``x``."""
        with torch.no_grad():
            return self.network.logits(self.features(x))

    def act(self, obs: np.ndarray, *, greedy: bool = False) -> np.ndarray:
        """Actions for a stacked batch of raw observations ``(m, d)``."""
        logits = self.logits(self.scaler.transform(torch.as_tensor(obs)))
        return choose_actions(
            logits, greedy=greedy, temperature=self.temperature, generator=self.generator
        ).numpy()

    def state_dict(self) -> dict[str, Any]:
        """The observation scaler, the action-sampling generator and the samples evaluated."""
        return {
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "samples": self.samples,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict of a policy over the same network."""
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.samples = int(state["samples"])
