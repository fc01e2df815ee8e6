"""The fault spec language: a short string (command line) or a list of tables (config file).

Grammar (spaces are ignored; ``[...]`` optional, ``|`` alternatives)::

    spec   := entry (";" entry)*
    entry  := KIND ":" amount ("," option)* ["@" when]
    amount := NUMBER ["/epoch"]          a level, or a rate per epoch for drift kinds
            | NUMBER "->" NUMBER         a ramp: grows linearly to the second number by the
                                         last epoch (defect counts and read_bursts only)
    option := KEY "=" VALUE              a kind-specific option (see pnnkit.faults.models)
            | "units=" UNITS             1-based unit numbers to hit: 1,3 or 2-4 (a bare number
                                         or range after units= continues the list)
    when   := "start" | "epoch=" INTEGER  first epoch the fault is present (default: start)

Examples::

    stuck:0.2@epoch=30                     20% of crossbar devices stuck from epoch 30 on
    stuck:0.4,pattern=clustered,high=0.84  40% stuck in clusters, 84% of them at G_max
    dead_camera:0.1;phase_drift:0.02/epoch 10% dead camera pixels and a drifting medium
    stuck:0.05->0.4                        5% stuck at the start, 40% by the last epoch
    dead_cols:0.1,units=1,3                dead bit lines in units 1 and 3 only
    drift:0.05,spread=0.2                  power-law drift, nu about 0.05

The config-file form is a list of tables with the same names: ``{"kind": "stuck", "rate":
0.05, "ramp_to": 0.4, "epoch": 1, "units": [1, 3], "pattern": "clustered"}``.
:func:`format_faults` and :func:`fault_dicts` write the two forms back (round trips).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pnnkit.errors import ConfigError
from pnnkit.faults.base import Fault
from pnnkit.faults.models import FAULT_KINDS

_COMMON = ("rate", "ramp_to", "epoch", "units")


def _kinds() -> str:
    return ", ".join(sorted(FAULT_KINDS))


def _keys(cls: type[Fault]) -> list[str]:
    return ["units"] + [f.name for f in dataclasses.fields(cls) if f.name not in _COMMON]


def _number(token: str, text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"fault spec: {what} {text!r} in {token!r} is not a number") from None


def _integer(token: str, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"fault spec: {what} {text!r} in {token!r} is not an integer") from None


def _units(token: str, text: str) -> list[int]:
    """``"3"`` or ``"2-4"`` as unit numbers."""
    if "-" in text:
        lo, _, hi = text.partition("-")
        a, b = _integer(token, lo, "unit"), _integer(token, hi, "unit")
        if b < a:
            raise ConfigError(f"fault spec: empty unit range {text!r} in {token!r}")
        return list(range(a, b + 1))
    return [_integer(token, text, "unit")]


def _coerce(cls: type[Fault], name: str, value: Any, where: str) -> Any:
    """A kind-specific option's value as the type of its default."""
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"fault {cls.kind}: {name} = {value!r} in {where} is not a {type(default).__name__}"
        ) from None


def _build(cls: type[Fault], values: dict[str, Any], where: str) -> Fault:
    unknown = sorted(set(values) - set(_COMMON) - set(_keys(cls)))
    if unknown:
        raise ConfigError(
            f"fault {cls.kind}: unknown key(s) {unknown} in {where}; keys of {cls.kind}: "
            f"{_keys(cls)} (and rate, ramp_to, epoch in the table form)"
        )
    if "rate" not in values:
        raise ConfigError(f"fault {cls.kind}: no rate in {where}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("rate", "ramp_to"):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ConfigError(
                    f"fault {cls.kind}: {name} = {value!r} in {where} is not a number"
                )
            kwargs[name] = None if value is None else float(value)
        elif name == "epoch":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(
                    f"fault {cls.kind}: epoch = {value!r} in {where} is not an integer"
                )
            kwargs[name] = value
        elif name == "units":
            if value is None:
                kwargs[name] = None
            elif isinstance(value, Sequence) and not isinstance(value, str):
                if not all(isinstance(u, int) and not isinstance(u, bool) for u in value):
                    raise ConfigError(
                        f"fault {cls.kind}: units = {value!r} in {where} must be integers"
                    )
                kwargs[name] = tuple(value)
            else:
                raise ConfigError(f"fault {cls.kind}: units = {value!r} in {where} must be a list")
        else:
            kwargs[name] = _coerce(cls, name, value, where)
    return cls(**kwargs)


