"""The pure simulation of a resistive network (no state, no counting): the relaxation to the
minimum-power state by block Gauss-Seidel sweeps, and its implicit differentiation by the
adjoint network; :mod:`pnnkit.physics.resistive` holds the substrate and the physics it models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from pnnkit.physics.resistive import ResistiveConfig


def edge_bilinear(a1: Tensor, b1: Tensor, a2: Tensor, b2: Tensor) -> Tensor:
    """``sum_k (b1_ki - a1_kj)(b2_ki - a2_kj)`` for every edge ``(i, j)`` between nodes ``b``
    (``(n, rows)``) and their neighbours ``a`` (``(n, cols)``), by matrix products."""
    return (b1 * b2).sum(0)[:, None] - b1.T @ a2 - b2.T @ a1 + (a1 * a2).sum(0)[None, :]


class Circuit:
    """The pure simulation of one resistive network's topology (no state, no counting)."""

    def __init__(self, in_features: int, sizes: list[int], config: ResistiveConfig) -> None:
        self.in_features, self.sizes, self.cfg = in_features, sizes, config
        self.fan_in = [2 * in_features, *sizes[:-1]]  # non-bias columns of each layer

    def split(self, g: Tensor) -> list[Tensor]:
        """Per-layer ``(n_l, fan_in_l + 2)`` views of the flat conductance vector."""
        out, start = [], 0
        for rows, cols in zip(self.sizes, self.fan_in, strict=True):
            size = rows * (cols + 2)
            out.append(g[start : start + size].view(rows, cols + 2))
            start += size
        return out

    def bias(self, n: int, like: Tensor) -> Tensor:
        """The ``(+v_b, -v_b)`` bias sources, ``(n, 2)``, in the dtype of ``like``."""
        vb = self.cfg.bias_voltage
        return torch.tensor([vb, -vb], dtype=like.dtype).expand(n, 2)

    def neighbours(self, x: Tensor, states: list[Tensor]) -> list[Tensor]:
        """Voltages at the far end of every layer's columns: input sources or the previous
        layer, then the bias pair."""
        s, n = self.cfg.input_scale, x.shape[0]
        below = [torch.cat([s * x, -s * x], dim=1), *states[:-1]]
        return [torch.cat([b, self.bias(n, x)], dim=1) for b in below]

    def denominators(self, gs: list[Tensor]) -> list[Tensor]:
        """Total conductance at each node (to everything it touches)."""
        dens = []
        for k, g in enumerate(gs):
            d = g.sum(1)
            if k + 1 < len(gs):
                d = d + gs[k + 1][:, :-2].sum(0)
            dens.append(d)
        return dens

    def sweeps(
        self,
        gs: list[Tensor],
        fixed: list[Tensor],
        post: Callable[[int, Tensor], Tensor],
        start: list[Tensor],
        tol: float,
    ) -> tuple[list[Tensor], int]:
        """Block Gauss-Seidel over odd, then even layers: ``V_l = post(l, (fixed_l + sum of
        neighbour conductances x voltages) / total conductance)`` until the largest change of
        a sweep is at most ``tol`` (or ``max_sweeps``). Returns the state and the sweep count."""
        dens, states, depth = self.denominators(gs), list(start), len(gs)
        done = 0
        while done < self.cfg.max_sweeps:
            done += 1
            change = torch.zeros((), dtype=states[0].dtype)
            for parity in (0, 1):
                for k in range(parity, depth, 2):
                    num = fixed[k]
                    if k > 0:
                        num = num + states[k - 1] @ gs[k][:, :-2].T
                    if k + 1 < depth:
                        num = num + states[k + 1] @ gs[k + 1][:, :-2]
                    new = post(k, num / dens[k])
                    change = torch.maximum(change, (new - states[k]).abs().max())
                    states[k] = new
            if float(change) <= tol:
                break
        return states, done

    def relax(
        self,
        x: Tensor,
        g: Tensor,
        current: Tensor | None = None,
        start: list[Tensor] | None = None,
    ) -> tuple[list[Tensor], int]:
        """Minimise the power over the box: every layer's node voltages, and the sweeps used."""
        cfg, gs, n = self.cfg, self.split(g), x.shape[0]
        first = torch.cat([cfg.input_scale * x, -cfg.input_scale * x, self.bias(n, x)], dim=1)
        fixed = [first @ gs[0].T]
        fixed += [(self.bias(1, x) @ gk[:, -2:].T).expand(n, -1) for gk in gs[1:]]
        if current is not None:
            fixed[-1] = fixed[-1] + current
        if start is None:
            start = [x.new_zeros(n, size) for size in self.sizes]
        start = [s.clamp(cfg.v_min, cfg.v_max) for s in start]
        return self.sweeps(gs, fixed, lambda _, v: v.clamp(cfg.v_min, cfg.v_max), start, cfg.tol)

    def adjoint(self, g: Tensor, states: list[Tensor], grad_out: Tensor) -> list[Tensor]:
        """``lambda = H_ff^{-1} dC/dV_f``: the network with sources and clipped nodes grounded
        and ``grad_out`` injected into the outputs (zero at clipped nodes). Stops at a
        tolerance relative to the scale ``max |grad_out| / min total conductance``."""
        cfg, gs = self.cfg, self.split(g)
        free = [((v > cfg.v_min) & (v < cfg.v_max)).to(v.dtype) for v in states]
        fixed = [torch.zeros_like(v) for v in states[:-1]] + [grad_out]
        scale = float(grad_out.abs().max()) / float(self.denominators(gs)[-1].min())
        lams, _ = self.sweeps(
            gs,
            fixed,
            lambda k, v: v * free[k],
            [torch.zeros_like(v) for v in states],
            cfg.tol * scale,
        )
        return lams

    def conductance_gradient(self, x: Tensor, states: list[Tensor], lams: list[Tensor]) -> Tensor:
        """``dC/dg_ij = -sum_batch (V_i - V_j)(lambda_i - lambda_j)``, flattened like ``g``
        (sources have ``lambda = 0``)."""
        grads = []
        for k, (v, lam, a) in enumerate(zip(states, lams, self.neighbours(x, states), strict=True)):
            a_lam = torch.zeros_like(a)
            if k > 0:
                a_lam[:, :-2] = lams[k - 1]
            grads.append(-edge_bilinear(a, v, a_lam, lam).flatten())
        return torch.cat(grads)

    def input_gradient(self, g: Tensor, lams: list[Tensor]) -> Tensor:
        """``dC/dx_i = s (sum_j g_j,+i lambda_j - sum_j g_j,-i lambda_j)``."""
        d = self.in_features
        through = lams[0] @ self.split(g)[0][:, : 2 * d]
        return self.cfg.input_scale * (through[:, :d] - through[:, d:])


class Equilibrium(torch.autograd.Function):
    """Output voltages of the free equilibrium, differentiated implicitly (see
    :mod:`pnnkit.physics.resistive`)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, g: Tensor, circuit: Circuit) -> Tensor:
        states, _ = circuit.relax(x, g)
        ctx.circuit = circuit
        ctx.save_for_backward(x, g, *states)
        return states[-1].clone()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, g, *states = ctx.saved_tensors
        circuit: Circuit = ctx.circuit
        lams = circuit.adjoint(g, states, grad_out)
        grad_x = circuit.input_gradient(g, lams) if ctx.needs_input_grad[0] else None
        grad_g = circuit.conductance_gradient(x, states, lams) if ctx.needs_input_grad[1] else None
        return grad_x, grad_g, None
