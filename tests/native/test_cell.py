"""The differentiable fused cell (seq_forward / seq_backward; the batched cell_forward / cell_backward)
and sinernn.nn.ElmanRNN: gradcheck, the tutorial with torch.optim.SGD, Adam against plain
torch ops, float64 equality with nn.RNN + nn.Linear (biases, batch_first, odd sizes, B = 1, L = 1),
second derivatives refused, torch.compile, TorchScript, the nn.RNN / nn.RNNCell converters."""

import copy
import warnings

import pytest
import torch

import sinernn
from sinernn import ops
from sinernn.engine import reference
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


# opcheck of seq_forward / seq_backward (and every other op): test_opcheck.py.


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
    assert not model.bias
    x = torch.randn(5, 2, dtype=torch.float64)
    pred, hidden = model(x)
    h, outs = torch.zeros(1, 4, dtype=torch.float64), []
    for t in range(5):
        h = cell(x[t : t + 1], h)
        outs.append(linear(h)[0])
    torch.testing.assert_close(pred, torch.stack(outs), rtol=1e-12, atol=1e-14)
    cell2, linear2 = model.to_torch()
    assert torch.equal(cell2.weight_hh, cell.weight_hh) and torch.equal(linear2.weight, linear.weight)
    with pytest.raises(ValueError, match="tanh"):
        ElmanRNN.from_torch(torch.nn.RNNCell(2, 4, nonlinearity="relu"), linear)
    with pytest.raises(ValueError, match="one layer"):
        ElmanRNN.from_torch(torch.nn.RNN(2, 4, num_layers=2), linear)


# -- the batched cell (cell_forward / cell_backward) against nn.RNN + nn.Linear --------------------


def rnn_pair(F, H, O, bias, batch_first=False, seed=0):
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(F, H, bias=bias, batch_first=batch_first, dtype=torch.float64)
    linear = torch.nn.Linear(H, O, bias=bias, dtype=torch.float64)
    return rnn, linear


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["LBF", "BLF"])
@pytest.mark.parametrize("F,H,O,L,B", [(1, 6, 1, 100, 32), (3, 5, 2, 7, 16), (1, 1, 1, 1, 1), (3, 7, 2, 9, 5),
                                       (2, 13, 3, 4, 1), (1, 70, 2, 6, 3), (5, 64, 1, 3, 8), (2, 100, 1, 3, 13),
                                       (1, 6, 1, 5, 150), (2, 20, 2, 4, 130)])
