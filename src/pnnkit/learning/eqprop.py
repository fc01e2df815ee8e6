"""Equilibrium propagation: gradients of an energy-based physical system from its own relaxations.

Scellier & Bengio, "Equilibrium propagation: bridging the gap between energy-based models and
backpropagation", Front. Comput. Neurosci. 11:24 (2017); the centred (symmetric-nudge) estimator
of Laborieux et al., "Scaling equilibrium propagation to deep ConvNets by drastically reducing
its gradient estimator bias", Front. Neurosci. 15:633674 (2021).

A system whose state ``V`` settles at the minimum of an energy ``E(V, g)`` (a resistive network:
``E = 1/2 sum g_ij (V_i - V_j)^2``) is nudged by adding ``beta`` times the cost to its energy.
For a cost ``C`` of the output voltages, linearised at the free equilibrium ``V^0``, the
nudge is a current ``I = -beta dC/dV_out(V^0)`` injected into the output nodes (energy
``E - I . V_out``). With ``V^beta`` the equilibrium under that nudge,

    dC/dg = lim_{beta -> 0} [dE/dg(V^beta) - dE/dg(V^0)] / beta
          = lim_{beta -> 0} [dE/dg(V^beta) - dE/dg(V^-beta)] / (2 beta),

where ``dE/dg_ij = 1/2 (V_i - V_j)^2`` is read from the measured node voltages, per edge (the
envelope theorem applied to ``F(beta) = min_V E + beta C``; the box constraints of the diodes do
not depend on ``g``, so it holds wherever the set of clipped nodes does not change). The
one-sided estimator (``centred = False``, 2 relaxations per sample) has an ``O(beta)`` bias,
the centred one (3 relaxations: free, ``+beta``, ``-beta``) an ``O(beta^2)`` bias.

Here ``C`` is the cross-entropy of the digital readout on the (unit-normalised) output
voltages; its gradient with respect to the output voltages is computed digitally, exactly, on a
detached copy of the measured free state. Because the readout normalises the outputs,
``|dC_k/dV|`` scales as ``1 / |V_k|``: with one ``beta`` for the batch, a sample whose outputs
are nearly all on the 0 V rail receives a current orders of magnitude larger than the others,
is pushed across the diodes' kinks, and spoils the estimate (with a fixed ``beta`` the
estimate loses its alignment with the true gradient at every ``beta`` once training has
pushed some samples onto the rail). The theorem holds sample by sample, so each sample gets its own
strength ``beta_k = beta |V_k| / |dC_k/dV|`` (the injected current has norm ``beta |V_k|``:
``beta`` acts as a conductance, and moves the outputs by about ``beta / G`` of their size, ``G``
the total conductance at an output node) and its contrast is divided by its own ``beta_k``. A
sample with all outputs at 0 V (no gradient reaches clipped nodes) or zero loss gradient is not
nudged and contributes nothing. For a resistive network the centred estimate is exact
whenever no diode switches between the two nudged states: the state is then linear in
``beta`` and ``dE/dg`` quadratic, so the symmetric difference has no error term.

The conductance gradient, averaged over the batch, goes through the digital optimiser to the
substrate's own programming; the readout is trained with its own cross-entropy gradient. The
rule never uses a model of the physics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.learning.base import LearningRule, LocalReadout, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork


@dataclass
class EqPropConfig(RuleConfig):
    """Settings of :class:`EqProp`.

    ``beta``: nudging strength, a conductance in the substrate's units (sample ``k`` receives
    the current ``-beta_k dC_k/dV`` with ``beta_k = beta |V_k| / |dC_k/dV|``; see the module
    docstring); the default was chosen on digits (docs/methods.md). A smaller beta has less
    bias but moves the voltages less, which read noise and the relaxation tolerance then
    swamp.
    ``centred``: True (default) uses the symmetric nudges +beta and -beta (3 relaxations per
    sample, bias O(beta^2), none at all while no diode switches); False one nudge against the
    free state (2 relaxations, bias O(beta)).
    ``lr``: the rate of the conductance changes (Adam on conductances in units of g_max:
    ``lr`` is the fraction of the range per step).
    ``readout_lr``: the base default (Adam on the digital readout).
    """

    lr: float = 1e-2
    beta: float = 0.3
    centred: bool = True

    def validate(self) -> None:
        """Raise ConfigError naming the field (the nudge beta must be > 0) after the shared rule
        checks."""
        super().validate()
        if not self.beta > 0:
            raise ConfigError(f"beta = {self.beta!r} is invalid: must be > 0")


class Relaxing(Protocol):
    """What the rule uses of an energy-based substrate (e.g.
    :class:`~pnnkit.physics.resistive.ResistiveNetwork`)."""

    def relax(
        self, x: Tensor, output_current: Tensor | None = None, *, start: list[Tensor] | None = None
    ) -> list[Tensor]:
        """The node voltages at equilibrium with ``output_current`` injected."""
        ...

    def energy_contrast(
        self, x: Tensor, state_a: list[Tensor], state_b: list[Tensor], weights: Tensor | None = None
    ) -> Tensor:
        """``d/dg [E(V^a) - E(V^b)]`` at fixed voltages."""
        ...

    def program(self, delta: Tensor) -> None:
        """Apply a change of the parameters."""
        ...


@register(EqPropConfig)
class EqProp(LearningRule):
    """Model-free training of one energy-based physical system by its nudged relaxations."""

    name = "eqprop"
    needs = Needs(energy_based=True)

    def __init__(self, network: PhysicalNetwork, config: EqPropConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: EqPropConfig = config
        #: the one energy-based unit's physics (the rule's needs guarantee it)
        self.physics = cast(Relaxing, network.units[0].physics)
        self.update = UpdateRule(config.optimizer)
        self.readout_trainer = LocalReadout(network, config.readout_lr)

    def cost_gradient(self, v_out: Tensor, y: Tensor) -> tuple[Tensor, float]:
        """Per-sample ``dC_k/dV_out`` of the readout's cross-entropy at measured output
        voltages (autograd on a detached copy; the readout is digital, so this is exact), and
        the mean loss."""
        v = v_out.detach().requires_grad_(True)
        with torch.enable_grad():
            losses = F.cross_entropy(self.network.logits(v), y, reduction="none")
            (grad,) = torch.autograd.grad(losses.sum(), v)
        return grad, float(losses.detach().mean())

    def estimate_gradient(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, float]:
        """The EP estimate of ``d mean(C) / dg`` for a batch, the free output voltages and the
        mean loss. Costs 3 relaxations (centred) or 2 (one-sided).

        Sample ``k`` is nudged with ``beta_k = beta |V_k| / |dC_k/dV|`` and its contrast
        divided by its own ``beta_k`` (module docstring); a sample whose outputs all sit at
        0 V, or whose loss gradient is 0, gets no nudge and contributes nothing."""
        physics = self.physics
        free = physics.relax(x)
        grad_v, loss = self.cost_gradient(free[-1], y)
        v_norm, g_norm = free[-1].norm(dim=1), grad_v.norm(dim=1)
        active = (v_norm > 0) & (g_norm > 0)
        beta_k = torch.where(active, self.config.beta * v_norm / g_norm.clamp_min(1e-30), 0.0)
        inverse = torch.where(active, 1 / beta_k.clamp_min(1e-30), 0.0)
        nudge = -beta_k[:, None] * grad_v
        plus = physics.relax(x, nudge, start=free)
        if self.config.centred:
            minus = physics.relax(x, -nudge, start=free)
            grad = physics.energy_contrast(x, plus, minus, inverse / 2)
        else:
            grad = physics.energy_contrast(x, plus, free, inverse)
        return grad, free[-1], loss

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        x = x.detach()
        grad, v_out, loss = self.estimate_gradient(x, y)
        self.physics.program(self.update.delta(grad, self.config.lr * self.lr_factor()))
        readout_loss = self.readout_trainer.train(v_out, y, self.lr_factor())
        self.step_count += 1
        return StepStats(loss=loss, readout_loss=readout_loss)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "update": self.update.state_dict(),
            "readout_optimizer": self.readout_trainer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.update.load_state_dict(state["update"])
        self.readout_trainer.load_state_dict(state["readout_optimizer"])
