"""Forward + backward of the batched differentiable cell (L = 100 steps, float32, one thread):
sinernn.nn.ElmanRNN (native cell_forward / cell_backward) against nn.RNN + nn.Linear on the same
weights, for batches B = 1, 32, 64 and hidden sizes H = 6, 64, 256; the loss is the summed squared
error of the predictions. Each pair is checked against each other first (loss and the recurrent
weights' gradient).

    pytest benchmarks/bench_cell.py --benchmark-enable

The summary prints each path's median and the speed-up over nn.RNN + nn.Linear in the same group.
"""

import pytest
import torch

from sinernn.nn import ElmanRNN

L = 100
GRID = [(1, 6), (32, 6), (64, 6), (1, 64), (32, 64), (64, 64), (1, 256), (32, 256), (64, 256)]


def _paths(B, H):
    torch.manual_seed(0)
    rnn = torch.nn.RNN(1, H, bias=False)  # torch's own initialisation: U(-1/sqrt(H), 1/sqrt(H))
    linear = torch.nn.Linear(H, 1, bias=False)
    fused = ElmanRNN.from_torch(rnn, linear)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(L, B, 1, generator=g), torch.randn(L, B, 1, generator=g)

    def run_fused():
        for p in fused.parameters():
            p.grad = None
        pred, _ = fused(x)
        loss = ((pred - y) ** 2).sum()
        loss.backward()
        return loss, fused.w1.grad[1:]

    def run_rnn():
        for p in (*rnn.parameters(), *linear.parameters()):
            p.grad = None
        hs, _ = rnn(x)
        loss = ((linear(hs) - y) ** 2).sum()
        loss.backward()
        return loss, rnn.weight_hh_l0.grad.t()

    return {"sinernn.nn.ElmanRNN": run_fused, "reference": run_rnn}  # "reference": the speed-ups' baseline


@pytest.mark.parametrize("B,H", GRID, ids=[f"B{b}-H{h}" for b, h in GRID])
@pytest.mark.parametrize("path", ["sinernn.nn.ElmanRNN", "reference"])
def test_cell_forward_backward(benchmark, record_speed, one_thread, path, B, H):
    paths = _paths(B, H)
    want_loss, want_grad = paths["reference"]()
    loss, grad = paths["sinernn.nn.ElmanRNN"]()
    torch.testing.assert_close(loss, want_loss, rtol=1e-4, atol=1e-4)  # float32, other summation orders
    torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-3)
    benchmark.group = f"cell forward + backward, L={L}, B={B}, H={H}, float32, 1 thread (reference: nn.RNN + nn.Linear)"
    benchmark.pedantic(paths[path], rounds=30 if H < 256 else 7, warmup_rounds=2)
    record_speed(benchmark, benchmark.group, path, L * B, 0)
