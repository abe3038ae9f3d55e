"""Memory: a million training steps through each backend, and many calls of each op, leave the
process's resident memory where it was (beyond noise). Measured after a warm-up run of the same
shape, so allocator pools and lazily built kernels are already in place; the result's own tensors
(the per-epoch losses) are tiny and freed.

By default the slow paths take fewer steps (reference 50,000, cpp-step-op 200,000);
SINERNN_DEEP=1 runs the full million through every backend (the reference: ~3 minutes).
"""

import gc
import os
import resource

import pytest
import torch

import sinernn

DEEP = os.environ.get("SINERNN_DEEP") == "1"
STEPS = {"reference": 10**6 if DEEP else 50_000, "cpp-step-op": 10**6 if DEEP else 200_000, "cpp-step": 10**6, "cpp": 10**6}
LIMIT_MB = 4.0  # growth allowed: allocator noise; a leak of one tensor per step would be ~100 MB a run


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def growth_mb(fn) -> float:
    """How much resident memory one more run of fn adds, after a warm-up run. A leak adds about
    the same every run; the allocator's noise (a pool that grows once, pages touched on a busy
    machine) does not come twice: a run over the limit is measured once more and the smaller
    growth counts."""
    fn()  # warm-up: the same work once

    def one_run() -> float:
        gc.collect()
        before = rss_mb()
        fn()
        gc.collect()
        return rss_mb() - before

    growth = one_run()
    return growth if growth < LIMIT_MB else min(growth, one_run())


@pytest.mark.parametrize("backend", list(STEPS))
def test_a_million_steps_do_not_grow_memory(backend):
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    epochs = STEPS[backend] // x.shape[0]
    grew = growth_mb(lambda: sinernn.train(x, y, w1, w2, epochs=epochs, lr=0.01, backend=backend))
    print(f"\n{backend}: {epochs * x.shape[0]:,} steps, resident memory grew {grew:+.2f} MB")
    assert grew < LIMIT_MB


def test_many_op_calls_do_not_grow_memory():
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    h = torch.zeros(6)
    ops = torch.ops.sinernn

    def calls():
        for _ in range(20_000):
            ops.step(x[0], y[0], h, w1, w2, 0.01)
            ops.train(x, y, w1, w2, 1, 0.01)
            ops.predict(x, w1, w2)

    grew = growth_mb(calls)
    print(f"\n60,000 op calls: resident memory grew {grew:+.2f} MB")
    assert grew < LIMIT_MB
