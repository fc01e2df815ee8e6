"""Information estimators: matrix-based Renyi entropy and mutual information of Gram matrices.

Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf. Theory 61:535 (2015); see docs/pib.md section 1.
:mod:`pnnkit.info.kernels` builds (normalised) Gram matrices from a batch of samples;
:mod:`pnnkit.info.entropy` turns them into entropies and mutual information in bits (exactly,
with closed-form gradients); :mod:`pnnkit.info.randomized` estimates entropies of large
matrices by stochastic Lanczos quadrature; :mod:`pnnkit.info.bottleneck` computes PIB's two
information terms of one unit with a hand-written gradient, and
:class:`~pnnkit.info.estimator.BottleneckEstimator` chooses how (kernel widths, order, solver).
"""

from pnnkit.info.bottleneck import (
    BOTTLENECK_SOLVERS,
    Squares,
    bottleneck_gradient,
    bottleneck_terms,
    direction_gram,
    label_blocks,
)
from pnnkit.info.entropy import (
    ENTROPY_ALGORITHMS,
    entropy_from_power_sum,
    joint_entropy,
    mutual_information,
    renyi2_entropy_and_grad,
    renyi_entropy,
    renyi_entropy_and_grad,
    spectral_terms,
)
from pnnkit.info.estimator import ESTIMATOR_SOLVERS, BottleneckEstimator
from pnnkit.info.kernels import (
    WIDTH_RULES,
    gaussian_gram,
    kernel_width,
    linear_gram,
    normalize_gram,
    one_hot,
    pairwise_sq_distances,
    unit_normalize,
)
from pnnkit.info.randomized import (
    lanczos_quadrature,
    rademacher_probes,
    randomized_renyi_entropy,
    randomized_renyi_entropy_and_grad,
    range_basis,
)

__all__ = [
    "BOTTLENECK_SOLVERS",
    "ENTROPY_ALGORITHMS",
    "ESTIMATOR_SOLVERS",
    "WIDTH_RULES",
    "BottleneckEstimator",
    "Squares",
    "bottleneck_gradient",
    "bottleneck_terms",
    "direction_gram",
    "entropy_from_power_sum",
    "gaussian_gram",
    "joint_entropy",
    "kernel_width",
    "label_blocks",
    "lanczos_quadrature",
    "linear_gram",
    "mutual_information",
    "normalize_gram",
    "one_hot",
    "pairwise_sq_distances",
    "rademacher_probes",
    "randomized_renyi_entropy",
    "randomized_renyi_entropy_and_grad",
    "range_basis",
    "renyi2_entropy_and_grad",
    "renyi_entropy",
    "renyi_entropy_and_grad",
    "spectral_terms",
    "unit_normalize",
]
