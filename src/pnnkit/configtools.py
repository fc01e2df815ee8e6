"""Typed dataclass configs built from loose values (JSON, ``--set KEY=VALUE``), with errors that
name the field, the value and what is allowed. Every config class in pnnkit goes through here."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pnnkit.errors import ConfigError

T = TypeVar("T")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls(**values)`` for a dataclass, after rejecting unknown names (listing the known ones)
    and coercing each value to its field's type (nested config dataclasses from dicts);
    then ``validate()`` if the class has one."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{cls.__name__} expects a table of settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {known}")
    coerced = {name: coerce(f"{cls.__name__}.{name}", hints[name], v) for name, v in values.items()}
    config = cls(**coerced)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def coerce(name: str, kind: Any, value: Any) -> Any:
    """``value`` as a ``kind`` (int, float, bool, str, a config dataclass, or one of those or
    None: ``"none"`` and ``"null"`` read as None); other annotations (lists, wider unions) are
    passed through for the config's own ``validate``."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else ()
    if len(options) == 2 and type(None) in options:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        (kind,) = (o for o in options if o is not type(None))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return value if isinstance(value, kind) else build(kind, value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _wrong(name, value, "a number")
        try:
            number = float(value)
        except ValueError:
            raise _wrong(name, value, "a number") from None
        if not math.isfinite(number):
            raise _wrong(name, value, "a finite number")
        return number
    if kind is int:
        if isinstance(value, bool):
            raise _wrong(name, value, "an integer")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise _wrong(name, value, "an integer") from None
        if not isinstance(value, int):
            raise _wrong(name, value, "an integer")
        return value
    if kind is bool:
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        if not isinstance(value, bool):
            raise _wrong(name, value, "true or false")
        return value
    if kind is str and not isinstance(value, str):
        raise _wrong(name, value, "a string")
    return value


def check_types(config: Any) -> None:
    """Raise :class:`ConfigError` if a scalar field of a dataclass holds a value of the wrong
    type or a float field is not finite (for configs constructed directly in Python rather
    than through :func:`build`)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        kind, value = hints[f.name], getattr(config, f.name)
        options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
        if value is None and type(None) in options:
            continue
        if not any(_is_instance(value, option) for option in options):
            readable = " or ".join(getattr(o, "__name__", str(o)) for o in options)
            raise ConfigError(
                f"{type(config).__name__}.{f.name} = {value!r} is invalid: must be {readable}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"{type(config).__name__}.{f.name} = {value!r} is invalid: must be finite"
            )


def _is_instance(value: Any, kind: Any) -> bool:
    origin = typing.get_origin(kind) or kind
    if not isinstance(origin, type):
        return True
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin)


def _wrong(name: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{name} = {value!r} is invalid: must be {allowed}")


#: ``--set SECTION.NAME=VALUE`` sections and the config field holding each one's options
OVERRIDE_SECTIONS = {
    "substrate": "substrate_options",
    "stage": "stage_options",
    "rule": "rule_options",
}


def apply_overrides(values: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` strings (``epochs=10``, ``rule.beta=20``, ``substrate.levels=128``,
    ``rule.estimator.alpha=2``) to a config's field dict, in place, and return it. Values are
    read as JSON when they parse (numbers, booleans, lists), else as strings; the config's own
    ``from_dict`` then checks them."""
    for text in assignments:
        key, sep, raw = text.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        section, _, name = key.partition(".")
        if not name:
            values[key] = value
            continue
        target = OVERRIDE_SECTIONS.get(section)
        if target is None:
            raise ConfigError(
                f"--set {key}: unknown section {section!r}; "
                "use substrate.NAME, stage.NAME or rule.NAME"
            )
        if "." in name:  # rule.estimator.alpha
            outer, inner = name.split(".", 1)
            values[target].setdefault(outer, {})[inner] = value
        else:
            values[target][name] = value
    return values
