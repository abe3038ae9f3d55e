"""train_many / predict_many: many models in one call, each bit for bit as sinernn.train trains it
alone (same CPU code path: the batched op runs each model's arithmetic in its own SIMD lane)."""

import math

import pytest
import torch

import sinernn
from sinernn import ops

from cases import DTYPES, SIZE_IDS, SIZES, problem


def batch(N, F=1, H=6, O=1, L=17, per_model=False, dtype=torch.float64, seed=0):
    """x, y shared (L, F) or per model (N, L, F), and N seeded models."""
    if per_model:
        pairs = [sinernn.smooth_series(L, F, O, seed=seed + n, dtype=dtype) for n in range(N)]
        x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    else:
        x, y = sinernn.smooth_series(L, F, O, seed=seed, dtype=dtype)
    w1, w2 = sinernn.init_weights(F, H, O, seed=seed, dtype=dtype, models=N)
    return x, y, w1, w2


def one_by_one(x, y, w1, w2, epochs, lrs):
    """sinernn.train (the single-model whole-loop op) on each model: -> losses (N, epochs),
    diverged (N, 2), with w1, w2 updated in place."""
    N = w1.shape[0]
    losses = torch.full((N, epochs), math.nan, dtype=x.dtype)
    diverged = torch.full((N, 2), -1, dtype=torch.int64)
    for n in range(N):
        xs, ys = (x[n], y[n]) if x.dim() == 3 else (x, y)
        try:
            losses[n] = sinernn.train(xs, ys, w1[n], w2[n], epochs, float(lrs[n]), backend="cpp").losses
        except sinernn.DivergenceError as exc:
            diverged[n] = torch.tensor([exc.epoch, exc.step])
            losses[n, : exc.epoch] = exc.losses
    return losses, diverged


