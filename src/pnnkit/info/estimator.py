"""How PIB's information terms are estimated from a measured batch: :class:`BottleneckEstimator`.

Kept apart from the learning rules so that training, evaluation and other rules measure the
information plane the same way. The terms are the matrix-based Renyi mutual informations of
normalised Gram matrices (Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf. Theory 61:535,
2015; docs/pib.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.config import Validated, check_types
from pnnkit.errors import ConfigError, ShapeError
from pnnkit.info.bottleneck import Squares, bottleneck_gradient, bottleneck_terms, direction_gram
from pnnkit.info.entropy import joint_entropy, renyi_entropy
from pnnkit.info.kernels import (
    WIDTH_RULES,
    gaussian_gram,
    kernel_width,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    unit_normalize,
)

__all__ = ["ESTIMATOR_SOLVERS", "BottleneckEstimator"]

#: The implementations :class:`BottleneckEstimator` can use (its ``solver``).
ESTIMATOR_SOLVERS: tuple[str, ...] = ("autograd", "exact", "lanczos")


@dataclass
class BottleneckEstimator(Validated):
    """How the information terms ``I(X;T)`` and ``I(T;Y)`` of a unit are estimated.

    ``sigma2``: squared width of the Gaussian kernel on length-normalised unit outputs (chosen
    on validation, see docs/pib.md). Length normalisation makes the width independent of the
    output scale, which on hardware changes with gain, drift and faults. ``x_sigma2``: the
    same for the network input. ``alpha``: Renyi order, 2 by default (the Frobenius norm: no
    eigendecomposition); lower orders weigh the small eigenvalues of the Gram matrix more.
    ``width_rule``: ``fixed`` (the widths above) or a data-driven rule of
    :func:`pnnkit.info.kernel_width` (``median``, ``mean``, ``silverman``) recomputed on every
    batch, whose result is multiplied by ``sqrt(sigma2)`` (resp. ``sqrt(x_sigma2)``).

    ``solver``: how the terms and their gradient are computed (same estimator, three
    implementations; docs/BENCHMARKS.md measures their cost):

    - ``autograd`` (the reference): eigenvalues (Frobenius norm for alpha = 2) differentiated
      by autograd;
    - ``exact`` (default): the same values (equal to round-off) with the gradient written out
      by hand (:func:`pnnkit.info.bottleneck_terms`): one fused distance product, batched
      ``eigh``, the label terms from per-class blocks, no autograd graph over ``n x n``
      matrices. Gram matrices of samples that need no gradient are built the same way;
    - ``lanczos``: ``S(T)``, ``S(X,T)`` and ``S(X)`` by stochastic Lanczos quadrature
      (:mod:`pnnkit.info.randomized`; alpha = 2 stays exact). Its gradient is an unbiased,
      noisy estimate (relative error of order ``sqrt(n / probes)``): meant for estimating the
      information plane of large batches. Its probes come from torch's global generator
      (saved in run checkpoints).

    Files written before the rename say ``entropy_method`` with ``closed_form`` for ``exact``;
    :meth:`upgrade` reads them.

    ``probes``, ``lanczos_steps`` and ``deflation``: the randomized estimator's Rademacher
    probes, Lanczos steps and dominant directions treated apart (Hutch++). ``deflation``
    should exceed the number of classes in a batch. Unused by the other solvers.
    """

    alpha: float = 2.0
    sigma2: float = 0.5
    x_sigma2: float = 0.5
    width_rule: str = "fixed"
    solver: str = "exact"
    probes: int = 8
    lanczos_steps: int = 10
    deflation: int = 16

    def __post_init__(self) -> None:
        #: the squares of the step's input and label Gram matrices (not a setting)
        self.squares = Squares()
        super().__post_init__()

    @staticmethod
    def upgrade(values: dict[str, Any]) -> dict[str, Any]:
        """Read the names of earlier versions: ``entropy_method`` is ``solver`` (a ``solver``
        given beside it wins), and its value ``closed_form`` is ``exact``."""
        if "entropy_method" in values:
            old = values.pop("entropy_method")
            values.setdefault("solver", "exact" if old == "closed_form" else old)
        return values

    def validate(self) -> None:
        """Raise ConfigError naming a kernel width, order, solver or probe count out of range."""
        check_types(self)
        for name in ("alpha", "sigma2", "x_sigma2"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} = {getattr(self, name)!r} is invalid: must be > 0")
        choices = ("fixed", *WIDTH_RULES)
        if self.width_rule not in choices:
            raise ConfigError(f"width_rule = {self.width_rule!r}; choices: {list(choices)}")
        if self.solver not in ESTIMATOR_SOLVERS:
            raise ConfigError(f"solver = {self.solver!r}; choices: {list(ESTIMATOR_SOLVERS)}")
        for name, low in (("probes", 1), ("lanczos_steps", 1), ("deflation", 0)):
            if not getattr(self, name) >= low:
                raise ConfigError(
                    f"{name} = {getattr(self, name)!r} is invalid: must be an integer >= {low}"
                )

    def _gram(self, samples: Tensor, sigma2: float) -> Tensor:
        needs_graph = torch.is_grad_enabled() and samples.requires_grad
        if self.solver != "autograd" and samples.dim() == 2 and not needs_graph:
            return direction_gram(samples, sigma2, self.width_rule)
        directions = unit_normalize(samples)
        sigma = sigma2**0.5
        distances = None
        if self.width_rule != "fixed":  # one distance pass for the width and the kernel
            distances = pairwise_sq_distances(directions)
            sigma = sigma * kernel_width(directions, self.width_rule, sq_distances=distances)
        return normalize_gram(gaussian_gram(directions, sigma, sq_distances=distances))

    def input_gram(self, x: Tensor) -> Tensor:
        """Normalised Gaussian Gram matrix of the inputs x (n, d), on length-normalised rows, width
        sqrt(x_sigma2)."""
        return self._gram(x, self.x_sigma2)

    def output_gram(self, t: Tensor) -> Tensor:
        """Normalised Gaussian Gram matrix of a unit's measured outputs t (n, d), on length-
        normalised rows, width sqrt(sigma2)."""
        return self._gram(t, self.sigma2)

    @staticmethod
    def label_gram(y: Tensor, num_classes: int) -> Tensor:
        """Normalised linear Gram matrix of one-hot labels: 1/n on pairs of the same class, 0
        elsewhere (the trace of ``H H^T`` is n for one-hot rows ``H``)."""
        if y.dim() != 1 or y.shape[0] == 0:
            raise ShapeError(f"labels have shape {tuple(y.shape)}; expected (n,) with n >= 1")
        rows = one_hot(y, num_classes)
        return torch.mm(rows, rows.T).div_(y.shape[0])

    def _written_out(self) -> dict[str, Any]:
        """The settings of the hand-written solvers (:mod:`pnnkit.info.bottleneck`)."""
        return {
            "alpha": self.alpha,
            "sigma2": self.sigma2,
            "width_rule": self.width_rule,
            "solver": self.solver,
            "probes": self.probes,
            "steps": self.lanczos_steps,
            "deflation": self.deflation,
            "squares": self.squares,
        }

    def terms(self, x_gram: Tensor, t: Tensor, y_gram: Tensor) -> tuple[Tensor, Tensor]:
        """``(I(X;T), I(T;Y))`` in bits for a batch, differentiable in ``t``.

        ``I(A;B) = S(A) + S(B) - S(A,B)``, with ``S(T)`` computed once for both terms.
        With a ``solver`` other than ``autograd`` only ``t`` is differentiable.
        """
        if self.solver != "autograd":
            return bottleneck_terms(x_gram, t, y_gram, **self._written_out())
        a = self.alpha
        t_gram = self.output_gram(t)
        s_t = renyi_entropy(t_gram, a)
        i_xt = renyi_entropy(x_gram, a) + s_t - joint_entropy(x_gram, t_gram, a)
        i_ty = s_t + renyi_entropy(y_gram, a) - joint_entropy(t_gram, y_gram, a)
        return i_xt, i_ty

    def loss_gradient(
        self, x_gram: Tensor, t: Tensor, y_gram: Tensor, gamma: float, beta: float
    ) -> tuple[Tensor, float, float]:
        """``dL/dt`` of ``L = gamma I(X;T) - beta I(T;Y)`` at a measured ``t`` (a detached
        copy: nothing flows upstream), with ``I(X;T)`` and ``I(T;Y)``. The hand-written solvers
        run their backward directly (:func:`pnnkit.info.bottleneck_gradient`), with no
        autograd tape."""
        if self.solver != "autograd":
            return bottleneck_gradient(x_gram, t, y_gram, gamma, beta, **self._written_out())
        t = t.detach().requires_grad_(True)
        with torch.enable_grad():
            i_xt, i_ty = self.terms(x_gram, t, y_gram)
            (grad,) = torch.autograd.grad(gamma * i_xt - beta * i_ty, t)
        return grad, float(i_xt.detach()), float(i_ty.detach())
