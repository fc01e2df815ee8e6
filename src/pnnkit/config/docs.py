"""Documentation of config fields, read from the ``Attributes:`` section of the class docstring."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from pnnkit.config.files import toml_value
from pnnkit.errors import ConfigError


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
        shown = "none" if default is None else toml_value(default, (f.name,))
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
