"""The differentiable fused cell (seq_forward / seq_backward with autograd) and sinernn.nn.ElmanRNN:
gradcheck, opcheck, the tutorial with torch.optim.SGD, Adam against plain torch ops, torch.compile,
TorchScript, the nn.RNNCell converter."""

import warnings

import pytest
import torch

import sinernn
from sinernn import ops, reference
from sinernn.nn import ElmanRNN

from cases import DTYPES


def cell_inputs(F, H, O, L, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(L, F, generator=g, dtype=dtype)
    h0 = torch.randn(H, generator=g, dtype=dtype).tanh()
    w1 = torch.randn(F + H, H, generator=g, dtype=dtype) * 0.5
    w2 = torch.randn(H, O, generator=g, dtype=dtype) * 0.5
    return [t.requires_grad_() for t in (x, h0, w1, w2)]


@pytest.mark.parametrize("F,H,O,L", [(1, 1, 1, 1), (1, 6, 1, 1), (2, 3, 2, 4), (3, 7, 2, 6), (1, 13, 3, 9)])
def test_gradcheck(F, H, O, L):
    assert torch.autograd.gradcheck(lambda *a: ops.cell(*a), cell_inputs(F, H, O, L))


@pytest.mark.parametrize("F,H,O,L", [(1, 6, 1, 1), (2, 5, 3, 7)])
def test_forward_and_gradients_equal_plain_torch(F, H, O, L):
    fused = cell_inputs(F, H, O, L)
    plain = [t.detach().clone().requires_grad_() for t in fused]
    p1, h1 = ops.cell(*fused)
    p2, h2 = reference.run_sequence(*plain)
    torch.testing.assert_close(p1, p2, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(h1, h2, rtol=1e-13, atol=1e-15)
    ((p1**2).sum() + h1.sum()).backward()
    ((p2**2).sum() + h2.sum()).backward()
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["seq_forward", "seq_backward"])
def test_opcheck(name, dtype):
    x, h0, w1, w2 = (t.detach().to(dtype) for t in cell_inputs(2, 3, 2, 4))
    if name == "seq_forward":
        args = (x, h0, w1, w2)
    else:
        pred, hidden = torch.ops.sinernn.seq_forward(x, h0, w1, w2)
        args = (torch.randn_like(pred), torch.randn_like(hidden), x, h0, w1, w2, hidden)
    torch.library.opcheck(getattr(torch.ops.sinernn, name).default, args)


def _tutorial_with_optimizer(model, make_opt, epochs, x, y):
    """The tutorial's loop around a module: one step at a time, the context detached between
    steps (one-step truncation), an optimizer step after every step. -> per-epoch loss totals."""
    opt = make_opt(model.parameters())
    totals = []
    for _ in range(epochs):
        h, total = None, x.new_zeros(())
        for t in range(x.shape[0]):
            pred, hidden = model(x[t : t + 1], h)
            loss = ((pred - y[t : t + 1]) ** 2).sum() / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            h = hidden[-1].detach()
            total += loss.detach()
        totals.append(total)
    return torch.stack(totals)


def test_tutorial_with_sgd_equals_the_reference_trainer():
    x, y = sinernn.sine_data(dtype=torch.float64)
    model = ElmanRNN(1, 6, 1, seed=0, dtype=torch.float64)
    losses = _tutorial_with_optimizer(model, lambda p: torch.optim.SGD(p, lr=0.1), 40, x, y)
    w1, w2 = sinernn.init_weights(seed=0, dtype=torch.float64)
    ref = sinernn.train(x, y, w1, w2, epochs=40, lr=0.1, backend="reference")
    torch.testing.assert_close(losses, ref.losses, rtol=1e-11, atol=0)
    torch.testing.assert_close(model.w1.detach(), w1, rtol=1e-11, atol=1e-13)


def test_adam_equals_the_same_module_in_plain_torch_ops():
    x, y = sinernn.sine_data(dtype=torch.float64)
    adam = lambda p: torch.optim.Adam(p, lr=0.01)  # noqa: E731
    fused = _tutorial_with_optimizer(ElmanRNN(1, 6, 1, dtype=torch.float64), adam, 30, x, y)
    plain = _tutorial_with_optimizer(ElmanRNN(1, 6, 1, dtype=torch.float64, fused=False), adam, 30, x, y)
    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=0)


