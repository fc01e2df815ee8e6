"""The learning-rule interface shared by every training method.

A rule owns the optimiser state of one :class:`~pnnkit.network.PhysicalNetwork` and turns a batch
``(x, y)`` into parameter changes, programmed through the substrates. It reports what it did as a
:class:`StepStats`; what it spent on the hardware is in the substrates' counters.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from pnnkit.config import Validated, check_types
from pnnkit.errors import ConfigError
from pnnkit.info.kernels import NORM_EPS
from pnnkit.learning.optim import OPTIMIZERS, UpdateRule, cosine_lr
from pnnkit.learning.refresh import StageRefresher, WeightRefresh
from pnnkit.learning.registry import Needs
from pnnkit.network import PhysicalNetwork, Unit, UnitOutput
from pnnkit.physics import with_bias_column


@dataclass
class StepStats:
    """What one training step reports: its loss and, per unit, the information-plane coordinates
    the rule computed (empty lists for rules that compute none)."""

    loss: float
    readout_loss: float
    i_xt: list[float] = field(default_factory=list)
    i_ty: list[float] = field(default_factory=list)


@dataclass
class RuleConfig(Validated):
    """Settings every rule has. ``lr`` is the base learning rate of the physical units,
    ``readout_lr`` that of the digital readout; ``schedule`` is ``cosine`` (decay to zero over the
    run, which keeps late epochs from undoing early progress) or ``constant``."""

    lr: float = 1e-3
    readout_lr: float = 1e-2
    optimizer: str = "adam"
    schedule: str = "cosine"

    def validate(self) -> None:
        """Raise ConfigError naming the first field whose value is of the wrong type or out of range
        (subclasses call this first, then check their own fields)."""
        check_types(self)
        if not self.lr > 0:
            raise ConfigError(f"lr = {self.lr!r} is invalid: must be > 0")
        if not self.readout_lr > 0:
            raise ConfigError(f"readout_lr = {self.readout_lr!r} is invalid: must be > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer = {self.optimizer!r}; choices: {list(OPTIMIZERS)}")
        if self.schedule not in ("cosine", "constant"):
            raise ConfigError(f"schedule = {self.schedule!r}; choices: ['cosine', 'constant']")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (nested configs as dicts), as saved with a run."""
        return dataclasses.asdict(self)


