"""The CUDA kernels against the CPU ones on the same inputs. The device tests are skipped where
there is no GPU or sinernn was built without CUDA kernels (scripts/gpu_check.sh runs them on a GPU
machine); the comparison itself (devicecheck.py) is checked here on the CPU.

float32 where the CPU build fuses multiply-adds (as CUDA does): bit for bit, every output. Else,
and in float64 (CUDA's tanh is not glibc's), within tolerances derived from each model's own
sensitivity (devicecheck.py)."""

import math
import warnings

import pytest
import torch

import sinernn
from sinernn import ops

from cases import DTYPES
from devicecheck import assert_close_to_cpu, cpu_run, sensitivity

on_gpu = pytest.mark.skipif(
    not (torch.cuda.is_available() and sinernn.native_available() and sinernn.cuda_built()),
    reason="needs a GPU and sinernn built with CUDA kernels",
)


def bitwise(dtype) -> bool:
    return dtype == torch.float32 and sinernn._native.ops.cpu_fused_fma()


def models(N, F, H, O, L, per_model, dtype):
    if per_model:
        pairs = [sinernn.smooth_series(L, F, O, seed=n % 97, dtype=dtype) for n in range(N)]
        x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    else:
        x, y = sinernn.smooth_series(L, F, O, seed=0, dtype=dtype)
    if N <= 1000:
        w1, w2 = sinernn.init_weights(F, H, O, seed=0, dtype=dtype, models=N)
    else:  # many models: one generator (init_weights per seed is a Python loop)
        g = torch.Generator().manual_seed(0)
        w1 = torch.randn(N, F + H, H, generator=g, dtype=dtype) * 0.4
        w2 = torch.randn(N, H, O, generator=g, dtype=dtype) * 0.3
    return x, y, w1, w2