def test_longer_truncation_window_and_state_dict():
    x, y = sinernn.sine_data(seq_length=40, dtype=torch.float64)
    models = [ElmanRNN(1, 5, 1, dtype=torch.float64, fused=f) for f in (True, False)]
    for m in models:
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        h = None
        for start in range(0, 40, 10):  # windows of 10 steps, gradients through all 10
            pred, hidden = m(x[start : start + 10], h)
            loss = ((pred - y[start : start + 10]) ** 2).sum() / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            h = hidden[-1].detach()
    torch.testing.assert_close(models[0].w1, models[1].w1, rtol=1e-11, atol=1e-13)
    copy = ElmanRNN(1, 5, 1, dtype=torch.float64, seed=9)
    copy.load_state_dict(models[0].state_dict())
    assert torch.equal(copy.w1, models[0].w1) and set(models[0].state_dict()) == {"w1", "w2"}
    assert copy.to(torch.float32).w1.dtype == torch.float32


def test_rnncell_converter_round_trip():
    cell, linear = torch.nn.RNNCell(2, 4, bias=False, dtype=torch.float64), torch.nn.Linear(4, 3, bias=False, dtype=torch.float64)
    model = ElmanRNN.from_torch(cell, linear)
    x = torch.randn(5, 2, dtype=torch.float64)
    pred, hidden = model(x)
    h, outs = torch.zeros(1, 4, dtype=torch.float64), []
    for t in range(5):
        h = cell(x[t : t + 1], h)
        outs.append(linear(h)[0])
    torch.testing.assert_close(pred, torch.stack(outs), rtol=1e-12, atol=1e-14)
    cell2, linear2 = model.to_torch()
    assert torch.equal(cell2.weight_hh, cell.weight_hh) and torch.equal(linear2.weight, linear.weight)
    with pytest.raises(ValueError, match="bias=False"):
        ElmanRNN.from_torch(torch.nn.RNNCell(2, 4), linear)


def test_torch_compile_fullgraph_training_step_matches_eager():
    torch._dynamo.reset()
    x, y = sinernn.sine_data(dtype=torch.float64)
    models = [ElmanRNN(1, 6, 1, dtype=torch.float64) for _ in range(2)]

    def loss_of(model, x, y, h0):
        pred, hidden = model(x, h0)
        return ((pred - y) ** 2).sum() / 2, hidden[-1]

    compiled = torch.compile(loss_of, fullgraph=True)
    results = []
    for m, fn in zip(models, (loss_of, compiled)):
        opt = torch.optim.SGD(m.parameters(), lr=0.05)
        h, losses = torch.zeros(6, dtype=torch.float64), []
        for start in range(0, 20, 5):
            loss, h = fn(m, x[start : start + 5], y[start : start + 5], h)
            opt.zero_grad()
            loss.backward()
            opt.step()
            h = h.detach()
            losses.append(loss.detach())
        results.append((torch.stack(losses), m.w1.detach()))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-12, atol=0)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-12, atol=1e-14)


def test_torchscript_function_calling_the_ops_matches_eager():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream

        @torch.jit.script
        def scripted(x: torch.Tensor, h0: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor):
            pred, hidden = torch.ops.sinernn.seq_forward(x, h0, w1, w2)
            return torch.ops.sinernn.predict(x, w1, w2)[0] - pred, hidden

    x, h0, w1, w2 = (t.detach() for t in cell_inputs(2, 4, 2, 6))
    got = scripted(x, h0 * 0, w1, w2)
    pred, hidden = torch.ops.sinernn.seq_forward(x, h0 * 0, w1, w2)
    assert torch.equal(got[1], hidden) and torch.equal(got[0], torch.zeros_like(pred))
