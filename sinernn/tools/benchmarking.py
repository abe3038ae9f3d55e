"""Measurements shared by the pytest-benchmark suites (benchmarks/) and ``sinernn bench``.

Every path is checked against the reference once before it is timed. Timings are medians of
several runs in one process and one thread; compare them as ratios (the machines are shared).

Floating-point work of one step, F inputs, H hidden units, O outputs, a multiply-add counted
as 2 and tanh not counted:
    forward         2(F+H)H  (concat(x, h) @ w1)  + 2HO (h_new @ w2)
    error, loss     3O
    backward        2HO (e @ w2.T) + 3H (times 1 - h^2)
    SGD updates     3HO (w2: h_new*e, then w -= lr*...) + 3(F+H)H (w1: xh*dz, then w -= lr*...)
    total           5(F+H)H + 7HO + 3H + 3O
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from .._atomic import write_text_atomic
from .._native import ops
from ..data import init_weights, sine_data, smooth_series
from ..engine import reference
from ..engine.many import train_many
from . import plots
from ..engine.single import train
from . import baselines

#: Every path the benchmarks time: the reference, what a user would write instead, and sinernn's.
PATHS: dict[str, Callable[..., Tensor]] = {
    "reference": reference.train,
    **baselines.BASELINES,
    "cpp-step-op": lambda x, y, w1, w2, epochs, lr: train(x, y, w1, w2, epochs, lr, backend="cpp-step-op").losses,
    "cpp-step": lambda x, y, w1, w2, epochs, lr: train(x, y, w1, w2, epochs, lr, backend="cpp-step").losses,
    "cpp": lambda x, y, w1, w2, epochs, lr: train(x, y, w1, w2, epochs, lr, backend="cpp").losses,
}


def flops_per_step(F: int, H: int, O: int) -> int:
    """Floating-point operations of one training step (see the module docstring)."""
    return 5 * (F + H) * H + 7 * H * O + 3 * H + 3 * O


def fma_peak_gflops(iterations: int = 20_000_000) -> float:
    """One core's float32 FMA throughput for the native build's instruction set, measured now."""
    return ops.fma_peak_gflops(iterations)


@dataclass(frozen=True)
class Problem:
    """A training problem: sizes, series length, epochs, learning rate; float32 by default."""

    F: int = 1
    H: int = 6
    O: int = 1
    L: int = 20
    epochs: int = 300
    lr: float = 0.1
    dtype: torch.dtype = torch.float32

    @property
    def steps(self) -> int:
        return self.L * self.epochs

    def data(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (L, F), y (L, O), w1 (F+H, H), w2 (H, O): the tutorial's sine when F = O = 1."""
        if self.F == 1 and self.O == 1:
            x, y = sine_data(self.L, dtype=self.dtype)
        else:
            x, y = smooth_series(self.L, self.F, self.O, seed=1, dtype=self.dtype)
        w1, w2 = init_weights(self.F, self.H, self.O, seed=0, dtype=self.dtype)
        if self.H > 6:  # keep large networks in tanh's working range: N(0, 0.4) per weight is for H=6
            w1 *= (6 / self.H) ** 0.5
            w2 *= (6 / self.H) ** 0.5
        return x, y, w1, w2


TUTORIAL = Problem()


def check_against_reference(name: str, problem: Problem) -> float:
    """Run ``name`` once and compare its losses with the reference's; returns the largest
    relative deviation. Raises AssertionError beyond float32 noise (1e-4 relative, far above
    the tolerance tests/native/test_fused.py derives)."""
    x, y, w1, w2 = problem.data()
    r1, r2 = w1.clone(), w2.clone()
    ref = reference.train(x, y, r1, r2, problem.epochs, problem.lr)
    got = PATHS[name](x, y, w1, w2, problem.epochs, problem.lr)
    dev = ((got.double() - ref.double()).abs().max() / ref.double().abs().max()).item()
    wdev = ((w1.double() - r1.double()).abs().max() / r1.double().abs().max()).item()
    if not (dev <= 1e-4 and wdev <= 1e-4):
        raise AssertionError(f"{name}: losses deviate {dev:.2e}, weights {wdev:.2e} from the reference")
    return max(dev, wdev)


