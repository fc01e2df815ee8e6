"""The HSIC bottleneck: each unit trades dependence on the input for dependence on the labels.

Ma, Lewis & Kleijn, "The HSIC bottleneck: deep learning without back-propagation", AAAI 2020.
Each unit ``k`` minimises, on its own measured output ``T_k`` and digitally,

    L_k = nHSIC(X, T_k) - beta * nHSIC(Y, T_k),

a kernel surrogate of the information bottleneck built on the Hilbert-Schmidt independence
criterion (Gretton et al., ALT 2005). For Gram matrices ``K, L`` of one batch of ``n`` samples
and ``H = I - 11^T / n``,

    HSIC(K, L) = tr(K H L H) / (n - 1)^2,

which is zero in expectation for independent variables (with characteristic kernels, only
then). HSIC grows with the kernels' own scale, so the bottleneck uses a normalised form; two are
implemented, both written as a Frobenius product ``<M_K, M_L>`` of per-variable matrices:

* ``cka``: ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` (centred kernel alignment; Cortes,
  Mohri & Rostamizadeh, JMLR 13:795, 2012), ``M_K = HKH / ||HKH||_F``. It lies in ``[0, 1]``,
  is 1 for identical kernels, and costs no matrix inversion. **Default**: the two terms are on
  the same scale whatever the batch size or the rank of the kernels, so one ``beta`` carries
  over between layers and datasets, and it trained best on digits (docs/BENCHMARKS.md).
* ``nocco``: the normalised HSIC of Ma et al. (their section 3, after the normalised
  cross-covariance operator of Fukumizu et al., NeurIPS 2008),
  ``nHSIC(K, L) = tr(K~ L~)`` with ``K~ = Kc (Kc + eps n I)^-1`` and ``Kc = HKH``; it is
  bounded by the ranks of the kernels (the label term by ``C - 1``), and is what the paper's
  experiments used.

Kernels: Gaussian on ``X`` and ``T``, computed on length-normalised rows (as
:class:`pnnkit.info.BottleneckEstimator` does: the estimate ignores the gain of the
hardware, and the readout sees the same directions), and linear on one-hot ``Y``
(``L_ij = [y_i = y_j]``).

The rule has PIB's structure (:mod:`pnnkit.learning.pib`): one measured pass per unit, the
gradient ``dL_k/dT_k`` computed on a detached copy of the measurement, the exact
outer-product update ``(dL_k/dT_k o f'(z_k))^T [p_k, 1]`` programmed through the substrate,
nothing crossing unit boundaries backwards, and a digital readout trained locally with
cross-entropy on the last measured output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info import (
    WIDTH_RULES,
    gaussian_gram,
    kernel_width,
    linear_gram,
    one_hot,
    unit_normalize,
)
from pnnkit.learning.base import LocalStageConfig, LocalStageRule, StepStats
from pnnkit.learning.registry import register
from pnnkit.network import PhysicalNetwork

NORMALIZATIONS = ("cka", "nocco")


def _check_gram(k: Tensor, name: str) -> int:
    if k.dim() != 2 or k.shape[0] != k.shape[1] or k.shape[0] < 2:
        raise ShapeError(f"{name} has shape {tuple(k.shape)}; expected a square (n, n), n >= 2")
    return int(k.shape[0])


def center(k: Tensor) -> Tensor:
    """``H K H`` with ``H = I - 11^T / n``: the Gram matrix of the centred features (rows and
    columns minus their means, plus the overall mean), in ``O(n^2)``."""
    _check_gram(k, "k")
    return k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()


def hsic(k_a: Tensor, k_b: Tensor) -> Tensor:
    """The biased empirical HSIC of the Gram matrices of two variables on the same batch,
    ``tr(K_a H K_b H) / (n - 1)^2`` (Gretton et al., ALT 2005), differentiable."""
    n = _check_gram(k_a, "k_a")
    if k_b.shape != k_a.shape:
        raise ShapeError(f"k_b has shape {tuple(k_b.shape)}; expected {tuple(k_a.shape)} like k_a")
    return (center(k_a) * k_b).sum() / (n - 1) ** 2


def normalized_gram(k: Tensor, normalization: str = "cka", eps: float = 1e-5) -> Tensor:
    """The matrix ``M_K`` with ``normalized_hsic(K_a, K_b) = <M_Ka, M_Kb>_F`` (sum of the
    entrywise product): ``HKH / ||HKH||_F`` for ``cka``; ``Kc (Kc + eps n I)^-1`` with
    ``Kc = HKH`` for ``nocco`` (Ma et al. 2020, ``eps`` their regulariser). Computing it once
    per variable lets a batch reuse ``M_X`` and ``M_Y`` for every unit."""
    n = _check_gram(k, "k")
    centred = center(k)
    if normalization == "cka":
        return centred / torch.linalg.matrix_norm(centred).clamp_min(1e-12)
    if normalization == "nocco":
        if not eps > 0:
            raise ConfigError(f"eps = {eps!r} is invalid: must be > 0")
        eye = torch.eye(n, dtype=k.dtype, device=k.device)
        # Kc and (Kc + eps n I)^-1 commute, so the product is the symmetric solve below.
        return torch.linalg.solve(centred + eps * n * eye, centred)
    raise ConfigError(f"normalization = {normalization!r}; choices: {list(NORMALIZATIONS)}")


def normalized_hsic(
    k_a: Tensor, k_b: Tensor, normalization: str = "cka", eps: float = 1e-5
) -> Tensor:
    """Normalised HSIC of two Gram matrices: centred kernel alignment (``cka``, in ``[0, 1]``)
    or Ma et al.'s ``nocco`` form ``tr(K~_a K~_b)``; see :func:`normalized_gram`."""
    if k_b.shape != k_a.shape:
        raise ShapeError(f"k_b has shape {tuple(k_b.shape)}; expected {tuple(k_a.shape)} like k_a")
    m_a = normalized_gram(k_a, normalization, eps)
    return (m_a * normalized_gram(k_b, normalization, eps)).sum()


