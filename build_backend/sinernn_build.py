"""sinernn's PEP 517 build backend: setuptools, built against the torch that will import the module.

The native module links against one torch's C++ library and is only valid with that torch. pip
builds in an isolated environment, which holds only the build requirements; a plain ``torch`` build
requirement there fetches whatever torch the index offers (a CUDA build of several GB) and the module
comes out built against a torch other than the one that imports it. So this backend does not list
torch among the build requirements. Instead, for every hook:

* torch already importable (``--no-build-isolation``, or an isolated build that installed torch
  below): use it.
* otherwise ask the interpreter pip installs for (``sys.executable``, outside the isolated
  environment): if it has torch, put that interpreter's import path at the *end* of ``sys.path`` so
  that ``import torch`` finds the target's torch while setuptools and wheel still come from the
  isolated environment. Nothing is downloaded.
* the target has no torch: ``get_requires_for_build_*`` asks pip for ``torch`` in the isolated
  environment, and setup.py pins the wheel's dependency to exactly the torch version built against,
  so the torch pip then installs is the one the module was compiled for.

Everything else is setuptools' own backend (``setuptools.build_meta``); see docs/building.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

from setuptools import build_meta as _setuptools

#: What the isolated environment installs when the target environment has no torch.
TORCH_REQUIREMENT = "torch>=2.4"

_PROBE = "import json, sys, torch; print(json.dumps({'version': torch.__version__, 'path': sys.path}))"
_target_cache: list[dict | None] = []


def _target_torch() -> dict | None:
    """torch's version and the import path of the interpreter pip installs for, or None when that
    interpreter has no torch. Runs it without pip's isolation variables."""
    if not _target_cache:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
        try:
            out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
            info = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            info = None
        _target_cache.append(info)
    return _target_cache[0]


def _torch_here() -> bool:
    return importlib.util.find_spec("torch") is not None


def _use_target_torch() -> None:
    """Make ``import torch`` find the target environment's torch (see the module docstring)."""
    if _torch_here():
        return
    info = _target_torch()
    if info is None:
        return  # setup.py says what is missing
    sys.path.extend(p for p in info["path"] if p and p not in sys.path)
    importlib.invalidate_caches()
    print(f"sinernn: building against the target environment's torch {info['version']}", file=sys.stderr)


def _extra_requires() -> list[str]:
    return [] if _torch_here() or _target_torch() is not None else [TORCH_REQUIREMENT]


# -- the PEP 517 / 660 hooks ------------------------------------------------------------------------
# get_requires_* do not run setup.py (setuptools' own would, and setup.py needs torch).


def get_requires_for_build_wheel(config_settings=None):
    return _extra_requires()


def get_requires_for_build_editable(config_settings=None):
    return _extra_requires()


def get_requires_for_build_sdist(config_settings=None):
    return []  # an sdist holds sources only; setup.py needs no torch for it


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _use_target_torch()
    return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _use_target_torch()
    return _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _use_target_torch()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _use_target_torch()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    return _setuptools.build_sdist(sdist_directory, config_settings)