# the CPU code paths: batch-last loops (H <= 12), sinernn's product a step (H > 12; blocks of 6 rows
# and 4 vectors of columns, the last masked: B = 13 leaves 1 row, H = 70 and 100 leave partial panels);
# B = 150 and 130: chunks of 64 rows, the last partial, their weight gradients summed)
def test_batched_cell_equals_nn_rnn_and_linear(F, H, O, L, B, bias, batch_first):
    """float64: outputs and every gradient (x, h0, each weight and bias) to 1e-10 of nn.RNN + nn.Linear
    on the same weights; a gradient reaching the hidden states too."""
    rnn, linear = rnn_pair(F, H, O, bias, batch_first)
    model = ElmanRNN.from_torch(rnn, linear)
    assert model.bias == bias and model.batch_first == batch_first
    g = torch.Generator().manual_seed(1)
    shape = (B, L, F) if batch_first else (L, B, F)
    x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, generator=g, dtype=torch.float64).tanh().requires_grad_()
    pred, hidden = model(x, h0)
    hs, _ = rnn(x, h0[None])
    want = linear(hs)
    torch.testing.assert_close(pred, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(hidden, hs, rtol=1e-10, atol=1e-12)
    gp, gh = torch.randn(pred.shape, generator=g, dtype=torch.float64), torch.randn(hidden.shape, generator=g, dtype=torch.float64)
    ours = torch.autograd.grad((pred * gp).sum() + (hidden * gh).sum(), [x, h0, *model.parameters()])
    theirs = torch.autograd.grad((want * gp).sum() + (hs * gh).sum(), [x, h0, *rnn.parameters(), *linear.parameters()])
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-10, atol=1e-12)  # x
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-10, atol=1e-12)  # h0
    if bias:
        g_ih, g_hh, g_bih, g_bhh, g_lw, g_lb = theirs[2:]
        g_w1, g_w2, g_b1, g_b2 = ours[2:]
        torch.testing.assert_close(g_b1, g_bih, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(g_b1, g_bhh, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(g_b2, g_lb, rtol=1e-10, atol=1e-12)
    else:
        g_ih, g_hh, g_lw = theirs[2:]
        g_w1, g_w2 = ours[2:]
    torch.testing.assert_close(g_w1, torch.cat([g_ih.t(), g_hh.t()]), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_w2, g_lw.t(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("H", [6, 20])
def test_batched_cell_gives_the_same_bits_on_any_number_of_threads(H):
    """The CPU splits the batch into fixed chunks of rows, whatever the number of threads: one thread
    and two give the same bits (B = 200: four chunks)."""
    model = ElmanRNN(2, H, 2, bias=True, seed=5)
    x = torch.randn(7, 200, 2)
    results = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            model.zero_grad()
            pred, hidden = model(x)
            ((pred ** 2).sum() + hidden.sum()).backward()
            results.append([pred, hidden, *(p.grad.clone() for p in model.parameters())])
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*results):
        assert torch.equal(a, b)


@pytest.mark.parametrize("F,H,O,L,B", [(1, 6, 1, 20, 32), (1, 17, 1, 9, 7), (2, 70, 2, 6, 13), (1, 100, 1, 5, 64)])
def test_batched_cell_float32_within_its_rounding(F, H, O, L, B):
    """float32 against float64 nn.RNN + nn.Linear on the same (float32-representable) weights.
    Tolerance: each value is a chain of dot products of length K = F + H per step, each rounding
    within K u of the sum of its terms' magnitudes (u = 2^-24); tanh (slope <= 1) and the weights
    (|w| <= 1/sqrt(H), torch's initialisation) keep earlier steps' errors from growing, so L steps
    give <= L K u per unit of magnitude. A weight gradient sums L B such terms more: (L B + K) L u."""
    rnn, linear = rnn_pair(F, H, O, True, False)
    for p in (*rnn.parameters(), *linear.parameters()):
        p.data = p.data.float().double()
    single = ElmanRNN.from_torch(copy.deepcopy(rnn).float(), copy.deepcopy(linear).float())
    g = torch.Generator().manual_seed(2)
    x = torch.randn(L, B, F, generator=g, dtype=torch.float64)
    x = x.float().double().requires_grad_()
    x32 = x.detach().float().requires_grad_()
    pred, hidden = single(x32)
    hs, _ = rnn(x)
    want = linear(hs)
    u, K = 2.0**-24, F + H
    scale = 1 + x.abs().max().item()
    tol_out = 4 * L * K * u * scale
    torch.testing.assert_close(hidden.double(), hs, rtol=0, atol=tol_out)
    torch.testing.assert_close(pred.double(), want, rtol=0, atol=tol_out * (1 + H**0.5))
    ours = torch.autograd.grad((pred**2).sum(), [x32, *single.parameters()])
    theirs = torch.autograd.grad((want**2).sum(), [x, *rnn.parameters(), *linear.parameters()])
    g_ih, g_hh, g_bih, _, g_lw, g_lb = theirs[1:]
    for got, ref in zip(ours, [theirs[0], torch.cat([g_ih.t(), g_hh.t()]), g_lw.t(), g_bih, g_lb]):
        tol = 4 * (L * B + K) * L * u * (1 + ref.abs().max().item())
        torch.testing.assert_close(got.double(), ref, rtol=0, atol=tol)


@pytest.mark.parametrize("bias", [False, True])
def test_batched_cell_layouts_h0_forms_and_plain_torch(bias):
    """Unbatched (L, F) = a batch of one; h0 (H,) = the same context for every sequence; None = zeros;
    a non-contiguous x; fused = plain torch ops (fused=False), values and gradients."""
    model = ElmanRNN(2, 5, 3, bias=bias, dtype=torch.float64, seed=4)
    plain = ElmanRNN(2, 5, 3, bias=bias, dtype=torch.float64, seed=4, fused=False)
    if bias:
        with torch.no_grad():
            for m in (model, plain):
                m.b1.copy_(torch.linspace(-0.5, 0.5, 5, dtype=torch.float64))
                m.b2.copy_(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
    x = torch.randn(4, 6, 2, dtype=torch.float64)
    one = model(x[:, 2])
    batch = model(x)
    torch.testing.assert_close(one[0], batch[0][:, 2], rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(one[1], batch[1][:, 2], rtol=1e-13, atol=1e-15)
    h = torch.randn(5, dtype=torch.float64)
    torch.testing.assert_close(model(x, h)[0], model(x, h.expand(6, 5))[0], rtol=0, atol=0)
    torch.testing.assert_close(model(x, None)[1], model(x, torch.zeros(6, 5, dtype=torch.float64))[1], rtol=0, atol=0)
    strided = torch.randn(6, 4, 2, dtype=torch.float64).transpose(0, 1)  # (L, B, F), not contiguous
    for m in (model, plain):
        pred, hidden = m(strided, h)
        ((pred ** 2).sum() + hidden.sum()).backward()
    torch.testing.assert_close(model(strided, h)[0], plain(strided, h)[0], rtol=1e-12, atol=1e-14)
    for a, b in zip(model.parameters(), plain.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("H", [3, 70])
def test_batched_cell_gradcheck(bias, H):
    g = torch.Generator().manual_seed(2)
    L, B, F, O = 4, 3, 2, 2
    x = torch.randn(L, B, F, generator=g, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, generator=g, dtype=torch.float64).tanh().requires_grad_()
    w1 = (torch.randn(F + H, H, generator=g, dtype=torch.float64) / H ** 0.5).requires_grad_()
    w2 = torch.randn(H, O, generator=g, dtype=torch.float64).requires_grad_()
    b1 = torch.randn(H, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    b2 = torch.randn(O, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    assert torch.autograd.gradcheck(lambda *a: ops.cell_batch(*a), (x, h0, w1, w2, b1, b2))


@pytest.mark.parametrize("batched", [False, True])
def test_a_second_derivative_through_the_cell_is_an_error(batched):
    model = ElmanRNN(1, 4, 1, dtype=torch.float64)
    x = torch.randn(5, 2, 1, dtype=torch.float64) if batched else torch.randn(5, 1, dtype=torch.float64)
    pred, _ = model(x)
    (grad,) = torch.autograd.grad(pred.sum(), model.w1, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives through sinernn's cell are not supported"):
        grad.sum().backward()


def test_batched_cell_errors_name_the_argument():
    model = ElmanRNN(2, 4, 1)
    with pytest.raises(ValueError, match="x's last dimension must be input_size=2"):
        model(torch.randn(3, 2, 5))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 4\)"):
        model(torch.randn(3, 2, 2), torch.randn(3, 4))
    with pytest.raises(RuntimeError, match="sinernn::cell_forward: h0 must have shape"):
        torch.ops.sinernn.cell_forward(torch.randn(3, 2, 2), torch.randn(2, 5), model.w1, model.w2, None, None)
    with pytest.raises(RuntimeError, match="sinernn::cell_forward: b1 must have shape"):
        torch.ops.sinernn.cell_forward(torch.randn(3, 2, 2), torch.randn(2, 4), model.w1, model.w2, torch.zeros(3), None)
    with pytest.raises(RuntimeError, match="sinernn::cell_forward: w2 must have x's dtype"):
        torch.ops.sinernn.cell_forward(torch.randn(3, 2, 2), torch.randn(2, 4), model.w1, model.w2.double(), None, None)


def test_batched_training_with_adam_on_windows_equals_plain_torch():
    """A mini-batch of windows of one series, Adam, biases: fused = plain torch ops."""
    s = torch.sin(torch.linspace(0, 30, 301, dtype=torch.float64))
    windows = torch.stack([s[i : i + 21] for i in range(0, 280, 7)], dim=1)  # (21, 40)
    x, y = windows[:-1, :, None], windows[1:, :, None]
    losses = []
    for fused in (True, False):
        model = ElmanRNN(1, 8, 1, bias=True, dtype=torch.float64, fused=fused)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        run = []
        for _ in range(20):
            pred, _ = model(x)
            loss = ((pred - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.append(loss.detach())
        losses.append(torch.stack(run))
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-10, atol=0)
    assert losses[0][-1] < losses[0][0] / 2


def test_torch_compile_fullgraph_batched_matches_eager():
    torch._dynamo.reset()
    model = ElmanRNN(2, 5, 1, bias=True, batch_first=True, dtype=torch.float64)
    x, y = torch.randn(4, 7, 2, dtype=torch.float64), torch.randn(4, 7, 1, dtype=torch.float64)

    def loss_of(x, y):
        pred, hidden = model(x)
        return ((pred - y) ** 2).mean() + hidden.pow(2).mean()

    eager = loss_of(x, y)
    eager_grads = torch.autograd.grad(eager, list(model.parameters()))
    compiled = torch.compile(loss_of, fullgraph=True)
    got = compiled(x, y)
    got_grads = torch.autograd.grad(got, list(model.parameters()))
    torch.testing.assert_close(got, eager, rtol=1e-12, atol=0)
    for a, b in zip(got_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


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
