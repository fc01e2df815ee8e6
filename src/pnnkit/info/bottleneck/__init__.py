"""The information-bottleneck terms of one unit, with a hand-written gradient.

For a measured batch ``t`` ``(n, d)``, the normalised Gram ``X`` of the input and ``Y`` of the
labels, PIB's local loss needs (docs/pib.md; Sanchez Giraldo, Rao & Principe, IEEE Trans. Inf.
Theory 61:535, 2015)

    I(X;T) = S(X) + S(T) - S(X,T),    I(T;Y) = S(T) + S(Y) - S(T,Y),

with ``A = K / tr K``, ``K_ij = exp(-||u_i - u_j||^2 / (2 sigma^2))`` on the directions
``u_i = t_i / ||t_i||`` and ``S(A, B) = S(A o B / tr(A o B))``, and their gradient with respect
to ``t``. :func:`bottleneck_terms` computes both without an autograd graph over the ``n x n``
intermediates (autograd sees one node whose backward is written out here):

Forward. One product ``u u^T`` gives the distances (kernel widths from a data rule reuse them),
``S(T)`` is computed once for both terms, and the label terms use the block structure of
``Y``: for one-hot labels ``Y_ij = 0`` across classes, so ``A o Y`` is block diagonal and its
eigenvalues are those of the per-class blocks (``sum_c n_c^3`` instead of ``n^3``).

- ``alpha = 2``: ``S_2(M) = -log2 ||M||_F^2``, ``O(n^2)``, no eigendecomposition.
- ``alpha != 2``, ``solver="exact"``: ``A`` and ``X o A`` in one batched ``eigh``.
- ``solver="lanczos"``: ``S(T)``, ``S(X,T)`` and ``S(X)`` by stochastic Lanczos quadrature
  (:mod:`pnnkit.info.randomized`, shared probes), with its stochastic gradient.

Backward. The entropies give ``G = dL/dK`` (``A = K / n``): for ``alpha = 2``,
``dS_2(T)/dK = -2 K / (ln 2 ||K||_F^2)`` and ``dS_2(X,T)/dK = -2 X o X o K / (ln 2
||X o K||_F^2)``; otherwise ``V diag(dS/dlambda) V^T / n`` from the same ``eigh`` (times
``X / tr(X o A)`` elementwise for a joint term). Only off-diagonal entries matter: the
kernel's diagonal is 1 whatever ``t`` is, so ``tr K = n`` and ``tr(X o A)`` are constants.
Then ``G_D = G o K * (-1 / (2 sigma^2))`` (zero diagonal), ``dL/du = 4 (diag(G_D 1) u -
G_D u)`` (one more product, ``G_D`` being symmetric), and through the row normalisation
``dL/dt_i = (g_i - u_i (u_i . g_i)) / ||t_i||``. Cost for ``alpha = 2``: two
``n x n x d`` products and about ten elementwise passes over ``n x n`` (the squares of ``X``
and ``Y`` are formed once for all units of a step, in a
:class:`~pnnkit.info.bottleneck.squares.Squares` the caller owns).

Only ``t`` is differentiated: the Gram matrices of ``X`` and ``Y`` are constants (an error is
raised if they require a gradient; use the autograd path of
:class:`pnnkit.info.BottleneckEstimator` for that).

Numerics: float32 is enough for ``alpha = 2`` (relative error of order 1e-6). For ``alpha < 1``
the eigenvalue paths drop eigenvalues at or below ``n * eps * lambda_max`` (as
:func:`pnnkit.info.renyi_entropy` does); in float32 at large ``n`` a Gram matrix whose
classes have collapsed has most of its eigenvalues below that threshold, and its entropy is
then underestimated (docs/BENCHMARKS.md): use float64 there.

Modules: :mod:`~pnnkit.info.bottleneck.squares` (the cache of ``X o X`` and ``Y o Y``),
:mod:`~pnnkit.info.bottleneck.spectral` (the terms from the kernel matrix),
:mod:`~pnnkit.info.bottleneck.gradient` (kernel, forward, backward, entry points).
"""

from pnnkit.info.bottleneck.gradient import (
    BOTTLENECK_SOLVERS,
    bottleneck_gradient,
    bottleneck_terms,
    direction_gram,
)
from pnnkit.info.bottleneck.spectral import label_blocks
from pnnkit.info.bottleneck.squares import Squares

__all__ = [
    "BOTTLENECK_SOLVERS",
    "Squares",
    "bottleneck_gradient",
    "bottleneck_terms",
    "direction_gram",
    "label_blocks",
]