def _parse_entry(token: str) -> Fault:
    body, at, when = token.partition("@")
    head, _, rest = body.partition(",")
    kind, colon, amount = head.partition(":")
    if kind not in FAULT_KINDS:
        raise ConfigError(
            f"fault spec: unknown fault kind {kind!r} in {token!r}; kinds: {_kinds()}"
        )
    cls = FAULT_KINDS[kind]
    if not colon or not amount:
        raise ConfigError(f"fault spec: {token!r} needs a rate, as in {kind}:0.1")
    values: dict[str, Any] = {}
    if "->" in amount:
        lo, _, hi = amount.partition("->")
        values["rate"] = _number(token, lo, "rate")
        values["ramp_to"] = _number(token, hi, "ramp target")
    else:
        if amount.endswith("/epoch"):
            if not cls.process:
                raise ConfigError(
                    f"fault spec: {kind} is a level ({cls.meaning}), not a rate per epoch, "
                    f"in {token!r}; only drift and phase_drift take /epoch"
                )
            amount = amount[: -len("/epoch")]
        values["rate"] = _number(token, amount, "rate")
    units: list[int] | None = None
    continuing = False  # a bare value continues units= (and nothing else)
    for option in rest.split(",") if rest else []:
        key, eq, value = option.partition("=")
        if not eq:
            if not continuing or units is None:
                raise ConfigError(
                    f"fault spec: {option!r} in {token!r} is not KEY=VALUE; keys of {kind}: "
                    f"{_keys(cls)}"
                )
            units.extend(_units(token, option))
            continue
        continuing = key == "units"
        if continuing:
            units = _units(token, value)
            continue
        if key not in _keys(cls):
            raise ConfigError(
                f"fault spec: unknown key {key!r} in {token!r}; keys of {kind}: {_keys(cls)}"
            )
        values[key] = value
    if units is not None:
        values["units"] = units
    if at:
        if when == "start":
            values["epoch"] = 1
        elif when.startswith("epoch="):
            values["epoch"] = _integer(token, when[len("epoch=") :], "epoch")
        else:
            raise ConfigError(
                f"fault spec: {'@' + when!r} in {token!r}: expected @start or @epoch=E"
            )
    return _build(cls, values, repr(token))


def parse_faults(spec: str | Sequence[Mapping[str, Any]] | None) -> list[Fault]:
    """Faults from a spec string or a list of tables (see the module docstring); ``None`` or
    an empty string gives no faults. Raises :class:`ConfigError` naming the bad token."""
    if spec is None:
        return []
    if isinstance(spec, str):
        text = "".join(spec.split())
        return [_parse_entry(token) for token in text.split(";") if token]
    if not isinstance(spec, Sequence):
        raise ConfigError(f"faults must be a spec string or a list of tables, got {spec!r}")
    faults = []
    for i, table in enumerate(spec):
        if not isinstance(table, Mapping) or "kind" not in table:
            raise ConfigError(f"faults[{i}] = {table!r} must be a table with a 'kind'")
        kind = table["kind"]
        if not isinstance(kind, str) or kind not in FAULT_KINDS:
            raise ConfigError(f"faults[{i}]: unknown fault kind {kind!r}; kinds: {_kinds()}")
        values = {k: v for k, v in table.items() if k != "kind"}
        faults.append(_build(FAULT_KINDS[kind], values, f"faults[{i}]"))
    return faults


def _fmt(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def format_faults(faults: Sequence[Fault]) -> str:
    """The spec string of ``faults`` (``parse_faults`` gives them back); non-default options
    only."""
    entries = []
    for fault in faults:
        amount = _fmt(fault.rate)
        if fault.ramp_to is not None:
            amount += "->" + _fmt(fault.ramp_to)
        elif fault.process:
            amount += "/epoch"
        parts = [f"{fault.kind}:{amount}"]
        defaults = type(fault)(rate=fault.rate).options()
        for key, value in fault.options().items():
            if value != defaults[key]:
                parts.append(f"{key}={_fmt(value) if isinstance(value, float) else value}")
        if fault.units is not None:
            parts.append("units=" + ",".join(str(u) for u in fault.units))
        entry = ",".join(parts)
        if fault.epoch != 1:
            entry += f"@epoch={fault.epoch}"
        entries.append(entry)
    return ";".join(entries)


def fault_dicts(faults: Sequence[Fault]) -> list[dict[str, Any]]:
    """The table form of ``faults`` (JSON-serialisable; ``parse_faults`` gives them back)."""
    tables = []
    for fault in faults:
        table: dict[str, Any] = {"kind": fault.kind, "rate": fault.rate}
        if fault.ramp_to is not None:
            table["ramp_to"] = fault.ramp_to
        table["epoch"] = fault.epoch
        if fault.units is not None:
            table["units"] = list(fault.units)
        table.update(fault.options())
        tables.append(table)
    return tables
