"""What every fault kind shares: the :class:`Fault` base (validation, timing, injection), the
counted-defect family, and the seeded draws (see :mod:`pnnkit.faults.models` for the kinds)."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from pnnkit.errors import ConfigError
from pnnkit.physics import SUBSTRATES, Substrate


def derived_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed from ``(seed, *keys)`` through numpy's SeedSequence: distinct keys give
    independent streams, the same keys always the same one."""
    words = [w for v in (seed, *keys) for w in (int(v) & 0xFFFFFFFF, (int(v) >> 32) & 0xFFFFFFFF)]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def derived_generator(seed: int, *keys: int) -> torch.Generator:
    """A torch generator seeded with :func:`derived_seed` of ``(seed, *keys)``."""
    return torch.Generator().manual_seed(derived_seed(seed, *keys))


def _level_key(level: float) -> int:
    """An integer key for a level (a rate or an elapsed time), for :func:`derived_generator`."""
    return round(level * 2**24)


def choose(
    candidates: Tensor, count: int, generator: torch.Generator, weights: Tensor | None = None
) -> Tensor:
    """A boolean mask of ``count`` entries drawn without replacement among ``candidates``
    (uniformly, or in proportion to ``weights``); fewer if there are not enough."""
    index = candidates.flatten().nonzero().flatten()
    count = min(int(count), int(index.numel()))
    chosen = torch.zeros(candidates.numel(), dtype=torch.bool)
    if count <= 0:
        return chosen.view(candidates.shape)
    if weights is None:
        pick = torch.randperm(index.numel(), generator=generator)[:count]
    else:
        w = weights.flatten()[index].double() + 1e-300
        pick = torch.multinomial(w, count, replacement=False, generator=generator)
    chosen[index[pick]] = True
    return chosen.view(candidates.shape)


