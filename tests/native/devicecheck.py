"""Comparing a batched run on another device with the CPU's, with tolerances that a correct kernel
passes (tests/native/test_cuda.py).

Where both sides fuse multiply-adds, float32 runs the same operations in the same order on both
(elman_lane.h, the same float32 tanh), so the results must be equal bit for bit. Otherwise (float64:
CUDA's tanh is not glibc's and differs by about an ulp on some inputs; a CPU build without FMA
rounds twice) the two runs differ by rounding at every step, and how far that carries depends on
the model: a contractive run forgets it, a run near SGD's stability limit amplifies it by orders of
magnitude. So each model's tolerance is derived from its own sensitivity: the CPU run is repeated
ENSEMBLE times with every input and initial weight moved by one ulp up, down or not at all
(at random), and the device may differ from the CPU by TOL_FACTOR times the largest of those
deviations plus FLOOR_ULPS ulps of the values' magnitude.

Values are compared for calm models only: no divergence, weights below 1e3 in magnitude, and the
nudges moving them by at most CHAOTIC_ULPS ulps. In the others (a run exploding past SGD's
stability limit) rounding decides the values, and one perturbation can move them thousands of times
further than another, so no tolerance separates a bug from rounding. Where a model diverged is
compared for every model whose divergence point the nudges leave in place. (Measured on the CPU,
float32 and float64, sizes (1,1,1), (1,6,1), (2,13,3), (1,32,1), lr up to 30: for calm models, the
deviation of eight further nudged runs and of w1 * (1 + eps) stays within 0.17 of the tolerance.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

import sinernn

TOL_FACTOR = 32.0
FLOOR_ULPS = 16.0
CHAOTIC_ULPS = 1e4
ENSEMBLE = 3
EXPLODED = 1e3


@dataclass
class CpuRun:
    w1: Tensor
    w2: Tensor
    losses: Tensor
    diverged: Tensor


def cpu_run(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr) -> CpuRun:
    a, b = w1.detach().cpu().clone(), w2.detach().cpu().clone()
    res = sinernn.train_many(x.cpu(), y.cpu(), a, b, epochs, lr)
    return CpuRun(a, b, res.losses, res.diverged)


def nudged(t: Tensor, generator: torch.Generator) -> Tensor:
    """t with each value moved one ulp up, one down, or left, at random."""
    t = t.detach().cpu()
    way = torch.randint(-1, 2, t.shape, generator=generator)
    up, down = torch.nextafter(t, torch.full_like(t, math.inf)), torch.nextafter(t, torch.full_like(t, -math.inf))
    return torch.where(way > 0, up, torch.where(way < 0, down, t))


def scale(t: Tensor) -> Tensor:
    """Each model's largest finite magnitude, at least 1 (N,)."""
    return t.nan_to_num(posinf=0.0, neginf=0.0).abs().reshape(t.shape[0], -1).amax(dim=1).clamp_min(1.0)


def per_model_max(a: Tensor, b: Tensor) -> Tensor:
    """max |a - b| over each model's values (N, ...) -> (N,); NaN where exactly one side is NaN is inf,
    where both are, 0."""
    d = (a - b).abs()
    both = a.isnan() & b.isnan()
    d = torch.where(both, torch.zeros_like(d), torch.where(d.isnan(), torch.full_like(d, math.inf), d))
    return d.reshape(d.shape[0], -1).amax(dim=1)


@dataclass
class Sensitivity:
    dev: Tensor     # (N,) each model's largest deviation under the nudges, w1, w2 and losses together
    stable: Tensor  # (N,) its divergence point stays put under every nudge
    calm: Tensor    # (N,) values compared (see the module's docstring)


def sensitivity(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr) -> tuple[CpuRun, Sensitivity]:
    """The CPU run, and how each model's run responds to its inputs and initial weights moved by an ulp."""
    ref = cpu_run(x, y, w1, w2, epochs, lr)
    names = ("w1", "w2", "losses")
    dev = torch.zeros(ref.w1.shape[0], dtype=torch.float64)
    rel = torch.zeros_like(dev)
    stable = torch.ones(ref.w1.shape[0], dtype=torch.bool)
    for k in range(ENSEMBLE):
        g = torch.Generator().manual_seed(k)
        moved = cpu_run(nudged(x, g), y, nudged(w1, g), nudged(w2, g), epochs, lr)
        for n in names:
            d = per_model_max(getattr(ref, n), getattr(moved, n)).double()
            dev = torch.maximum(dev, d)
            rel = torch.maximum(rel, d / scale(getattr(ref, n)).double())
        stable &= (ref.diverged == moved.diverged).all(dim=1)
    big = torch.maximum(scale(ref.w1), scale(ref.w2))
    calm = stable & (ref.diverged[:, 0] < 0) & (big <= EXPLODED) & (rel <= CHAOTIC_ULPS * torch.finfo(ref.w1.dtype).eps)
    return ref, Sensitivity(dev, stable, calm)


def assert_close_to_cpu(w1: Tensor, w2: Tensor, losses: Tensor, diverged: Tensor, ref: CpuRun, sens: Sensitivity,
                        bitwise: bool) -> None:
    """Every output of a device run against the CPU's run: bit for bit when ``bitwise``, else within
    each model's derived tolerance."""
    got = CpuRun(w1.detach().cpu(), w2.detach().cpu(), losses.cpu(), diverged.cpu())
    if bitwise:
        assert torch.equal(got.diverged, ref.diverged), "diverged differs"
        for name in ("w1", "w2", "losses"):
            a, b = getattr(got, name), getattr(ref, name)
            assert torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num()), f"{name} differs"
        return
    eps = torch.finfo(ref.w1.dtype).eps
    same_div = (got.diverged == ref.diverged).all(dim=1)
    stable = sens.stable
    assert bool(same_div[stable].all()), f"diverged differs at stable models {(~same_div & stable).nonzero().flatten()[:10].tolist()}"
    for name in ("w1", "w2", "losses"):
        a, b = getattr(got, name), getattr(ref, name)
        tol = TOL_FACTOR * sens.dev + FLOOR_ULPS * eps * scale(b)
        diff = per_model_max(a, b)
        bad = sens.calm & (diff > tol)
        assert not bool(bad.any()), (
            f"{name}: models {bad.nonzero().flatten()[:10].tolist()} differ by {diff[bad][:5].tolist()} "
            f"> tolerance {tol[bad][:5].tolist()}")
