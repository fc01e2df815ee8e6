"""When faults happen during training: from the start, at an epoch, or growing by ramps.

A :class:`FaultSchedule` holds parsed faults (:mod:`pnnkit.faults.spec`) and a seed. The
training loop calls :meth:`FaultSchedule.apply` at the start of every epoch ``1..total``; it
raises each fault to the level due at that epoch on every substrate the fault targets (only the
increment since the last call is injected), and returns what it did, for the run folder's log.
Calls are idempotent (a second call for the same epoch does nothing) and catch up after a gap
(resuming at a later epoch injects everything due since). A drift process advances by the
epochs elapsed since its previous call.

Randomness: the draws for fault ``i`` on substrate ``j`` come from generators derived from
``(seed, i, j)`` (and the level reached), never from the substrates' own generators, so the
substrates' noise streams and the runs without faults are unchanged, and a resumed run injects
exactly what an uninterrupted one would. The injected defects themselves live in the
substrates' state (saved with the network's checkpoint); :meth:`FaultSchedule.state_dict` only
records how far each fault has gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pnnkit.errors import ConfigError
from pnnkit.faults.base import Fault, derived_seed
from pnnkit.faults.spec import fault_dicts, format_faults, parse_faults
from pnnkit.physics import Substrate

if TYPE_CHECKING:
    from pnnkit.network import PhysicalNetwork


class FaultSchedule:
    """Faults to inject into a network's substrates during training (module docstring).

    ``faults`` is a spec string, a list of tables (config-file form), a list of
    :class:`Fault` objects, or None (no faults).
    """

    def __init__(
        self,
        faults: str | Sequence[Mapping[str, Any]] | Sequence[Fault] | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.faults: list[Fault]
        if isinstance(faults, Sequence) and faults and all(isinstance(f, Fault) for f in faults):
            self.faults = [f for f in faults if isinstance(f, Fault)]
        else:
            self.faults = parse_faults(cast("str | Sequence[Mapping[str, Any]] | None", faults))
        self.seed = int(seed)
        #: level reached by fault i on substrate j (index in network.substrates())
        self._levels: dict[tuple[int, int], float] = {}

    def __bool__(self) -> bool:
        return bool(self.faults)

    # --- targets --------------------------------------------------------------------------------

    def targets(self, network: PhysicalNetwork) -> list[list[tuple[int, int, Substrate[Any]]]]:
        """For every fault, its targets ``(unit number, substrate index, substrate)``: the
        substrates of the selected units (all units by default) that support the kind, indexed
        as in ``network.substrates()``. Raises :class:`ConfigError` when a fault has none, or
        names a unit that does not exist or has nothing the kind supports."""
        located: list[tuple[int, int, Substrate[Any]]] = []
        for u, unit in enumerate(network.units, start=1):
            for substrate in unit.substrates:
                located.append((u, len(located), substrate))
        n_units = len(network.units)
        result = []
        for fault in self.faults:
            chosen = [t for t in located if fault.supports(t[2])]
            if fault.units is not None:
                for u in fault.units:
                    if u > n_units:
                        raise ConfigError(
                            f"fault {fault.kind}: unit {u} does not exist (the network has "
                            f"units 1-{n_units})"
                        )
                    if not any(t[0] == u for t in chosen):
                        names = [t[2].name for t in located if t[0] == u]
                        raise ConfigError(
                            f"fault {fault.kind}: unit {u} has no {fault.targets_text()} "
                            f"substrate (it has {names})"
                        )
                chosen = [t for t in chosen if t[0] in fault.units]
            if not chosen:
                names = sorted({t[2].name for t in located})
                raise ConfigError(
                    f"fault {fault.kind} applies to {fault.targets_text()} substrates; "
                    f"this network has only {names}"
                )
            result.append(chosen)
        return result

    def check(self, network: PhysicalNetwork) -> None:
        """Raise :class:`ConfigError` now if any fault cannot be applied to ``network``."""
        self.targets(network)

    # --- injection ------------------------------------------------------------------------------

    def apply(
        self, network: PhysicalNetwork, epoch: int, total_epochs: int
    ) -> list[dict[str, Any]]:
        """Inject what is due at the start of ``epoch`` (1-based, of ``total_epochs``).

        Returns one record per fault and substrate that changed: ``epoch``, ``kind``, ``unit``
        (1-based), ``substrate`` (index in ``network.substrates()``), ``name`` (the substrate
        kind), ``level`` (rate reached, or epochs elapsed for drift), ``new`` (items newly
        affected) and ``affected`` (items with this kind of fault now).
        """
        if total_epochs < 1 or not 1 <= epoch <= total_epochs:
            raise ConfigError(
                f"fault schedule: epoch {epoch} is outside 1..total_epochs = {total_epochs}"
            )
        records = []
        for i, (fault, targets) in enumerate(zip(self.faults, self.targets(network), strict=True)):
            level = fault.level(epoch, total_epochs)
            if level is None:
                continue
            for unit, j, substrate in targets:
                before = self._levels.get((i, j))
                if before is not None and level <= before:
                    continue
                new = fault.apply(substrate, derived_seed(self.seed, i, j), before, level)
                self._levels[(i, j)] = level
                records.append(
                    {
                        "epoch": epoch,
                        "kind": fault.kind,
                        "unit": unit,
                        "substrate": j,
                        "name": substrate.name,
                        "level": level,
                        "new": new,
                        "affected": fault.affected(substrate),
                    }
                )
        return records

    # --- description and state ------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable: the spec string, the faults as tables, and the seed."""
        return {
            "spec": format_faults(self.faults),
            "faults": fault_dicts(self.faults),
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, Any]:
        """How far every fault has gone (the defects live in the substrates' state)."""
        levels = [[i, j, level] for (i, j), level in sorted(self._levels.items())]
        return {"describe": self.describe(), "levels": levels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the saved schedule must have these faults and seed."""
        saved = state["describe"]
        if saved["faults"] != fault_dicts(self.faults) or saved["seed"] != self.seed:
            raise ConfigError(
                f"saved fault schedule {saved['spec']!r} (seed {saved['seed']}) does not match "
                f"this one {format_faults(self.faults)!r} (seed {self.seed})"
            )
        self._levels = {(int(i), int(j)): float(level) for i, j, level in state["levels"]}
