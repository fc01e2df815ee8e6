"""Config files: TOML (Python's :mod:`tomllib`) or JSON in, TOML out.

A file's top-level keys are the config's fields; the sections of the config's
:class:`~pnnkit.config.layout.Layout` are tables (``[rule]``, ``[rule.estimator]``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pnnkit.config.build import did_you_mean
from pnnkit.config.layout import NAME_KEY, layout_of
from pnnkit.errors import ConfigError


def read_config_file(path: str | os.PathLike[str], cls: type) -> dict[str, Any]:
    """The settings a TOML or JSON file gives a ``cls`` config (a dict of its fields, not yet
    validated: :func:`pnnkit.config.resolve.resolve_config` merges and checks them).

    A ``.json`` file is read as JSON (e.g. the ``config.json`` of a run folder), anything else as
    TOML. Raises :class:`ConfigError` naming the file and the problem: an unreadable file, a
    syntax error with its line and column, an unknown key with the close matches.
    """
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise ConfigError(f"{where}: cannot read the config file ({reason})") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line, column = _position(data[: error.start].decode("utf-8", "replace"))
        raise ConfigError(
            f"{where}: not UTF-8 text (line {line}, column {column}: {error.reason})"
        ) from None
    if Path(path).suffix.lower() == ".json":
        raw = _parse_json(text, where)
    else:
        raw = _parse_toml(text, where)
    return file_values(raw, cls, where)


def _position(text: str) -> tuple[int, int]:
    """1-based line and column just after ``text``."""
    return text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1


def _parse_toml(text: str, where: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as error:  # e.g. an integer with thousands of digits
        raise ConfigError(f"{where}: not valid TOML: {error}") from None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{where}: not valid JSON: {error.msg} (at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid JSON: arrays or objects nested too deeply") from None
    except ValueError as error:  # e.g. an integer with thousands of digits
        raise ConfigError(f"{where}: not valid JSON: {error}") from None


def file_values(raw: Any, cls: type, where: str) -> dict[str, Any]:
    """The file layout (fields, section tables) as a dict of the fields of ``cls``, each field
    read from its file form; unknown keys are refused with the close matches."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: the top level must be a table of settings, got {type(raw).__name__}"
        )
    layout = layout_of(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    sections = {s.key: s.options for s in layout.sections if s.options in fields}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in sections and (isinstance(value, dict) or key not in fields):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}: {key} = {value!r} is invalid: must be a table ([{key}]) of the "
                    f"{key}'s settings"
                )
            target = sections[key]
            if target in raw:
                raise ConfigError(
                    f"{where}: both [{key}] and {target} set the {key}'s options; keep one"
                )
            options = dict(value)
            if key in fields and NAME_KEY in options:
                values[key] = options.pop(NAME_KEY)
            values[target] = options
        elif key in fields:
            form = layout.file_forms.get(key)
            if form is None:
                values[key] = value
            else:
                try:
                    values[key] = form(value)
                except ConfigError as error:
                    raise ConfigError(f"{where}: {error}") from None
        else:
            known = fields + [f"[{s}]" for s in sections]
            raise ConfigError(
                f"{where}: unknown key {key!r}{did_you_mean([key], fields + list(sections))}; "
                f"known keys: {', '.join(known)}"
            )
    return values


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dump_toml(document: Mapping[str, Any], *, header: str = "") -> str:
    """``document`` as TOML text: plain keys first, then one ``[table]`` per nested dict (with
    dotted headers for deeper ones). ``None`` has no TOML form: such a key is written as a
    comment (leaving it out gives the default, which is None for every optional setting).
    ``header`` lines are written first as comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _dump_table(document, (), lines)
    return "\n".join(lines).strip("\n") + "\n"


def _dump_table(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    for key, value in table.items():
        if isinstance(value, Mapping):
            continue
        if value is None:
            lines.append(f"# {_toml_key(key)} = (none: TOML has no null; leave out for none)")
        else:
            lines.append(f"{_toml_key(key)} = {toml_value(value, (*path, key))}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            inner = (*path, key)
            lines += ["", f"[{'.'.join(_toml_key(k) for k in inner)}]"]
            _dump_table(value, inner, lines)


def _toml_key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def toml_value(value: Any, path: tuple[str, ...]) -> str:
    """``value`` as a TOML value (``path``: where it is, for the error of one with no form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 'inf', '-inf' and 'nan' are TOML too
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v, path) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{_toml_key(k)} = {toml_value(v, (*path, str(k)))}" for k, v in value.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    where = ".".join(path)
    raise ConfigError(f"{where} = {value!r} cannot be written as TOML (inside an array or so)")


_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) < 0xE000:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
