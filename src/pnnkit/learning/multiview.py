"""Multi-view PIB: unsupervised, local training of every unit from two views of each sample.

Unit ``k`` is queried twice per batch, on two views of every sample, giving the measured
outputs ``T'`` and ``T''`` (``n`` samples each). Its local loss is a multi-view information
bottleneck (docs/pib.md section 4), with matrix-based Renyi entropies of normalised Gram
matrices (Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf. Theory 61:535, 2015), estimated
exactly as supervised PIB does (:class:`~pnnkit.info.BottleneckEstimator`):

    L_k = - I_views + gamma * (I_a(X; T') + I_a(X; T'')) / 2

``X`` is the clean network input. Two estimates of the information the views share are
available (``objective``):

* ``"instance"`` (default): the two views are pooled into one batch ``Z = [T'; T'']`` of
  ``2n`` samples and ``I_views = I_a(Z; N) = S_a(Z) + S_a(N) - S_a(Z, N)``, where ``N`` is the
  label kernel of the sample index (``N_ij = 1`` when rows ``i`` and ``j`` are views of the same
  sample; ``S_a(N) = log2 n``). The joint entropy ``S_a(Z, N)`` only sees the kernel between the
  two views of each sample, so it falls as the views agree; ``S_a(Z)`` rises as different
  samples spread. Its maximum ``log2 n`` needs both: agreement of the views and spread of the
  batch, the alignment/uniformity pair of contrastive learning (Wang & Isola, "Understanding
  contrastive representation learning through alignment and uniformity on the hypersphere",
  ICML 2020; at ``alpha = 2`` ``S_2(Z)`` is their Gaussian-potential uniformity term).
* ``"views"``: ``I_views = I_a(T'; T'') = S_a(T') + S_a(T'') - S_a(T', T'')`` of the two views'
  own Gram matrices. It compares the views' similarity *structures* and never the two views of
  one sample directly, so a code that makes all samples distinct in both views reaches its
  maximum ``log2 n`` with no agreement at all. In a first trial (ReLU units on the ideal
  substrate, noise views) it did exactly that: sparse, nearly orthogonal codes, k-means NMI
  0.67 -> 0.23. With shift views (and gamma 0) it was as good as ``instance`` on the
  crossbar and worse behind the scattering medium (benchmarks/bench_unsupervised.py --sweep).

Keeping what two views share and dropping the rest is the multi-view information bottleneck
(Federici, Dutta, Forre, Kushman & Akata, "Learning robust representations via multi-view
information bottleneck", ICLR 2020). Views are made at the network input (``augment``): random
pixel shifts of image data (the invariance that carried the measured gains on digits),
Gaussian jitter with feature dropout of the standardised features (the views of the prototype
in docs/pib.md section 6), or the input itself twice (``"none"``), in which case the two views
differ only by the substrate's own noise between the two queries. Both views propagate: unit
``k + 1`` receives unit ``k``'s measured ``T'`` and ``T''``.

The loss is differentiated digitally with respect to the detached measured ``T'`` and ``T''``
separately. A unit whose programmable part is linear (``z = W [p, 1]``, then ``t = f(z)``) gets
its exact local gradient as the sum of the two passes' outer products,
``dL/dW = (g' o f'(z'))^T [p', 1] + (g'' o f'(z''))^T [p'', 1]`` (routes (a) and (b) of
docs/pib.md). No model of the physics, no gradient through a measurement, nothing crossing a
unit boundary backwards, no labels: each unit costs two physical passes per sample (two
queries per sample and substrate). The digital readout is not trained (there are no labels);
the representation is judged by :mod:`pnnkit.tasks.unsupervised`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.info import BottleneckEstimator, joint_entropy, renyi_entropy
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.registry import Needs, register
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import with_bias_column

AUGMENTATIONS = ("auto", "shift", "noise", "none")
OBJECTIVES = ("instance", "views")

_PIXEL = re.compile(r"pixel_(\d+)_(\d+)")


def image_shape(feature_names: tuple[str, ...] | list[str]) -> tuple[int, int] | None:
    """``(rows, cols)`` when the features are the pixels of one grey-level image in row-major
    order, named ``pixel_R_C`` (sklearn's digits, mnist5k, the MNIST IDX folders); else None."""
    cells = [_PIXEL.fullmatch(name) for name in feature_names]
    if not cells or any(c is None for c in cells):
        return None
    coords = [(int(c.group(1)), int(c.group(2))) for c in cells if c is not None]
    rows, cols = coords[-1][0] + 1, coords[-1][1] + 1
    if coords != [(r, c) for r in range(rows) for c in range(cols)]:
        return None
    return rows, cols


def _default_estimator() -> BottleneckEstimator:
    return BottleneckEstimator(alpha=2.0, solver="autograd")


@dataclass
class MultiViewConfig(RuleConfig):
    """Settings of :class:`MultiViewPIB`, tuned on digits on the crossbar and behind the
    scattering medium by the k-means NMI gain over the untrained network (``--sweep`` of
    benchmarks/bench_unsupervised.py; the measurements are in docs/BENCHMARKS.md).

    ``lr``: the rate of the requested changes (Adam by default). The best rate depends on the
    stage: behind the medium (a digital stage with many inputs) a fast rate climbs the
    objective, then falls back from it; a slow one barely moves the crossbar's pulsed updates.
    ``gamma``: weight of the compression term ``I(X; T)``, X the clean network input (the
    bottleneck's compression helps the clusters a little; units narrower than their input
    gain most with ``gamma = 0``: compression only hurts a unit that cannot keep everything
    anyway).
    ``objective``: ``instance`` or ``views`` (see the module docstring).
    ``augment``: how the two views are made: ``shift`` (image data only: each view is the
    image moved by a random offset in ``[-max_shift, max_shift]`` pixels along each axis,
    uncovered pixels black), ``noise`` (the standardised input plus Gaussian jitter of std
    ``noise_std``, then a fraction ``dropout`` of the features set to their mean, 0), ``none``
    (both views are the input: they differ only by the substrate's noise between the two
    queries), or ``auto`` (default: ``shift`` for image data, else ``noise``); on digits only
    shifts helped.
    ``noise_std``, ``dropout``: the ``noise`` views (those of the prototype in docs/pib.md
    section 6).
    ``max_shift``: the largest offset, in pixels.
    ``estimator``: kernel widths, Renyi order and solver; order 2 by default (no
    eigendecomposition).
    ``readout_lr`` is unused: no readout is trained without labels.
    """

    lr: float = 3e-4
    gamma: float = 0.2
    objective: str = "instance"
    augment: str = "auto"
    noise_std: float = 0.3
    dropout: float = 0.2
    max_shift: int = 1
    estimator: BottleneckEstimator = field(default_factory=_default_estimator)

    def validate(self) -> None:
        """Raise ConfigError naming the field (gamma, objective, augment, noise, dropout, shift)
        after the shared rule checks, then the estimator's."""
        super().validate()
        if not isinstance(self.estimator, BottleneckEstimator):
            raise ConfigError(f"estimator = {self.estimator!r} is invalid: must be a table")
        if not self.gamma >= 0:
            raise ConfigError(f"gamma = {self.gamma!r} is invalid: must be >= 0")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective = {self.objective!r}; choices: {list(OBJECTIVES)}")
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment = {self.augment!r}; choices: {list(AUGMENTATIONS)}")
        if not self.noise_std >= 0:
            raise ConfigError(f"noise_std = {self.noise_std!r} is invalid: must be >= 0")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout = {self.dropout!r} is invalid: must be in [0, 1)")
        if self.max_shift < 1:
            raise ConfigError(f"max_shift = {self.max_shift!r} is invalid: must be an int >= 1")


@dataclass
class ImageLayout:
    """How flat feature rows map back to images: ``shape`` (rows, cols) and the data loader's
    standardisation ``x = (pixel - mean) / scale`` (per feature), so that shifts move pixels,
    not standardised values, and uncovered pixels are black (pixel value 0)."""

    shape: tuple[int, int]
    mean: Tensor
    scale: Tensor


class Views:
    """Draws the two views of a batch with its own random generator."""

    def __init__(self, config: MultiViewConfig, seed: int, image: ImageLayout | None) -> None:
        kind = config.augment
        if kind == "auto":
            kind = "shift" if image is not None else "noise"
        if kind == "shift" and image is None:
            raise ConfigError(
                "augment = 'shift' needs image data whose features are the pixels of a grid "
                "named pixel_R_C (digits, mnist5k, mnist); use augment = 'noise' or 'none'"
            )
        self.kind, self.config, self.image = kind, config, image
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.kind == "none":
            return x, x
        return self.one(x), self.one(x)

    def one(self, x: Tensor) -> Tensor:
        """One random view of ``x``."""
        if self.kind == "shift":
            return self.shift(x)
        cfg, g = self.config, self.generator
        view = x + cfg.noise_std * torch.randn(x.shape, generator=g, dtype=x.dtype)
        keep = torch.rand(x.shape, generator=g) >= cfg.dropout
        return view * keep.to(x.dtype)

    def shift(self, x: Tensor) -> Tensor:
        """Every image moved by its own random offset in ``[-s, s]^2`` pixels."""
        assert self.image is not None
        (rows, cols), s = self.image.shape, self.config.max_shift
        pixels = (x * self.image.scale + self.image.mean).reshape(-1, rows, cols)
        padded = torch.nn.functional.pad(pixels, (s, s, s, s))
        offsets = torch.randint(0, 2 * s + 1, (x.shape[0], 2), generator=self.generator)
        moved = torch.empty_like(pixels)
        for dy in range(2 * s + 1):
            for dx in range(2 * s + 1):
                pick = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
                moved[pick] = padded[pick, dy : dy + rows, dx : dx + cols]
        return (moved.reshape(x.shape[0], -1) - self.image.mean) / self.image.scale


@dataclass
class ViewTerms:
    """The information terms of one unit on one batch, in bits."""

    views: Tensor  # I_views of the chosen objective
    i_x_first: Tensor  # I(X; T')
    i_x_second: Tensor  # I(X; T'')


def view_terms(
    estimator: BottleneckEstimator,
    objective: str,
    x_gram: Tensor,
    t_first: Tensor,
    t_second: Tensor,
) -> ViewTerms:
    """The terms of the multi-view loss, differentiable in both measured outputs."""
    a = estimator.alpha
    g1, g2 = estimator.output_gram(t_first), estimator.output_gram(t_second)
    s1, s2, s_x = renyi_entropy(g1, a), renyi_entropy(g2, a), renyi_entropy(x_gram, a)
    if objective == "views":
        views = s1 + s2 - joint_entropy(g1, g2, a)
    else:
        n = t_first.shape[0]
        pooled = estimator.output_gram(torch.cat([t_first, t_second]))
        same = estimator.label_gram(torch.arange(n).repeat(2), n)
        views = renyi_entropy(pooled, a) + renyi_entropy(same, a) - joint_entropy(pooled, same, a)
    return ViewTerms(
        views=views,
        i_x_first=s_x + s1 - joint_entropy(x_gram, g1, a),
        i_x_second=s_x + s2 - joint_entropy(x_gram, g2, a),
    )


@register(MultiViewConfig)
class MultiViewPIB(LearningRule):
    """Unsupervised, local, model-free training of every unit by its multi-view bottleneck.

    ``image`` describes image data (needed for ``augment = "shift"``, chosen by ``auto`` when
    given); ``seed`` seeds the views. :meth:`train_step` ignores its labels. Its
    :class:`StepStats` report, per unit, ``I(X; T)`` (mean over the views) in ``i_xt`` and the
    view information ``I_views`` in ``i_ty`` (there is no ``Y``).
    """

    name = "pib"
    needs = Needs(linear_stages=True, labels=False)

    def __init__(
        self,
        network: PhysicalNetwork,
        config: MultiViewConfig,
        total_steps: int,
        *,
        image: ImageLayout | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(network, config, total_steps)
        self.config: MultiViewConfig = config
        self.views = Views(config, seed, image)
        self.unit_updates = [UpdateRule(config.optimizer) for _ in network.units]

    def local_loss(self, terms: ViewTerms) -> Tensor:
        """``L_k`` from a unit's information terms."""
        compression = (terms.i_x_first + terms.i_x_second) / 2
        return -terms.views + self.config.gamma * compression

    def local_gradients(
        self, x_gram: Tensor, t_first: Tensor, t_second: Tensor
    ) -> tuple[Tensor, Tensor, ViewTerms]:
        """``dL_k/dT'`` and ``dL_k/dT''`` from the two measured outputs (detached copies:
        nothing flows upstream), with the terms' values."""
        t1 = t_first.detach().requires_grad_(True)
        t2 = t_second.detach().requires_grad_(True)
        cfg = self.config
        with torch.enable_grad():
            terms = view_terms(cfg.estimator, cfg.objective, x_gram, t1, t2)
            g1, g2 = torch.autograd.grad(self.local_loss(terms), (t1, t2))
        values = ViewTerms(
            terms.views.detach(), terms.i_x_first.detach(), terms.i_x_second.detach()
        )
        return g1, g2, values

    def train_step(self, x: Tensor, y: Tensor | None = None) -> StepStats:
        """One update from a batch ``x``; ``y`` is ignored (the task is unsupervised)."""
        x = x.detach()
        x_gram = self.config.estimator.input_gram(x)
        lr = self.config.lr * self.lr_factor()
        stats = StepStats(loss=0.0, readout_loss=0.0)
        h1, h2 = self.views(x)
        grads = []  # every measurement before any write: a bad one leaves no update
        for unit in self.network.units:
            out1, out2 = unit.measure(h1), unit.measure(h2)  # two physical passes
            g1, g2, terms = self.local_gradients(x_gram, out1.t, out2.t)
            # the two passes' outer products with the stage's measured inputs: exact
            grad_w = (g1 * unit.f_prime(out1.z)).T @ with_bias_column(out1.p)
            grads.append(grad_w + (g2 * unit.f_prime(out2.z)).T @ with_bias_column(out2.p))
            stats.loss += float(self.local_loss(terms))
            stats.i_xt.append(float(terms.i_x_first + terms.i_x_second) / 2)
            stats.i_ty.append(float(terms.views))
            h1, h2 = out1.t, out2.t
        for unit, update, grad_w in zip(self.network.units, self.unit_updates, grads, strict=True):
            unit.linear_stage.program(update.delta(grad_w, lr))
        self.step_count += 1
        return stats

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "unit_updates": [u.state_dict() for u in self.unit_updates],
            "views": self.views.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for update, saved in zip(self.unit_updates, state["unit_updates"], strict=True):
            update.load_state_dict(saved)
        self.views.generator.set_state(state["views"])
