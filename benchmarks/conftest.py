"""Speed-up summary for the benchmark run: medians per step, and ratios to the reference path
measured in this same process (the machines are shared and noisy: compare ratios, not seconds)."""

from __future__ import annotations

import pytest

_medians: dict[str, dict[str, tuple[float, int]]] = {}  # group -> name -> (median seconds, steps)


@pytest.fixture
def record_speed(request):
    """Call after ``benchmark(...)``: record(name, steps) files its median for the summary."""

    def record(benchmark, group: str, name: str, steps: int) -> None:
        stats = getattr(benchmark, "stats", None)
        if stats is None or benchmark.disabled:  # --benchmark-disable: ran once, untimed
            return
        median = stats.stats.median
        benchmark.extra_info["steps"] = steps
        benchmark.extra_info["ns_per_step"] = median / steps * 1e9
        _medians.setdefault(group, {})[name] = (median, steps)

    return record


def pytest_terminal_summary(terminalreporter):
    for group, rows in _medians.items():
        ref = rows.get("reference")
        tr = terminalreporter
        tr.write_sep("-", f"sinernn speed: {group} (medians)")
        tr.write_line(f"{'path':<12} {'per run':>12} {'per step':>12} {'steps/s':>14} {'vs reference':>13}")
        for name, (median, steps) in sorted(rows.items(), key=lambda kv: -kv[1][0] / kv[1][1]):
            per_step = median / steps
            ratio = f"{ref[0] / ref[1] / per_step:,.0f}x" if ref else "-"
            tr.write_line(f"{name:<12} {median * 1e3:>9.3f} ms {per_step * 1e9:>9.0f} ns {1 / per_step:>14,.0f} {ratio:>13}")
