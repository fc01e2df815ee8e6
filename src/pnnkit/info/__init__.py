"""Information estimators: matrix-based Renyi entropy and mutual information of Gram matrices.

Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf. Theory 61:535 (2015); see docs/pib.md section 1.
:mod:`pnnkit.info.kernels` builds (normalised) Gram matrices from a batch of samples;
:mod:`pnnkit.info.entropy` turns them into entropies and mutual information in bits.
"""

from pnnkit.info.entropy import (
    ENTROPY_METHODS,
    joint_entropy,
    mutual_information,
    renyi2_entropy_and_grad,
    renyi_entropy,
)
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

__all__ = [
    "ENTROPY_METHODS",
    "WIDTH_RULES",
    "gaussian_gram",
    "joint_entropy",
    "kernel_width",
    "linear_gram",
    "mutual_information",
    "normalize_gram",
    "one_hot",
    "pairwise_sq_distances",
    "renyi2_entropy_and_grad",
    "renyi_entropy",
    "unit_normalize",
]