class LearningRule(ABC):
    """Base of all rules. ``total_steps`` lets the learning-rate schedule know the run length.

    A rule declares its ``name`` (the ``--method``) and its
    :class:`~pnnkit.learning.registry.Needs`; building it on a network its needs rule out
    raises one ConfigError saying why. The config arrives built and validated
    (:func:`~pnnkit.learning.registry.rule_config`)."""

    name: ClassVar[str]
    needs: ClassVar[Needs]
    #: True when the rule never uses a digital model of the physics (no twin, no autograd
    #: through a measurement): ``needs.twin == "none"``.
    model_free: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "needs"):
            cls.model_free = cls.needs.model_free

    def __init__(self, network: PhysicalNetwork, config: RuleConfig, total_steps: int) -> None:
        refusal = self.needs.refusal(self.name, network)
        if refusal is not None:
            raise ConfigError(refusal)
        self.network, self.config, self.total_steps = network, config, total_steps
        self.step_count = 0

    def lr_factor(self) -> float:
        """Schedule multiplier for the current step (1.0 for a constant schedule)."""
        if self.config.schedule == "constant":
            return 1.0
        return cosine_lr(1.0, self.step_count, self.total_steps)

    @abstractmethod
    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        """One update from a batch of inputs ``x`` (n, d) and integer labels ``y`` (n,)."""

    def predict(self, x: Tensor) -> Tensor:
        """Class predictions of the trained system (through the hardware). Most rules use the
        network's readout; a rule with its own inference (forward-forward's goodness over
        labels) overrides this."""
        return self.network.predict(x)

    def before_evaluation(self) -> None:
        """Bring the hardware into the state to evaluate (in-silico training deploys its
        digital weights here); most rules train the hardware itself and do nothing."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: step count, optimiser moments, random
        generators and any fixed random matrices (tensors and plain values only, loadable with
        weights_only=True)."""
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict of a rule built on the same network and config."""
        self.step_count = state["step_count"]


def softmax_cross_entropy(
    weight: Tensor,
    bias: Tensor,
    features: Tensor,
    y: Tensor,
    *,
    weights: Tensor | None = None,
    feature_grad: bool = False,
) -> tuple[float, Tensor, Tensor | None]:
    """Cross-entropy of a linear softmax classifier on length-normalised features, with its
    gradients written out (no autograd).

    With ``u = t / |t|``, ``p = softmax(W u + b)`` and sample weights ``w`` summing to 1 (``1/n``
    each without ``weights``): ``dCE/dW = (w o (p - onehot(y)))^T u``, ``dCE/db`` its column
    sums and, with ``feature_grad``, ``dCE/dt_i = (g_i - u_i (u_i . g_i)) / |t_i|`` with
    ``g = (w o (p - onehot(y))) W`` (zero for an all-zero row, which has no direction).
    Returns ``(loss, [dCE/dW, dCE/db] as one (classes, width + 1) array, dCE/dt or None)``;
    the features are treated as measured (detached)."""
    with torch.no_grad():
        t = features.detach()
        length = torch.linalg.vector_norm(t, dim=1, keepdim=True).clamp_min_(NORM_EPS)
        logits = torch.mm(t, weight.T).div_(length).add_(bias)
        log_p = torch.log_softmax(logits, dim=1)
        rows = torch.arange(y.shape[0], device=y.device)
        picked = log_p[rows, y]
        grad = log_p.exp_()
        grad[rows, y] -= 1.0
        if weights is None:
            loss = -picked.mean()
            grad.div_(y.shape[0])
        else:
            share = (weights / weights.sum()).to(log_p.dtype)
            loss = -(share @ picked)
            grad.mul_(share.unsqueeze(1))
        grad_t = None
        if feature_grad:
            g_u = torch.mm(grad, weight)
            u = t / length
            grad_t = g_u.sub_(u * (u * g_u).sum(dim=1, keepdim=True)).div_(length)
            grad_t.mul_(length > NORM_EPS)  # an all-zero row has no direction: no gradient
        grad_b = grad.sum(0)
        grad_w = torch.mm(grad.div_(length).T, t)
        return float(loss), torch.cat([grad_w, grad_b.unsqueeze(1)], 1), grad_t


class LocalReadout:
    """The digital readout trained on its own: cross-entropy of ``network.logits`` on measured
    (detached) features, Adam (:class:`~pnnkit.learning.optim.UpdateRule`) at ``lr`` times the
    rule's schedule factor, with the gradient of :func:`softmax_cross_entropy` (written out; the
    scores are those of :meth:`~pnnkit.network.PhysicalNetwork.logits`, tested against it).
    Every rule that trains its units locally trains the readout this way; labels are class
    indices."""

    def __init__(self, network: PhysicalNetwork, lr: float) -> None:
        self.network, self.lr = network, lr
        self.update = UpdateRule("adam")  # on [W, b] as one (classes, width + 1) array

    def train(
        self, features: Tensor, y: Tensor, lr_factor: float, weights: Tensor | None = None
    ) -> float:
        """One step on measured ``features`` (n, width) and labels ``y``; returns the loss,
        the mean cross-entropy or, with per-sample ``weights``, ``sum_i w_i CE_i / sum_i w_i``."""
        readout = self.network.readout
        loss, grad_wb, _ = softmax_cross_entropy(
            readout.weight, readout.bias, features, y, weights=weights
        )
        with torch.no_grad():
            delta = self.update.delta(grad_wb, self.lr * lr_factor)
            readout.weight.add_(delta[:, :-1])
            readout.bias.add_(delta[:, -1])
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The readout's Adam moments and step count."""
        return self.update.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the Adam state; also reads the ``torch.optim.Adam`` state that checkpoints
        held while the readout was trained through autograd (earlier versions of pnnkit)."""
        if "param_groups" in state:  # torch.optim.Adam: parameter 0 the weight, 1 the bias
            saved = state["state"]
            if saved:
                state = {
                    "steps": int(saved[0]["step"]),
                    "m": torch.cat([saved[0]["exp_avg"], saved[1]["exp_avg"][:, None]], 1),
                    "v": torch.cat([saved[0]["exp_avg_sq"], saved[1]["exp_avg_sq"][:, None]], 1),
                }
            else:
                state = {"steps": 0, "m": None, "v": None}
        weight = self.network.readout.weight  # moments on the readout's device and dtype
        self.update.load_state_dict(
            {k: v.to(weight) if isinstance(v, Tensor) else v for k, v in state.items()}
        )


@dataclass
class LocalStageConfig(RuleConfig):
    """Settings every rule that trains its stages locally (PIB, HSIC) has besides the shared
    ones: ``refresh``, the periodic write-and-verify of the weights the rule means the stages to
    hold (:class:`~pnnkit.learning.refresh.WeightRefresh`; off by default,
    ``rule.refresh.every=STEPS`` turns it on, for hardware whose devices fail)."""

    refresh: WeightRefresh = field(default_factory=WeightRefresh)

    def validate(self) -> None:
        """The shared checks, then the refresh settings'."""
        super().validate()
        if not isinstance(self.refresh, WeightRefresh):
            raise ConfigError(f"refresh = {self.refresh!r} is invalid: must be a table")
        self.refresh.validate()


