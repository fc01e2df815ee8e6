"""The substrate registry: every substrate by name, found by scanning this package.

A substrate module registers its class with :func:`register`; :func:`discover` imports every
module of :mod:`pnnkit.physics` (``pkgutil``), so a new substrate is its module and one row in
docs/substrates.md: the command line, configs, faults and the contract tests find it here.
Substrates defined elsewhere (a lab's own driver) register the same way once imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from pnnkit.errors import ConfigError
from pnnkit.physics.protocol import Substrate, SubstrateConfig

#: every registered substrate class, by its ``name``
SUBSTRATES: dict[str, type[Substrate[Any]]] = {}

S = TypeVar("S", bound=type[Substrate[Any]])


def register(cls: S) -> S:
    """Class decorator adding a substrate to the registry under ``cls.name``."""
    SUBSTRATES[cls.name] = cls
    return cls


def discover() -> None:
    """Import every module of the :mod:`pnnkit.physics` package, so that each substrate module
    registers itself."""
    package = importlib.import_module("pnnkit.physics")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def make_substrate(
    name: str,
    in_features: int,
    out_features: int,
    *,
    seed: int = 0,
    config: dict[str, Any] | SubstrateConfig | None = None,
) -> Substrate[Any]:
    """Build a registered substrate by name, with a config dict or object (defaults if None)."""
    if name not in SUBSTRATES:
        raise ConfigError(f"unknown substrate {name!r}; choices: {sorted(SUBSTRATES)}")
    cls = SUBSTRATES[name]
    if isinstance(config, dict):
        config = cls.config_class.from_dict(config)
    elif config is not None and not isinstance(config, cls.config_class):
        raise ConfigError(
            f"substrate {name!r} takes a {cls.config_class.__name__}, got a {type(config).__name__}"
        )
    return cls(in_features, out_features, seed=seed, config=config)
