"""Typed dataclass configs built from loose values (config files, JSON, ``--set KEY=VALUE``),
with errors that name the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pnnkit.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class Validated:
    """Base of a config dataclass that checks itself when it is constructed: ``__post_init__``
    calls :meth:`validate`, so a config built from a file, from flags or by hand in Python is
    checked once, the moment it exists, and code that receives one never checks it again.
    A config is a value: change one by building a new one (``dataclasses.replace``,
    ``with_overrides``), not by assigning to its fields."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~pnnkit.errors.ConfigError` naming the first invalid field, its value
        and what is allowed (subclasses extend this, calling ``super().validate()`` first)."""
        check_types(self)


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls(**values)`` for a dataclass, after rejecting unknown names (listing the known ones)
    and coercing each value to its field's type (nested config dataclasses from dicts). A
    :class:`Validated` config checks itself as it is constructed; another class's
    ``validate()``, if it has one, is called here.

    A class whose fields were renamed keeps reading old files through a static method
    ``upgrade(values) -> values`` that maps old names and values to the new ones; it runs first.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{cls.__name__} expects a table of settings, got {values!r}")
    upgrade = getattr(cls, "upgrade", None)
    if upgrade is not None:
        values = upgrade(dict(values))
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cast("type[DataclassInstance]", cls))]
    unknown = sorted(set(values) - set(known), key=str)
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} field(s) {unknown}{did_you_mean(unknown, known)}; "
            f"known fields: {known}"
        )
    coerced = {name: coerce(f"{cls.__name__}.{name}", hints[name], v) for name, v in values.items()}
    config = cls(**coerced)
    validate = getattr(config, "validate", None)
    if validate is not None and not isinstance(config, Validated):
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


def did_you_mean(unknown: Sequence[Any], known: Sequence[str]) -> str:
    """`` (did you mean 'epochs'?)`` for the close matches of the unknown names, or ``""``."""
    close = [
        match
        for name in unknown
        if isinstance(name, str)
        for match in difflib.get_close_matches(name, known, n=2)
    ]
    close = list(dict.fromkeys(close))
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
