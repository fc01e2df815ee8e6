"""Forward-forward training: every unit learns to tell right labels from wrong ones, locally.

Hinton, "The forward-forward algorithm: some preliminary investigations", arXiv 2212.13345
(2022), trains each layer on its own to give high *goodness* to positive data (an input with its
true label embedded) and low goodness to negative data (the same input with a wrong label).
Momeni et al., "Backpropagation-free training of deep physical neural networks", Science
382:1297 (2023), run the same idea on physical systems ("physical local learning"): the
physics is only ever measured, never modelled, and each block's loss compares the goodness of a
positive and a negative pass,

    L_k = mean_i softplus(-theta (g_k(t+_i) - g_k(t-_i))),

with ``t+`` and ``t-`` the measured outputs of unit ``k`` for the positive and the negative
version of sample ``i``. Here a block is a pnnkit :class:`~pnnkit.network.Unit`: optional
fixed physics (measured output ``p``), a linear stage ``z = W [p, 1]`` and the known periphery
``t = f(z)``. ``dL_k/dt`` is computed digitally from the measured outputs; with ``f'`` at the
measured ``z`` the exact gradient of the stage is the sum of two outer products,

    dL_k/dW = (dL_k/dt+ o f'(z+))^T [p+, 1] + (dL_k/dt- o f'(z-))^T [p-, 1],

programmed through the substrate's own device physics. Nothing flows between units: unit
``k + 1`` receives the detached measured output of unit ``k``. Training costs exactly two passes
(positive, negative) per sample through every substrate.

Goodness (``FFConfig.goodness``):

* ``cosine`` (default): ``g_k = cos(|t|, zeta_k)`` with a fixed random unit vector ``zeta_k``
  per unit. The output of a rectifying periphery is non-negative (``|t|`` makes it so for any
  periphery), so ``zeta_k`` has non-negative entries (``|N(0, 1)|``, normalised): the goodness
  lies in ``[0, 1]``, positive data learn to point along ``zeta_k`` and negative data towards
  its weakest directions. A cosine ignores the output's scale, which on hardware drifts with
  gain and temperature.
* ``energy``: Hinton's sum of squares, taken as the mean ``g_k = mean_j t_j^2`` so that
  ``theta`` means the same at every width. It uses the same pairwise loss (the symmetric form
  of Lee & Song, "SymBa", arXiv 2303.08418, 2023) rather than Hinton's per-sample logistic
  around a threshold: one loss for both goodness kinds and no threshold to tune.

Label embedding (``FFConfig.label_embedding``): ``replace`` overwrites the first ``C`` input
features with ``label_scale * one_hot(label)`` (Hinton and Momeni et al.; it needs at least
``C`` features and discards what they held); ``superpose`` adds ``label_scale`` times a fixed
random +-1 pattern per class to *all* features, which keeps every feature of the input (useful
when no feature is expendable, e.g. low-dimensional data or inputs with no blank border).

Between units (``normalize_between``): each row of ``t`` is scaled to length ``sqrt(width)``
before it drives the next unit, as Hinton does, so that the next unit cannot read the energy
goodness off the input's length and must use its pattern. The cosine goodness lives in the
direction, which the scaling keeps, so there the scaling hides nothing; it still keeps every
unit's input at a fixed scale whatever the gains of the hardware before it.

Inference (:meth:`ForwardForward.predict`) embeds each label ``c`` in turn, measures all units
and picks the label with the largest goodness summed over units: ``C`` passes per sample and
substrate. The network's digital readout is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import unit_normalize
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import with_bias_column

GOODNESS = ("cosine", "energy")
LABEL_EMBEDDINGS = ("replace", "superpose")


@dataclass
class FFConfig(RuleConfig):
    """Settings of :class:`ForwardForward`. Defaults are the best of a sweep on digits
    (docs/methods.md; the measurements are in docs/BENCHMARKS.md).

    ``lr``: the rate of the requested changes (Adam by default); lower rates underfit.
    ``theta``: sharpness of the pairwise loss ``softplus(-theta (g+ - g-))``. The cosine
    goodness is bounded (its differences lie in [-1, 1]), so a sharper loss than Momeni et
    al.'s 4-5 is needed for the margin to matter.
    ``goodness``: ``cosine`` or ``energy`` (see the module docstring).
    ``label_embedding``: ``replace`` or ``superpose`` (see the module docstring); a superposed
    pattern on every feature buries the input unless ``label_scale`` is small.
    ``label_scale``: amplitude of the embedded label, in units of the (standardised) input;
    the crossbar's DAC scales each sample by its largest entry and quantises it, which
    weakens a faint label.
    ``normalize_between``: scale each unit's output rows to length ``sqrt(width)`` before the
    next unit (True, Hinton's choice; his reason, hiding the energy goodness from the next
    unit, applies to the energy goodness).
    ``skip_first_goodness``: leave the first unit's goodness out of the inference sum, as Hinton
    does because the first layer sees the label directly (False by default). Needs two units
    or more.
    ``seed``: seeds the rule's generator (wrong labels, goodness directions, label patterns);
    ``None`` derives it from the seed of the network's first substrate.
    """

    lr: float = 0.03
    theta: float = 16.0
    goodness: str = "cosine"
    label_embedding: str = "replace"
    label_scale: float = 3.0
    normalize_between: bool = True
    skip_first_goodness: bool = False
    seed: int | None = None

    def validate(self) -> None:
        """Raise ConfigError naming the field (theta, goodness, label embedding and scale, seed)
        after the shared rule checks."""
        super().validate()
        if not self.theta > 0:
            raise ConfigError(f"theta = {self.theta!r} is invalid: must be > 0")
        if self.goodness not in GOODNESS:
            raise ConfigError(f"goodness = {self.goodness!r}; choices: {list(GOODNESS)}")
        if self.label_embedding not in LABEL_EMBEDDINGS:
            raise ConfigError(
                f"label_embedding = {self.label_embedding!r}; choices: {list(LABEL_EMBEDDINGS)}"
            )
        if not self.label_scale > 0:
            raise ConfigError(f"label_scale = {self.label_scale!r} is invalid: must be > 0")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed = {self.seed!r} is invalid: must be in [0, 2**63) or None")


@register(FFConfig)
class ForwardForward(LearningRule):
    """Model-free forward-forward training of every unit by its own positive/negative contrast."""

    name = "ff"
    needs = Needs(linear_stages=True)

    def __init__(self, network: PhysicalNetwork, config: FFConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: FFConfig = config
        self.num_classes = network.readout.out_features
        self.in_features = network.units[0].in_features
        if config.label_embedding == "replace" and self.in_features < self.num_classes:
            raise ConfigError(
                f"label_embedding = 'replace' writes the label into the first "
                f"{self.num_classes} input features, and the input has only {self.in_features}; "
                f"use label_embedding = 'superpose'"
            )
        if config.skip_first_goodness and len(network.units) < 2:
            raise ConfigError(
                "skip_first_goodness = True leaves no goodness to classify with in a network of "
                "one unit; set it to false or add a unit"
            )
        seed = config.seed if config.seed is not None else network.units[0].substrates[0].seed
        self.generator = torch.Generator().manual_seed(seed)
        self.zetas = [self._draw_direction(unit.out_features) for unit in network.units]
        self.patterns: Tensor | None = None
        if config.label_embedding == "superpose":
            bits = torch.randint(
                0, 2, (self.num_classes, self.in_features), generator=self.generator
            )
            self.patterns = bits.to(torch.float32) * 2 - 1
        self.unit_updates = [UpdateRule(config.optimizer) for _ in network.units]

    def _draw_direction(self, width: int) -> Tensor:
        zeta = torch.randn(width, generator=self.generator).abs()
        return zeta / zeta.norm()

    # --- data ---------------------------------------------------------------------------------

    def embed(self, x: Tensor, labels: Tensor) -> Tensor:
        """The input ``x`` (n, d) with ``labels`` (n,) embedded (a new tensor)."""
        scale = self.config.label_scale
        if self.patterns is not None:
            return x + scale * self.patterns[labels]
        out = x.clone()
        out[:, : self.num_classes] = scale * F.one_hot(labels, self.num_classes).to(x.dtype)
        return out

    def negative_labels(self, y: Tensor) -> Tensor:
        """A wrong label for every sample, uniform over the ``C - 1`` wrong ones."""
        shift = torch.randint(1, self.num_classes, y.shape, generator=self.generator)
        return (y + shift) % self.num_classes

    def pass_on(self, t: Tensor) -> Tensor:
        """What unit ``k + 1`` receives from unit ``k``'s measured output ``t``."""
        t = t.detach()
        if not self.config.normalize_between:
            return t
        return unit_normalize(t) * t.shape[1] ** 0.5

    # --- goodness and loss --------------------------------------------------------------------

    def goodness(self, k: int, t: Tensor) -> Tensor:
        """Per-sample goodness ``(n,)`` of unit ``k``'s output ``t`` (differentiable in ``t``)."""
        if self.config.goodness == "energy":
            return t.pow(2).mean(dim=1)
        magnitude = t.abs()
        norm = magnitude.pow(2).sum(dim=1).clamp_min(1e-16).sqrt()
        return magnitude @ self.zetas[k] / norm

    def unit_loss(self, k: int, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        """``mean softplus(-theta (g+ - g-))`` of unit ``k``."""
        margin = self.goodness(k, t_pos) - self.goodness(k, t_neg)
        return F.softplus(-self.config.theta * margin).mean()

    def local_gradient(self, k: int, t_pos: Tensor, t_neg: Tensor) -> tuple[float, Tensor, Tensor]:
        """``(L_k, dL_k/dt+, dL_k/dt-)`` from measured outputs (detached copies)."""
        t_pos = t_pos.detach().requires_grad_(True)
        t_neg = t_neg.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.unit_loss(k, t_pos, t_neg)
            grad_pos, grad_neg = torch.autograd.grad(loss, (t_pos, t_neg))
        return float(loss.detach()), grad_pos, grad_neg

    # --- training and inference ---------------------------------------------------------------

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        lr = self.config.lr * self.lr_factor()
        x = x.detach()
        h_pos, h_neg = self.embed(x, y), self.embed(x, self.negative_labels(y))
        total = 0.0
        grads = []  # every measurement before any write: a bad one leaves no update
        for k, unit in enumerate(self.network.units):
            pos, neg = unit.measure(h_pos), unit.measure(h_neg)  # the unit's two passes
            loss, grad_pos, grad_neg = self.local_gradient(k, pos.t, neg.t)
            grad_w = (grad_pos * unit.f_prime(pos.z)).T @ with_bias_column(pos.p)
            grads.append(grad_w + (grad_neg * unit.f_prime(neg.z)).T @ with_bias_column(neg.p))
            total += loss
            h_pos, h_neg = self.pass_on(pos.t), self.pass_on(neg.t)
        for unit, update, grad_w in zip(self.network.units, self.unit_updates, grads, strict=True):
            unit.linear_stage.program(update.delta(grad_w, lr))
        self.step_count += 1
        return StepStats(loss=total, readout_loss=0.0)

    @torch.no_grad()
    def label_goodness(self, x: Tensor) -> Tensor:
        """Goodness summed over units ``(n, C)`` with each label embedded in turn (measured)."""
        first = 1 if self.config.skip_first_goodness else 0
        scores = torch.zeros(x.shape[0], self.num_classes)
        for c in range(self.num_classes):
            h = self.embed(x, torch.full((x.shape[0],), c, dtype=torch.long))
            for k, unit in enumerate(self.network.units):
                t = unit.measure(h).t
                if k >= first:
                    scores[:, c] += self.goodness(k, t)
                h = self.pass_on(t)
        return scores

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """The label of largest summed goodness, ``C`` passes per sample and substrate."""
        chunks = [
            self.label_goodness(x[i : i + batch_size]).argmax(dim=1)
            for i in range(0, x.shape[0], batch_size)
        ]
        return torch.cat(chunks)

    # --- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "unit_updates": [u.state_dict() for u in self.unit_updates],
            "generator": self.generator.get_state(),
            "zetas": [z.clone() for z in self.zetas],
            "patterns": None if self.patterns is None else self.patterns.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["zetas"]) != len(self.zetas):
            raise ConfigError(
                f"saved ff state has {len(state['zetas'])} units, this network {len(self.zetas)}"
            )
        if (state["patterns"] is None) != (self.patterns is None):
            raise ConfigError("saved ff state was made with another label_embedding")
        super().load_state_dict(state)
        for update, saved in zip(self.unit_updates, state["unit_updates"], strict=True):
            update.load_state_dict(saved)
        self.generator.set_state(state["generator"])
        self.zetas = [z.clone() for z in state["zetas"]]
        self.patterns = None if state["patterns"] is None else state["patterns"].clone()
