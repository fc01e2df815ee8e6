"""Direct feedback alignment (DFA): every unit learns from the output error, sent back through
a fixed random matrix instead of the transposed forward weights.

Nøkland, "Direct feedback alignment provides learning in deep neural networks", NeurIPS 2016;
scaled up by Launay et al., "Direct feedback alignment scales to modern deep learning tasks and
architectures", NeurIPS 2020; run on optoelectronic hardware by Nakajima et al., "Physical deep
learning with biologically inspired training method: gradient-free approach for physical
hardware", Nat. Commun. 13:7847 (2022).

One step on a batch of ``n`` samples:

1. **Forward through the hardware.** ``p_k, z_k, t_k`` of every unit are measured (one pass per
   unit and sample); the readout gives ``logits = readout(t_K / ||t_K||)``.
2. **Output error.** ``e = (softmax(logits) - onehot(y)) / n``, the gradient of the mean
   cross-entropy with respect to the logits, ``(n, C)``.
3. **Direct feedback.** For unit ``k`` with width ``m_k`` a fixed random matrix ``B_k``
   ``(C, m_k)``, entries ``N(0, 1 / C)`` (so that ``e B_k`` has about the per-entry scale of
   ``e``; with Adam, the default optimiser, the scale only matters for SGD), drawn once from
   the rule's own generator seeded by ``seed``, gives ``dz_k = (e B_k) o d_k``, where ``d_k``
   is the periphery's derivative ``f'(z_k)`` at the *measured* pre-activation
   (``derivative = "periphery"``) or, when the hardware's nonlinearity is unknown, the
   straight-through surrogate ``d_k = 1`` (``derivative = "surrogate"``).
4. **Outer-product update.** ``dW_k = dz_k^T [p_k, 1]``, turned into a requested change by the
   digital optimiser and programmed by the substrate with its own device physics.
5. **Readout.** Trained with its own cross-entropy gradient on the detached last output.

Nothing is backpropagated through the hardware and no model of it is used: the only digital
computation upstream of the readout is the fixed projection of the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import one_hot
from pnnkit.learning.base import LearningRule, LocalReadout, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import with_bias_column

DERIVATIVES = ("periphery", "surrogate")


@dataclass
class DFAConfig(RuleConfig):
    """Settings of :class:`DFA`.

    ``lr``: the rate of the requested changes (Adam by default; chosen on digits through the
    default crossbar, docs/methods.md; a faster ``readout_lr`` helps DFA, docs/BENCHMARKS.md).
    ``derivative``: ``periphery`` (default: the known periphery's ``f'`` at the measured
    pre-activation, as in Nøkland 2016) or ``surrogate`` (``1`` everywhere, straight-through:
    for hardware whose nonlinearity is not known; Nakajima et al. 2022 likewise replaced the
    unknown derivative of their optoelectronic system by a fixed function).
    ``seed``: seed of the rule's generator, which draws the fixed feedback matrices (0).
    """

    lr: float = 3e-4
    derivative: str = "periphery"
    seed: int = 0

    def validate(self) -> None:
        """Raise ConfigError naming the field (derivative choice, seed) after the shared rule
        checks."""
        super().validate()
        if self.derivative not in DERIVATIVES:
            raise ConfigError(f"derivative = {self.derivative!r}; choices: {list(DERIVATIVES)}")
        if self.seed < 0:
            raise ConfigError(f"seed = {self.seed!r} is invalid: must be >= 0")


@register(DFAConfig)
class DFA(LearningRule):
    """Direct feedback alignment of every unit's linear stage; model-free."""

    name = "dfa"
    needs = Needs(linear_stages=True)

    def __init__(self, network: PhysicalNetwork, config: DFAConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: DFAConfig = config
        self.generator = torch.Generator().manual_seed(config.seed)
        classes = network.readout.out_features
        self.feedback = [
            torch.randn(classes, unit.out_features, generator=self.generator) / classes**0.5
            for unit in network.units
        ]
        self.unit_updates = [UpdateRule(config.optimizer) for _ in network.units]
        self.readout_trainer = LocalReadout(network, config.readout_lr)

    def output_error(self, logits: Tensor, y: Tensor) -> Tensor:
        """``(softmax(logits) - onehot(y)) / n``: d(mean cross-entropy)/d(logits)."""
        target = one_hot(y, logits.shape[1], dtype=logits.dtype)
        return (torch.softmax(logits, dim=1) - target) / logits.shape[0]

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        lr = self.config.lr * self.lr_factor()
        outputs, h = [], x.detach()
        for unit in self.network.units:
            out = unit.measure(h)  # one physical query per sample and substrate
            outputs.append(out)
            h = out.t
        with torch.no_grad():
            error = self.output_error(self.network.logits(h), y)
        for unit, out, feedback, update in zip(
            self.network.units, outputs, self.feedback, self.unit_updates, strict=True
        ):
            grad_z = error @ feedback
            if self.config.derivative == "periphery":
                grad_z = grad_z * unit.f_prime(out.z)
            grad_w = grad_z.T @ with_bias_column(out.p)
            unit.linear_stage.program(update.delta(grad_w, lr))
        loss = self.readout_trainer.train(h, y, self.lr_factor())
        self.step_count += 1
        return StepStats(loss=loss, readout_loss=loss)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "feedback": [b.clone() for b in self.feedback],
            "generator": self.generator.get_state(),
            "unit_updates": [u.state_dict() for u in self.unit_updates],
            "readout_optimizer": self.readout_trainer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        shapes = [tuple(b.shape) for b in self.feedback]
        saved = [tuple(b.shape) for b in state["feedback"]]
        if saved != shapes:
            raise ConfigError(f"saved feedback matrices have shapes {saved}, this network {shapes}")
        self.feedback = [b.clone() for b in state["feedback"]]
        self.generator.set_state(state["generator"])
        for update, values in zip(self.unit_updates, state["unit_updates"], strict=True):
            update.load_state_dict(values)
        self.readout_trainer.load_state_dict(state["readout_optimizer"])
