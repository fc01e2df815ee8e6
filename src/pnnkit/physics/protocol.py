"""The substrate protocol: the small interface every physical system implements.

A substrate is one physical layer (a crossbar, a scattering medium, a photonic mesh, a lab
instrument) mapping an input batch ``x`` of shape ``(n, in_features)`` to a measured output of
shape ``(n, out_features)``. Two kinds share the protocol:

* **linear stages** (``linear = True``: ``ideal``, ``crossbar``): the effective parameters are a
  weight matrix of shape ``(out_features, in_features + 1)`` whose last column is the bias,
  driven by a constant input line, and ``z = W [x, 1]``. Local rules update them with exact
  outer products (route (a) of docs/pib.md).
* **physics** (``linear = False``: optics, waves, measured systems, instruments): a fixed
  transform, possibly with physical parameters that have no linear handle (phases, drive
  amplitudes), of any :meth:`Substrate.parameter_shape` (``(0,)`` when nothing is
  programmable). Units put a linear stage after them (route (b)); their own parameters can
  only be trained by zeroth-order estimates (route (c)).

Everything a learning rule may do to hardware goes through five calls, kept as small as
gymnasium's ``Env``:

* :meth:`Substrate.measure` -- one physical pass over a batch (``n`` physical queries), never
  differentiable: it runs under :func:`torch.no_grad` so no rule can backpropagate through the
  physics by accident.
* :meth:`Substrate.program` -- apply a requested parameter *change* the way the hardware does
  (pulses for a memristive crossbar): what lands is in general not what was asked for.
* :meth:`Substrate.read_parameters` -- read the effective parameters back (noisy on hardware).
* :meth:`Substrate.program_to` -- closed-loop write-and-verify towards a target, built on the
  two calls above (used to initialise and to deploy weights trained elsewhere).
* :meth:`Substrate.twin` -- an optional differentiable digital model, for the rules that need one.

Costs that matter on real hardware are counted in :class:`~pnnkit.physics.counters.Counters`.

A substrate subclasses ``Substrate[ItsConfig]`` (so ``self.config()`` has its own config type),
sets ``name`` and ``config_class``, builds its physical state in :meth:`Substrate._build`, and
registers itself with :func:`pnnkit.physics.registry.register`; what faults can happen to it
follows from the capabilities it declares (:mod:`pnnkit.physics.capabilities`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import torch
from torch import Tensor

from pnnkit.config import Validated, build, check_types
from pnnkit.errors import ConfigError, MeasurementError, ShapeError
from pnnkit.physics.counters import Counters


@dataclass
class SubstrateConfig(Validated):
    """Base of every substrate's typed config: dict round-trip and validation helpers.

    Every substrate has ``latency``: a simulated hardware delay in seconds added to every
    :meth:`Substrate.measure` call (one physical pass over a batch), counted in
    ``hardware_seconds``. Default 0 (simulations run as fast as the computer); real physical
    systems take milliseconds per pass (settling, exposure, ADC conversion), and setting it,
    e.g. ``--set substrate.latency=0.02``, makes the cost of waiting on hardware (and what
    pipelining units over several machines saves, :mod:`pnnkit.distributed`) measurable on
    one computer. It changes no value a substrate returns, and is ignored when a saved state is
    checked against a config (a state saved at one latency loads at another).
    """

    latency: float = 0.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field if a value is of the wrong type or out of
        range. Subclasses extend this (calling ``super().validate()`` first)."""
        check_types(self)
        self._require("latency", self.latency >= 0, ">= 0 (seconds per measurement)")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (what a run folder records)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """Build from loose values (strings from a command line included), then validate."""
        return build(cls, values)

    # Small validation helpers shared by all configs, so every message has the same shape.
    def _require(self, name: str, ok: bool, allowed: str) -> None:
        if not ok:
            value = getattr(self, name)
            raise ConfigError(
                f"{type(self).__name__}.{name} = {value!r} is invalid: must be {allowed}"
            )


ConfigT = TypeVar("ConfigT", bound=SubstrateConfig)


