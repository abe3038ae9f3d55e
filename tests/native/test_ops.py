"""The ops as PyTorch sees them: schemas, fake kernels, torch.compile, checks at the op entry."""

import pytest
import torch

import sinernn

from cases import DTYPES, problem

OPS = torch.ops.sinernn


def op_args(dtype, F=2, H=3, O=2, L=5):
    x, y, w1, w2 = problem(F, H, O, L=L, dtype=dtype)
    h = torch.tanh(torch.linspace(-1, 1, H, dtype=dtype))
    return {
        "step": (x[0], y[0], h, w1.clone(), w2.clone(), 0.1),
        "train": (x, y, w1.clone(), w2.clone(), 4, 0.1),
        "train_guarded": (x, y, w1.clone(), w2.clone(), 4, 0.1),
        "predict": (x, w1, w2),
        "forecast": (x[:, :2], *sinernn.init_weights(2, H, 2, seed=1, dtype=dtype), 4),
    }


# opcheck of every op: test_opcheck.py.


def test_schemas_declare_the_in_place_weights():
    step = str(OPS.step.default._schema)
    train = str(OPS.train.default._schema)
    assert "Tensor(a!) w1" in step and "Tensor(b!) w2" in step
    assert "Tensor(a!) w1" in train and "Tensor(b!) w2" in train
    guarded = str(OPS.train_guarded.default._schema)
    assert "Tensor(a!) w1" in guarded and "Tensor(b!) w2" in guarded
    assert "!" not in str(OPS.predict.default._schema)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fake_kernels_give_the_shapes(dtype):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        args = {k: tuple(mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in v) for k, v in op_args(dtype).items()}
        h, p, loss = OPS.step(*args["step"])
        assert (h.shape, p.shape, loss.shape) == ((3,), (2,), ()) and h.dtype == dtype
        assert OPS.train(*args["train"]).shape == (4,)
        losses, diverged = OPS.train_guarded(*args["train_guarded"])
        assert losses.shape == (4,) and losses.dtype == dtype and diverged.shape == (2,) and diverged.dtype == torch.int64
        pred, hidden = OPS.predict(*args["predict"])
        assert pred.shape == (5, 2) and hidden.shape == (5, 3)


def test_torch_compile_fullgraph_matches_eager():
    """Inductor (the default backend) around all three ops, with ordinary ops between them."""
    torch._dynamo.reset()
    x, y, w1, w2 = problem(1, 6, 1, L=20, dtype=torch.float32)

    def train_then_predict(x, y, h, w1, w2):
        h_new, pred_t, loss_t = OPS.step(x[0], y[0], h, w1, w2, 0.1)
        losses = OPS.train(x * 1.0, y, w1, w2, 30, 0.1)
        pred, hidden = OPS.predict(x, w1, w2)
        return losses.sum() * 2, pred + 1, hidden, h_new * 2, loss_t + 1

    h = torch.zeros(6)
    a1, a2, b1, b2 = w1.clone(), w2.clone(), w1.clone(), w2.clone()
    eager = train_then_predict(x, y, h, a1, a2)
    compiled = torch.compile(train_then_predict, fullgraph=True)(x, y, h, b1, b2)
    for e, c in zip(eager, compiled):
        torch.testing.assert_close(c, e, rtol=1e-6, atol=0)  # inductor may fuse the glue ops
    assert torch.equal(a1, b1) and torch.equal(a2, b2)  # the in-place updates happened under compile too


# Bad arguments to the ops called directly: tests/hostile.py and tests/native/test_hostile.py.
