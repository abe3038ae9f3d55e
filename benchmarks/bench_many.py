"""Many models in one call (train_many): N = 4096 tutorial networks, float32, all cores, against
the single-model whole-loop op (one core: one model is a latency-bound chain).

    pytest benchmarks/bench_many.py --benchmark-enable

The summary reports model-steps per second and the share of the cores' FP32 FMA peak; the
floating-point work per model-step is flops_per_step(1, 6, 1) = 273 (see sinernn.tools.benchmarking).
Before timing, the batched result is checked model by model against the single-model op.
"""

import os

import pytest
import torch

from sinernn.tools import benchmarking as bm
from sinernn import ops

N_MODELS, EPOCHS = 4096, 50


@pytest.fixture
def all_cores():
    saved = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield torch.get_num_threads()
    torch.set_num_threads(saved)


def test_train_many(benchmark, record_speed, all_cores):
    bm.check_many_against_single()
    x, y, w1, w2, lr = bm.many_problem(N_MODELS)

    def fresh():
        return (x, y, w1.clone(), w2.clone(), EPOCHS, lr), {}

    benchmark.group = f"many models: N={N_MODELS} tutorial networks, float32"
    benchmark.pedantic(ops.train_many, setup=fresh, rounds=15, warmup_rounds=1)
    record_speed(benchmark, benchmark.group, f"train_many, {all_cores} threads", N_MODELS * EPOCHS * 20,
                 bm.flops_per_step(1, 6, 1), cores=all_cores)


def test_single_model_op(benchmark, record_speed, one_thread):
    x, y, w1, w2, _ = bm.many_problem(1)

    def fresh():
        return (x, y, w1[0].clone(), w2[0].clone(), 2000, 0.1), {}

    benchmark.group = f"many models: N={N_MODELS} tutorial networks, float32"
    benchmark.pedantic(ops.train, setup=fresh, rounds=15, warmup_rounds=1)
    record_speed(benchmark, benchmark.group, "train (1 model, 1 thread)", 2000 * 20, bm.flops_per_step(1, 6, 1))
