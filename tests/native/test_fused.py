"""The fused native ops against the reference path: one step, whole runs, float64 and float32."""

import pytest
import torch

import sinernn
from sinernn import ops
from sinernn.engine import reference

from cases import DTYPES, FUSED_BACKENDS, SIZE_IDS, SIZES, problem, rel_dev

EPS32 = torch.finfo(torch.float32).eps


@pytest.mark.parametrize("F,H,O", SIZES, ids=SIZE_IDS)
def test_step_float64_matches_reference(F, H, O):
    """One fused step from a non-zero context: loss, prediction, context, weights to ~1e-12."""
    g = torch.Generator().manual_seed(F * 100 + H * 10 + O)
    x, y = torch.randn(F, generator=g, dtype=torch.float64), torch.randn(O, generator=g, dtype=torch.float64)
    h = torch.tanh(torch.randn(H, generator=g, dtype=torch.float64))
    w1 = torch.randn(F + H, H, generator=g, dtype=torch.float64) * 0.5
    w2 = torch.randn(H, O, generator=g, dtype=torch.float64) * 0.5
    r1, r2, f1, f2 = w1.clone(), w2.clone(), w1.clone(), w2.clone()
    ref = reference.step(x, y, h, r1, r2, 0.1)
    got = ops.step(x, y, h, f1, f2, 0.1)
    for name, a, b in zip(("h_new", "pred", "loss"), got, ref):
        assert a.shape == b.shape and a.dtype == torch.float64, name
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15, msg=name)
    torch.testing.assert_close(f1, r1, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(f2, r2, rtol=1e-12, atol=1e-15)
    assert not torch.equal(f1, w1) and not torch.equal(f2, w2)  # the step did update


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_tutorial_run_float64_matches_reference(backend):
    """The whole 300-epoch tutorial run: every per-epoch loss and the final weights to 1e-9."""
    x, y = sinernn.sine_data(dtype=torch.float64)
    r1, r2 = sinernn.init_weights(seed=0, dtype=torch.float64)
    f1, f2 = r1.clone(), r2.clone()
    ref = reference.train(x, y, r1, r2, epochs=300, lr=0.1)
    res = sinernn.train(x, y, f1, f2, epochs=300, lr=0.1, backend=backend)
    assert res.backend == backend and res.losses.shape == (300,)
    torch.testing.assert_close(res.losses, ref, rtol=1e-9, atol=0)
    torch.testing.assert_close(f1, r1, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(f2, r2, rtol=1e-9, atol=1e-12)
    p_ref, h_ref = reference.predict(x, r1, r2)
    p, h = sinernn.predict(x, f1, f2, backend=backend, return_hidden=True)
    torch.testing.assert_close(p, p_ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(h, h_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("F,H,O", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("L", [1, 9])
def test_whole_run_float64_matches_reference(F, H, O, L):
    assert_whole_run_float64_matches_reference(F, H, O, L, epochs=30)


def assert_whole_run_float64_matches_reference(F, H, O, L, epochs, seed=1):
    """The cpp whole-loop op against the reference in float64: per-epoch losses and weights to 1e-9."""
    x, y, r1, r2 = problem(F, H, O, L=L, seed=seed)
    f1, f2 = r1.clone(), r2.clone()
    ref = reference.train(x, y, r1, r2, epochs=epochs, lr=0.05)
    res = sinernn.train(x, y, f1, f2, epochs=epochs, lr=0.05, backend="cpp")
    torch.testing.assert_close(res.losses, ref, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(f1, r1, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(f2, r2, rtol=1e-9, atol=1e-12)


def run_all(x64, y64, w1_64, w2_64, epochs, lr):
    """(reference float64, reference float32, cpp float32) losses, weights and predictions."""
    out = {}
    for tag, dtype, backend in (("r64", torch.float64, "reference"), ("r32", torch.float32, "reference"), ("c32", torch.float32, "cpp")):
        x, y = x64.to(dtype), y64.to(dtype)
        w1, w2 = w1_64.to(dtype, copy=True), w2_64.to(dtype, copy=True)
        res = sinernn.train(x, y, w1, w2, epochs=epochs, lr=lr, backend=backend)
        pred = sinernn.predict(x, w1, w2, backend=backend)
        out[tag] = {"losses": res.losses, "w1": w1, "w2": w2, "pred": pred}
    return out


@pytest.mark.parametrize("F,H,O", [(1, 6, 1), *SIZES[:2], SIZES[3]], ids=["tutorial", *SIZE_IDS[:2], SIZE_IDS[3]])
def test_float32_is_as_accurate_as_the_reference(F, H, O):
    """float32: tolerance derived from the reference's own float32-vs-float64 error.

    A float32 run of the reference lies E = dev(ref32, ref64) from the float64 run. The fused
    float32 run makes different but equally sized rounding errors (other summation order, libm
    tanh), so it lies about E from the float64 run too and up to ~2E from ref32 (the largest
    ratio seen while deriving this was 2.0). We allow 4E, plus 4 float32 ulps of the largest
    value for quantities whose own error happens to be near zero.
    """
    if (F, H, O) == (1, 6, 1):
        x, y = sinernn.sine_data(dtype=torch.float64)
        w1, w2 = sinernn.init_weights(seed=0, dtype=torch.float64)
        epochs, lr = 300, 0.1
    else:
        x, y, w1, w2 = problem(F, H, O, L=25)
        epochs, lr = 60, 0.05
    out = run_all(x, y, w1, w2, epochs, lr)
    for q in ("losses", "w1", "w2", "pred"):
        scale = out["r64"][q].abs().max()
        own_error = ((out["r32"][q].double() - out["r64"][q]).abs().max() / scale).item()
        tol = 4 * own_error + 4 * EPS32
        dev = ((out["c32"][q].double() - out["r32"][q].double()).abs().max() / scale).item()
        assert dev <= tol, f"{q}: fused float32 deviates {dev:.2e} from the float32 reference, tolerance {tol:.2e}"
        assert own_error < 1e-4, f"{q}: the float32 reference itself drifted ({own_error:.2e}); not a float32 test any more"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("F,H,O", SIZES, ids=SIZE_IDS)
def test_cpp_step_and_cpp_agree_bit_for_bit(F, H, O, dtype):
    """The whole-loop op, the direct step binding and the dispatcher's step op run the same
    compiled step (the loop fuses step t's w1 update with step t+1's forward without changing
    a single rounding), so they agree to the last bit."""
    x, y, w1, w2 = problem(F, H, O, L=11, dtype=dtype)
    runs = {}
    for backend in FUSED_BACKENDS:
        a1, a2 = w1.clone(), w2.clone()
        runs[backend] = (sinernn.train(x, y, a1, a2, epochs=25, lr=0.05, backend=backend).losses, a1, a2)
    for backend in FUSED_BACKENDS[1:]:
        for a, b in zip(runs["cpp"], runs[backend]):
            assert torch.equal(a, b), backend


@pytest.mark.parametrize("backend", ["reference", *FUSED_BACKENDS, "auto"])
def test_every_backend_trains_in_place_from_the_same_weights(backend):
    x, y = sinernn.sine_data(dtype=torch.float64)
    w1, w2 = sinernn.init_weights(seed=4, dtype=torch.float64)
    assert torch.equal(w1, sinernn.init_weights(seed=4, dtype=torch.float64)[0])
    ptr1, ptr2 = w1.data_ptr(), w2.data_ptr()
    res = sinernn.train(x, y, w1, w2, epochs=20, lr=0.1, backend=backend)
    assert w1.data_ptr() == ptr1 and w2.data_ptr() == ptr2
    assert res.backend == ("cpp" if backend == "auto" else backend)
    expected = sinernn.init_weights(seed=4, dtype=torch.float64)
    ref = reference.train(x, y, *expected, epochs=20, lr=0.1)
    torch.testing.assert_close(res.losses, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(w1, expected[0], rtol=1e-12, atol=1e-14)
    assert res.steps == 400 and res.seconds > 0 and res.steps_per_second > 0


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_weights_that_require_grad_like_the_tutorials(backend):
    x, y = sinernn.sine_data()
    w1, w2 = (w.requires_grad_() for w in sinernn.init_weights(seed=0))
    r1, r2 = (w.detach().clone() for w in (w1, w2))
    sinernn.train(x, y, w1, w2, epochs=5, backend=backend)
    sinernn.train(x, y, r1, r2, epochs=5, backend=backend)
    assert w1.requires_grad and w1.grad_fn is None and w1.grad is None
    assert torch.equal(w1.detach(), r1) and torch.equal(w2.detach(), r2)


@pytest.mark.parametrize("backend", ["reference", *FUSED_BACKENDS])
def test_non_contiguous_inputs_and_weights(backend):
    x, y, w1, w2 = problem(3, 5, 2, L=12)
    base1, base2 = w1.clone(), w2.clone()
    ref = sinernn.train(x, y, base1, base2, epochs=10, lr=0.05, backend=backend)
    xs = torch.zeros(12, 6, dtype=torch.float64)[:, ::2].copy_(x)  # strided columns
    ys = y.t().contiguous().t()  # transposed layout
    t1 = w1.t().contiguous().t()  # weights as transposed views: not contiguous
    t2 = w2.t().contiguous().t()
    assert not xs.is_contiguous() and not t1.is_contiguous()
    res = sinernn.train(xs, ys, t1, t2, epochs=10, lr=0.05, backend=backend)
    assert torch.equal(res.losses, ref.losses)
    assert torch.equal(t1, base1) and torch.equal(t2, base2)
    assert torch.equal(sinernn.predict(xs, t1, t2, backend=backend), sinernn.predict(x, base1, base2, backend=backend))


@pytest.mark.parametrize("backend", ["reference", *FUSED_BACKENDS])
def test_zero_epochs_and_zero_lr_change_nothing(backend):
    x, y, w1, w2 = problem(2, 3, 1, L=5)
    before = (w1.clone(), w2.clone())
    res = sinernn.train(x, y, w1, w2, epochs=0, lr=0.1, backend=backend)
    assert res.losses.shape == (0,) and torch.equal(w1, before[0])
    res = sinernn.train(x, y, w1, w2, epochs=3, lr=0.0, backend=backend)
    assert torch.equal(w1, before[0]) and torch.equal(w2, before[1])
    assert torch.allclose(res.losses, res.losses[0].expand(3), rtol=1e-15, atol=0)  # nothing learned


def test_predict_is_teacher_forced_from_a_zero_context():
    x, y, w1, w2 = problem(2, 4, 3, L=8)
    p, h = sinernn.predict(x, w1, w2, backend="cpp", return_hidden=True)
    p0, h0 = reference.forward(x[:1], torch.zeros(1, 4, dtype=torch.float64), w1, w2)
    torch.testing.assert_close(p[0], p0[0], rtol=1e-13, atol=0)
    p1, _ = reference.forward(x[1:2], h[:1], w1, w2)  # the true x_1, the context from step 0
    torch.testing.assert_close(p[1], p1[0], rtol=1e-13, atol=0)
    assert p.shape == (8, 3) and h.shape == (8, 4)


def test_loss_is_the_sum_of_step_losses():
    x, y, w1, w2 = problem(1, 3, 1, L=6)
    c1, c2 = w1.clone(), w2.clone()
    res = sinernn.train(x, y, w1, w2, epochs=1, lr=0.05, backend="cpp")
    h, total = torch.zeros(3, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for t in range(6):
        h, _, loss = ops.step(x[t], y[t], h, c1, c2, 0.05)
        total += loss
    assert res.losses[0].item() == total.item()


# F = O = 1 with H up to 16 runs code compiled for that H (with_sizes in csrc/elman_math.h); 17 and
# 18 run at run-time sizes. Every one of those builds must match the reference, and the whole-loop
# op, the step binding and train_many must still agree to the last bit at each H.
@pytest.mark.parametrize("H", range(1, 19))
def test_every_compiled_hidden_size(H):
    assert_whole_run_float64_matches_reference(1, H, 1, L=9, epochs=12, seed=H)
    x32, y32, w1, w2 = problem(1, H, 1, L=9, seed=H, dtype=torch.float32)
    runs = []
    for backend in ("cpp", "cpp-step"):
        a1, a2 = w1.clone(), w2.clone()
        runs.append((sinernn.train(x32, y32, a1, a2, epochs=12, lr=0.05, backend=backend).losses, a1, a2))
    m1, m2 = w1.expand(3, -1, -1).clone(), w2.expand(3, -1, -1).clone()
    many = sinernn.train_many(x32, y32, m1, m2, 12, 0.05, backend="cpp")
    for n in range(3):
        runs.append((many.losses[n], m1[n], m2[n]))
    for run in runs[1:]:
        for a, b in zip(runs[0], run):
            assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H", [1, 6, 7, 16])
def test_compile_time_and_run_time_sizes_round_alike(H, dtype):
    """csrc/elman_math.h claims the compile-time sizes (F = O = 1 here) and the run-time sizes do the
    same arithmetic in the same order. A second input that is always 0 turns the problem into one of
    F = 2 (run-time sizes) whose every rounding is the same: its row of w1 adds fma(0, w, z) = z to
    each pre-activation and receives updates of -lr * 0 * dz = -0. So both runs agree to the bit."""
    x, y, w1, w2 = problem(1, H, 1, L=13, seed=H, dtype=dtype)
    spare_row = torch.linspace(-0.5, 0.5, H, dtype=dtype).reshape(1, H)
    x2 = torch.cat([x, torch.zeros_like(x)], dim=1)
    a1, a2 = w1.clone(), w2.clone()
    b1, b2 = torch.cat([w1[:1], spare_row, w1[1:]]), w2.clone()
    fixed = sinernn.train(x, y, a1, a2, epochs=15, lr=0.05, backend="cpp").losses
    run_time = sinernn.train(x2, y, b1, b2, epochs=15, lr=0.05, backend="cpp").losses
    assert torch.equal(fixed, run_time)
    assert torch.equal(b1[1:2], spare_row)
    assert torch.equal(torch.cat([b1[:1], b1[2:]]), a1) and torch.equal(b2, a2)
    assert not torch.equal(a1, w1)  # it trained
