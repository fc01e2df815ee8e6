"""What training has cost on the hardware: the counters every substrate keeps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pnnkit.errors import ConfigError


@dataclass
class Counters:
    """What training has cost on the hardware.

    ``physical_queries`` counts samples x passes (a batch of 256 measured once is 256 queries);
    ``passes`` counts calls to :meth:`~pnnkit.physics.protocol.Substrate.measure`;
    ``device_writes`` counts devices that received at least one programming pulse in an update
    (a crossbar weight is a pair of devices; stuck devices count, the pulses were sent); digital
    substrates count each changed parameter as one write and one pulse; ``programming_pulses``
    counts pulses; ``parameter_reads`` counts full read-backs of the parameter array;
    ``hardware_seconds`` is the wall time spent inside the substrate's measure, program and read
    calls (the rest of a training step is the rule's digital work).
    """

    physical_queries: int = 0
    passes: int = 0
    device_writes: int = 0
    programming_pulses: int = 0
    parameter_reads: int = 0
    #: wall time, excluded from equality (two identical runs never take the same time)
    hardware_seconds: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, float]:
        """The counters as a plain dict (what summaries and checkpoints store)."""
        return dataclasses.asdict(self)

    def load(self, values: dict[str, float]) -> None:
        """Set counters from a saved dict; an unknown name is a ConfigError."""
        for name, value in values.items():
            if not hasattr(self, name):
                raise ConfigError(f"unknown counter {name!r} in saved state")
            setattr(self, name, type(getattr(self, name))(value))

    def __add__(self, other: Counters) -> Counters:
        return Counters(**{k: v + getattr(other, k) for k, v in self.as_dict().items()})

    def __sub__(self, other: Counters) -> Counters:
        return Counters(**{k: v - getattr(other, k) for k, v in self.as_dict().items()})
