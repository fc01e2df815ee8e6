"""Every public module, class, function and method of pnnkit has a docstring.

Walks every module of the package and every public function, class and method *defined* there
(not imported), property getters included. Excluded: private names (leading underscore),
dunder methods, and the methods and docstrings that ``@dataclass`` generates (a dataclass
without a docstring of its own gets ``Name(field: type, ...)``, which documents nothing). A
method that overrides a documented method of a base class inherits its contract and counts as
documented (what ``inspect.getdoc`` shows users).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import pnnkit


def walk_modules() -> Iterator[Any]:
    """The package and every module below it, imported (``__main__`` runs the command line when
    imported, so it is left out)."""
    yield pnnkit
    for info in pkgutil.walk_packages(pnnkit.__path__, prefix="pnnkit."):
        if not info.name.endswith(".__main__"):
            yield importlib.import_module(info.name)


def own_doc(obj: Any) -> str:
    """The docstring written on ``obj`` itself (not inherited), stripped."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def is_generated_dataclass_doc(cls: type, doc: str) -> bool:
    """``@dataclass`` fills a missing class docstring with the signature ``Name(...)``."""
    return dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}(")


def method_function(member: Any) -> Any | None:
    """The function behind a class attribute that is a method or property getter, else None."""
    if isinstance(member, staticmethod | classmethod):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    if inspect.isfunction(member):
        return member
    return None


def inherited_doc(cls: type, name: str) -> str:
    """The docstring of the method ``name`` of the nearest base class that documents it."""
    for base in cls.__mro__[1:]:
        if name in base.__dict__:
            function = method_function(base.__dict__[name])
            if function is not None and own_doc(function):
                return own_doc(function)
    return ""


def missing_docstrings() -> list[str]:
    """``module:qualname`` of every public object without a docstring, sorted."""
    missing: list[str] = []
    for module in walk_modules():
        name = module.__name__
        if not own_doc(module):
            missing.append(f"{name}:(module)")
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if inspect.isfunction(obj):
                if not own_doc(obj):
                    missing.append(f"{name}:{obj.__qualname__}")
            elif inspect.isclass(obj):
                doc = own_doc(obj)
                if not doc or is_generated_dataclass_doc(obj, doc):
                    missing.append(f"{name}:{obj.__qualname__}")
                missing += missing_in_class(name, obj)
    return sorted(set(missing))


def missing_in_class(module: str, cls: type) -> list[str]:
    """Public methods and property getters defined in ``cls`` without a docstring."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    found = []
    for attr, member in vars(cls).items():
        if attr.startswith("_") or attr in fields:
            continue
        function = method_function(member)
        if function is None or getattr(function, "__module__", module) != module:
            continue
        if not own_doc(function) and not inherited_doc(cls, attr):
            found.append(f"{module}:{cls.__qualname__}.{attr}")
    return found


def test_the_walk_sees_the_whole_package():
    """The walk must reach deep modules and class members, or the main test proves nothing."""
    names = {m.__name__ for m in walk_modules()}
    assert {"pnnkit.learning.pib", "pnnkit.physics.crossbar", "pnnkit.tasks.rl"} <= names

    class Undocumented:
        def method(self) -> None:
            pass

        @property
        def value(self) -> int:
            return 1

        def _private(self) -> None:
            pass

    found = missing_in_class(__name__, Undocumented)
    assert sorted(found) == [
        f"{__name__}:{Undocumented.__qualname__}.method",
        f"{__name__}:{Undocumented.__qualname__}.value",
    ]

    @dataclasses.dataclass
    class Plain:
        x: int = 0

    assert is_generated_dataclass_doc(Plain, own_doc(Plain))


def test_every_public_object_has_a_docstring():
    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public objects lack a docstring:\n" + "\n".join(missing)
