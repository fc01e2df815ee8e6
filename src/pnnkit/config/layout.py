"""How a config's fields are laid out in files and on the command line.

A config class names its *sections* once, in a class attribute ``LAYOUT`` (a :class:`Layout`):
a section is a table of a config file (``[rule]``, nested as the configs nest:
``[rule.estimator]``) and a ``--set`` prefix (``rule.beta=20``), and both hold the options of one
field (``rule_options``). The ``name`` entry of a section names the field of the section's own
name where the config has one (``[substrate]`` with ``name = "mzi"`` sets ``substrate``).
``chosen_by`` lists the fields whose values choose what the options configure (the substrate,
the method), so that a file's defaults for an old choice can be dropped when a flag changes it.
A layout may also read a field's file form (``file_forms``: the field's name -> a function from
the file's value to the config's, e.g. a list of tables to a spec string).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: the key of a section's table that names the section's own field (``substrate.name=mzi``)
NAME_KEY = "name"


@dataclass(frozen=True)
class Section:
    """A table of a config file and a ``--set`` prefix: ``key`` (``rule``) holds the options
    of the field ``options`` (``rule_options``), whose meaning the fields ``chosen_by`` fix."""

    key: str
    options: str
    chosen_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    """The sections of a config class and the file forms of its fields (see the module)."""

    sections: tuple[Section, ...] = ()
    file_forms: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def section(self, key: str) -> Section | None:
        """The section called ``key``, or None."""
        return next((s for s in self.sections if s.key == key), None)

    def prefixes(self) -> str:
        """``substrate.NAME, stage.NAME or rule.NAME``: the ``--set`` prefixes, for messages."""
        names = [f"{s.key}.NAME" for s in self.sections]
        return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def layout_of(cls: type) -> Layout:
    """The ``LAYOUT`` of a config class (an empty one: no sections)."""
    layout = getattr(cls, "LAYOUT", None)
    return layout if isinstance(layout, Layout) else Layout()


def file_layout(values: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """A config's field dict in the file layout: each section's options field becomes the
    section's table, with ``name`` first where the config has a field of the section's name
    (``substrate`` and ``substrate_options`` become ``[substrate]``). The inverse of
    :func:`pnnkit.config.files.file_values`."""
    document: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    by_options = {s.options: s for s in layout.sections}
    named = {s.key for s in layout.sections if s.options in values}
    for key, value in values.items():
        section = by_options.get(key)
        if section is not None and isinstance(value, dict):
            name = {NAME_KEY: values[section.key]} if section.key in values else {}
            tables[section.key] = {**name, **value}
        elif key not in named:  # a section's name goes into its table
            document[key] = value
    return {**document, **tables}
