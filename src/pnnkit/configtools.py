"""Typed dataclass configs built from loose values (config files, JSON, ``--set KEY=VALUE``),
with errors that name the field, the value and what is allowed. Every config class in pnnkit goes
through here.

Config files (:func:`read_config_file`) are TOML (Python's :mod:`tomllib`) or JSON. Their
top-level keys are the config's fields; the tables ``[substrate]``, ``[stage]`` and ``[rule]``
(:data:`OVERRIDE_SECTIONS`) hold the options of the substrate, the stage and the rule, nested as
the configs nest (``[rule.estimator]``); ``name`` in ``[substrate]`` or ``[stage]`` names the
substrate or stage itself. :func:`resolve_config` merges defaults, a file, command-line flags and
``--set`` assignments, in that order of precedence; :func:`dump_toml` writes a config back.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import json
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pnnkit.errors import ConfigError

T = TypeVar("T")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls(**values)`` for a dataclass, after rejecting unknown names (listing the known ones)
    and coercing each value to its field's type (nested config dataclasses from dicts);
    then ``validate()`` if the class has one.

    A class whose fields were renamed keeps reading old files through a static method
    ``upgrade(values) -> values`` that maps old names and values to the new ones; it runs first.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{cls.__name__} expects a table of settings, got {values!r}")
    upgrade = getattr(cls, "upgrade", None)
    if upgrade is not None:
        values = upgrade(dict(values))
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known), key=str)
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} field(s) {unknown}{_did_you_mean(unknown, known)}; "
            f"known fields: {known}"
        )
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
    ``rule.estimator.alpha=2``, ``substrate.name=mzi``) to a config's field dict, in place, and
    return it. Values are read as JSON when they parse (numbers, booleans, lists), an unquoted
    ``[a,b]`` as a list of words, else as strings; the config's own ``from_dict`` then checks
    them."""
    for text in assignments:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
        value = _loose_value(raw)
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
        if name == "name" and section in values:  # substrate.name=mzi names the substrate
            values[section] = value
            continue
        table = _table(values, target, f"--set {key}")
        if "." in name:  # rule.estimator.alpha
            outer, inner = name.split(".", 1)
            table.setdefault(outer, {})
            _table(table, outer, f"--set {key}")[inner] = value
        else:
            table[name] = value
    return values


