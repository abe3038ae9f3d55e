"""Bad input to the public API: a clear error naming the argument, and no weight changed."""

import pytest
import torch

import sinernn

from cases import ALL_BACKENDS, problem


def _cases():
    x, y, w1, w2 = problem(1, 4, 1, L=6, dtype=torch.float32)
    nan_x = x.clone()
    nan_x[2, 0] = float("nan")
    inf_y = y.clone()
    inf_y[0, 0] = float("inf")
    leafless = (w1.clone().requires_grad_() * 1.0, w2)
    buf = torch.zeros(40)
    w1_over_x, x_under_w1 = buf[:20].view(5, 4), buf[14:20].view(6, 1)  # x is w1's last column... of rows 3-4
    y_and_w2 = (buf[20:26].view(6, 1), buf[23:27].view(4, 1))
    return [
        # (what, kwargs overriding the good call, exception, words the message must contain)
        ("x rank", dict(x=x[:, 0]), ValueError, "x must have shape (L, F)"),
        ("y length", dict(y=y[:5]), ValueError, "y must have shape (L, O) = (6, O)"),
        ("w1 shape", dict(w1=w1[:4]), ValueError, "w1 must have shape (F+H, H) = (5, 4)"),
        ("w2 shape", dict(w2=torch.zeros(4, 2)), ValueError, "w2 must have shape (H, O) = (4, 1)"),
        ("w2 dtype", dict(w2=w2.double()), TypeError, "w2 has dtype torch.float64 but x has torch.float32"),
        ("y dtype", dict(y=y.double()), TypeError, "y has dtype torch.float64"),
        ("int weights", dict(w1=w1.int()), TypeError, "w1 must be float32 or float64"),
        ("half data", dict(x=x.half(), y=y.half()), TypeError, "x must be float32 or float64"),
        ("not a tensor", dict(x=x.numpy()), TypeError, "x must be a torch.Tensor"),
        ("devices", dict(w1=w1.to("meta")), ValueError, "w1 is on meta but x is on cpu"),
        ("nan lr", dict(lr=float("nan")), ValueError, "lr must be finite and >= 0"),
        ("inf lr", dict(lr=float("inf")), ValueError, "lr must be finite and >= 0"),
        ("negative lr", dict(lr=-0.1), ValueError, "lr must be finite and >= 0"),
        ("string lr", dict(lr="0.1"), TypeError, "lr must be a real number"),
        ("negative epochs", dict(epochs=-1), ValueError, "epochs must be >= 0"),
        ("float epochs", dict(epochs=2.5), TypeError, "epochs must be an int"),
        ("empty series", dict(x=x[:0], y=y[:0]), ValueError, "L >= 1 steps"),
        ("nan in x", dict(x=nan_x), ValueError, "x contains NaN or Inf"),
        ("inf in y", dict(y=inf_y), ValueError, "y contains NaN or Inf"),
        ("non-leaf w1", dict(w1=leafless[0]), ValueError, "w1 must be a leaf tensor"),
        ("backend", dict(backend="gpu"), ValueError, "backend must be one of auto, reference, cpp-step, cpp-step-op, cpp"),
        ("expanded w1", dict(w1=w1[:1].expand(5, 4)), ValueError, "w1 is updated in place but several of its elements"),
        ("overlapping rows w2", dict(w2=torch.zeros(9).as_strided((4, 1), (0, 1))), ValueError, "w2 is updated in place but several"),
        ("w1 overlaps x", dict(w1=w1_over_x, x=x_under_w1), ValueError, "w1 is updated in place but shares memory with x"),
        ("w2 is y's buffer", dict(w2=y_and_w2[1], y=y_and_w2[0]), ValueError, "w2 is updated in place but shares memory with y"),
        ("x of 2**40 steps", dict(x=x[:1].expand(2**40, 1), y=y[:1].expand(2**40, 1)), MemoryError, "x of shape (1099511627776, 1) is too large"),
        ("epochs * L overflows", dict(epochs=2**62), ValueError, "epochs * L must fit in 64 bits"),
    ]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("what,override,exc,message", _cases(), ids=[c[0] for c in _cases()])
