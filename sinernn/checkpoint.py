"""Checkpoints: the weights and a few facts about them in one file, loaded without running code.

The file is a ``torch.save`` archive of plain tensors, numbers and strings, read back with
``torch.load(weights_only=True)`` (PyTorch's restricted unpickler: no code from the file runs).
It is written whole or not at all (sinernn/_atomic.py): a crash mid-write leaves the old file as it
was, and no temporary file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor

from ._atomic import write_atomic

FORMAT = "sinernn-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, w1: Tensor, w2: Tensor, **meta: object) -> Path:
    """Write w1 (F+H, H), w2 (H, O) and ``meta`` (JSON-serialisable) to ``path``, atomically."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "w1": w1.detach().cpu().contiguous().clone(),
        "w2": w2.detach().cpu().contiguous().clone(),
        "meta": json.dumps(meta, sort_keys=True),
    }
    write_atomic(path, lambda f: torch.save(payload, f))
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[Tensor, Tensor, dict]:
    """Read a checkpoint: (w1, w2, meta). Raises ValueError naming the file when it is not a
    complete sinernn checkpoint of a known version (truncated, tampered with, another format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated archives, foreign pickles, code the restricted unpickler refuses
        raise ValueError(f"{path}: not a readable sinernn checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sinernn checkpoint (no format tag {FORMAT!r})")
    if obj.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {obj.get('version')!r}; this sinernn reads version {VERSION}")
    w1, w2 = obj.get("w1"), obj.get("w2")
    if not (isinstance(w1, Tensor) and isinstance(w2, Tensor) and w1.dim() == 2 and w2.dim() == 2
            and w1.shape[0] > w1.shape[1] >= 1 and w2.shape[0] == w1.shape[1] and w1.dtype == w2.dtype):
        raise ValueError(f"{path}: the weights are missing or their shapes don't fit (w1 (F+H, H), w2 (H, O))")
    if not (torch.isfinite(w1).all() and torch.isfinite(w2).all()):
        raise ValueError(f"{path}: the weights contain NaN or Inf")
    try:
        meta = json.loads(obj.get("meta", "{}"))
    except (TypeError, json.JSONDecodeError):
        raise ValueError(f"{path}: the metadata is not valid JSON") from None
    return w1, w2, meta
