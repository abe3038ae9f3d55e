"""What a user would write instead of sinernn, for the benchmarks: the same algorithm (SGD after
every step, context detached, loss 0.5 * sum(e^2)) the ways PyTorch and NumPy users usually do.

Each takes x (L, F), y (L, O), w1 (F+H, H), w2 (H, O) like ``sinernn.train``, updates w1 and w2
in place and returns the per-epoch loss totals (epochs,), so each is checked against the
reference path before it is timed.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor, nn


def train_rnncell_sgd(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """nn.RNNCell(bias=False) + nn.Linear(bias=False) + torch.optim.SGD, one step at a time.

    RNNCell computes tanh(x W_ih^T + h W_hh^T), so W_ih = w1[:F].T, W_hh = w1[F:].T, and the
    Linear layer's weight is w2.T.
    """
    F, H = x.shape[1], w1.shape[1]
    cell = nn.RNNCell(F, H, bias=False, nonlinearity="tanh").to(x.dtype)
    out = nn.Linear(H, w2.shape[1], bias=False).to(x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(w1[:F].T)
        cell.weight_hh.copy_(w1[F:].T)
        out.weight.copy_(w2.T)
    opt = torch.optim.SGD([*cell.parameters(), *out.parameters()], lr=lr)
    losses = x.new_empty(epochs)
    for i in range(epochs):
        h = x.new_zeros(1, H)
        total = x.new_zeros(())
        for t in range(x.shape[0]):
            h = cell(x[t : t + 1], h)
            loss = (out(h) - y[t : t + 1]).pow(2).sum() / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach()
            h = h.detach()
        losses[i] = total
    with torch.no_grad():
        w1[:F].copy_(cell.weight_ih.T)
        w1[F:].copy_(cell.weight_hh.T)
        w2.copy_(out.weight.T)
    return losses


def train_numpy(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """Hand-written gradients in NumPy, in the data's dtype."""
    xs, ys = x.numpy(), y.numpy()
    W1, W2 = w1.numpy(), w2.numpy()  # share memory with w1, w2: updated in place
    H = W1.shape[1]
    dtype = xs.dtype.type
    lr_ = dtype(lr)
    losses = np.empty(epochs, dtype=xs.dtype)
    for i in range(epochs):
        h = np.zeros(H, dtype=xs.dtype)
        total = dtype(0)
        for t in range(xs.shape[0]):
            xh = np.concatenate((xs[t], h))
            h_new = np.tanh(xh @ W1)
            e = h_new @ W2 - ys[t]
            total += dtype(0.5) * (e @ e)
            dz = (W2 @ e) * (1 - h_new * h_new)  # W2 before its update
            W2 -= lr_ * np.outer(h_new, e)
            W1 -= lr_ * np.outer(xh, dz)
            h = h_new
        losses[i] = total
    return torch.from_numpy(losses)


def _torchscript_step():
    """A TorchScript step with hand gradients (scripted once, on first use)."""

    def step(x_t: Tensor, y_t: Tensor, h: Tensor, w1: Tensor, w2: Tensor, lr: float) -> tuple[Tensor, Tensor]:
        xh = torch.cat([x_t, h])
        h_new = torch.tanh(xh @ w1)
        e = h_new @ w2 - y_t
        loss = 0.5 * (e * e).sum()
        dz = (w2 @ e) * (1 - h_new * h_new)  # w2 before its update
        w2.sub_(lr * torch.outer(h_new, e))
        w1.sub_(lr * torch.outer(xh, dz))
        return h_new, loss

    with warnings.catch_warnings():  # TorchScript is deprecated upstream; it still runs
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(step)


_scripted = None


def train_torchscript(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """A Python loop over a torch.jit.script-ed step with hand gradients."""
    global _scripted
    if _scripted is None:
        _scripted = _torchscript_step()
    step = _scripted
    xs, ys = x.unbind(0), y.unbind(0)
    losses = x.new_empty(epochs)
    with torch.no_grad():
        for i in range(epochs):
            h = x.new_zeros(w1.shape[1])
            total = x.new_zeros(())
            for x_t, y_t in zip(xs, ys):
                h, loss = step(x_t, y_t, h, w1, w2, lr)
                total += loss
            losses[i] = total
    return losses


BASELINES = {
    "nn.RNNCell+SGD": train_rnncell_sgd,
    "numpy": train_numpy,
    "torchscript": train_torchscript,
}
