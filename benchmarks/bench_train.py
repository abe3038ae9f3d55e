"""The tutorial's training run (F=1, H=6, O=1, 20 steps x 300 epochs, float32) on each backend.

    pytest benchmarks --benchmark-enable                      # time them; summary at the end
    pytest benchmarks --benchmark-enable --benchmark-json=bench.json

In the default test run they run once, untimed (--benchmark-disable in pyproject.toml).
Each benchmark first checks its result against the reference path, then times.
"""

import pytest
import torch

import sinernn
from sinernn import reference

EPOCHS, LR, SEQ = 300, 0.1, 20
STEPS = EPOCHS * SEQ
# Rounds per backend: the reference costs about a second a run, the fused loop about a millisecond.
ROUNDS = {"reference": 5, "cpp-step": 20, "cpp": 200}


@pytest.fixture(scope="module")
def tutorial():
    """Data, initial weights, and the reference run's losses and weights to check against."""
    x, y = sinernn.sine_data(SEQ)
    w1, w2 = sinernn.init_weights(seed=0)
    r1, r2 = w1.clone(), w2.clone()
    ref_losses = reference.train(x, y, r1, r2, epochs=EPOCHS, lr=LR)
    return x, y, w1, w2, ref_losses, r1, r2


@pytest.mark.parametrize("backend", ["reference", "cpp-step", "cpp"])
def test_tutorial_run(benchmark, record_speed, tutorial, backend):
    x, y, w1, w2, ref_losses, r1, r2 = tutorial
    # Check once, before timing: the same run as the reference, within float32 noise
    # (tests/test_fused.py derives the exact tolerance; 1e-4 relative is far above it).
    a1, a2 = w1.clone(), w2.clone()
    res = sinernn.train(x, y, a1, a2, epochs=EPOCHS, lr=LR, backend=backend)
    torch.testing.assert_close(res.losses, ref_losses, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a1, r1, rtol=1e-4, atol=1e-5)

    def fresh_weights():  # every timed run starts from the initial weights (not timed)
        return (x, y, w1.clone(), w2.clone()), {"epochs": EPOCHS, "lr": LR, "backend": backend}

    benchmark.group = "tutorial run, float32, 1 thread"
    with _one_thread():
        benchmark.pedantic(sinernn.train, setup=fresh_weights, rounds=ROUNDS[backend], warmup_rounds=1)
    record_speed(benchmark, benchmark.group, backend, STEPS)


class _one_thread:
    """torch.set_num_threads(1) for the block: the figures are one thread's."""

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)