def check_many(x, y, w1, w2, epochs, lrs, device="cuda", stream=None):
    """train_many on the device against the CPU: every output."""
    dtype = w1.dtype
    ref, sens = sensitivity(x, y, w1, w2, epochs, lrs)
    g1, g2 = w1.to(device), w2.to(device)
    if stream is None:
        res = sinernn.train_many(x.to(device), y.to(device), g1, g2, epochs, lrs)
    else:
        gx, gy = x.to(device), y.to(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            res = sinernn.train_many(gx, gy, g1, g2, epochs, lrs)
        torch.cuda.current_stream(device).wait_stream(stream)
    assert res.backend == "cpp" and res.losses.device == g1.device
    assert_close_to_cpu(g1, g2, res.losses, res.diverged, ref, sens, bitwise(dtype))
    return g1, g2


@on_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
@pytest.mark.parametrize("N", [1, 3, 65, 1000])  # 65: one past two blocks (warps, groups of the layout) of 32
@pytest.mark.parametrize("F,H,O", [(1, 6, 1), (1, 1, 1), (1, 4, 1), (1, 5, 1), (1, 8, 1), (2, 13, 3), (1, 32, 1)])
def test_train_many_cuda_equals_cpu(F, H, O, N, per_model, dtype):
    """Compile-time sizes (float32 H <= 8, float64 H <= 4) and run-time sizes; lr up to 30 for the
    larger batches, so some models diverge at various epochs and steps."""
    x, y, w1, w2 = models(N, F, H, O, 15, per_model, dtype)
    lrs = torch.logspace(-3, 1.5 if N > 100 else -0.5, N, dtype=torch.float64)
    g1, g2 = check_many(x, y, w1, w2, 8, lrs)
    ref = cpu_run(x, y, w1, w2, 8, lrs)
    pred_gpu, pred_cpu = sinernn.predict_many(x.cuda(), g1, g2), sinernn.predict_many(x, ref.w1, ref.w2)
    if bitwise(dtype):
        assert torch.equal(pred_gpu.cpu(), pred_cpu)
    else:
        torch.testing.assert_close(pred_gpu.cpu(), pred_cpu, rtol=1e-6, atol=1e-6, equal_nan=True)


@on_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_series_of_one_step_and_non_contiguous_inputs(dtype):
    x, y, w1, w2 = models(70, 1, 6, 1, 1, True, dtype)  # L = 1
    check_many(x, y, w1, w2, 5, 0.1)
    x, y, w1, w2 = models(70, 2, 5, 2, 9, True, dtype)
    xt = x.transpose(1, 2).contiguous().transpose(1, 2)  # (N, L, F) strided
    w1t = w1.transpose(1, 2).contiguous().transpose(1, 2)  # written back through a non-contiguous view
    check_many(xt, y, w1t, w2, 5, 0.05)


@on_gpu
def test_side_stream_and_second_device():
    x, y, w1, w2 = models(300, 1, 6, 1, 20, False, torch.float32)
    lrs = torch.logspace(-3, 0.5, 300, dtype=torch.float64)
    check_many(x, y, w1, w2, 6, lrs, stream=torch.cuda.Stream())
    if torch.cuda.device_count() < 2:
        pytest.skip("one GPU: the second device is not checked")
    check_many(x, y, w1, w2, 6, lrs, device="cuda:1")


@on_gpu
def test_many_waves_of_blocks():
    """More blocks than the card holds at once: 300,007 models (9,376 blocks of 32)."""
    x, y, w1, w2 = models(300_007, 1, 6, 1, 10, False, torch.float32)
    check_many(x, y, w1, w2, 3, torch.logspace(-3, 1, 300_007, dtype=torch.float64))


@on_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_single_model_ops_on_cuda(dtype):
    x, y = sinernn.smooth_series(11, 2, 2, seed=3, dtype=dtype)
    w1, w2 = sinernn.init_weights(2, 5, 2, seed=3, dtype=dtype)
    ref, sens = sensitivity(x, y, w1[None], w2[None], 7, 0.1)
    g1, g2 = w1.cuda(), w2.cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sinernn.OneModelOnGpuWarning)
        res = sinernn.train(x.cuda(), y.cuda(), g1, g2, 7, 0.1, backend="cpp")
    assert_close_to_cpu(g1[None], g2[None], res.losses[None], torch.tensor([[-1, -1]]), ref, sens, bitwise(dtype))
    close = (lambda a, b: torch.equal(a.cpu(), b)) if bitwise(dtype) else (
        lambda a, b: torch.allclose(a.cpu(), b, rtol=1e-6, atol=1e-6))
    w1c, w2c = ref.w1[0], ref.w2[0]
    assert close(sinernn.predict(x.cuda(), g1, g2), sinernn.predict(x, w1c, w2c))
    assert close(sinernn.forecast(x.cuda(), g1, g2, 9), sinernn.forecast(x, w1c, w2c, 9))
    h = torch.zeros(5, dtype=dtype)
    out_gpu = ops.step(x[0].cuda(), y[0].cuda(), h.cuda(), g1, g2, 0.1)
    c1, c2 = w1c.clone(), w2c.clone()
    out_cpu = ops.step(x[0], y[0], h, c1, c2, 0.1)
    for a, b in zip(out_gpu, out_cpu):
        assert close(a, b)
    assert close(g1, c1) and close(g2, c2)


@on_gpu
def test_one_model_on_cuda_warns_that_the_cpu_is_faster():
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    with pytest.warns(sinernn.OneModelOnGpuWarning, match="one model on a GPU"):
        sinernn.train(x.cuda(), y.cuda(), w1.cuda(), w2.cuda(), 2)


@on_gpu
def test_cuda_divergence_raises_like_cpu():
    x, y = sinernn.sine_data(seq_length=20)
    w1, w2 = sinernn.init_weights(seed=0)
    with pytest.raises(sinernn.DivergenceError) as cpu:
        sinernn.train(x, y, w1.clone(), w2.clone(), 50, 40.0)
    g1 = w1.cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sinernn.OneModelOnGpuWarning)
        with pytest.raises(sinernn.DivergenceError) as gpu:
            sinernn.train(x.cuda(), y.cuda(), g1, w2.cuda(), 50, 40.0)
    assert (gpu.value.epoch, gpu.value.step) == (cpu.value.epoch, cpu.value.step)
    if bitwise(torch.float32):
        assert torch.equal(gpu.value.losses.cpu(), cpu.value.losses)  # the completed epochs' losses
    assert torch.isfinite(g1).all()
    with pytest.raises(RuntimeError, match=f"sinernn::train: training diverged at epoch {cpu.value.epoch}, step {cpu.value.step}"):
        torch.ops.sinernn.train(x.cuda(), y.cuda(), w1.cuda(), w2.cuda(), 50, 40.0)


@on_gpu
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