@dataclass
class HSICConfig(LocalStageConfig):
    """Settings of :class:`HSICBottleneck`.

    Defaults chosen on digits through the default crossbar (docs/methods.md).

    ``lr``: the rate of the requested changes (Adam by default).
    ``beta``: weight of the label term (with ``cka`` both terms are in ``[0, 1]``, and a
    label term a few times the input term keeps what separates classes while letting the rest
    go; Ma et al.'s 50-500 belong to the ``nocco`` and unnormalised scales).
    ``sigma_x``, ``sigma_t``: Gaussian widths on the length-normalised input and unit outputs
    (distances between unit vectors lie in ``[0, 2]``, so a width of 0.5 separates near from
    far directions).
    ``width_rule``: ``fixed`` (the widths above) or a data-driven rule of
    :func:`pnnkit.info.kernel_width` (``median``, ``mean``, ``silverman``) recomputed on every
    batch and multiplied by the width above (so ``sigma = 1`` gives the rule itself).
    ``normalization``: ``cka`` (default) or ``nocco`` (see the module docstring).
    ``epsilon``: the regulariser of ``nocco`` (1e-5, Ma et al.'s value; unused by ``cka``).
    """

    lr: float = 1e-3
    beta: float = 2.0
    sigma_x: float = 0.5
    sigma_t: float = 0.5
    width_rule: str = "fixed"
    normalization: str = "cka"
    epsilon: float = 1e-5

    def validate(self) -> None:
        """Raise ConfigError naming the field (kernel widths, width rule, normalization) after the
        shared rule checks."""
        super().validate()
        for name in ("beta", "sigma_x", "sigma_t", "epsilon"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} = {getattr(self, name)!r} is invalid: must be > 0")
        choices = ("fixed", *WIDTH_RULES)
        if self.width_rule not in choices:
            raise ConfigError(f"width_rule = {self.width_rule!r}; choices: {list(choices)}")
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"normalization = {self.normalization!r}; choices: {list(NORMALIZATIONS)}"
            )


@register(HSICConfig)
class HSICBottleneck(LocalStageRule):
    """Local, model-free training of every unit by its own HSIC bottleneck."""

    name = "hsic"

    def __init__(self, network: PhysicalNetwork, config: HSICConfig, total_steps: int) -> None:
        super().__init__(network, config, total_steps)
        self.config: HSICConfig = config

    def gaussian(self, samples: Tensor, sigma: float) -> Tensor:
        """Gaussian Gram matrix of the length-normalised rows of ``samples``."""
        directions = unit_normalize(samples)
        width: float | Tensor = sigma
        if self.config.width_rule != "fixed":
            width = sigma * kernel_width(directions, self.config.width_rule)
        return gaussian_gram(directions, width)

    def _normalized(self, k: Tensor) -> Tensor:
        return normalized_gram(k, self.config.normalization, self.config.epsilon)

    def input_matrix(self, x: Tensor) -> Tensor:
        """``M_X`` of the batch input (see :func:`normalized_gram`)."""
        return self._normalized(self.gaussian(x, self.config.sigma_x))

    def label_matrix(self, y: Tensor) -> Tensor:
        """``M_Y`` of the one-hot labels under the linear kernel."""
        return self._normalized(linear_gram(one_hot(y, self.network.readout.out_features)))

    def terms(self, m_x: Tensor, t: Tensor, m_y: Tensor) -> tuple[Tensor, Tensor]:
        """``(nHSIC(X, T), nHSIC(Y, T))`` of an output batch, differentiable in ``t``."""
        m_t = self._normalized(self.gaussian(t, self.config.sigma_t))
        return (m_x * m_t).sum(), (m_y * m_t).sum()

    def local_gradient(self, m_x: Tensor, t: Tensor, m_y: Tensor) -> tuple[Tensor, float, float]:
        """``dL_k/dT_k`` from a measured output (a detached copy: nothing flows upstream), and
        the two terms."""
        t = t.detach().requires_grad_(True)
        with torch.enable_grad():
            h_xt, h_yt = self.terms(m_x, t, m_y)
            loss = h_xt - self.config.beta * h_yt
            (grad,) = torch.autograd.grad(loss, t)
        return grad, float(h_xt.detach()), float(h_yt.detach())

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        """One local update per unit. ``StepStats.i_xt`` / ``i_ty`` hold the normalised HSIC
        values ``nHSIC(X, T_k)`` / ``nHSIC(Y, T_k)`` (dependence measures, not bits)."""
        self.refresher.before_step(self.step_count)
        h = x = x.detach()
        m_x, m_y = self.input_matrix(x), self.label_matrix(y)
        stats = StepStats(loss=0.0, readout_loss=0.0)
        pending = []  # every measurement before any write, as in PIB.bottleneck_step
        for unit in self.network.units:
            out = unit.measure(h)  # one physical query per sample and substrate
            grad_t, h_xt, h_yt = self.local_gradient(m_x, out.t, m_y)
            pending.append((out, grad_t))
            stats.loss += h_xt - self.config.beta * h_yt
            stats.i_xt.append(h_xt)
            stats.i_ty.append(h_yt)
            h = out.t
        self.write_stages(pending, self.config.lr * self.lr_factor())
        stats.readout_loss = self.readout_trainer.train(h, y, self.lr_factor())
        self.step_count += 1
        return stats