def time_path(name: str, problem: Problem, rounds: int) -> list[float]:
    """Seconds per run of ``name`` on ``problem``, each run from fresh weights, one thread."""
    x, y, w1, w2 = problem.data()
    fn = PATHS[name]
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for _ in range(rounds + 1):  # the first run warms up and is dropped
            a1, a2 = w1.clone(), w2.clone()
            start = time.perf_counter()
            fn(x, y, a1, a2, problem.epochs, problem.lr)
            times.append(time.perf_counter() - start)
        return times[1:]
    finally:
        torch.set_num_threads(saved)


@dataclass
class Row:
    path: str
    F: int
    H: int
    O: int
    L: int
    epochs: int
    median_s: float
    ns_per_step: float
    steps_per_s: float
    speedup: float | None  # over the reference in this run, where it was timed
    gflops: float
    peak_share: float  # of one core's measured FP32 FMA peak


def make_row(path: str, p: Problem, times: list[float], ref_ns: float | None, peak: float) -> Row:
    median = statistics.median(times)
    ns = median / p.steps * 1e9
    gflops = flops_per_step(p.F, p.H, p.O) / ns
    return Row(path, p.F, p.H, p.O, p.L, p.epochs, median, ns, 1e9 / ns, ref_ns / ns if ref_ns else None, gflops, gflops / peak)


def tutorial_rows(paths: list[str], rounds: dict[str, int], peak: float) -> list[Row]:
    """Every path on the tutorial problem, checked then timed; speed-ups over the reference."""
    rows = []
    ref_ns = None
    for name in paths:
        check_against_reference(name, TUTORIAL)
        row = make_row(name, TUTORIAL, time_path(name, TUTORIAL, rounds.get(name, 5)), ref_ns, peak)
        if name == "reference":
            ref_ns = row.ns_per_step
            row.speedup = 1.0
        rows.append(row)
    return rows


def scaling_rows(hs: list[int], ls: list[int], peak: float, rounds: int = 5, target_steps_flops: float = 2e8) -> list[Row]:
    """The whole-loop op ("cpp") as H grows (L = 1000) and as L grows (H = 6 and H = 64)."""
    rows = []
    problems = [Problem(H=h, L=1000, lr=0.01) for h in hs] + [Problem(H=h, L=n, lr=0.01) for h in (6, 64) for n in ls]
    for p in problems:
        epochs = max(1, int(target_steps_flops / (flops_per_step(p.F, p.H, p.O) * p.L)))
        p = Problem(F=p.F, H=p.H, O=p.O, L=p.L, epochs=epochs, lr=p.lr)
        rows.append(make_row("cpp", p, time_path("cpp", p, rounds), None, peak))
    return rows


def format_table(rows: list[Row]) -> str:
    w = max(15, *(len(r.path) for r in rows))
    lines = [f"{'path':<{w}} {'F,H,O':>8} {'L x epochs':>12} {'per step':>11} {'steps/s':>13} {'vs reference':>12} {'GFLOP/s':>8} {'of peak':>8}"]
    for r in rows:
        per = f"{r.ns_per_step / 1e3:.2f} us" if r.ns_per_step >= 1e4 else f"{r.ns_per_step:.1f} ns"
        speed = "-" if r.speedup is None else f"{r.speedup:,.0f}x" if r.speedup >= 10 else f"{r.speedup:.2f}x"
        lines.append(
            f"{r.path:<{w}} {f'{r.F},{r.H},{r.O}':>8} {f'{r.L}x{r.epochs}':>12} {per:>11} {r.steps_per_s:>13,.0f} "
            f"{speed:>12} {r.gflops:>8.2f} {r.peak_share:>8.1%}"
        )
    return "\n".join(lines)


def write_json(path: str | Path, **sections) -> Path:
    return write_text_atomic(path, json.dumps({k: [asdict(r) for r in v] if isinstance(v, list) else v
                                               for k, v in sections.items()}, indent=2) + "\n")