def test_bad_train_arguments_raise_and_change_nothing(what, override, exc, message, backend):
    x, y, w1, w2 = problem(1, 4, 1, L=6, dtype=torch.float32)
    call = dict(x=x, y=y, w1=w1, w2=w2, epochs=3, lr=0.1, backend=backend)
    call.update(override)
    weights = [t for t in (call["w1"], call["w2"], w1, w2) if isinstance(t, torch.Tensor) and t.device.type == "cpu"]
    before = [t.detach().clone() for t in weights]
    with pytest.raises(exc) as info:
        sinernn.train(**call)
    assert message in str(info.value)
    for t, b in zip(weights, before):
        assert torch.equal(t.detach(), b), f"{what}: a weight changed although the call failed"


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_weights_sharing_memory_are_refused(backend):
    x, y, w1, w2 = problem(1, 4, 1, L=6, dtype=torch.float32)
    before = w1.clone()
    with pytest.raises(ValueError, match="w1 is updated in place but shares memory with w2"):
        sinernn.train(x, y, w1, w1[:4, :1], epochs=2, backend=backend)
    assert torch.equal(w1, before)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_meta_tensors_are_refused(backend):
    x, y, w1, w2 = problem(1, 4, 1, L=6, dtype=torch.float32)
    with pytest.raises(ValueError, match="x is on the meta device"):
        sinernn.train(x.to("meta"), y.to("meta"), w1.to("meta"), w2.to("meta"), backend=backend)


def test_fused_backends_refuse_devices_without_kernels():
    # ask the backend resolution directly, as train does after its checks (no GPU needed)
    from sinernn.engine import backends

    with pytest.raises(ValueError, match="backend 'cpp-step' has no kernel for tensors on cuda:0"):
        backends.resolve("cpp-step", torch.device("cuda:0"))
    with pytest.raises(ValueError, match="backend 'cpp' has no kernel for tensors on mps"):
        backends.resolve("cpp", torch.device("mps"))
    if not sinernn.cuda_built():
        with pytest.raises(ValueError, match="built without CUDA kernels"):
            backends.resolve("cpp", torch.device("cuda:0"))
    want = "cpp" if sinernn.cuda_built() else "reference"
    assert backends.resolve("auto", torch.device("cuda:0")) == want


def test_bad_predict_arguments():
    x, y, w1, w2 = problem(2, 3, 1, L=4)
    with pytest.raises(ValueError, match=r"w1 must have shape \(F\+H, H\) = \(5, 3\)"):
        sinernn.predict(x, w1[:4], w2)
    with pytest.raises(ValueError, match="x contains NaN"):
        sinernn.predict(x.new_full((4, 2), float("nan")), w1, w2)
    with pytest.raises(ValueError, match="backend must be one of"):
        sinernn.predict(x, w1, w2, backend="fast")


@pytest.mark.parametrize(
    "kwargs,message",
    [(dict(hidden_size=0), "hidden_size must be an int >= 1"), (dict(input_size=1.5), "input_size must be an int >= 1"), (dict(dtype=torch.int32), "dtype must be")],
)
def test_bad_init_weights(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        sinernn.init_weights(**kwargs)


def test_bad_sine_data():
    with pytest.raises(ValueError, match="seq_length must be an int >= 1"):
        sinernn.sine_data(seq_length=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finiteness_check_native_and_torch_paths(dtype):
    """checks.check_finite reads contiguous CPU tensors through sinernn._C._all_finite once the
    native ops are loaded, anything else through torch.isfinite: both find a NaN or an Inf anywhere."""
    from sinernn.engine import checks

    sinernn.load_native()
    for bad in (float("nan"), float("inf"), float("-inf")):
        for where in (0, 17, 99):
            t = torch.zeros(25, 4, dtype=dtype)
            t.view(-1)[where] = bad
            for view in (t, t.t(), t[1:]):  # contiguous (native), transposed (torch), offset (native)
                if where < 4 and view.data_ptr() != t.data_ptr():
                    continue  # the offset view starts after the bad value
                with pytest.raises(ValueError, match="x contains NaN or Inf"):
                    checks.check_finite("x", view)
    checks.check_finite("x", torch.full((25, 4), 3e38 if dtype == torch.float32 else 1e308, dtype=dtype))
    checks.check_finite("x", torch.zeros(25, 4, dtype=dtype).t())
