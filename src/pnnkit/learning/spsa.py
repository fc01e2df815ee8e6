"""Simultaneous-perturbation stochastic approximation (SPSA) of the global loss's gradient.

Spall, "Multivariate stochastic approximation using a simultaneous perturbation gradient
approximation", IEEE Trans. Autom. Control 37:332 (1992); used to train a photonic processor
in situ by Bandyopadhyay et al., "Single-chip photonic deep neural network with forward-only
training", Nat. Photon. 18:1335 (2024).

All programmable parameters ``theta = (theta_1, ..., theta_P)`` (every unit's linear stage
and, with ``include_physics``, the phases / drives of physics in front of it) are perturbed at
once. One estimate draws random signs ``D_j`` (``+-1``, the rule's own generator) and programs

    theta_j + eps_j D_j  ->  measure the network and the readout  ->  L+
    theta_j - eps_j D_j  ->  measure again                          ->  L-
    theta_j                 (programmed back: + eps_j D_j)

with ``L`` the mean cross-entropy of the readout on the last measured output, and estimates

    g_j = (L+ - L-) / (2 eps_j) D_j,

whose mean is the gradient up to ``O(eps^2)`` (the even-order terms cancel and
``E[D_i D_j] = delta_ij``; per-tensor ``eps_j`` keep it unbiased because ``g_j`` is divided by
its own ``eps_j``). ``estimates`` independent estimates are averaged per step; a digital
optimiser (Adam or SGD) turns the average into the change each substrate programs.

The perturbation ``eps_j`` of a linear stage is ``epsilon`` times the RMS of its parameters,
read once when the rule is built: the same relative size on every layer whatever its fan-in,
and on the default crossbar (RMS about ``0.69 / sqrt(fan_in)``, one programming pulse per
device about ``0.0625 / sqrt(fan_in)``) the default ``epsilon = 0.2`` asks for about two
pulses per device, above the programming step (a perturbation below it would be rounded to
nothing or to one noisy pulse). Physics parameters (phases in radians, drive settings) have no
natural RMS (a phase's RMS depends on where ``2 pi`` wraps), so they get the absolute
``physics_epsilon``. On real devices ``+eps, -2 eps, +eps`` does not land exactly back: the
residue is part of what this rule costs on hardware and is left as the physics makes it. On the
simulated crossbar it is large: with soft bounds an up pulse and a down pulse do not cancel but
pull a device toward the middle of its window (by about ``1 / 16`` of its distance per pair at
64 levels), so every estimate shrinks the weights and adds cycle-to-cycle noise, and SPSA on
the crossbar stays below training the readout alone (docs/BENCHMARKS.md); restoring by
write-and-verify instead is worse still, because the read noise of each verification is
written back.

The readout is digital and trained with its own cross-entropy gradient on the features of the
``+`` pass of the step's first estimate (no extra physical pass; those features are measured
with the parameters one ``eps`` away from the current ones, which at the default perturbation
barely changes the readout's input). Cost per training sample: ``2 * estimates`` physical
queries per substrate and step, and three reprogrammings per estimate plus the update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.learning.base import LearningRule, LocalReadout, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Substrate


@dataclass
class SPSAConfig(RuleConfig):
    """Settings of :class:`SPSA`.

    ``lr``: the rate of the averaged estimate (Adam, in the parameters' own units; chosen on
    digits through the default crossbar).
    ``epsilon``: perturbation of a linear stage relative to the RMS of its parameters (0.2:
    about two programming pulses per device on the default crossbar, see the module
    docstring; on an exact substrate smaller values give a less biased estimate).
    ``physics_epsilon``: absolute perturbation of physics parameters (0.05, e.g. radians: well
    above a phase shifter's DAC step, small against ``2 pi``).
    ``physics_lr``: learning rate of the physics parameters (0.01: in radians per step, a
    phase moves by about this much with Adam).
    ``estimates``: independent estimates averaged per step (1, Spall's basic form; each costs
    two passes of the whole network).
    ``include_physics``: also train the programmable parameters of physics in front of a stage
    (phases, drives) when it has any (True).
    ``seed``: seed of the rule's generator, which draws the perturbation signs (0).
    """

    lr: float = 3e-4
    epsilon: float = 0.2
    physics_epsilon: float = 0.05
    physics_lr: float = 0.01
    estimates: int = 1
    include_physics: bool = True
    seed: int = 0

    def validate(self) -> None:
        """Raise ConfigError naming the field (perturbation sizes, physics_lr, estimates, seed)
        after the shared rule checks."""
        super().validate()
        for name in ("epsilon", "physics_epsilon"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} = {getattr(self, name)!r} is invalid: must be > 0")
        if not self.physics_lr > 0:
            raise ConfigError(
                f"physics_lr = {self.physics_lr!r} is invalid: must be > 0 "
                f"(include_physics = false keeps the physics fixed)"
            )
        if self.estimates < 1:
            raise ConfigError(f"estimates = {self.estimates!r} is invalid: must be >= 1")
        if self.seed < 0:
            raise ConfigError(f"seed = {self.seed!r} is invalid: must be >= 0")


@register(SPSAConfig)
class SPSA(LearningRule):
    """Two-pass simultaneous-perturbation training of all programmable parameters."""

    name = "spsa"
    needs = Needs(linear_stages=True)

    def __init__(self, network: PhysicalNetwork, config: SPSAConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: SPSAConfig = config
        self.generator = torch.Generator().manual_seed(config.seed)
        #: the trained substrates, their perturbation sizes and whether they are a stage
        self.targets: list[Substrate] = []
        self.epsilons: list[float] = []
        self.is_stage: list[bool] = []
        for unit in network.units:
            physics = unit.physics
            if (
                config.include_physics
                and physics is not None
                and physics.read_parameters().numel() > 0
            ):
                self._add(physics, config.physics_epsilon, stage=False)
            stage = unit.stage
            assert stage is not None  # require_linear_stages
            rms = float(stage.read_parameters().pow(2).mean().sqrt())
            # an all-zero stage has no scale of its own: fall back to epsilon in weight units
            self._add(stage, config.epsilon * rms if rms > 0 else config.epsilon, stage=True)
        self.updates = [UpdateRule(config.optimizer) for _ in self.targets]
        self.readout_trainer = LocalReadout(network, config.readout_lr)

    def _add(self, substrate: Substrate, eps: float, *, stage: bool) -> None:
        self.targets.append(substrate)
        self.epsilons.append(eps)
        self.is_stage.append(stage)

    def _program_all(self, signs: list[Tensor], factor: float) -> None:
        for substrate, eps, d in zip(self.targets, self.epsilons, signs, strict=True):
            substrate.program(factor * eps * d)

    def _loss(self, x: Tensor, y: Tensor) -> tuple[float, Tensor]:
        """Cross-entropy of the readout on one measured pass, and the last output."""
        features = self.network.forward(x)[-1]
        with torch.no_grad():
            loss = F.cross_entropy(self.network.logits(features), y)
        return float(loss), features

    def _estimate(self, x: Tensor, y: Tensor) -> tuple[list[Tensor], float, Tensor]:
        signs = [
            torch.randint(0, 2, s.parameter_shape(), generator=self.generator).float() * 2 - 1
            for s in self.targets
        ]
        offset = 0.0  # the perturbation in place; taken back even when a measurement fails
        try:
            self._program_all(signs, 1.0)
            offset = 1.0
            loss_plus, features = self._loss(x, y)
            self._program_all(signs, -2.0)
            offset = -1.0
            loss_minus, _ = self._loss(x, y)
        finally:
            if offset:
                self._program_all(signs, -offset)
        grads = [
            (loss_plus - loss_minus) / (2 * eps) * d
            for eps, d in zip(self.epsilons, signs, strict=True)
        ]
        return grads, (loss_plus + loss_minus) / 2, features

    def estimate_gradient(self, x: Tensor, y: Tensor) -> list[Tensor]:
        """One SPSA estimate of ``dL/dtheta`` for every trained substrate (in the order of
        :attr:`targets`); the parameters are programmed back afterwards and only the rule's
        sign generator advances (two passes through the network)."""
        return self._estimate(x.detach(), y)[0]

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        x = x.detach()
        cfg = self.config
        total: list[Tensor] | None = None
        loss, features = 0.0, None
        for _ in range(cfg.estimates):
            grads, mean_loss, plus_features = self._estimate(x, y)
            if features is None:
                features = plus_features
            total = grads if total is None else [a + b for a, b in zip(total, grads, strict=True)]
            loss += mean_loss / cfg.estimates
        assert total is not None and features is not None
        factor = self.lr_factor()
        for substrate, stage, grad, update in zip(
            self.targets, self.is_stage, total, self.updates, strict=True
        ):
            lr = (cfg.lr if stage else cfg.physics_lr) * factor
            substrate.program(update.delta(grad / cfg.estimates, lr))
        readout_loss = self.readout_trainer.train(features, y, self.lr_factor())
        self.step_count += 1
        return StepStats(loss=loss, readout_loss=readout_loss)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "epsilons": list(self.epsilons),
            "generator": self.generator.get_state(),
            "updates": [u.state_dict() for u in self.updates],
            "readout_optimizer": self.readout_trainer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if len(state["epsilons"]) != len(self.targets):
            raise ConfigError(
                f"saved SPSA state trains {len(state['epsilons'])} parameter tensors, "
                f"this network has {len(self.targets)}"
            )
        self.epsilons = [float(e) for e in state["epsilons"]]
        self.generator.set_state(state["generator"])
        for update, values in zip(self.updates, state["updates"], strict=True):
            update.load_state_dict(values)
        self.readout_trainer.load_state_dict(state["readout_optimizer"])
