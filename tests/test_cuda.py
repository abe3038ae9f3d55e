"""The CUDA kernels against the CPU ones on the same inputs. Skipped where there is no GPU or
sinernn was built without CUDA kernels (scripts/gpu_check.sh runs them on a GPU machine).

float32: the kernels run the same instructions as the CPU (explicit FMAs, nvcc --fmad=false, the
same float32 tanh in float arithmetic with IEEE division), so results must be identical bit for bit.
float64: tanh is CUDA's own there (libdevice, within 2 ulp) where the CPU has glibc's (within 1 ulp),
so each step can differ by a few ulp of 1e-16; over these short runs the weights agree to 1e-12."""

import math

import pytest
import torch

import sinernn
from sinernn import ops

from cases import DTYPES

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and sinernn.native_available() and sinernn.cuda_built()),
    reason="needs a GPU and sinernn built with CUDA kernels",
)


def compare(a, b, dtype):
    a = a.cpu()
    if dtype == torch.float32:
        assert torch.equal(a.nan_to_num(), b.nan_to_num()) and torch.equal(a.isnan(), b.isnan())
    else:
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


def models(N, F, H, O, L, per_model, dtype):
    if per_model:
        pairs = [sinernn.smooth_series(L, F, O, seed=n, dtype=dtype) for n in range(N)]
        x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    else:
        x, y = sinernn.smooth_series(L, F, O, seed=0, dtype=dtype)
    w1, w2 = sinernn.init_weights(F, H, O, seed=0, dtype=dtype, models=N)
    return x, y, w1, w2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
@pytest.mark.parametrize("N", [1, 3, 129, 1000])  # 129: one past a block of 128 threads
@pytest.mark.parametrize("F,H,O", [(1, 6, 1), (1, 1, 1), (2, 13, 3), (1, 8, 1)])
def test_train_many_cuda_equals_cpu(F, H, O, N, per_model, dtype):
    x, y, w1, w2 = models(N, F, H, O, 15, per_model, dtype)
    lrs = torch.linspace(0.01, 30.0 if N > 100 else 0.3, N, dtype=torch.float64)  # N > 100: some diverge
    g1, g2 = w1.cuda(), w2.cuda()
    cpu = sinernn.train_many(x, y, w1, w2, 8, lrs)
    gpu = sinernn.train_many(x.cuda(), y.cuda(), g1, g2, 8, lrs)
    assert gpu.backend == "cpp" and gpu.losses.device.type == "cuda"
    assert torch.equal(gpu.diverged.cpu(), cpu.diverged)
    compare(g1, w1, dtype)
    compare(g2, w2, dtype)
    compare(gpu.losses, cpu.losses, dtype)
    compare(sinernn.predict_many(x.cuda(), g1, g2), sinernn.predict_many(x, w1, w2), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_single_model_ops_on_cuda(dtype):
    x, y = sinernn.smooth_series(11, 2, 2, seed=3, dtype=dtype)
    w1, w2 = sinernn.init_weights(2, 5, 2, seed=3, dtype=dtype)
    g1, g2 = w1.cuda(), w2.cuda()
    compare(sinernn.train(x.cuda(), y.cuda(), g1, g2, 7, 0.1, backend="cpp").losses,
            sinernn.train(x, y, w1, w2, 7, 0.1, backend="cpp").losses, dtype)
    compare(g1, w1, dtype)
    compare(sinernn.predict(x.cuda(), g1, g2), sinernn.predict(x, w1, w2), dtype)
    compare(sinernn.trainer.forecast(x.cuda(), g1, g2, 9), sinernn.trainer.forecast(x, w1, w2, 9), dtype)
    h = torch.zeros(5, dtype=dtype)
    out_gpu = ops.step(x[0].cuda(), y[0].cuda(), h.cuda(), g1, g2, 0.1)
    out_cpu = ops.step(x[0], y[0], h, w1, w2, 0.1)
    for a, b in zip(out_gpu, out_cpu):
        compare(a, b, dtype)
    compare(g1, w1, dtype)


def test_cuda_divergence_raises_like_cpu():
    x, y = sinernn.sine_data(seq_length=20)
    w1, w2 = sinernn.init_weights(seed=0)
    with pytest.raises(sinernn.DivergenceError) as cpu:
        sinernn.train(x, y, w1.clone(), w2.clone(), 50, 40.0)
    g1 = w1.cuda()
    with pytest.raises(sinernn.DivergenceError) as gpu:
        sinernn.train(x.cuda(), y.cuda(), g1, w2.cuda(), 50, 40.0)
    assert (gpu.value.epoch, gpu.value.step) == (cpu.value.epoch, cpu.value.step)
    compare(gpu.value.losses, cpu.value.losses, torch.float32)  # the completed epochs' losses
    assert torch.isfinite(g1).all()
    with pytest.raises(RuntimeError, match=f"sinernn::train: training diverged at epoch {cpu.value.epoch}, step {cpu.value.step}"):
        torch.ops.sinernn.train(x.cuda(), y.cuda(), w1.cuda(), w2.cuda(), 50, 40.0)


def test_cuda_errors_name_the_argument():
    x, y = sinernn.sine_data(seq_length=20)
    w1, w2 = sinernn.init_weights(seed=0, models=3)
    with pytest.raises(RuntimeError, match="sinernn::train_many: w2 is on"):
        ops.train_many(x.cuda(), y.cuda(), w1.cuda(), w2, 2, torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="sinernn::train_many: w1 is on cuda"):  # x on the CPU: still named
        ops.train_many(x, y, w1.cuda(), w2.cuda(), 2, torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="sinernn::predict: w1 is on cuda"):
        ops.predict(x, w1[0].cuda(), w2[0].cuda())
    g1 = w1.cuda()
    with pytest.raises(RuntimeError, match="x contains NaN"):
        ops.train_many(torch.full_like(x, math.nan).cuda(), y.cuda(), g1, w2.cuda(), 2, torch.ones(3, dtype=torch.float64))
    assert torch.equal(g1.cpu(), w1)
