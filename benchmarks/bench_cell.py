"""Forward + backward of the differentiable cell over a sequence (L = 100 steps, float32, one
thread): sinernn.nn.ElmanRNN (fused seq_forward / seq_backward ops) against nn.RNNCell + nn.Linear
stepped in Python and against nn.RNN + nn.Linear (one call over the sequence), at the tutorial's
size and at H = 128. Each is checked against the fused cell's loss and gradients first.

    pytest benchmarks/bench_cell.py --benchmark-enable
"""

import pytest
import torch

from sinernn.nn import ElmanRNN

L = 100


def _models(H):
    fused = ElmanRNN(1, H, 1, seed=0)
    with torch.no_grad():  # a contractive recurrence: at H = 128 the tutorial's N(0, 0.4) is chaotic,
        fused.w1 *= 0.5 / torch.linalg.matrix_norm(fused.w1[1:], ord=2)  # and float32 runs part ways
    cell, linear = fused.to_torch()
    rnn = torch.nn.RNN(1, H, bias=False)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(cell.weight_ih)
        rnn.weight_hh_l0.copy_(cell.weight_hh)
    return fused, cell, linear, rnn


def _paths(H):
    fused, cell, linear, rnn = _models(H)
    x = torch.sin(torch.linspace(0, 12, L + 1))[:, None]
    x, y = x[:-1].contiguous(), x[1:].contiguous()

    def run_fused():
        pred, _ = fused(x)
        loss = ((pred - y) ** 2).sum() / 2
        loss.backward()
        return loss, fused.w1.grad[1:]

    def run_rnncell():
        h, outs = torch.zeros(1, H), []
        for t in range(L):
            h = cell(x[t : t + 1], h)
            outs.append(linear(h))
        loss = ((torch.cat(outs) - y) ** 2).sum() / 2
        loss.backward()
        return loss, cell.weight_hh.grad.t()

    def run_rnn():
        hs, _ = rnn(x[:, None, :])  # (L, batch 1, H)
        loss = ((linear(hs[:, 0]) - y) ** 2).sum() / 2
        loss.backward()
        return loss, rnn.weight_hh_l0.grad.t()

    def zeroed(fn, params):
        def call():
            for p in params:
                p.grad = None
            return fn()

        return call

    return {
        "sinernn.nn (fused)": zeroed(run_fused, list(fused.parameters())),
        "nn.RNNCell+Linear": zeroed(run_rnncell, [*cell.parameters(), *linear.parameters()]),
        "nn.RNN+Linear": zeroed(run_rnn, [*rnn.parameters(), *linear.parameters()]),
    }


@pytest.mark.parametrize("H", [6, 128])
@pytest.mark.parametrize("path", ["sinernn.nn (fused)", "nn.RNNCell+Linear", "nn.RNN+Linear"])
def test_cell_forward_backward(benchmark, one_thread, path, H):
    paths = _paths(H)
    want_loss, want_grad = paths["sinernn.nn (fused)"]()
    loss, grad = paths[path]()
    torch.testing.assert_close(loss, want_loss, rtol=1e-4, atol=1e-6)  # float32, different summation orders
    torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-5)
    benchmark.group = f"cell forward + backward, L={L}, H={H}, float32, 1 thread"
    benchmark.pedantic(paths[path], rounds=30 if H == 6 else 10, warmup_rounds=2)