class Substrate(ABC, Generic[ConfigT]):
    """A programmable physical layer. Subclasses implement the physics; see the module docstring.

    Subclasses implement :meth:`_build`, :meth:`_measure`, :meth:`_program`,
    :meth:`_read_parameters`, :meth:`_physical_state` and :meth:`_load_physical_state`; the
    public wrappers add shape checks, ``no_grad`` and counting, so every substrate behaves the
    same at its boundary.
    """

    #: registry name (``"crossbar"``, ``"ideal"``, ...)
    name: ClassVar[str]
    #: the typed config class of this substrate (``ConfigT``)
    config_class: ClassVar[type[SubstrateConfig]]
    #: True when :meth:`twin` reproduces :meth:`measure` exactly (no noise, no quantisation)
    exact_twin: ClassVar[bool] = False
    #: True for linear stages: parameters ``(out, in + 1)`` and ``z = W [x, 1]``
    linear: ClassVar[bool] = False
    #: True for a whole network that relaxes to a minimum of an energy (layers coupled both
    #: ways, e.g. a resistive network): it forms a unit on its own, with no linear stage, and
    #: takes its hidden widths from its config
    energy_based: ClassVar[bool] = False

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        seed: int = 0,
        config: ConfigT | None = None,
    ) -> None:
        """Shape, seed, counters, the substrate's own random generator and its config
        (``config_class()`` defaults when ``config`` is None; a config object was validated when
        it was built), then :meth:`_build` sets up the physical state."""
        self._setup(in_features, out_features, seed, config)
        self._build()

    def _setup(
        self, in_features: int, out_features: int, seed: int, config: ConfigT | None
    ) -> None:
        """Everything a substrate has before its physics: shape, seed, counters, generator."""
        if in_features < 1 or out_features < 1:
            raise ConfigError(
                f"substrate needs in_features >= 1 and out_features >= 1, "
                f"got {in_features} x {out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.seed = int(seed)
        self.counters = Counters()
        self.generator = torch.Generator().manual_seed(self.seed)
        self._config: ConfigT = config if config is not None else cast(ConfigT, self.config_class())

    # --- the protocol -------------------------------------------------------------------------

    def measure(self, x: Tensor) -> Tensor:
        """One physical pass: ``(n, in_features) -> (n, out_features)``, no autograd.

        Counts ``n`` physical queries and one pass. The config's simulated ``latency`` is
        slept here, inside the timed region, so it counts in ``hardware_seconds``.
        """
        self._check_input(x)
        start = time.perf_counter()
        with torch.no_grad():
            out = self._measure(x.detach())
        latency = self._config.latency
        if latency > 0:
            time.sleep(latency)
        self.counters.hardware_seconds += time.perf_counter() - start
        if out.shape != (x.shape[0], self.out_features):
            raise MeasurementError(
                f"{self.name} substrate returned shape {tuple(out.shape)}, "
                f"expected {(x.shape[0], self.out_features)}"
            )
        self.counters.physical_queries += int(x.shape[0])
        self.counters.passes += 1
        return out

    def program(self, delta: Tensor) -> None:
        """Apply a requested change of the effective parameters, as the hardware would.

        ``delta`` has the shape of :meth:`parameter_shape`. What lands depends on the device
        physics (quantised, noisy, bounded steps on a crossbar), never an exact float write.
        """
        self._check_parameters("delta", delta)
        start = time.perf_counter()
        with torch.no_grad():
            self._program(delta.detach())
        self.counters.hardware_seconds += time.perf_counter() - start

    def read_parameters(self) -> Tensor:
        """Read the effective parameters back (shape :meth:`parameter_shape`)."""
        start = time.perf_counter()
        with torch.no_grad():
            params = self._read_parameters()
        self.counters.parameter_reads += 1
        self.counters.hardware_seconds += time.perf_counter() - start
        return params

    def program_to(self, target: Tensor, *, rounds: int = 8, tolerance: float = 0.0) -> float:
        """Closed-loop write-and-verify: read back, program the difference, repeat.

        Stops after ``rounds`` programming rounds or when the largest error is at most
        ``tolerance``. Returns the root-mean-square error of the final read-back (which, on
        hardware with read noise, includes that noise).
        """
        self._check_parameters("target", target)
        if target.numel() == 0:
            return 0.0
        target = target.detach()
        residual = target - self.read_parameters()
        for _ in range(rounds):
            if float(residual.abs().max()) <= tolerance:
                break
            self.program(residual)
            residual = target - self.read_parameters()
        return float(residual.pow(2).mean().sqrt())

    def twin(self) -> Callable[[Tensor, Tensor], Tensor] | None:
        """A differentiable model ``z = twin(x, params)`` of this substrate, or ``None``.

        Model-free rules never call this. The default is ``None`` (no model is known).
        """
        return None

    @classmethod
    def fixed_ports(cls, config: SubstrateConfig) -> tuple[int, int] | None:
        """``(input ports, output ports)`` when the config fixes them (a recording of a real
        system), else ``None`` (the substrate can be built at any size)."""
        return None

    @property
    def ports(self) -> tuple[int, int]:
        """``(input ports, output ports)`` of this system: ``(in_features, out_features)``."""
        return self.in_features, self.out_features

    def output_limit(self, x: Tensor) -> Tensor | None:
        """The largest ``|value|`` the physics can return for each sample of ``x``, shape
        ``(n, 1)``, or ``None`` when there is no such bound. A measurement beyond it is a
        glitch of the read-out chain, not physics (see :func:`pnnkit.network.measured`)."""
        return None

    def parameter_shape(self) -> tuple[int, ...]:
        """Shape of the programmable parameters: ``(out, in + 1)`` for a linear stage."""
        return (self.out_features, self.in_features + 1)

    def config(self) -> ConfigT:
        """The substrate's typed config (values that rebuild it, with its shape and seed)."""
        return self._config

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description: name, shape, seed and config."""
        return {
            "name": self.name,
            "in_features": self.in_features,
            "out_features": self.out_features,
            "seed": self.seed,
            "config": self.config().to_dict(),
        }

    # --- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: physical state, counters, RNG state."""
        return {
            "describe": self.describe(),
            "counters": self.counters.as_dict(),
            "generator": self.generator.get_state(),
            "physical": self._physical_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the saved substrate must have this one's kind, shape
        and config (physics from one config must not be loaded into another)."""
        saved = state["describe"]
        if (saved["name"], saved["in_features"], saved["out_features"]) != (
            self.name,
            self.in_features,
            self.out_features,
        ):
            raise ConfigError(
                f"saved substrate {saved['name']} {saved['in_features']}x"
                f"{saved['out_features']} does not match this {self.name} "
                f"{self.in_features}x{self.out_features}"
            )
        mine = self.config().to_dict()
        # the simulated latency is a property of the simulation, not of the physics
        differ = sorted(k for k in mine if k != "latency" and saved["config"].get(k) != mine[k])
        if differ:
            raise ConfigError(
                f"saved {self.name} substrate was built with other settings: "
                + ", ".join(f"{k} = {saved['config'].get(k)!r} (here {mine[k]!r})" for k in differ)
            )
        self.counters.load(state["counters"])
        self.generator.set_state(state["generator"])
        self._load_physical_state(state["physical"])

    # --- to implement ---------------------------------------------------------------------------

    @abstractmethod
    def _build(self) -> None:
        """Set up the physical state from ``self.config()``, drawing any fabrication
        randomness from ``self.generator``."""

    @abstractmethod
    def _measure(self, x: Tensor) -> Tensor: ...

    @abstractmethod
    def _program(self, delta: Tensor) -> None: ...

    @abstractmethod
    def _read_parameters(self) -> Tensor: ...

    @abstractmethod
    def _physical_state(self) -> dict[str, Tensor]: ...

    @abstractmethod
    def _load_physical_state(self, state: dict[str, Tensor]) -> None: ...

    # --- checks ---------------------------------------------------------------------------------

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise ShapeError(f"{self.name}.measure expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ShapeError(
                f"{self.name}.measure expects input of shape (n, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        if not all_finite(x):
            raise MeasurementError(f"{self.name}.measure received a non-finite (NaN/Inf) input")

    def _check_parameters(self, what: str, value: Tensor) -> None:
        if tuple(value.shape) != self.parameter_shape():
            raise ShapeError(
                f"{self.name}: {what} must have shape {self.parameter_shape()}, "
                f"got {tuple(value.shape)}"
            )
        if not all_finite(value):
            raise MeasurementError(f"{self.name}: {what} contains NaN or Inf")


def all_finite(values: Tensor) -> bool:
    """True when no entry is NaN or Inf. A finite sum proves it in one reduction with no new
    array (a NaN or an Inf makes the sum NaN or Inf), several times cheaper than
    ``isfinite(values).all()``, which matters on every measurement; only when the sum is not
    finite (a bad entry, or finite entries whose sum overflows) are the entries checked."""
    if values.numel() == 0:
        return True
    values = values.detach()
    return math.isfinite(float(values.sum())) or bool(torch.isfinite(values).all())
