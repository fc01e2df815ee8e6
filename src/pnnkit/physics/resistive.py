"""A deep resistive network: programmable conductances and diodes relaxing to minimum power.

The analog network that equilibrium propagation was proposed for in hardware (Kendall et al.,
"Training end-to-end analog neural networks with equilibrium propagation", arXiv 2006.01981,
2020), simulated as in Scellier, "A fast algorithm to simulate nonlinear resistive networks",
ICML 2024 (arXiv 2402.11674): ideal circuit elements, so the steady state is the solution of a
convex quadratic programme, found exactly by block coordinate descent.

Circuit (all state is one vector of conductances, see :meth:`ResistiveNetwork.parameter_groups`):

* **Sources.** Each input feature ``x_i`` drives two voltage sources, ``+s x_i`` and ``-s x_i``
  (``s = input_scale``), so that a pair of positive conductances acts as a signed weight.
  Every layer of nodes also has a pair of bias sources at ``+v_b`` and ``-v_b``
  (``v_b = bias_voltage``): one pair of positive conductances gives a bias of either sign,
  and their sum a leak to ground (a single bias source could not give negative biases
  through positive conductances).
* **Layers.** Hidden layers of sizes ``hidden`` and an output layer of ``out_features``
  nodes. Conductances connect only consecutive layers (layer 1 to the input sources) and each
  layer to its bias pair; all are positive, within ``[g_min, g_max]``.
* **Diodes.** Each hidden and output node is tied to two rails through ideal diodes, which
  keep its voltage in the box ``[v_min, v_max]`` (the box-constrained formulation of Scellier
  2024). Clipping is the network's only nonlinearity.
* **Equilibrium.** Node voltages ``V`` minimise the dissipated power (co-content)
  ``E(V) = 1/2 sum_edges g_ij (V_i - V_j)^2 - sum_k I_k V_k`` over the box, where ``I`` is a
  current injected into the output nodes (zero in the free phase; the nudge of equilibrium
  propagation). ``E`` is strictly convex in the node voltages (every node has a positive
  conductance to a source), so the minimum is unique. Nodes of one layer are not connected to
  each other, so the minimiser of ``E`` over one layer given its neighbours is exact and
  separable: each node sits at the conductance-weighted mean of its neighbours' voltages
  (plus ``I_k / sum_j g_kj`` for outputs), clipped to the box (Kirchhoff's current law at a
  node whose diodes are off, or the rail voltage when one conducts). Odd and even layers are
  updated alternately until the largest change of a sweep is below ``tol`` volts, or after
  ``max_sweeps`` sweeps. Block coordinate descent on a strictly convex quadratic with
  separable box constraints converges to the minimiser (Luo & Tseng, J. Optim. Theory Appl.
  72:7, 1992).
* **Readout.** :meth:`Substrate.measure` returns the output voltages; :meth:`relax` returns
  every layer's voltages (one physical pass either way). A voltmeter adds Gaussian read noise
  ``read_noise`` (volts) to each voltage it returns.
* **Programming.** A requested change of conductances lands with relative Gaussian error
  ``program_noise`` and is clipped to ``[g_min, g_max]``.

The twin is the same relaxation (conductances clipped to their range, as programming would)
differentiated implicitly: at the minimum, the nodes strictly inside the box satisfy
``H_ff V_f = b``, with ``H`` the network's conductance Laplacian restricted to those nodes, and
clipped nodes do not move. The adjoint ``lambda = H_ff^{-1} dC/dV_f`` is the same network with
all sources grounded, clipped nodes grounded and the loss gradient injected as a current, solved
by the same sweeps; then ``dC/dg_ij = -(V_i - V_j)(lambda_i - lambda_j)`` and
``dC/dV_source = sum_j g_sj lambda_j``. The twin is exact when ``read_noise`` is 0 (default).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from pnnkit.errors import ShapeError
from pnnkit.physics.capabilities import EnergyBased
from pnnkit.physics.protocol import Substrate, SubstrateConfig
from pnnkit.physics.registry import register
from pnnkit.physics.resistive_circuit import Circuit, Equilibrium, edge_bilinear

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class ResistiveConfig(SubstrateConfig):
    """Parameters of :class:`ResistiveNetwork` (conductances in units of ``g_max``, voltages in
    volts; only conductance ratios set the equilibrium, so the unit of conductance is free, e.g.
    ``g_max = 100 uS`` for a memristive device).

    Attributes:
        hidden: sizes of the hidden layers of nodes ([]: the inputs connect straight to the
            output nodes). :meth:`PhysicalNetwork.build` fills it from the widths.
        g_min: smallest conductance, in units of ``g_max``. 0.01: an on/off ratio of 100, in
            the usual 10-1000 range of resistive memories (Yu, Proc. IEEE 106:260, 2018).
        g_max: largest conductance. 1.0: the unit of conductance.
        init_max: conductances start uniform in ``[g_min, init_max]``. 0.5: mid-range devices
            can move both ways and no weight starts saturated.
        input_scale: volts per unit of input feature (1.0: standardised features become
            sources of about +-1 V).
        bias_voltage: the bias sources sit at ``+-bias_voltage`` (1.0 V, the scale of the
            inputs).
        v_min, v_max: diode rails bounding every hidden and output node. ``[0, 1]`` V: the
            lower rail makes each node a rectifier (a node whose neighbours pull it below 0 V
            sits at 0 V), the nonlinearity of the network. Node voltages are weighted means of
            their neighbours, a few tens of mV for standardised inputs, so a far rail (e.g. the
            box ``[-1, 1]``) never acts and the network stays linear.
        tol: the relaxation stops when no node voltage changed by more than ``tol`` volts in a
            sweep (1e-6 V: far below the voltage differences equilibrium propagation reads).
        max_sweeps: the most sweeps of one relaxation (1000, far more than a relaxation from
            a nearby state needs; :attr:`ResistiveNetwork.last_sweeps` reports the count).
        read_noise: rms Gaussian noise of every voltage reading, volts (0: an ideal voltmeter,
            the ideal-element setting of Scellier 2024, so the twin is exact; 1e-4 V, about
            the step of a 16-bit converter over +-3 V, is a realistic value to study, and
            limits how small a nudge can be read).
        program_noise: relative rms error of a programmed conductance change (0: ideal
            writes; the crossbar substrate models device programming in detail).
        dtype: simulation precision, ``float32`` or ``float64`` (for gradient checks at tiny
            nudges).
    """

    hidden: list[int] = field(default_factory=list)
    g_min: float = 0.01
    g_max: float = 1.0
    init_max: float = 0.5
    input_scale: float = 1.0
    bias_voltage: float = 1.0
    v_min: float = 0.0
    v_max: float = 1.0
    tol: float = 1e-6
    max_sweeps: int = 1000
    read_noise: float = 0.0
    program_noise: float = 0.0
    dtype: str = "float32"

    def validate(self) -> None:
        super().validate()
        self._require(
            "hidden",
            all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden),
            "a list of positive integers",
        )
        self._require("g_min", self.g_min > 0, "> 0")
        self._require("g_max", self.g_max > self.g_min, f"> g_min = {self.g_min}")
        self._require("init_max", self.g_min < self.init_max <= self.g_max, "in (g_min, g_max]")
        self._require("input_scale", self.input_scale > 0, "> 0")
        self._require("bias_voltage", self.bias_voltage >= 0, ">= 0")
        self._require("v_max", self.v_max > self.v_min, f"> v_min = {self.v_min}")
        self._require("tol", self.tol > 0, "> 0")
        self._require("max_sweeps", self.max_sweeps >= 1, ">= 1")
        self._require("read_noise", self.read_noise >= 0, ">= 0")
        self._require("program_noise", 0 <= self.program_noise <= 1, "in [0, 1]")
        self._require("dtype", self.dtype in _DTYPES, f"one of {sorted(_DTYPES)}")


@register
class ResistiveNetwork(EnergyBased, Substrate[ResistiveConfig]):
    """Layers of diode-clamped nodes joined by programmable conductances; an energy-based
    system measured at its minimum-power state (see the module docstring)."""

    name = "resistive"
    exact_twin = True  # with the default read_noise = 0
    config_class = ResistiveConfig

    def _build(self) -> None:
        cfg = self._config
        self.dtype = _DTYPES[cfg.dtype]
        self.circuit = Circuit(self.in_features, [*cfg.hidden, self.out_features], cfg)
        count = sum(
            r * (c + 2) for r, c in zip(self.circuit.sizes, self.circuit.fan_in, strict=True)
        )
        u = torch.rand(count, generator=self.generator, dtype=torch.float64)
        self.conductance = (cfg.g_min + (cfg.init_max - cfg.g_min) * u).to(self.dtype)
        #: sweeps the last relaxation took (a diagnostic of the simulation, not a cost)
        self.last_sweeps = 0

    @property
    def layer_sizes(self) -> list[int]:
        """Node counts of the hidden layers and the output layer."""
        return list(self.circuit.sizes)

    def parameter_shape(self) -> tuple[int, ...]:
        return (int(self.conductance.numel()),)

    def parameter_groups(self, params: Tensor | None = None) -> list[Tensor]:
        """Per-layer conductance matrices (views of ``params``, default the programmed ones):
        layer ``l`` is ``(n_l, fan_in + 2)``, rows its nodes, columns the ``+s x`` sources then
        the ``-s x`` sources (layer 1) or the previous layer's nodes, then the ``+v_b`` and
        ``-v_b`` bias sources."""
        return self.circuit.split(self.conductance if params is None else params)

    # --- measurement ----------------------------------------------------------------------------

    def relax(
        self,
        x: Tensor,
        output_current: Tensor | None = None,
        *,
        start: list[Tensor] | None = None,
    ) -> list[Tensor]:
        """One physical pass: let the circuit settle with ``output_current`` (``(n, out)``,
        default none) injected into the output nodes, and read every layer's node voltages
        (hidden layers, then the output layer). ``start``: voltages to start the simulation
        from (e.g. a previous equilibrium); the unique equilibrium does not depend on it, only
        the number of sweeps does. Counts ``n`` queries and one pass."""
        self._check_input(x)
        n = x.shape[0]
        if output_current is not None and tuple(output_current.shape) != (n, self.out_features):
            raise ShapeError(
                f"resistive.relax: output_current must have shape {(n, self.out_features)}, "
                f"got {tuple(output_current.shape)}"
            )
        began = time.perf_counter()
        with torch.no_grad():
            states = self._read(self._settle(x, output_current, start))
        self.counters.hardware_seconds += time.perf_counter() - began
        self.counters.physical_queries += int(n)
        self.counters.passes += 1
        return [v.to(x.dtype) for v in states]

    def energy_contrast(
        self,
        x: Tensor,
        state_a: list[Tensor],
        state_b: list[Tensor],
        weights: Tensor | None = None,
    ) -> Tensor:
        """``d/dg [E(V^a) - E(V^b)]`` at fixed voltages, averaged over the batch with
        per-sample ``weights`` (default 1): for every conductance
        ``1/2 <w_k [(V_i^a - V_j^a)^2 - (V_i^b - V_j^b)^2]>``, flattened like the parameters.
        Computed as ``1/2 (dV^a - dV^b)(dV^a + dV^b)`` so that nearby states keep their
        precision. Digital arithmetic on measured voltages (no physical pass)."""
        x = x.detach().to(self.dtype)
        a = [v.detach().to(self.dtype) for v in state_a]
        b = [v.detach().to(self.dtype) for v in state_b]
        w = torch.ones(x.shape[0], 1, dtype=self.dtype)
        if weights is not None:
            w = weights.detach().to(self.dtype).reshape(-1, 1)
        near_a, near_b = self.circuit.neighbours(x, a), self.circuit.neighbours(x, b)
        parts = [
            edge_bilinear(w * (na - nb), w * (va - vb), na + nb, va + vb).flatten()
            for na, nb, va, vb in zip(near_a, near_b, a, b, strict=True)
        ]
        return torch.cat(parts) / (2 * x.shape[0])

    def _settle(
        self, x: Tensor, current: Tensor | None, start: list[Tensor] | None
    ) -> list[Tensor]:
        x = x.detach().to(self.dtype)
        if current is not None:
            current = current.detach().to(self.dtype)
        if start is not None:
            start = [v.detach().to(self.dtype) for v in start]
        states, self.last_sweeps = self.circuit.relax(x, self.conductance, current, start)
        return states

    def _read(self, states: list[Tensor]) -> list[Tensor]:
        noise = self._config.read_noise
        if noise == 0:
            return states
        return [
            v + noise * torch.randn(v.shape, generator=self.generator, dtype=v.dtype)
            for v in states
        ]

    def _measure(self, x: Tensor) -> Tensor:
        return self._read(self._settle(x, None, None)[-1:])[0].to(x.dtype)

    # --- programming ----------------------------------------------------------------------------

    def _program(self, delta: Tensor) -> None:
        cfg = self._config
        delta = delta.to(self.dtype)
        asked = delta != 0
        if cfg.program_noise > 0:
            noise = torch.randn(delta.shape, generator=self.generator, dtype=self.dtype)
            delta = delta * (1 + cfg.program_noise * noise)
        self.conductance = (self.conductance + delta).clamp(cfg.g_min, cfg.g_max)
        written = int(asked.sum())
        self.counters.device_writes += written
        self.counters.programming_pulses += written

    def _read_parameters(self) -> Tensor:
        return self.conductance.clone()

    def twin(self) -> Callable[[Tensor, Tensor], Tensor]:
        """``(x, g) -> output voltages`` of the free equilibrium, conductances clipped to
        ``[g_min, g_max]``; differentiable in ``x`` and ``g`` by implicit differentiation."""
        cfg, circuit, dtype = self._config, self.circuit, self.dtype

        def model(x: Tensor, params: Tensor) -> Tensor:
            g = params.to(dtype).clamp(cfg.g_min, cfg.g_max)
            return Equilibrium.apply(x.to(dtype), g, circuit).to(x.dtype)

        return model

    def _physical_state(self) -> dict[str, Tensor]:
        return {"conductance": self.conductance.clone()}

    def _load_physical_state(self, state: dict[str, Tensor]) -> None:
        self.conductance = state["conductance"].clone().to(self.dtype)