def _loose_value(raw: str) -> Any:
    """A command-line value: JSON when it parses (numbers, booleans, lists), a list of words
    for an unquoted ``[a,b]`` (``unit_resources=[lab_a,lab_b]``), else the string itself."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or a number too long to read)
        pass
    text = raw.strip()
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]" and "[" not in text[1:-1]:
        inner = text[1:-1].strip()
        return [] if not inner else [_loose_value(part.strip()) for part in inner.split(",")]
    return raw


def _table(values: dict[str, Any], name: str, context: str) -> dict[str, Any]:
    """``values[name]`` (created empty if missing), which must be a table."""
    table = values.setdefault(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{context}: {name} = {table!r} is invalid: must be a table of settings")
    return table


def _did_you_mean(unknown: Sequence[Any], known: Sequence[str]) -> str:
    """`` (did you mean 'epochs'?)`` for the close matches of the unknown names, or ``""``."""
    close = [
        match
        for name in unknown
        if isinstance(name, str)
        for match in difflib.get_close_matches(name, known, n=2)
    ]
    close = list(dict.fromkeys(close))
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


# -- config files --------------------------------------------------------------------------------

#: the key of a ``[substrate]`` or ``[stage]`` table that names the substrate or stage itself
NAME_KEY = "name"


def read_config_file(path: str | os.PathLike[str], cls: type) -> dict[str, Any]:
    """The settings a TOML or JSON file gives a ``cls`` config (a dict of its fields, not yet
    validated: :func:`resolve_config` merges and checks them).

    A ``.json`` file is read as JSON (e.g. the ``config.json`` of a run folder), anything else as
    TOML. Keys are the fields of ``cls``; the tables of :data:`OVERRIDE_SECTIONS` map to the
    option fields (``[substrate]`` to ``substrate_options``, ``name`` in it to ``substrate``);
    a ``faults`` field may also be a list of tables (the table form of
    :mod:`pnnkit.faults.spec`). Raises :class:`ConfigError` naming the file and the problem: an
    unreadable file, a syntax error with its line and column, an unknown key with the close
    matches.
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
    """The file layout (fields, ``[substrate]``/``[stage]``/``[rule]`` tables) as a dict of the
    fields of ``cls``; unknown keys are refused with the close matches."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: the top level must be a table of settings, got {type(raw).__name__}"
        )
    fields = [f.name for f in dataclasses.fields(cls)]
    sections = [s for s, target in OVERRIDE_SECTIONS.items() if target in fields]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in sections and (isinstance(value, dict) or key not in fields):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}: {key} = {value!r} is invalid: must be a table ([{key}]) of the "
                    f"{key}'s settings"
                )
            target = OVERRIDE_SECTIONS[key]
            if target in raw:
                raise ConfigError(
                    f"{where}: both [{key}] and {target} set the {key}'s options; keep one"
                )
            options = dict(value)
            if key in fields and NAME_KEY in options:
                values[key] = options.pop(NAME_KEY)
            values[target] = options
        elif key in fields:
            values[key] = _fault_tables(value, where) if key == "faults" else value
        else:
            known = fields + [f"[{s}]" for s in sections]
            raise ConfigError(
                f"{where}: unknown key {key!r}{_did_you_mean([key], fields + sections)}; "
                f"known keys: {', '.join(known)}"
            )
    return values


def _fault_tables(value: Any, where: str) -> Any:
    """A ``faults`` list of tables as the equivalent spec string (other values unchanged)."""
    if not isinstance(value, list):
        return value
    from pnnkit.faults import format_faults, parse_faults

    for index, table in enumerate(value):
        if not isinstance(table, dict) or not isinstance(table.get("kind"), str):
            raise ConfigError(
                f"{where}: faults[{index}] = {table!r} is invalid: must be a table with a "
                f"'kind' string (e.g. {{kind = \"stuck\", rate = 0.2}})"
            )
    try:
        return format_faults(parse_faults(value))
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def resolve_config(
    cls: type[T],
    *,
    path: str | os.PathLike[str] | None = None,
    flags: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> T:
    """A validated ``cls`` config from, in increasing precedence: the defaults, the config file
    at ``path``, the command-line ``flags`` (field -> value, only those given explicitly) and
    the ``--set`` ``assignments``.

    When the flags or assignments change the choice a section's options belong to (``method``
    or ``task`` for ``[rule]``, ``substrate``, ``stage``), the file's entries in that section
    that merely repeat the defaults of the file's choice are dropped (a run's ``config.json``
    lists every default); entries that differ are kept and must suit the new choice. An error
    caused by the file alone names the file.
    """
    base = dataclasses.asdict(cls())  # type: ignore[call-overload]
    if path is not None:
        base.update(read_config_file(path, cls))
    merged = _merge(base, flags, assignments)
    if path is not None:
        stale = _stale_defaults(cls, base, merged)
        if stale:
            trimmed = copy.deepcopy(base)
            for target, defaults in stale.items():
                if isinstance(trimmed.get(target), dict):
                    trimmed[target] = _without_defaults(trimmed[target], defaults)
            merged = _merge(trimmed, flags, assignments)
    try:
        return cls.from_dict(merged)  # type: ignore[attr-defined, no-any-return]
    except ConfigError as error:
        if path is None:
            raise
        try:
            cls.from_dict(copy.deepcopy(base))  # type: ignore[attr-defined]
        except ConfigError as own:
            if str(own) == str(error):
                raise ConfigError(f"{path}: {error}") from None
        raise ConfigError(f"{error} (settings from {path} and the command line)") from None


def _merge(
    base: dict[str, Any], flags: Mapping[str, Any] | None, assignments: Sequence[str]
) -> dict[str, Any]:
    values = copy.deepcopy(base)
    values.update(flags or {})
    return apply_overrides(values, list(assignments))


#: the fields whose values choose what each options field configures
_CHOSEN_BY = {
    "substrate_options": ("substrate",),
    "stage_options": ("stage",),
    "rule_options": ("method", "task"),
}


def _stale_defaults(
    cls: type, base: dict[str, Any], merged: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """For each options field whose choice changed from ``base`` to ``merged``: the resolved
    defaults of the base's choice (nothing when the base's choice is itself invalid)."""
    changed = [
        target
        for target, keys in _CHOSEN_BY.items()
        if target in base and any(base.get(k) != merged.get(k) for k in keys if k in base)
    ]
    if not changed or not hasattr(cls, "resolved"):
        return {}
    names = {k: base[k] for keys in _CHOSEN_BY.values() for k in keys if k in base}
    try:
        defaults = cls.from_dict(names).resolved()  # type: ignore[attr-defined]
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


def file_layout(values: Mapping[str, Any]) -> dict[str, Any]:
    """A config's field dict in the file layout: ``substrate`` and ``substrate_options`` become
    the ``[substrate]`` table with ``name`` first, likewise ``stage``; ``rule_options`` becomes
    ``[rule]``. The inverse of :func:`file_values`."""
    document: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for key, value in values.items():
        section = next((s for s, t in OVERRIDE_SECTIONS.items() if t == key), None)
        if section is not None and isinstance(value, dict):
            named = {NAME_KEY: values[section]} if section in values else {}
            tables[section] = {**named, **value}
        elif key in OVERRIDE_SECTIONS and OVERRIDE_SECTIONS[key] in values:
            continue  # the name goes into the section's table
        else:
            document[key] = value
    return {**document, **tables}


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
            lines.append(f"{_toml_key(key)} = {_toml_value(value, (*path, key))}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            inner = (*path, key)
            lines += ["", f"[{'.'.join(_toml_key(k) for k in inner)}]"]
            _dump_table(value, inner, lines)


def _toml_key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any, path: tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 'inf', '-inf' and 'nan' are TOML too
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, path) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{_toml_key(k)} = {_toml_value(v, (*path, str(k)))}" for k, v in value.items()]
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


# -- documentation of config fields -------------------------------------------------------------


def field_docs(cls: type) -> dict[str, str]:
    """Each field's description from the ``Attributes:`` section of the class docstring (one
    entry may document several fields: ``a, b: text``), joined into one line."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    _, found, section = doc.partition("Attributes:")
    if not found:
        return {}
    docs: dict[str, str] = {}
    names: list[str] = []
    entry = re.compile(r"    (\w+(?:, \w+)*): (.*)")
    for line in section.splitlines():
        if line.strip() and not line.startswith("    "):
            break  # the next section
        match = entry.fullmatch(line)
        if match:
            names = match.group(1).split(", ")
            for name in names:
                docs[name] = match.group(2).strip()
        elif line.strip() and names:
            for name in names:
                docs[name] += " " + line.strip()
    return docs


def markdown_fields(cls: type) -> str:
    """A Markdown table of the fields of ``cls``: name, type, default and meaning (from
    :func:`field_docs`). Raises :class:`ConfigError` for an undocumented field."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name not in docs:
            raise ConfigError(
                f"{cls.__name__}.{f.name} has no entry in the Attributes section of the "
                f"{cls.__name__} docstring"
            )
        default = getattr(cls(), f.name)
        shown = "none" if default is None else _toml_value(default, (f.name,))
        kind = _cell(_type_name(hints[f.name]))
        rows.append(
            f"| `{f.name}` | {kind} | `{_cell(shown)}` | {_cell(_markdown(docs[f.name]))} |"
        )
    return "\n".join(rows)


def _type_name(kind: Any) -> str:
    if isinstance(kind, type) and not typing.get_args(kind):
        return kind.__name__
    return re.sub(r"\btyping\.", "", str(kind)).replace("NoneType", "None")


def _markdown(text: str) -> str:
    """Docstring markup as Markdown: ``code`` and :role:`target` as `code`."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
