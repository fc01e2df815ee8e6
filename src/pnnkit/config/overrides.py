"""The ``--set KEY=VALUE`` language: a field (``epochs=10``), a section's option
(``rule.beta=20``), a nested option (``rule.estimator.alpha=2``) or the section's own name
(``substrate.name=mzi``), with the sections of the config's :class:`~pnnkit.config.layout.Layout`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pnnkit.config.layout import NAME_KEY, Layout
from pnnkit.errors import ConfigError


def apply_overrides(
    values: dict[str, Any], assignments: Sequence[str], layout: Layout | None = None
) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` strings to a config's field dict, in place, and return it. A dotted
    key starts with a section of ``layout`` and goes into the section's options, one table per
    further dot. Values are read by :func:`loose_value`; the config's own build checks them."""
    layout = layout or Layout()
    for text in assignments:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
        value = loose_value(raw)
        prefix, _, name = key.partition(".")
        if not name:
            values[key] = value
            continue
        section = layout.section(prefix)
        if section is None:
            use = f"use {layout.prefixes()}" if layout.sections else "this config has no sections"
            raise ConfigError(f"--set {key}: unknown section {prefix!r}; {use}")
        if name == NAME_KEY and prefix in values:  # substrate.name=mzi names the substrate
            values[prefix] = value
            continue
        *outer, last = name.split(".")
        table = _table(values, section.options, f"--set {key}")
        for part in outer:  # rule.estimator.alpha
            table = _table(table, part, f"--set {key}")
        table[last] = value
    return values


def loose_value(raw: str) -> Any:
    """A command-line value: JSON when it parses (numbers, booleans, lists), a list of words
    for an unquoted ``[a,b]`` (``unit_resources=[lab_a,lab_b]``), else the string itself."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or a number too long to read)
        pass
    text = raw.strip()
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]" and "[" not in text[1:-1]:
        inner = text[1:-1].strip()
        return [] if not inner else [loose_value(part.strip()) for part in inner.split(",")]
    return raw


def _table(values: dict[str, Any], name: str, context: str) -> dict[str, Any]:
    """``values[name]`` (created empty if missing), which must be a table."""
    table = values.setdefault(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{context}: {name} = {table!r} is invalid: must be a table of settings")
    return table
