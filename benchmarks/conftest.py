"""Summary of the benchmark run: medians per step, speed-ups over the reference path measured in
this same process (the machines are shared and noisy: compare ratios, not seconds), and the share
of one core's FP32 FMA peak, measured at the start of the run."""

from __future__ import annotations

import pytest
import torch

_medians: dict[str, dict[str, tuple[float, int, int, int]]] = {}  # group -> name -> (median s, steps, flops/step, cores)
_baselines: dict[str, str] = {}  # group -> the path its speed-ups are relative to
_peak: list[float] = []


@pytest.fixture
def one_thread():
    """The figures are one thread's."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def record_speed():
    """Call after ``benchmark(...)``: files the median for the summary and the JSON."""

    def record(benchmark, group: str, name: str, steps: int, flops_per_step: int, cores: int = 1, baseline: bool = False) -> None:
        """steps: (model-)steps of one run (rows, for readers); flops_per_step: 0 where FLOPs mean
        nothing (no peak share then); cores: threads it ran on (its peak is cores x one core's);
        baseline: the group's speed-ups are relative to this path (default: the reference path, else
        the slowest)."""
        if benchmark.disabled or getattr(benchmark, "stats", None) is None:  # --benchmark-disable: ran once, untimed
            return
        if baseline:
            _baselines[group] = name
        if flops_per_step and not _peak:
            from sinernn.tools import benchmarking

            _peak.append(benchmarking.fma_peak_gflops())
        median = benchmark.stats.stats.median
        benchmark.extra_info.update(steps=steps, ns_per_step=median / steps * 1e9)
        if flops_per_step:
            benchmark.extra_info.update(gflops=flops_per_step * steps / median / 1e9, fma_peak_gflops=_peak[0] * cores)
        _medians.setdefault(group, {})[name] = (median, steps, flops_per_step, cores)

    return record


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    for group, rows in _medians.items():
        # speed-ups against the reference path, or in a group without it, the slowest path per step
        ref = rows.get(_baselines.get(group, "reference")) or max(rows.values(), key=lambda r: r[0] / r[1])
        tr.write_sep("-", f"sinernn speed: {group} (medians)")
        tr.write_line(f"{'path':<28} {'per run':>12} {'per step':>12} {'steps/s':>14} {'speed-up':>13} {'GFLOP/s':>8} {'of peak':>8}")
        for name, (median, steps, flops, cores) in sorted(rows.items(), key=lambda kv: -kv[1][0] / kv[1][1]):
            per_step = median / steps
            r = ref[0] / ref[1] / per_step
            ratio = f"{r:.2f}x" if r < 10 else f"{r:,.0f}x"
            gflops = flops / per_step / 1e9
            peak = f"{gflops:>8.2f} {gflops / (_peak[0] * cores):>8.1%}" if flops else f"{'-':>8} {'-':>8}"
            tr.write_line(
                f"{name:<28} {median * 1e3:>9.3f} ms {per_step * 1e9:>9.1f} ns {1 / per_step:>14,.0f} {ratio:>13} {peak}"
            )
        if _peak:
            tr.write_line(f"one core's FP32 FMA peak, measured: {_peak[0]:.1f} GFLOP/s")