@dataclass
class Fault(ABC):
    """One fault: kind, rate, when it starts, how it grows, and which units it hits.

    Attributes:
        rate: the level reached at the start epoch (a fraction or probability, or, for drift
            processes, the rate per epoch).
        ramp_to: if set, the level grows linearly from ``rate`` at ``epoch`` to ``ramp_to`` at
            the last epoch (counted defects and ``read_bursts`` only).
        epoch: first epoch the fault is present (1: from the start).
        units: 1-based unit numbers to hit (None: every unit with a substrate the kind
            supports).
    """

    rate: float
    ramp_to: float | None = None
    epoch: int = 1
    units: tuple[int, ...] | None = None

    #: name in the spec language
    kind: ClassVar[str]
    #: the capability (:mod:`pnnkit.physics.capabilities`) a substrate needs to have this fault
    capability: ClassVar[type]
    #: True for drift processes (level = elapsed epochs, rate per epoch)
    process: ClassVar[bool] = False
    #: what ``rate`` means, for messages and docs
    meaning: ClassVar[str] = "fraction"
    #: largest allowed rate
    max_rate: ClassVar[float] = 1.0

    # --- validation -----------------------------------------------------------------------------

    def __post_init__(self) -> None:
        """A fault is validated once, when it is built: an object that exists is valid."""
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field, value and allowed range."""
        self._require("rate", 0 <= self.rate <= self.max_rate, f"in [0, {self.max_rate}]")
        if self.ramp_to is not None:
            if self.process:
                raise ConfigError(
                    f"fault {self.kind}: a drift process takes a rate per epoch; "
                    f"ramps (rate->target) are only for defect counts and read_bursts"
                )
            self._require(
                "ramp_to",
                self.rate <= self.ramp_to <= self.max_rate,
                f"in [rate = {self.rate}, {self.max_rate}] (faults do not heal)",
            )
        self._require("epoch", isinstance(self.epoch, int) and self.epoch >= 1, "an integer >= 1")
        if self.units is not None:
            ok = len(self.units) > 0 and all(isinstance(u, int) and u >= 1 for u in self.units)
            self._require("units", ok, "a non-empty list of unit numbers >= 1")

    def _require(self, name: str, ok: bool, allowed: str) -> None:
        if not ok:
            raise ConfigError(
                f"fault {self.kind}: {name} = {getattr(self, name)!r} is invalid: must be {allowed}"
            )

    def options(self) -> dict[str, Any]:
        """The kind-specific fields (not rate, ramp_to, epoch, units) and their values."""
        common = {f.name for f in dataclasses.fields(Fault)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in common
        }

    # --- targets --------------------------------------------------------------------------------

    def supports(self, substrate: Substrate[Any]) -> bool:
        """Whether this kind of fault can happen to ``substrate``: whether it has the kind's
        capability."""
        return isinstance(substrate, self.capability)

    @classmethod
    def target_names(cls) -> list[str]:
        """The registered substrates that have this kind's capability, by name."""
        return sorted(name for name, sub in SUBSTRATES.items() if issubclass(sub, cls.capability))

    @classmethod
    def targets_text(cls) -> str:
        """``"crossbar or mzi"``: the substrates the kind applies to, for messages."""
        return " or ".join(cls.target_names()) or f"no registered ({cls.capability.__name__})"

    def check(self, substrate: Substrate[Any]) -> None:
        """Raise :class:`ConfigError` if ``substrate`` cannot have this fault."""
        if not self.supports(substrate):
            raise ConfigError(
                f"fault {self.kind} applies to {self.targets_text()} substrates, "
                f"not to a {substrate.name} substrate"
            )

    # --- timing ---------------------------------------------------------------------------------

    def level(self, epoch: int, total_epochs: int) -> float | None:
        """The level due at the start of ``epoch`` (None before the fault starts): the rate, a
        point on the ramp, or for a drift process the epochs elapsed since it started."""
        if epoch < self.epoch:
            return None
        if self.process:
            return float(epoch - self.epoch)
        if self.ramp_to is None:
            return self.rate
        span = total_epochs - self.epoch
        frac = 1.0 if span <= 0 else min(1.0, (epoch - self.epoch) / span)
        return self.rate + (self.ramp_to - self.rate) * frac

    # --- injection ------------------------------------------------------------------------------

    def apply(
        self,
        substrate: Substrate[Any],
        seed: int,
        before: float | None = None,
        after: float | None = None,
    ) -> int:
        """Raise this fault's level on ``substrate`` from ``before`` (None: not yet present) to
        ``after`` (default: ``rate``, or 0 elapsed epochs for a process); returns the number of
        newly affected items (devices, lines, pixels; 0 for processes).

        ``seed`` identifies this fault on this substrate and must stay the same from call to
        call (the schedule derives it from its own seed, the fault and the substrate): spatial
        layouts (cluster centres, drift exponents) come from it alone, and each increment from
        it and ``before``, so injection is reproducible whatever the order and resumes exactly.
        """
        self.check(substrate)
        if after is None:
            after = 0.0 if self.process else self.rate
        return self._apply(substrate, int(seed), before, float(after))

    @abstractmethod
    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int: ...

    @abstractmethod
    def affected(self, substrate: Any) -> int:
        """How many items of ``substrate`` have this kind of fault now."""


class Counted(Fault):
    """A counted defect: ``round(level N)`` of ``N`` items are defective."""

    def _apply(self, substrate: Any, seed: int, before: float | None, after: float) -> int:
        start = 0.0 if before is None else before
        total = self.population(substrate)
        count = round(after * total) - round(start * total)
        if count <= 0:
            return 0
        generator = derived_generator(seed, 1, _level_key(start))
        return self._inject(substrate, seed, count, generator)

    @abstractmethod
    def population(self, substrate: Any) -> int:
        """``N``: how many devices, lines or pixels the rate is a fraction of."""

    @abstractmethod
    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int: ...


class Masked(Counted):
    """A counted defect kept as a boolean mask on the substrate (dead lines, unresponsive
    devices, dead pixels): ``count`` items are drawn from :meth:`candidates` and marked."""

    @abstractmethod
    def defective(self, substrate: Any) -> Tensor:
        """The mask of the items that have this fault now."""

    @abstractmethod
    def mark(self, substrate: Any, chosen: Tensor) -> None:
        """Give the items in the mask ``chosen`` this fault."""

    def candidates(self, substrate: Any) -> Tensor:
        """The items that can still get this fault (default: those that do not have it)."""
        return ~self.defective(substrate)

    def population(self, substrate: Any) -> int:
        return int(self.defective(substrate).numel())

    def affected(self, substrate: Any) -> int:
        return int(self.defective(substrate).sum())

    def _inject(self, substrate: Any, seed: int, count: int, generator: torch.Generator) -> int:
        chosen = choose(self.candidates(substrate), count, generator)
        self.mark(substrate, chosen)
        return int(chosen.sum())
