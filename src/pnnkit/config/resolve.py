"""One way to build a config: defaults < a config file < explicit values (command-line flags)
< ``--set`` assignments, validated once, when the config is built; and :class:`Config`, the
base of config classes that gives them ``from_dict``, ``to_dict`` and ``with_overrides``."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, cast

from pnnkit.config.build import Validated, build
from pnnkit.config.files import read_config_file
from pnnkit.config.layout import Layout, layout_of
from pnnkit.config.overrides import apply_overrides
from pnnkit.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")


def resolve_config(
    cls: type[T],
    *,
    path: str | os.PathLike[str] | None = None,
    flags: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> T:
    """A validated ``cls`` config from, in increasing precedence: the defaults, the config file
    at ``path``, the ``flags`` (field -> value, only those given explicitly) and the ``--set``
    ``assignments``.

    When the flags or assignments change the choice a section's options belong to (the
    ``chosen_by`` fields of the section: the method for ``[rule]``, the substrate), the file's
    entries in that section that merely repeat the defaults of the file's choice are dropped (a
    run's ``config.json`` lists every default); entries that differ are kept and must suit the
    new choice. An error caused by the file alone names the file.
    """
    base = dataclasses.asdict(cast("DataclassInstance", cls()))
    if path is not None:
        base.update(read_config_file(path, cls))
    merged = _merge(cls, base, flags, assignments)
    if path is not None:
        stale = _stale_defaults(cls, base, merged)
        if stale:
            trimmed = copy.deepcopy(base)
            for target, defaults in stale.items():
                if isinstance(trimmed.get(target), dict):
                    trimmed[target] = _without_defaults(trimmed[target], defaults)
            merged = _merge(cls, trimmed, flags, assignments)
    try:
        return build(cls, merged)
    except ConfigError as error:
        if path is None:
            raise
        try:
            build(cls, copy.deepcopy(base))
        except ConfigError as own:
            if str(own) == str(error):
                raise ConfigError(f"{path}: {error}") from None
        raise ConfigError(f"{error} (settings from {path} and the command line)") from None


def _merge(
    cls: type, base: dict[str, Any], flags: Mapping[str, Any] | None, assignments: Sequence[str]
) -> dict[str, Any]:
    values = copy.deepcopy(base)
    values.update(flags or {})
    return apply_overrides(values, assignments, layout_of(cls))


def _stale_defaults(
    cls: type, base: dict[str, Any], merged: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """For each options field whose choice changed from ``base`` to ``merged``: the resolved
    defaults of the base's choice (nothing when the base's choice is itself invalid)."""
    sections = layout_of(cls).sections
    changed = [
        s.options
        for s in sections
        if s.options in base and any(base.get(k) != merged.get(k) for k in s.chosen_by if k in base)
    ]
    if not changed or not hasattr(cls, "resolved"):
        return {}
    names = {k: base[k] for s in sections for k in s.chosen_by if k in base}
    try:
        defaults: dict[str, Any] = build(cls, names).resolved()
    except ConfigError:
        return {}
    return {target: defaults[target] for target in changed if target in defaults}


_MISSING = object()


def _without_defaults(options: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the entries equal to ``defaults`` (recursively into tables)."""
    kept: dict[str, Any] = {}
    for key, value in options.items():
        default = defaults.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = _without_defaults(value, default)
            if inner:
                kept[key] = inner
        elif _plain(value) != _plain(default):
            kept[key] = value
    return kept


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a value read from JSON or TOML equals the one in Python."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class Config(Validated):
    """The base of a run's config dataclass: validated when constructed (:class:`Validated`);
    building from loose values, the plain form, and ``--set`` strings applied, each through
    :func:`build`.
    ``LAYOUT`` (a plain class attribute, not a field) gives the config's sections."""

    LAYOUT: ClassVar[Layout] = Layout()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Build from loose values (JSON, command line), coercing types, then validate."""
        return build(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (what a run folder records)."""
        return dataclasses.asdict(cast("DataclassInstance", self))

    def with_overrides(self, assignments: Sequence[str]) -> Self:
        """This config with ``KEY=VALUE`` strings applied (``epochs=10``, ``rule.beta=20``,
        ``substrate.levels=128``; see :func:`pnnkit.config.overrides.apply_overrides`)."""
        return resolve_config(type(self), flags=self.to_dict(), assignments=assignments)