class LocalStageRule(LearningRule):
    """Base of the rules that train every unit's linear stage from a gradient with respect to
    its measured output (PIB, HSIC): one digital optimiser per unit, the readout trained
    locally, and the exact outer-product update ``dL/dW = (dL/dt o f'(z))^T [p, 1]`` from
    measured values only (route (a)/(b) of docs/pib.md)."""

    needs = Needs(linear_stages=True)

    def __init__(
        self, network: PhysicalNetwork, config: LocalStageConfig, total_steps: int
    ) -> None:
        super().__init__(network, config, total_steps)
        self.unit_updates = [UpdateRule(config.optimizer) for _ in network.units]
        self.readout_trainer = LocalReadout(network, config.readout_lr)
        self.refresher = StageRefresher(network, config.refresh)

    @staticmethod
    def program_stage(
        unit: Unit, update: UpdateRule, grad_t: Tensor, out: UnitOutput, lr: float
    ) -> Tensor:
        """Program the stage's change for ``dL/dt`` at the measured pass ``out``; returns the
        change requested."""
        grad_w = (grad_t * unit.f_prime(out.z)).T @ with_bias_column(out.p)
        delta = update.delta(grad_w, lr)
        unit.linear_stage.program(delta)
        return delta

    def write_stage(self, k: int, out: UnitOutput, grad_t: Tensor, lr: float) -> None:
        """Program unit ``k``'s change from its measured pass and ``dL/dt``, noting it in the
        refresher's reference."""
        unit, update = self.network.units[k], self.unit_updates[k]
        self.refresher.note(k, self.program_stage(unit, update, grad_t, out, lr))

    def write_stages(self, pending: list[tuple[UnitOutput, Tensor]], lr: float) -> None:
        """:meth:`write_stage` for every unit, in unit order."""
        for k, (out, grad_t) in enumerate(pending):
            self.write_stage(k, out, grad_t, lr)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "unit_updates": [u.state_dict() for u in self.unit_updates],
            "readout_optimizer": self.readout_trainer.state_dict(),
            "refresh": self.refresher.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for update, saved in zip(self.unit_updates, state["unit_updates"], strict=True):
            update.load_state_dict(saved)
        self.readout_trainer.load_state_dict(state["readout_optimizer"])
        self.refresher.load_state_dict(state.get("refresh", {"reference": None}))
