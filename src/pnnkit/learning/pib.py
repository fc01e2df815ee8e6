"""The Physical Information Bottleneck (PIB): each unit learns from its own measured output.

Wang et al., "Training deep physical neural networks with local physical information
bottleneck", arXiv 2602.09569 (2026); this implementation follows ``docs/pib.md`` of the project.

For unit ``k`` with measured output ``T_k`` the local loss is the matrix-based bottleneck

    L_k = gamma * I_a(X; T_k) - beta * I_a(T_k; Y)

(Renyi mutual information of normalised Gram matrices: Sanchez Giraldo, Rao & Principe,
IEEE Trans. Inf. Theory 61:535, 2015). ``g_k = dL_k / dT_k`` is computed digitally from the
measured batch only. A unit whose programmable part is linear, ``z = W [p, 1]``, followed by a
known periphery ``t = f(z)``, gets the exact local gradient as an outer product,
``dL_k / dW = (g_k o f'(z))^T [p, 1]`` (route (a) of pib.md), and the substrate programs the
resulting change with its own device physics. When fixed physics precedes the linear stage,
``p`` is that physics' *measured* output, so the update stays exact with no model of the
physics at all (route (b)). Nothing crosses unit boundaries backwards and no
gradient flows through a measurement: unit ``k + 1`` sees only the detached measured ``T_k``.
The digital readout is trained locally with cross-entropy on the last unit's measured output.

Two more relevance terms, on by default (weights chosen on validation accuracy, docs/pib.md),
act on the same measured ``T_k`` and the labels only: similarity matching to the labels'
similarity (:mod:`pnnkit.info.similarity`; Nokland & Eidnes, ICML 2019) and the cross-entropy
of a small digital softmax head per unit (:class:`UnitHeads`), a variational estimate of
``I(T_k;Y)``. Their gradients join ``g_k`` before the same outer-product update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import BottleneckEstimator
from pnnkit.info.similarity import label_similarity, similarity_matching
from pnnkit.learning.base import LocalStageConfig, LocalStageRule, StepStats
from pnnkit.learning.heads import UnitHeads
from pnnkit.learning.pre_stage import PreStages
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork, Unit, UnitOutput

#: How the compression weight ``gamma`` is spread over the units (:class:`PIBConfig`).
GAMMA_PROFILES: tuple[str, ...] = ("uniform", "rising")
#: How the compression weight ``gamma`` changes over the run (:class:`PIBConfig`).
GAMMA_SCHEDULES: tuple[str, ...] = ("constant", "ramp")


@dataclass
class PIBConfig(LocalStageConfig):
    """Settings of :class:`PIB`; every default was chosen on validation, see docs/pib.md.

    ``lr``: the rate of the requested changes (Adam by default). ``readout_lr``: the readout's
    and the relevance heads' rate (faster heads give the units a sharper relevance signal).
    ``beta``: weight of the Renyi relevance term ``I(T;Y)``. ``gamma``: weight of the
    compression term ``I(X;T)``. ``compress_against``: ``input`` (X is the network input)
    or ``unit_input`` (X is the unit's own input ``h_{k-1}``). ``gamma_profile``:
    ``uniform`` or ``rising`` (unit ``k`` of ``K`` compresses with ``gamma (k+1)/K``);
    ``gamma_schedule``: ``constant`` or ``ramp`` (from 0 to ``gamma`` over the run).
    ``similarity_weight``: weight of matching the unit's similarity matrix to the labels'
    (:mod:`pnnkit.info.similarity`).
    ``head_weight``: weight of the cross-entropy of a digital linear head on each unit's
    measured output (:class:`UnitHeads`; a variational estimate of the relevance term).
    At least one of ``beta``, ``similarity_weight`` and ``head_weight`` must be positive.
    ``estimator``: kernel widths, Renyi order and solver
    (:class:`~pnnkit.info.BottleneckEstimator`).
    ``physics_lr``: learning rate of physical parameters with no linear handle (phases,
    drive amplitudes) by simultaneous-perturbation estimates of the bottleneck part of the
    local loss (route (c);
    Spall, IEEE Trans. Autom. Control 37:332, 1992). 0 (default) keeps the physics fixed. Each
    estimate costs two extra passes of the unit (``2n`` queries per substrate) and three
    reprogrammings; it is a contrastive measurement, reported in the counters like any other.
    ``spsa_epsilon``: the perturbation (in the parameters' own units, e.g. radians).
    ``refresh``: periodic write-and-verify of the intended weights
    (:mod:`pnnkit.learning.refresh`), off by default; ``refresh.every`` = one epoch's steps
    is the setting docs/BENCHMARKS.md measures against stuck-device failures.
    """

    lr: float = 1e-3
    readout_lr: float = 3e-2
    beta: float = 1.0
    gamma: float = 1.0
    compress_against: str = "input"
    gamma_profile: str = "uniform"
    gamma_schedule: str = "constant"
    similarity_weight: float = 10.0
    head_weight: float = 10.0
    estimator: BottleneckEstimator = field(default_factory=BottleneckEstimator)
    physics_lr: float = 0.0
    spsa_epsilon: float = 0.05

    def validate(self) -> None:
        """Raise ConfigError naming the field: gamma, beta, physics_lr and spsa_epsilon ranges,
        compress_against choices, then the estimator's own fields."""
        super().validate()
        if not isinstance(self.estimator, BottleneckEstimator):
            raise ConfigError(f"estimator = {self.estimator!r} is invalid: must be a table")
        for name in ("beta", "gamma", "similarity_weight", "head_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} = {getattr(self, name)!r} is invalid: must be >= 0")
        if not (self.beta > 0 or self.similarity_weight > 0 or self.head_weight > 0):
            raise ConfigError(
                "beta, similarity_weight and head_weight are all 0: a unit needs a relevance "
                "term (set at least one > 0)"
            )
        for name, choices in (
            ("gamma_profile", GAMMA_PROFILES),
            ("gamma_schedule", GAMMA_SCHEDULES),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} = {getattr(self, name)!r}; choices: {list(choices)}")
        if not self.physics_lr >= 0:
            raise ConfigError(f"physics_lr = {self.physics_lr!r} is invalid: must be >= 0")
        if not self.spsa_epsilon > 0:
            raise ConfigError(f"spsa_epsilon = {self.spsa_epsilon!r} is invalid: must be > 0")
        if self.compress_against not in ("input", "unit_input"):
            raise ConfigError(
                f"compress_against = {self.compress_against!r}; choices: ['input', 'unit_input']"
            )


@dataclass
class UnitPass:
    """One unit's measurements in a step and the updates they call for (nothing written yet)."""

    out: UnitOutput
    grad_t: Tensor
    grad_theta: Tensor | None
    i_xt: float
    i_ty: float
    loss: float
    grad_head: Tensor | None = None
    #: a pre-stage's local gradient ``dL0/du0`` and its head's gradient
    grad_pre: Tensor | None = None
    grad_pre_head: Tensor | None = None


@register(PIBConfig)
class PIB(LocalStageRule):
    """Local, model-free training of every unit by its own information bottleneck.

    Unit ``k``'s loss is ``gamma_k I(X;T_k) - beta I(T_k;Y)``, optionally with two more
    relevance terms computed from its measured output and the labels only:
    ``similarity_weight * ||S(T_k) - S(Y)||^2`` (:mod:`pnnkit.info.similarity`) and
    ``head_weight * CE(head_k(T_k), Y)`` (:class:`UnitHeads`). ``gamma_k`` follows
    ``gamma_profile`` over the units and ``gamma_schedule`` over the run."""

    name = "pib"
    needs = Needs(linear_stages=True, pre_stages=True)

    def __init__(self, network: PhysicalNetwork, config: PIBConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: PIBConfig = config
        self.heads = UnitHeads(network, config.optimizer) if config.head_weight > 0 else None
        self.pre_stages = PreStages(network, config.optimizer, heads=config.head_weight > 0)
        self._similarity_cache: tuple[Tensor, int, Tensor] | None = None

    def label_similarity(self, labels: Tensor, dtype: torch.dtype) -> Tensor:
        """``S(Y)`` of a batch's labels (:func:`pnnkit.info.similarity.label_similarity`),
        formed once per step: kept while the same, unchanged labels tensor comes back."""
        cached = self._similarity_cache
        if (
            cached is not None
            and cached[0] is labels
            and cached[1] == labels._version
            and cached[2].dtype == dtype
        ):
            return cached[2]
        target = label_similarity(labels, self.network.readout.out_features, dtype)
        self._similarity_cache = (labels, labels._version, target)
        return target

    def unit_gamma(self, k: int) -> float:
        """The compression weight of unit ``k`` at the current step: ``gamma``, times
        ``(k + 1) / K`` for the ``rising`` profile (early units keep their input information:
        InfoPro, Wang et al., ICLR 2021), times the fraction of the run done for the ``ramp``
        schedule."""
        cfg = self.config
        gamma = cfg.gamma
        if cfg.gamma_profile == "rising":
            gamma *= (k + 1) / len(self.network.units)
        if cfg.gamma_schedule == "ramp":
            gamma *= min(1.0, self.step_count / max(self.total_steps, 1))
        return gamma

    def local_gradient(
        self, x_gram: Tensor, t: Tensor, y_gram: Tensor, gamma: float | None = None
    ) -> tuple[Tensor, float, float]:
        """``dL/dT`` of the bottleneck ``gamma I(X;T) - beta I(T;Y)`` at a measured output
        ``t`` (a detached copy: nothing flows upstream); ``gamma`` defaults to the config's."""
        cfg = self.config
        gamma = cfg.gamma if gamma is None else gamma
        return cfg.estimator.loss_gradient(x_gram, t, y_gram, gamma, cfg.beta)

    def local_loss(
        self, x_gram: Tensor, t: Tensor, y_gram: Tensor, gamma: float | None = None
    ) -> float:
        """The bottleneck ``gamma I(X;T) - beta I(T;Y)`` of a measured output (no gradient);
        ``gamma`` defaults to the config's."""
        gamma = self.config.gamma if gamma is None else gamma
        with torch.no_grad():
            i_xt, i_ty = self.config.estimator.terms(x_gram, t, y_gram)
        return float(gamma * i_xt - self.config.beta * i_ty)

    def spsa_gradient(
        self, unit: Unit, h: Tensor, x_gram: Tensor, y_gram: Tensor, gamma: float | None = None
    ) -> Tensor:
        """One simultaneous-perturbation estimate of ``dL_k / dtheta`` (the bottleneck part of the
        loss, at the unit's ``gamma``) for the unit's physical parameters: program ``theta +-
        eps D`` (``D`` random signs), measure both, return ``(L+ - L-) / (2 eps) D``. The
        parameters are programmed back afterwards, also when a measurement fails."""
        physics, eps = unit.physics, self.config.spsa_epsilon
        assert physics is not None
        signs = torch.randint(0, 2, physics.parameter_shape()).to(torch.float32) * 2 - 1
        offset = 0.0  # the perturbation in place, in units of eps * signs
        try:
            physics.program(eps * signs)
            offset = 1.0
            loss_plus = self.local_loss(x_gram, unit.measure(h).t, y_gram, gamma)
            physics.program(-2 * eps * signs)
            offset = -1.0
            loss_minus = self.local_loss(x_gram, unit.measure(h).t, y_gram, gamma)
        finally:
            if offset:
                physics.program(-offset * eps * signs)
        return (loss_plus - loss_minus) / (2 * eps) * signs

    def trains_physics(self, unit: Unit) -> bool:
        """Route (c): the unit's physics has parameters and ``physics_lr > 0``."""
        physics = unit.physics
        return (
            self.config.physics_lr > 0
            and physics is not None
            and math.prod(physics.parameter_shape()) > 0
        )

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        y_gram = self.config.estimator.label_gram(y, self.network.readout.out_features)
        return self.bottleneck_step(
            x, y_gram, lambda t: self.readout_trainer.train(t, y, self.lr_factor()), labels=y
        )

    def bottleneck_step(
        self,
        x: Tensor,
        y_gram: Tensor,
        train_readout: Callable[[Tensor], float],
        *,
        labels: Tensor | None = None,
        weights: Tensor | None = None,
    ) -> StepStats:
        """One PIB step against the label Gram ``y_gram``; ``train_readout`` takes the last
        unit's measured output and returns the readout loss. ``labels`` (and optional sample
        ``weights``) feed the similarity and head terms when they are on.

        Every measurement comes before any write: unit ``k + 1`` is fed unit ``k``'s output
        measured before unit ``k`` is updated, as in a layer-by-layer step, so the order
        changes nothing, and a bad measurement (:class:`~pnnkit.errors.BadMeasurementError`)
        anywhere in the step leaves the hardware and the optimiser states untouched."""
        self.refresher.before_step(self.step_count)
        x_gram = self.step_input_gram(x)
        stats = StepStats(loss=0.0, readout_loss=0.0)
        passes: list[UnitPass] = []
        h = x.detach()
        for k in range(len(self.network.units)):
            passes.append(self.measure_unit(k, h, x_gram, y_gram, labels, weights))
            stats.loss += passes[-1].loss
            stats.i_xt.append(passes[-1].i_xt)
            stats.i_ty.append(passes[-1].i_ty)
            h = passes[-1].out.t
        for k, unit_pass in enumerate(passes):
            self.write_unit(k, unit_pass)
        stats.readout_loss = train_readout(h)
        self.step_count += 1
        return stats

    def step_input_gram(self, x: Tensor) -> Tensor | None:
        """The input's Gram matrix when the units compress against the network input, else
        None (each unit then compresses against its own input)."""
        if self.config.compress_against != "input":
            return None
        return self.config.estimator.input_gram(x)

    def measure_unit(
        self,
        k: int,
        h: Tensor,
        x_gram: Tensor | None,
        y_gram: Tensor,
        labels: Tensor | None = None,
        weights: Tensor | None = None,
    ) -> UnitPass:
        """Unit ``k``'s measurements for one batch and the updates they call for, with nothing
        written yet: the pass on its input ``h``, ``dL_k/dT_k`` (the bottleneck plus the
        similarity and head terms that are on, which need ``labels``), and (route (c)) the
        SPSA estimate for its physics."""
        cfg = self.config
        if labels is None and (cfg.similarity_weight > 0 or self.heads is not None):
            raise ConfigError(
                "similarity_weight and head_weight need class labels; this task gives none "
                "(set both to 0)"
            )
        unit = self.network.units[k]
        out = unit.measure(h)  # one physical query per sample and substrate
        gram = x_gram if x_gram is not None else cfg.estimator.input_gram(h)
        gamma = self.unit_gamma(k)
        grad_t, i_xt, i_ty = self.local_gradient(gram, out.t, y_gram, gamma)
        loss = gamma * i_xt - cfg.beta * i_ty
        grad_head = None
        if labels is not None:
            if cfg.similarity_weight > 0:
                target = self.label_similarity(labels, out.t.dtype)
                sim_loss, sim_grad = similarity_matching(out.t, target)
                grad_t = grad_t.add_(sim_grad, alpha=cfg.similarity_weight)
                loss += cfg.similarity_weight * sim_loss
            if self.heads is not None:
                head_loss, grad_head, head_grad_t = self.heads.gradients(k, out.t, labels, weights)
                grad_t = grad_t.add_(head_grad_t, alpha=cfg.head_weight)
                loss += cfg.head_weight * head_loss
        grad_theta = (
            self.spsa_gradient(unit, h, gram, y_gram, gamma) if self.trains_physics(unit) else None
        )
        unit_pass = UnitPass(out, grad_t, grad_theta, i_xt, i_ty, loss, grad_head)
        if k in self.pre_stages:
            unit_pass.grad_pre, unit_pass.grad_pre_head = self.pre_stage_gradient(
                k, out, gram, y_gram, gamma, labels, weights
            )
        return unit_pass

    def pre_stage_gradient(
        self,
        k: int,
        out: UnitOutput,
        x_gram: Tensor,
        y_gram: Tensor,
        gamma: float,
        labels: Tensor | None,
        weights: Tensor | None,
    ) -> tuple[Tensor, Tensor | None]:
        """``dL0/du0`` of unit ``k``'s pre-stage objective on its measured output ``u0``: the
        unit's own terms (bottleneck, similarity, head) applied to ``u0``
        (:mod:`pnnkit.learning.pre_stage`), and the pre-stage head's gradient."""
        cfg, u0 = self.config, PreStages.output(out)
        grad, _, _ = self.local_gradient(x_gram, u0, y_gram, gamma)
        grad_head = None
        if labels is not None and cfg.similarity_weight > 0:
            target = self.label_similarity(labels, u0.dtype)
            grad = grad.add_(similarity_matching(u0, target)[1], alpha=cfg.similarity_weight)
        if labels is not None and self.pre_stages.heads is not None:
            _, grad_head, head_grad = self.pre_stages.head_gradients(k, u0, labels, weights)
            grad = grad.add_(head_grad, alpha=cfg.head_weight)
        return grad, grad_head

    def write_unit(self, k: int, unit_pass: UnitPass) -> None:
        """Program unit ``k``'s stage (and physics) from its measured pass, and step its head."""
        factor = self.lr_factor()
        self.write_stage(k, unit_pass.out, unit_pass.grad_t, self.config.lr * factor)
        physics = self.network.units[k].physics
        if unit_pass.grad_theta is not None and physics is not None:  # route (c)
            physics.program(-self.config.physics_lr * factor * unit_pass.grad_theta)
        if unit_pass.grad_head is not None and self.heads is not None:
            self.heads.apply(k, unit_pass.grad_head, self.config.readout_lr * factor)
        if unit_pass.grad_pre is not None:
            self.pre_stages.write(k, unit_pass.out, unit_pass.grad_pre, self.config.lr * factor)
        if unit_pass.grad_pre_head is not None:
            self.pre_stages.step_head(k, unit_pass.grad_pre_head, self.config.readout_lr * factor)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.heads is not None:
            state["unit_heads"] = self.heads.state_dict()
        if self.pre_stages.index:
            state["pre_stages"] = self.pre_stages.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.heads is not None:
            if "unit_heads" not in state:
                raise ConfigError(
                    "this PIB rule has relevance heads (head_weight > 0) but the saved state "
                    "has none: it was written with head_weight = 0"
                )
            self.heads.load_state_dict(state["unit_heads"])
        if self.pre_stages.index:
            self.pre_stages.load_state_dict(state["pre_stages"])
