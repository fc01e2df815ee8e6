"""The linear stage's maths: a bias input line and the exact model ``z = W [x, 1]``."""

from __future__ import annotations

import torch
from torch import Tensor


def with_bias_column(x: Tensor) -> Tensor:
    """Append the constant bias input line: ``(n, d) -> (n, d + 1)``, ones in the last column."""
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)


def linear_twin(x: Tensor, params: Tensor) -> Tensor:
    """The exact digital model of a linear layer with a bias column: ``z = [x, 1] W^T``."""
    return with_bias_column(x) @ params.T
