"""Weight refresh: write-and-verify of the weights a local rule means its stages to hold.

A local rule programs every update open loop (``Substrate.program``): what lands is what the
devices did with the pulses, and a device that fails (stuck at G_min or G_max, dead) silently
takes its weight with it. The controller can keep, digitally, a *reference* of the weights it
intends each linear stage to hold: an averaged read-back when training starts, plus every change
it requests. Every ``every`` steps it re-programs each stage towards that reference by
write-and-verify (read back, program the difference, repeat), correcting only the entries
whose discrepancy is significant against the read noise and large against the weights. The
healthy device of a differential pair then compensates for a stuck partner, as in-silico
training's deployment does, and what cannot be compensated (both devices stuck, or the partner
at its bound) is rebased on what the hardware holds and left to in-situ learning.

This uses only read-back and programming, never a model of the physics: the rule stays
model-free. Write-and-verify is the standard way to program analog memory (e.g. Ambrogio et
al., Nature 558:60, 2018); refreshing the intended state after device failures follows the
"occasional refresh" of Burr et al., IEEE Trans. Electron Devices 62:3498, 2015. What it
recovers after stuck-device failures, and what it costs in device writes when nothing fails,
is measured in docs/BENCHMARKS.md (issue 6).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pnnkit.config import Validated, check_types
from pnnkit.errors import ConfigError
from pnnkit.network import PhysicalNetwork
from pnnkit.physics import Substrate


@dataclass
class WeightRefresh(Validated):
    """Settings of the weight refresh (``rule.refresh.*``).

    ``every``: steps between refreshes; 0 (the default) turns it off, so that a rule programs
    open loop as before. One epoch's steps is the measured setting (docs/BENCHMARKS.md).
    ``reads``: read-backs averaged per verification (8: the read noise of the mean falls by
    ``sqrt(8)``, and their spread estimates it). ``rounds``: write-and-verify rounds per refresh
    (8, as :meth:`~pnnkit.physics.Substrate.program_to`; soft-bounded devices approach a far
    target geometrically, so a few rounds come close to what stuck devices allow).
    ``threshold``: an entry is
    corrected only when its error exceeds this many standard errors of the averaged read (3: a
    correct entry is touched by chance about 2% of the time, a stuck device's error is tens of
    standard errors). ``tolerance``: and only when it exceeds this fraction of the rms of the
    stage's reference weights (0.25: a stuck device moves its weight by about the rms weight,
    while open-loop programming noise accumulates a small fraction of it over an epoch, which
    is left alone; with no such bound a fault-free run rewrites far more devices).
    """

    every: int = 0
    reads: int = 8
    rounds: int = 8
    threshold: float = 3.0
    tolerance: float = 0.25

    def validate(self) -> None:
        """Raise ConfigError naming the field and its allowed range."""
        check_types(self)
        for name, low in (("every", 0), ("reads", 2), ("rounds", 1)):
            if getattr(self, name) < low:
                raise ConfigError(
                    f"refresh.{name} = {getattr(self, name)!r} is invalid: must be an integer "
                    f">= {low}"
                )
        for name in ("threshold", "tolerance"):
            if not getattr(self, name) >= 0:
                raise ConfigError(
                    f"refresh.{name} = {getattr(self, name)!r} is invalid: must be >= 0"
                )

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values."""
        return dataclasses.asdict(self)


class StageRefresher:
    """Keeps each unit's reference weights and refreshes the stages towards them (see the module
    docstring). Inactive (no reads, no writes, no state) when ``config.every == 0``."""

    def __init__(self, network: PhysicalNetwork, config: WeightRefresh) -> None:
        self.network, self.config = network, config
        #: per unit, the weights the rule means its stage to hold (None before the first step)
        self.reference: list[Tensor] | None = None
        #: the step whose refresh was done last (a step retried after a bad batch is not
        #: refreshed twice)
        self.refreshed_at: int | None = None

    @property
    def active(self) -> bool:
        """True when refreshes are on."""
        return self.config.every > 0

    def before_step(self, step: int) -> None:
        """At the first step, read the starting weights; then every ``every`` steps, refresh.

        This is maintenance before the step's measurements, and it does not depend on the
        batch: a step then skipped for a bad measurement leaves the refresh done (the batch's
        own update is what is skipped), and the retried step does not refresh again."""
        if not self.active:
            return
        if self.reference is None:
            self.reference = [self.averaged_read(s)[0] for s in self._stages()]
        elif step % self.config.every == 0 and self.refreshed_at != step:
            self.refresh()
            self.refreshed_at = step

    def note(self, k: int, delta: Tensor) -> None:
        """Add the change requested for unit ``k``'s stage to its reference."""
        if self.reference is not None:
            self.reference[k] = self.reference[k] + delta

    def averaged_read(self, stage: Substrate) -> tuple[Tensor, Tensor]:
        """Mean of ``reads`` read-backs and the standard error of that mean, per entry."""
        reads = torch.stack([stage.read_parameters() for _ in range(self.config.reads)])
        return reads.mean(0), reads.std(0) / math.sqrt(self.config.reads)

    def discrepant(self, target: Tensor, held: Tensor, error: Tensor) -> Tensor:
        """Entries whose read-back is significantly and substantially off the target."""
        off = (target - held).abs()
        floor = self.config.tolerance * target.pow(2).mean().sqrt()
        return (off > self.config.threshold * error) & (off > floor)

    def refresh(self) -> None:
        """Write-and-verify every stage towards its reference; entries still off after the last
        round are rebased on what the hardware holds, so later refreshes leave them alone."""
        assert self.reference is not None
        for k, stage in enumerate(self._stages()):
            target = self.reference[k]
            for _ in range(self.config.rounds):
                held, error = self.averaged_read(stage)
                off = self.discrepant(target, held, error)
                if not off.any():
                    break
                stage.program(torch.where(off, target - held, torch.zeros_like(target)))
            held, error = self.averaged_read(stage)
            self.reference[k] = torch.where(self.discrepant(target, held, error), held, target)

    def _stages(self) -> list[Substrate]:
        return [unit.linear_stage for unit in self.network.units]

    def state_dict(self) -> dict[str, Any]:
        """The reference weights (None before the first step or when inactive)."""
        return {
            "reference": None if self.reference is None else list(self.reference),
            "refreshed_at": self.refreshed_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict (copies)."""
        saved = state["reference"]
        self.reference = None if saved is None else [t.clone() for t in saved]
        self.refreshed_at = state.get("refreshed_at")
