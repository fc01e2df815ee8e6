"""Multi-view PIB: unsupervised local training of every unit from two views of each sample.

Unit ``k`` is queried twice per batch, on two views of every sample, giving the measured
outputs ``T'`` and ``T''``. Its local loss is the multi-view bottleneck of docs/pib.md section 4,

    L_k = - I_a(T'; T'') - lam * (S_a(T') + S_a(T'')) / 2 + gamma * (I_a(X; T') + I_a(X; T'')) / 2

with the matrix-based Renyi entropies of normalised Gram matrices (Sanchez Giraldo, Rao &
Principe, IEEE Trans. Inf. Theory 61:535, 2015): ``I(T'; T'') = S(T') + S(T'') - S(T', T'')``,
``S(A, B) = S(A o B / tr(A o B))``, estimated exactly as supervised PIB does
(:class:`~pnnkit.learning.pib.BottleneckEstimator`). Keeping what two views share is the
multi-view information bottleneck (Federici, Dutta, Forre, Kushman & Akata, "Learning robust
representations via multi-view information bottleneck", ICLR 2020); with a Gaussian kernel the
Renyi mutual information of two views rewards both agreement of the views and spread of the
batch, the alignment/uniformity pair of contrastive learning (Wang & Isola, ICML 2020).
``lam`` adds spread explicitly: docs/pib.md section 6 measured that ``I(T'; T'')`` alone
collapsed a prototype, and the entropy term is the remedy it names.

A view is what the hardware is shown: the network input after an augmentation (Gaussian
jitter and feature dropout of the standardised features, or random pixel shifts of image
data), or the same input twice (``augment = "none"``), in which case the two views differ only
by the substrate's own noise between the two queries. Both views propagate: unit ``k + 1``
receives unit ``k``'s measured ``T'`` and ``T''``.

The loss is differentiated digitally with respect to the detached measured ``T'`` and ``T''``
separately; a unit whose programmable part is linear (``z = W [p, 1]``, then ``t = f(z)``)
gets the exact local gradient as the sum of the two passes' outer products,
``dL/dW = (g' o f'(z'))^T [p', 1] + (g'' o f'(z''))^T [p'', 1]`` (route (a)/(b) of
docs/pib.md). No model of the physics, no gradient through a measurement, nothing crossing a
unit boundary backwards, and no labels: each unit costs two physical passes per sample
(two queries per sample and substrate). The digital readout is not trained (there are no
labels); the representation is judged by :mod:`pnnkit.experiment.unsupervised`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pnnkit.configtools import check_types
from pnnkit.errors import ConfigError
from pnnkit.info import joint_entropy, renyi_entropy
from pnnkit.learning.base import LearningRule, RuleConfig, StepStats
from pnnkit.learning.optim import UpdateRule
from pnnkit.learning.pib import BottleneckEstimator
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import with_bias_column

AUGMENTATIONS = ("none", "noise", "shift")

_PIXEL = re.compile(r"pixel_(\d+)_(\d+)$")


def image_shape(feature_names: tuple[str, ...] | list[str]) -> tuple[int, int] | None:
    """``(rows, cols)`` when the features are the pixels of one grey-level image in row-major
    order, named ``pixel_R_C`` (sklearn's digits, mnist5k, the MNIST IDX folders); else None."""
    cells = [_PIXEL.match(name) for name in feature_names]
    if not cells or any(c is None for c in cells):
        return None
    coords = [(int(c.group(1)), int(c.group(2))) for c in cells if c is not None]
    rows, cols = coords[-1][0] + 1, coords[-1][1] + 1
    if coords != [(r, c) for r in range(rows) for c in range(cols)]:
        return None
    return rows, cols


@dataclass
class MultiViewConfig(RuleConfig):
    """Settings of :class:`MultiViewPIB` (defaults tuned on digits, seed 0: see
    benchmarks/bench_unsupervised.py).

    ``lr``: 1e-3 (Adam on the requested changes).
    ``gamma``: weight of the compression term ``I(X; T)`` (X: the clean network input).
    ``entropy_weight``: weight ``lam`` of the spread term ``(S(T') + S(T''))/2``.
    ``augment``: how the two views are made: ``noise`` (each view is the input plus Gaussian
    jitter of std ``noise_std`` on the standardised features, then a fraction ``dropout`` of
    the features set to their mean, 0), ``shift`` (image data only: each view is the image
    shifted by a random number of pixels in ``[-max_shift, max_shift]`` along both axes, new
    border pixels black, then the same jitter and dropout), or ``none`` (both views are the
    input itself: they differ only by the substrate's noise between the two queries).
    ``noise_std``, ``dropout``, ``max_shift``: see ``augment``.
    ``estimator``: kernel widths and Renyi order, shared with supervised PIB.
    """

    lr: float = 1e-3
    gamma: float = 0.0
    entropy_weight: float = 1.0
    augment: str = "noise"
    noise_std: float = 0.3
    dropout: float = 0.2
    max_shift: int = 1
    estimator: BottleneckEstimator = field(default_factory=BottleneckEstimator)

    def validate(self) -> None:
        super().validate()
        check_types(self)
        if not isinstance(self.estimator, BottleneckEstimator):
            raise ConfigError(f"estimator = {self.estimator!r} is invalid: must be a table")
        if not self.gamma >= 0:
            raise ConfigError(f"gamma = {self.gamma!r} is invalid: must be >= 0")
        if not self.entropy_weight >= 0:
            raise ConfigError(
                f"entropy_weight = {self.entropy_weight!r} is invalid: must be >= 0"
            )
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment = {self.augment!r}; choices: {list(AUGMENTATIONS)}")
        if not self.noise_std >= 0:
            raise ConfigError(f"noise_std = {self.noise_std!r} is invalid: must be >= 0")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout = {self.dropout!r} is invalid: must be in [0, 1)")
        if self.max_shift < 1:
            raise ConfigError(f"max_shift = {self.max_shift!r} is invalid: must be >= 1")
        self.estimator.validate()


@dataclass
class ImageLayout:
    """How flat feature rows map back to images: ``shape`` (rows, cols) and the standardisation
    ``x = (pixel - mean) / scale`` applied by the data loader (so that shifts move pixels, not
    standardised values, and the border fills with black, pixel value 0)."""

    shape: tuple[int, int]
    mean: Tensor
    scale: Tensor


class Views:
    """Draws the two views of a batch with its own random generator (see
    :class:`MultiViewConfig` for the augmentations)."""

    def __init__(self, config: MultiViewConfig, seed: int, image: ImageLayout | None) -> None:
        if config.augment == "shift" and image is None:
            raise ConfigError(
                "augment = 'shift' needs image data whose features are the pixels of a grid "
                "named pixel_R_C (digits, mnist5k, mnist); use augment = 'noise' or 'none'"
            )
        self.config, self.image = config, image
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.config.augment == "none":
            return x, x
        return self.one(x), self.one(x)

    def one(self, x: Tensor) -> Tensor:
        """One augmented view of ``x``."""
        cfg, g = self.config, self.generator
        if cfg.augment == "shift":
            x = self.shift(x)
        if cfg.noise_std > 0:
            x = x + cfg.noise_std * torch.randn(x.shape, generator=g, dtype=x.dtype)
        if cfg.dropout > 0:
            x = x * (torch.rand(x.shape, generator=g) >= cfg.dropout).to(x.dtype)
        return x

    def shift(self, x: Tensor) -> Tensor:
        """Every image moved by its own random offset in ``[-s, s]^2`` pixels, in pixel units."""
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

    i_views: Tensor
    s_first: Tensor
    s_second: Tensor
    i_x_first: Tensor
    i_x_second: Tensor


def view_terms(
    estimator: BottleneckEstimator, x_gram: Tensor, t_first: Tensor, t_second: Tensor
) -> ViewTerms:
    """``I(T'; T'')``, ``S(T')``, ``S(T'')``, ``I(X; T')``, ``I(X; T'')``, differentiable in both
    outputs."""
    a = estimator.alpha
    g1, g2 = estimator.output_gram(t_first), estimator.output_gram(t_second)
    s1, s2 = renyi_entropy(g1, a), renyi_entropy(g2, a)
    s_x = renyi_entropy(x_gram, a)
    return ViewTerms(
        i_views=s1 + s2 - joint_entropy(g1, g2, a),
        s_first=s1,
        s_second=s2,
        i_x_first=s_x + s1 - joint_entropy(x_gram, g1, a),
        i_x_second=s_x + s2 - joint_entropy(x_gram, g2, a),
    )


class MultiViewPIB(LearningRule):
    """Unsupervised, local, model-free training of every unit by its multi-view bottleneck.

    ``image`` (optional) describes image data for ``augment = "shift"``; ``seed`` seeds the
    views' random generator.
    """

    name = "pib"
    model_free = True

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
        self.require_linear_stages()
        self.config: MultiViewConfig = config
        self.views = Views(config, seed, image)
        self.unit_updates = [UpdateRule(config.optimizer) for _ in network.units]

    def local_loss(self, terms: ViewTerms) -> Tensor:
        """``L_k`` from a unit's information terms."""
        cfg = self.config
        spread = (terms.s_first + terms.s_second) / 2
        compression = (terms.i_x_first + terms.i_x_second) / 2
        return -terms.i_views - cfg.entropy_weight * spread + cfg.gamma * compression

    def local_gradients(
        self, x_gram: Tensor, t_first: Tensor, t_second: Tensor
    ) -> tuple[Tensor, Tensor, ViewTerms]:
        """``dL_k/dT'`` and ``dL_k/dT''`` from the two measured outputs (detached copies)."""
        t1 = t_first.detach().requires_grad_(True)
        t2 = t_second.detach().requires_grad_(True)
        with torch.enable_grad():
            terms = view_terms(self.config.estimator, x_gram, t1, t2)
            g1, g2 = torch.autograd.grad(self.local_loss(terms), (t1, t2))
        detached = ViewTerms(*(v.detach() for v in vars(terms).values()))
        return g1, g2, detached

    def train_step(self, x: Tensor, y: Tensor) -> StepStats:
        """One update from a batch; ``y`` is ignored (the task is unsupervised)."""
        del y
        x = x.detach()
        x_gram = self.config.estimator.input_gram(x)
        lr = self.config.lr * self.lr_factor()
        stats = StepStats(loss=0.0, readout_loss=0.0)
        h1, h2 = self.views(x)
        for unit, update in zip(self.network.units, self.unit_updates, strict=True):
            out1, out2 = unit.measure(h1), unit.measure(h2)  # two physical passes
            g1, g2, terms = self.local_gradients(x_gram, out1.t, out2.t)
            grad_w = (g1 * unit.f_prime(out1.z)).T @ with_bias_column(out1.p)
            grad_w = grad_w + (g2 * unit.f_prime(out2.z)).T @ with_bias_column(out2.p)
            unit.stage.program(update.delta(grad_w, lr))  # type: ignore[union-attr]
            stats.loss += float(self.local_loss(terms))
            stats.i_xt.append(float(terms.i_x_first + terms.i_x_second) / 2)
            stats.i_ty.append(float(terms.i_views))
            h1, h2 = out1.t, out2.t
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
