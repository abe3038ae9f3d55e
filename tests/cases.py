"""Shared test lists: dtypes, backends, problem sizes; and problem construction."""

from __future__ import annotations

import torch

import sinernn

DTYPES = [torch.float64, torch.float32]
FUSED_BACKENDS = ["cpp", "cpp-step", "cpp-step-op"]
ALL_BACKENDS = ["reference", *FUSED_BACKENDS]
# (F, H, O): size 1 everywhere, odd sizes, the tutorial's, a wider one
SIZES = [(1, 1, 1), (3, 1, 2), (1, 6, 1), (2, 7, 3), (5, 4, 1), (1, 13, 2)]
SIZE_IDS = [f"F{f}-H{h}-O{o}" for f, h, o in SIZES]


def problem(F: int, H: int, O: int, L: int = 17, seed: int = 1, dtype: torch.dtype = torch.float64):
    """A random smooth series x (L, F), y (L, O) and seeded weights w1 (F+H, H), w2 (H, O)."""
    x, y = sinernn.smooth_series(L, F, O, seed=seed, dtype=dtype)
    w1, w2 = sinernn.init_weights(F, H, O, seed=seed, dtype=dtype)
    return x, y, w1, w2


def rel_dev(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a - b| / max|b|: deviation relative to the reference's scale."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-300)).item()
