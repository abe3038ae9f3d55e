"""The whole-loop op as the network and the series grow (float32, one thread):
H = 64 and 256 at L = 1000 against one core's FP32 FMA peak, and the O(H^2), O(L) shapes.

    pytest benchmarks/bench_scaling.py --benchmark-enable
    sinernn bench --scaling-plot scaling.png      # the same sweep, as a table and a plot
"""

import pytest

from sinernn.tools import benchmarking as bm

SIZES = [bm.Problem(H=h, L=1000, epochs=e, lr=0.01) for h, e in ((6, 200), (64, 10), (256, 2))]
LENGTHS = [bm.Problem(H=64, L=n, epochs=e, lr=0.01) for n, e in ((100, 100), (1000, 10), (10000, 1))]


@pytest.mark.parametrize("problem", SIZES + LENGTHS, ids=lambda p: f"H{p.H}-L{p.L}")
def test_whole_loop(benchmark, record_speed, one_thread, problem):
    bm.check_against_reference("cpp", bm.Problem(H=problem.H, L=min(problem.L, 50), epochs=3, lr=0.01))
    x, y, w1, w2 = problem.data()

    def fresh_weights():
        return (x, y, w1.clone(), w2.clone(), problem.epochs, problem.lr), {}

    benchmark.group = "whole loop (cpp), float32, 1 thread"
    benchmark.pedantic(bm.PATHS["cpp"], setup=fresh_weights, rounds=5, warmup_rounds=1)
    record_speed(benchmark, benchmark.group, f"H={problem.H} L={problem.L}", problem.steps, bm.flops_per_step(1, problem.H, 1))