def plot_scaling(rows: list[Row], path: str | Path) -> Path:
    """Time per step against H (L = 1000) and against L (H = 6, 64), log-log, with O(H^2) and O(L) guides."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    per_h: dict[int, list[float]] = {}
    for r in rows:
        if r.L == 1000:  # the H sweep (and the L sweep's L = 1000 points): one median per H
            per_h.setdefault(r.H, []).append(r.ns_per_step)
    by_h = sorted((h, statistics.median(ts)) for h, ts in per_h.items())
    hs = [h for h, _ in by_h]
    ax1.loglog(hs, [t for _, t in by_h], "o-", label="cpp, per step")
    if by_h:
        h0, t0 = by_h[-1]
        ax1.loglog(hs, [t0 * (h / h0) ** 2 for h in hs], "--", color="gray", label="~ H^2")
    ax1.set_xlabel("hidden units H (L = 1000)")
    ax1.set_ylabel("ns per step")
    ax1.legend()
    for h in sorted({r.H for r in rows if r.L != 1000 or r.H in (6, 64)}):
        pts = sorted((r.L, r.median_s / r.epochs) for r in rows if r.H == h)
        if len(pts) > 1:
            ax2.loglog([p[0] for p in pts], [p[1] * 1e6 for p in pts], "o-", label=f"H={h}")
    ax2.set_xlabel("series length L")
    ax2.set_ylabel("us per epoch (~ L)")
    ax2.legend()
    fig.suptitle("sinernn: whole-loop op, float32, one thread")
    return plots.save_figure(fig, path)


# --- Many models (train_many) ------------------------------------------------------------------

def many_problem(n_models: int, device: str = "cpu", dtype: torch.dtype = torch.float32, L: int = 20):
    """The tutorial's series shared by n_models tutorial networks (seeds 0..N-1), lr 0.01..0.3."""
    x, y = sine_data(seq_length=L, dtype=dtype)
    w1, w2 = init_weights(1, 6, 1, seed=0, dtype=dtype, models=n_models)
    lr = torch.linspace(0.01, 0.3, n_models, dtype=torch.float64)
    return x.to(device), y.to(device), w1.to(device), w2.to(device), lr


def check_many_against_single(n_models: int = 37, device: str = "cpu") -> None:
    """Before timing: the batched op equals the single-model op, model by model (bit for bit on the CPU)."""
    x, y, w1, w2, lr = many_problem(n_models, device)
    a1, a2 = w1.cpu().clone(), w2.cpu().clone()
    res = train_many(x, y, w1, w2, 20, lr)
    for n in range(n_models):
        single = train(x.cpu(), y.cpu(), a1[n], a2[n], 20, float(lr[n]), backend="cpp").losses
        if not (torch.equal(res.losses[n].cpu(), single) and torch.equal(w1[n].cpu(), a1[n])):
            raise AssertionError(f"train_many model {n} differs from the single-model op")


def time_many(n_models: int, epochs: int, rounds: int, device: str = "cpu", L: int = 20) -> list[float]:
    """Seconds of train_many runs of n_models tutorial networks, fresh weights each round."""
    x, y, w1, w2, lr = many_problem(n_models, device, L=L)
    times = []
    for _ in range(rounds):
        a1, a2 = w1.clone(), w2.clone()
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        ops.train_many(x, y, a1, a2, epochs, lr.to(device))
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def time_single_op(epochs: int, rounds: int, L: int = 20) -> list[float]:
    """Seconds of the single-model whole-loop op on one tutorial network."""
    x, y, w1, w2, _ = many_problem(1, L=L)
    times = []
    for _ in range(rounds):
        a1, a2 = w1[0].clone(), w2[0].clone()
        start = time.perf_counter()
        ops.train(x, y, a1, a2, epochs, 0.1)
        times.append(time.perf_counter() - start)
    return times


def many_rows(n_models: int, threads: int, peak: float, rounds: int = 7, epochs: int = 50) -> list[Row]:
    """train_many on n_models tutorial networks with ``threads`` threads, and the single-model op on
    one (one thread), each checked first; per model-step figures, speed-up over the single op, share
    of the peak of the cores used (one core's peak x threads)."""
    check_many_against_single()
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = time_single_op(2000, rounds)
        torch.set_num_threads(threads)
        many = time_many(n_models, epochs, rounds)
    finally:
        torch.set_num_threads(saved)
    one = make_row("train, 1 model, 1 thread", Problem(epochs=2000), single, None, peak)
    one.speedup = 1.0
    p = Problem(epochs=epochs)
    median = statistics.median(many)
    ns = median / (n_models * p.steps) * 1e9  # per model-step
    gflops = flops_per_step(p.F, p.H, p.O) / ns
    row = Row(f"train_many, {n_models} models, {threads} threads", p.F, p.H, p.O, p.L, epochs, median, ns, 1e9 / ns,
              one.ns_per_step / ns, gflops, gflops / (peak * threads))
    return [one, row]