@on_gpu
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("F,H,O", [(2, 6, 3), (1, 13, 1), (2, 32, 3), (2, 70, 3), (300, 20, 1)])
def test_batched_cell_on_cuda_equals_cpu(bias, F, H, O):
    """The batched cell's forward and every gradient, CUDA against the CPU, float64 (different
    summation orders: 1e-10). H <= 32: the one-launch kernels (elman_cell_cuda.cu; B = 33 leaves a
    partial block of rows); H = 70, and F = 300 (weights too large for shared memory): cuBLAS a step."""
    from sinernn.nn import ElmanRNN

    model = ElmanRNN(F, H, O, bias=bias, dtype=torch.float64, seed=1)
    if bias:
        with torch.no_grad():
            model.b1.normal_()
            model.b2.normal_()
    gpu = ElmanRNN(F, H, O, bias=bias, dtype=torch.float64, seed=1).cuda()
    gpu.load_state_dict(model.state_dict())
    x = torch.randn(9, 33, F, dtype=torch.float64)
    outs = []
    for m, xx in ((model, x), (gpu, x.cuda().requires_grad_())):
        xx = xx.detach().requires_grad_()
        h0 = torch.linspace(-0.5, 0.5, 33 * H, dtype=torch.float64, device=xx.device).reshape(33, H).requires_grad_()
        pred, hidden = m(xx, h0)
        ((pred ** 2).sum() + hidden.sum()).backward()
        outs.append([pred.detach().cpu(), hidden.detach().cpu(), xx.grad.cpu(), h0.grad.cpu(),
                     *(p.grad.cpu() for p in m.parameters())])
    for a, b in zip(*outs):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


@on_gpu
@pytest.mark.parametrize("H", [6, 32])
def test_batched_cell_on_cuda_float32_forward_is_the_cpu_loops(H):
    """float32, H <= 12: each hidden state is the same chain of multiply-adds as the CPU's batch-last
    loops, with the same tanh (the table): bit for bit. H = 32 (the CPU's blocked product sums in
    another order): within a few ulp of the values' scale per step."""
    from sinernn.nn import ElmanRNN

    model = ElmanRNN(1, H, 1, seed=3)
    x = torch.randn(50, 40, 1)
    pred, hidden = model(x)
    gpred, ghidden = model.cuda()(x.cuda())
    if H <= 12:
        assert torch.equal(ghidden.cpu(), hidden) and torch.equal(gpred.cpu(), pred)
    else:
        torch.testing.assert_close(ghidden.cpu(), hidden, rtol=0, atol=50 * (H + 1) * 2.0**-24)


# -- the comparison itself, on the CPU ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_derived_tolerance_passes_a_rounding_difference_and_fails_a_bug(dtype):
    """A run from inputs moved by one ulp stands in for a device that rounds differently: it passes.
    A wrong learning rate in a few models, or a wrong divergence step, fails."""
    x, y, w1, w2 = models(200, 1, 6, 1, 15, True, dtype)
    lrs = torch.logspace(-3, 1.5, 200, dtype=torch.float64)  # calm models, exploding ones, diverging ones
    ref, sens = sensitivity(x, y, w1, w2, 8, lrs)
    assert int(sens.calm.sum()) > 100 and bool((ref.diverged[:, 0] >= 0).any())  # most models compared
    other = cpu_run(x, y, w1 * (1 + torch.finfo(dtype).eps), w2, 8, lrs)  # another rounding
    assert_close_to_cpu(other.w1, other.w2, other.losses, other.diverged, ref, sens, bitwise=False)
    with pytest.raises(AssertionError):
        assert_close_to_cpu(other.w1, other.w2, other.losses, other.diverged, ref, sens, bitwise=True)
    wrong_lr = lrs.clone()
    wrong_lr[5:8] *= 1.001  # calm models (small lr)
    bad = cpu_run(x, y, w1, w2, 8, wrong_lr)
    with pytest.raises(AssertionError, match="models"):
        assert_close_to_cpu(bad.w1, bad.w2, bad.losses, bad.diverged, ref, sens, bitwise=False)
    shifted = ref.diverged.clone()
    first = int(((ref.diverged[:, 0] >= 0) & sens.stable).nonzero()[0])
    shifted[first, 1] += 1
    with pytest.raises(AssertionError, match="diverged differs"):
        assert_close_to_cpu(ref.w1, ref.w2, ref.losses, shifted, ref, sens, bitwise=False)
