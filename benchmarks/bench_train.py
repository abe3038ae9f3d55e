"""The tutorial's training run (F=1, H=6, O=1, 20 steps x 300 epochs, float32, one thread) on
every path: the reference, what a user would write instead, and sinernn's backends.

    pytest benchmarks --benchmark-enable                      # time them; summary at the end
    pytest benchmarks --benchmark-enable --benchmark-json=bench.json

In the default test run they run once, untimed (--benchmark-disable in pyproject.toml). Each
benchmark first checks its result against the reference path (sinernn.tools.benchmarking), then times.
"""

import pytest

from sinernn.tools import benchmarking as bm

# Rounds per path: the slow paths cost a second or more a run, the fused loop about a millisecond.
ROUNDS = {"reference": 5, "nn.RNNCell+SGD": 3, "numpy": 5, "torchscript": 5, "cpp-step-op": 5, "cpp-step": 50, "cpp": 200}


@pytest.mark.parametrize("path", list(bm.PATHS))
def test_tutorial_run(benchmark, record_speed, one_thread, path):
    problem = bm.TUTORIAL
    bm.check_against_reference(path, problem)  # once, before anything is timed
    x, y, w1, w2 = problem.data()
    fn = bm.PATHS[path]

    def fresh_weights():  # every timed run starts from the initial weights (not timed)
        return (x, y, w1.clone(), w2.clone(), problem.epochs, problem.lr), {}

    benchmark.group = "tutorial run, float32, 1 thread"
    benchmark.pedantic(fn, setup=fresh_weights, rounds=ROUNDS[path], warmup_rounds=1)
    record_speed(benchmark, benchmark.group, path, problem.steps, bm.flops_per_step(1, 6, 1))
