"""Typed configs, generic (no knowledge of what they configure): building dataclass configs
from loose values with errors that name the field, the value and what is allowed
(:mod:`~pnnkit.config.build`); the layout of a config's fields in files and on the command line
(:mod:`~pnnkit.config.layout`); the ``--set KEY=VALUE`` language
(:mod:`~pnnkit.config.overrides`); TOML and JSON files (:mod:`~pnnkit.config.files`); one
resolver, defaults < file < flags < ``--set`` (:mod:`~pnnkit.config.resolve`); and the field
tables of the docs (:mod:`~pnnkit.config.docs`)."""

from __future__ import annotations

from pnnkit.config.build import Validated, build, check_types, coerce
from pnnkit.config.docs import field_docs, markdown_fields
from pnnkit.config.files import dump_toml, read_config_file
from pnnkit.config.layout import Layout, Section, file_layout
from pnnkit.config.overrides import apply_overrides
from pnnkit.config.resolve import Config, resolve_config

__all__ = [
    "Config",
    "Layout",
    "Section",
    "Validated",
    "apply_overrides",
    "build",
    "check_types",
    "coerce",
    "dump_toml",
    "field_docs",
    "file_layout",
    "markdown_fields",
    "read_config_file",
    "resolve_config",
]