def assert_same_as_single(x, y, w1, w2, epochs, lr):
    N = w1.shape[0]
    lrs = torch.as_tensor(lr, dtype=torch.float64).expand(N) if not isinstance(lr, torch.Tensor) else lr
    a1, a2 = w1.clone(), w2.clone()
    res = sinernn.train_many(x, y, w1, w2, epochs, lr, backend="cpp")
    losses, diverged = one_by_one(x, y, a1, a2, epochs, lrs)
    assert res.losses.shape == (N, epochs) and res.losses.dtype == x.dtype
    assert torch.equal(res.diverged, diverged)
    assert torch.equal(w1, a1) and torch.equal(w2, a2)  # bit for bit
    assert torch.equal(res.losses.isnan(), losses.isnan())
    assert torch.equal(res.losses.nan_to_num(), losses.nan_to_num())
    return res


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
@pytest.mark.parametrize("per_model_lr", [False, True], ids=["lr", "lrs"])
@pytest.mark.parametrize("N", [1, 3, 17, 1000])
def test_batched_equals_single_tutorial_sizes(N, per_model, per_model_lr, dtype):
    x, y, w1, w2 = batch(N, L=11 if N == 1000 else 17, per_model=per_model, dtype=dtype)
    lr = torch.linspace(0.01, 0.4, N, dtype=torch.float64) if per_model_lr else 0.1
    res = assert_same_as_single(x, y, w1, w2, 3 if N == 1000 else 6, lr)
    assert not (res.diverged >= 0).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("F,H,O", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
def test_batched_equals_single_sizes(F, H, O, per_model, dtype):
    x, y, w1, w2 = batch(19, F, H, O, L=9, per_model=per_model, dtype=dtype)
    assert_same_as_single(x, y, w1, w2, 4, torch.linspace(0.0, 0.3, 19, dtype=torch.float64))


@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
@pytest.mark.parametrize("H", range(1, 17))
def test_batched_equals_single_every_small_hidden_size(H, per_model):
    """F = O = 1, H <= 16, float32: the sizes of the AVX-512 kernels (the lane kernel of train_many for
    H <= 9, in blocks of 32 models, and the single model's register kernel), with N = 35 (not a
    multiple of a block: padding lanes) and some models diverging in the middle of an epoch."""
    x, y, w1, w2 = batch(35, 1, H, 1, L=23, per_model=per_model, dtype=torch.float32, seed=H)
    lrs = torch.cat([torch.linspace(0.0, 0.5, 30, dtype=torch.float64), torch.tensor([20.0, 50.0, 3e3, 1e5, 1e7])])
    res = assert_same_as_single(x, y, w1, w2, 5, lrs)
    stopped = res.diverged[:, 0] >= 0
    assert stopped[30:].all() and not stopped[:30].all()  # both kinds in one block


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_per_model(dtype):
    """Models with large lr diverge where they would alone; the others are untouched by it."""
    x, y, w1, w2 = batch(37, L=20, dtype=dtype)
    lrs = torch.linspace(0.05, 60.0, 37, dtype=torch.float64)
    res = assert_same_as_single(x, y, w1, w2, 12, lrs)
    stopped = res.diverged[:, 0] >= 0
    assert 0 < int(stopped.sum()) < 37  # some of each
    assert torch.isfinite(w1).all() and torch.isfinite(w2).all()
    for n in torch.nonzero(stopped).flatten().tolist():
        e = int(res.diverged[n, 0])
        assert res.losses[n, e:].isnan().all() and torch.isfinite(res.losses[n, :e]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_over_many_epochs(dtype):
    """150 epochs, models diverging at many different epochs (with the AVX-512 build, float32: 2-6, 18
    and 119), the others running on: each epoch reads one of the block's two weight buffers and
    writes the other, and a diverged model keeps the weights from before its last epoch."""
    x, y, w1, w2 = batch(37, L=7, dtype=dtype, seed=3)
    res = assert_same_as_single(x, y, w1, w2, 150, torch.linspace(0.3, 4.0, 37, dtype=torch.float64))
    epochs = set(res.diverged[:, 0].tolist()) - {-1}
    assert len(epochs) >= 3 and (res.diverged[:, 0] < 0).any()


def test_float64_matches_the_reference():
    """The batched op against the autograd reference itself (not only the single op), float64."""
    x, y, w1, w2 = batch(5, 2, 5, 3, L=13, per_model=True)
    a1, a2 = w1.clone(), w2.clone()
    res = sinernn.train_many(x, y, w1, w2, 5, [0.05, 0.1, 0.0, 0.2, 0.02], backend="cpp")
    ref = sinernn.train_many(x, y, a1, a2, 5, [0.05, 0.1, 0.0, 0.2, 0.02], backend="reference")
    torch.testing.assert_close(w1, a1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(w2, a2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(res.losses, ref.losses, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
def test_predict_many_equals_predict(per_model, dtype):
    x, y, w1, w2 = batch(21, 2, 7, 3, L=10, per_model=per_model, dtype=dtype)
    preds, hidden = sinernn.predict_many(x, w1, w2, return_hidden=True)
    assert preds.shape == (21, 10, 3) and hidden.shape == (21, 10, 7)
    for n in range(21):
        p, h = sinernn.predict(x[n] if per_model else x, w1[n], w2[n], return_hidden=True)
        assert torch.equal(preds[n], p) and torch.equal(hidden[n], h)


def test_threads_change_nothing():
    x, y, w1, w2 = batch(100, dtype=torch.float32, per_model=True)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            torch.set_num_threads(n)
            a1, a2 = w1.clone(), w2.clone()
            results.append((sinernn.train_many(x, y, a1, a2, 5, 0.1).losses, a1, a2))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_non_contiguous_weights_are_written_back():
    x, y, w1, w2 = batch(9)
    a1, a2 = w1.clone(), w2.clone()
    t1 = w1.transpose(1, 2).contiguous().transpose(1, 2)  # same values, other strides
    t2 = w2.transpose(1, 2).contiguous().transpose(1, 2)
    assert not t1.is_contiguous()
    sinernn.train_many(x, y, t1, t2, 3, 0.1)
    sinernn.train_many(x, y, a1, a2, 3, 0.1)
    assert torch.equal(t1, a1) and torch.equal(t2, a2)


def test_lr_as_numpy_array_or_list():
    import numpy as np

    x, y, w1, w2 = batch(3)
    a1, a2, b1, b2 = w1.clone(), w2.clone(), w1.clone(), w2.clone()
    r1 = sinernn.train_many(x, y, a1, a2, 2, np.array([0.1, 0.2, 0.3]))
    r2 = sinernn.train_many(x, y, b1, b2, 2, [0.1, 0.2, 0.3])
    assert torch.equal(r1.losses, r2.losses) and torch.equal(a1, b1)
    with pytest.raises(TypeError, match="lr must be a real number or a sequence"):
        sinernn.train_many(x, y, w1, w2, 2, [0.1, "x", 0.3])


def test_zero_epochs():
    x, y, w1, w2 = batch(4)
    a1 = w1.clone()
    res = sinernn.train_many(x, y, w1, w2, 0, 0.1)
    assert res.losses.shape == (4, 0) and torch.equal(w1, a1)
    assert res.final_losses.isnan().all()


def test_init_weights_models():
    w1, w2 = sinernn.init_weights(2, 5, 3, seed=7, models=4, dtype=torch.float64)
    assert w1.shape == (4, 7, 5) and w2.shape == (4, 5, 3)
    for i in range(4):
        a1, a2 = sinernn.init_weights(2, 5, 3, seed=7 + i, dtype=torch.float64)
        assert torch.equal(w1[i], a1) and torch.equal(w2[i], a2)
    s1, _ = sinernn.init_weights(seed=[3, 1], models=2)
    assert torch.equal(s1[1], sinernn.init_weights(seed=1)[0])
    g1, _ = sinernn.init_weights(models=3, generator=torch.Generator().manual_seed(5))
    g2, _ = sinernn.init_weights(models=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(g1, g2) and not torch.equal(g1[0], g1[1])
    with pytest.raises(ValueError, match="models must be an int >= 1"):
        sinernn.init_weights(models=0)
    with pytest.raises(ValueError, match="sequence of models=3 ints"):
        sinernn.init_weights(seed=[1, 2], models=3)


def _bad_calls():
    x, y, w1, w2 = batch(3)
    yield "x must have shape", (x[0], y, w1, w2, 2, 0.1), ValueError
    yield "w1 must have shape \\(N, F\\+H, H\\)", (x, y, w1[0], w2, 2, 0.1), ValueError
    yield "same N >= 1 models", (x, y, w1, w2[:2], 2, 0.1), ValueError
    yield "one series per model", (x.expand(4, -1, -1), y.expand(4, -1, -1), w1, w2, 2, 0.1), ValueError
    yield "y must have shape", (x, y[None].expand(3, -1, -1), w1, w2, 2, 0.1), ValueError
    yield "lr must be a number or have shape \\(N,\\) = \\(3,\\)", (x, y, w1, w2, 2, [0.1, 0.2]), ValueError
    yield "lr\\[1\\]=-0.5", (x, y, w1, w2, 2, [0.1, -0.5, 0.1]), ValueError
    yield "lr\\[2\\]=nan", (x, y, w1, w2, 2, torch.tensor([0.1, 0.1, math.nan])), ValueError
    yield "lr must be a real number", (x, y, w1, w2, 2, "fast"), TypeError
    yield "epochs must be >= 0", (x, y, w1, w2, -1, 0.1), ValueError
    yield "x contains NaN", (torch.full_like(x, math.nan), y, w1, w2, 2, 0.1), ValueError
    yield "w1 has dtype", (x, y, w1.float(), w2, 2, 0.1), TypeError
    yield "shares memory", (x, y, w1, w1[:, 1:, :1], 2, 0.1), ValueError  # w2 a view into w1


@pytest.mark.parametrize("match,args,error", list(_bad_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_arguments_name_it_and_change_nothing(match, args, error):
    w1, w2 = args[2], args[3]
    before = (w1.clone(), w2.clone())
    with pytest.raises(error, match=match):
        sinernn.train_many(*args)
    assert torch.equal(w1, before[0]) and torch.equal(w2, before[1])


def test_op_checks_its_own_arguments():
    """Called directly (no Python checks), the op names the argument and changes nothing."""
    x, y, w1, w2 = batch(3)
    before = w1.clone()
    for lr, match in ((torch.tensor([0.1, 0.2], dtype=torch.float64), "lr must have shape \\(N,\\) = \\(3,\\)"),
                      (torch.tensor([0.1, -1.0, 0.2], dtype=torch.float64), "lr\\[1\\]=-1"),
                      (torch.tensor([1, 2, 3]), "floating-point")):
        with pytest.raises(RuntimeError, match=match):
            ops.train_many(x, y, w1, w2, 2, lr)
    with pytest.raises(RuntimeError, match="sinernn::train_many: x of shape \\(N, L, F\\) must hold N=3"):
        ops.train_many(x.expand(2, -1, -1), y.expand(2, -1, -1), w1, w2, 2, torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="sinernn::train_many: w1 is written in place but several"):
        ops.train_many(x, y, w1[:1].expand(3, -1, -1), w2, 2, torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="sinernn::predict_many: w2 must have shape \\(N, H, O\\)"):
        ops.predict_many(x, w1, w2[0])
    assert torch.equal(w1, before)


# opcheck of train_many / predict_many: tests/native/test_opcheck.py.


def test_backend_resolution_by_device():
    """The same device rules as sinernn.train (one helper, sinernn.engine.backends.has_native_kernels)."""
    from sinernn.engine import backends

    assert backends.resolve_many("auto", torch.device("cpu")) == "cpp"
    assert backends.resolve_many("auto", torch.device("mps")) == "reference"
    with pytest.raises(ValueError, match="backend 'cpp' has no kernel for tensors on mps"):
        backends.resolve_many("cpp", torch.device("mps"))
    with pytest.raises(ValueError, match="backend 'cpp-loop' has no kernel for tensors on mps"):
        backends.resolve_many("cpp-loop", torch.device("mps"))
    if not sinernn.cuda_built():
        with pytest.raises(ValueError, match="built without CUDA kernels"):
            backends.resolve_many("cpp", torch.device("cuda:0"))
    assert backends.resolve_many("auto", torch.device("cuda:0")) == ("cpp" if sinernn.cuda_built() else "reference")
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.resolve_many("cpp-step", torch.device("cpu"))
