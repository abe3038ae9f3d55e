"""Old spellings, kept working for one minor release with a DeprecationWarning that names the new
one (the policy and the list: docs/changes.md; each old name is tested in
tests/api/test_deprecations.py).

- modules that moved in the package's redesign (``sinernn.trainer`` -> ``sinernn.engine.single``,
  ...): served by an import hook as alias modules that look names up in their new homes;
- names that moved or were renamed (``sinernn.load_series``, ``sinernn.series.pairs``, ...);
- keywords that were renamed (``renamed_keywords``).

Imports nothing of the package at import time: the new homes are imported when an old name is used.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import os
import sys
import types
import warnings
from collections.abc import Callable

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _stacklevel() -> int:
    """warnings' stacklevel of the first frame outside the package and the import machinery, seen
    from the caller of ``warn``: the warning points at the user's line."""
    frame, level = sys._getframe(2), 2
    while frame is not None:
        name = frame.f_code.co_filename
        if not (os.path.abspath(name).startswith(_PACKAGE + os.sep) or name.startswith("<frozen importlib")):
            break
        frame, level = frame.f_back, level + 1
    return level


def warn(old: str, new: str) -> None:
    """The DeprecationWarning of an old spelling."""
    warnings.warn(f"{old} is deprecated and will be removed in sinernn 0.3; use {new}", DeprecationWarning,
                  stacklevel=_stacklevel())


# -- modules ----------------------------------------------------------------------------------------

#: old module -> (the modules its names now live in, first match wins; names renamed on the way)
MODULES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "sinernn.trainer": (("sinernn.engine.single", "sinernn.engine.errors", "sinernn.engine.backends",
                         "sinernn.engine.interrupts"),
                        {"resolve_backend": "resolve", "_Interrupts": "Interrupts", "_Stop": "Stop",
                         "_restore": "restore"}),
    "sinernn.many": (("sinernn.engine.many", "sinernn.engine.checks", "sinernn.engine.backends"),
                     {"resolve_backend": "resolve_many", "BACKENDS": "MANY_BACKENDS", "_check_lrs": "check_lrs"}),
    "sinernn.checks": (("sinernn.engine.checks",), {}),
    "sinernn.reference": (("sinernn.engine.reference",), {}),
    "sinernn._extension": (("sinernn._native.loader", "sinernn._native.ops"), {"module": "_module"}),
    "sinernn._native_build": (("sinernn._native.build",), {}),
    "sinernn.cli": (("sinernn.tools.cli",), {}),
    "sinernn.verification": (("sinernn.tools.verification",), {}),
    "sinernn.benchmarking": (("sinernn.tools.benchmarking",), {}),
    "sinernn.baselines": (("sinernn.tools.baselines",), {}),
    "sinernn.sweep": (("sinernn.tools.sweep",), {}),
    "sinernn.distributed": (("sinernn.tools.distributed",), {}),
    "sinernn.plots": (("sinernn.tools.plots",), {}),
}


class AliasModule(types.ModuleType):
    """An old module path: every attribute is looked up in the new modules."""

    def __init__(self, name: str):
        super().__init__(name, f"Deprecated alias of {', '.join(MODULES[name][0])}.")
        self.__homes, self.__renames = MODULES[name]

    def __getattr__(self, name: str):
        new = self.__renames.get(name, name)
        for home in self.__homes:
            module = importlib.import_module(home)
            if hasattr(module, new):
                return getattr(module, new)
        raise AttributeError(f"module {self.__name__!r} (now {self.__homes[0]}) has no attribute {name!r}")

    def __dir__(self):
        return sorted({n for home in self.__homes for n in dir(importlib.import_module(home))})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in MODULES else None

    def create_module(self, spec):
        warn(spec.name, MODULES[spec.name][0][0])
        return AliasModule(spec.name)

    def exec_module(self, module):
        pass


_finder = _Finder()


def install() -> None:
    """Serve the old module paths (idempotent)."""
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)


# -- names ------------------------------------------------------------------------------------------


def _load_series(path):
    """The old ``sinernn.load_series``: one column of numbers from a file, float64 (N,)."""
    from .series import as_table

    table = as_table(path)
    if table.values.shape[1] != 1:
        raise ValueError(f"{path}: expected one column of numbers, got {table.values.shape[1]} columns")
    return table.values[:, 0].copy()


def _pairs(values, inputs, targets, dtype):
    """The old ``sinernn.series.pairs(values, inputs, targets, dtype)``."""
    from .series import series_pairs

    return series_pairs(values, dtype, inputs=inputs, targets=targets)


def _register_fake_kernels():
    """The old ``sinernn.ops.register_fake_kernels``: the fakes are registered when the ops load."""
    from ._native import ops

    ops.load()


#: (module, old name) -> (the new spelling, for the warning; what the old name gives)
NAMES: dict[tuple[str, str], tuple[str, Callable[[], object]]] = {
    ("sinernn", "load_series"): ("sinernn.series.as_table(path).values[:, 0]", lambda: _load_series),
    ("sinernn.data", "load_series"): ("sinernn.series.as_table(path).values[:, 0]", lambda: _load_series),
    ("sinernn.series", "pairs"): ("sinernn.series_pairs(values, dtype, inputs=..., targets=...)", lambda: _pairs),
    ("sinernn.ops", "register_fake_kernels"): ("sinernn.load_native() (it registers them)",
                                               lambda: _register_fake_kernels),
}


def module_attribute(module: str, name: str):
    """A module's ``__getattr__`` for its old names: the value, with the warning; else AttributeError."""
    if (module, name) in NAMES:
        new, get = NAMES[(module, name)]
        warn(f"{module}.{name}", new)
        return get()
    if module == "sinernn" and f"sinernn.{name}" in MODULES:
        return importlib.import_module(f"sinernn.{name}")
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


# -- keywords ---------------------------------------------------------------------------------------


def renamed_keywords(**renames: str):
    """A decorator: ``f(old=value)`` is ``f(new=value)`` with a DeprecationWarning, for each
    ``old="new"``; both at once is a TypeError naming them."""

    def decorate(fn):
        qual = f"{fn.__module__}.{fn.__qualname__}".replace("sinernn.engine.single.", "sinernn.")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= (deprecated) and {new}=; pass {new}= only")
                    warn(f"{qual}({old}=...)", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
