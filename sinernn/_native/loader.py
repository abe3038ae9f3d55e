"""Loading the native extension module (which registers torch.ops.sinernn.*).

The ahead-of-time module ``sinernn._C`` (built by ``pip install -e .``, see docs/building.md) is
used when it was built from the current sources against the torch that is running. Otherwise
the same sources are compiled on first use with ``torch.utils.cpp_extension.load`` (ninja),
saying so in one line. A binary is never loaded against a torch it was not built for.

Only sinernn/_native/ops.py calls in here (its ``load`` passes the registrations of fakes and
autograd to run once the module is in); everything else reaches the native side through that module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import build as native

_lock = threading.Lock()
_state: dict[str, object] = {"how": None, "error": None, "module": None}
#: Where the ahead-of-time module and its build record lie: the sinernn package folder.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A JIT build killed half way leaves this lock file behind, and later builds wait on it forever.
_STALE_LOCK_SECONDS = 15 * 60


def _aot_problem() -> str | None:
    """Why the ahead-of-time module can't be used, or None when it can."""
    if native.sanitize():
        return "SINERNN_SANITIZE=1 asks for a sanitizer build"
    if importlib.util.find_spec("sinernn._C") is None:
        return "no compiled sinernn._C"
    info = native.read_build_info(_PACKAGE_DIR)
    if info is None:
        return f"sinernn._C has no {native.BUILD_INFO_NAME}"
    if info.get("torch") != torch.__version__:
        return f"sinernn._C was built for torch {info.get('torch')}, this is torch {torch.__version__}"
    if native.CSRC.is_dir() and info.get("sources_sha256") != native.sources_digest():
        return "sinernn._C is older than the sources in csrc/"
    if info.get("cpu") not in ("portable", native.cpu_tag()):
        return "sinernn._C was built for another CPU (-march=native)"
    return None


def _jit_build_dir() -> Path:
    root = Path(os.environ.get("SINERNN_BUILD_DIR", Path.home() / ".cache" / "sinernn"))
    cpu = "portable" if native.portable() else native.cpu_tag()
    flavour = "-sanitize" if native.sanitize() else ""
    path = root / f"torch-{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-{cpu}{flavour}"
    path.mkdir(parents=True, exist_ok=True)
    lock = path / "lock"
    if lock.exists() and time.time() - lock.stat().st_mtime > _STALE_LOCK_SECONDS:
        lock.unlink(missing_ok=True)  # left by a build that was killed
    return path


def _jit_load(reason: str):
    from torch.utils import cpp_extension

    if not native.CSRC.is_dir():
        raise RuntimeError(f"{reason}, and the C++ sources are not at {native.CSRC} to build it")
    settings = native.build_settings(announce=False)
    cpu_only = f" (CPU only: {settings.cuda_note})" if settings.cuda_note and torch.version.cuda else ""
    print(f"sinernn: {reason}; compiling the native ops for this torch (once, about two minutes){cpu_only}", file=sys.stderr)
    return cpp_extension.load(
        name="sinernn_C",
        sources=settings.sources,
        extra_cflags=settings.cflags + [f"-D{k}" for k, _ in settings.macros],
        extra_cuda_cflags=settings.cuda_cflags,
        extra_ldflags=settings.ldflags,
        with_cuda=settings.cuda,
        build_directory=str(_jit_build_dir()),
        is_python_module=True,
        verbose=os.environ.get("SINERNN_VERBOSE_BUILD") == "1",
    )


def load(on_load: Callable[[], None] | None = None) -> str:
    """Load the native module once; returns how it was loaded: ``"aot"`` or ``"jit"``.

    ``on_load`` runs once, after the module is imported and before any caller sees it loaded (the
    Python registrations of its ops). Raises RuntimeError when it can be neither imported nor
    compiled.
    """
    how = _state["how"]
    if how is not None:  # loaded: published last, once everything below is done, so no lock is needed
        return how  # type: ignore[return-value]
    with _lock:
        if _state["how"] is not None:
            return _state["how"]  # type: ignore[return-value]
        if _state["error"] is not None:
            raise RuntimeError(_state["error"])
        try:
            problem = _aot_problem()
            if problem is None:
                try:
                    _state["module"] = importlib.import_module("sinernn._C")
                    how = "aot"
                except (ImportError, OSError) as exc:  # e.g. undefined symbol: another torch
                    problem = f"sinernn._C does not load ({exc})"
            if problem is not None:
                _state["module"] = _jit_load(problem)
                how = "jit"
        except Exception as exc:
            _state["error"] = f"sinernn: the native ops are unavailable: {exc}"
            raise RuntimeError(_state["error"]) from exc
        if on_load is not None:
            on_load()
        _state["how"] = how
        return how  # type: ignore[return-value]


def loaded_module():
    """The extension module when the native ops are already loaded, else None (loads nothing)."""
    return _state["module"] if _state["how"] is not None else None
