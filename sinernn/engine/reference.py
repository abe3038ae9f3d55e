"""The reference path: the tutorial's training loop in current PyTorch, meaning unchanged.

This is the single source of truth: tests, ``sinernn.verify`` and the benchmarks compare the
fused native ops against these functions. It is written to be read next to the tutorial's own code
(the "PyTorch - Recurrent Neural Network" sine-wave tutorial, kept verbatim but for
the edits current PyTorch forces in ``tutorial_literal`` of tests/api/test_reference.py, which
checks this module against it bit for bit), with what changed for current PyTorch noted:

* ``Variable(t, requires_grad=...)``   -> plain tensors with ``requires_grad``;
* ``init.normal(w, 0.0, s)``           -> ``w.normal_(0.0, s)`` (see ``sinernn.data.init_weights``);
* ``w.data -= lr * w.grad.data``       -> the same update under ``torch.no_grad()``;
* ``total_loss += loss`` then ``total_loss.data[0]`` -> ``total_loss += loss.detach()`` summed in the
  data's dtype, in step order; detaching keeps the value and stops each epoch's losses from holding
  a chain of graphs alive.

Generalised from the tutorial's 1 input, 6 hidden units and 1 output to any F, H, O >= 1, any
series length L >= 1, float32 or float64. Shapes: x (L, F), y (L, O), w1 (F+H, H), w2 (H, O).
"""

from __future__ import annotations

import torch
from torch import Tensor


def forward(input: Tensor, context_state: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """The tutorial's ``forward``: input (1, F), context_state (1, H) -> out (1, O), context (1, H)."""
    xh = torch.cat((input, context_state), 1)  # (1, F+H)
    context_state = torch.tanh(xh.mm(w1))  # (1, H)  the new context
    out = context_state.mm(w2)  # (1, O)  the prediction
    return out, context_state


@torch.enable_grad()  # autograd is the point, even when the caller runs under no_grad
def step(x_t: Tensor, y_t: Tensor, h: Tensor, w1: Tensor, w2: Tensor, lr: float) -> tuple[Tensor, Tensor, Tensor]:
    """One training step, the body of the tutorial's inner loop; updates ``w1`` and ``w2`` in place.

    x_t (F,), y_t (O,), h (H,), w1 (F+H, H), w2 (H, O)
    -> (new context (H,), prediction (O,), loss ()), all detached: the context carried into the
    next step is a constant there, as the tutorial's ``Variable(context_state.data)``.
    """
    # Leaves that share storage with the caller's tensors: the updates land in w1, w2 in place,
    # and each step's gradients start from zero (the tutorial's w.grad.data.zero_()).
    w1 = w1.detach().requires_grad_(True)
    w2 = w2.detach().requires_grad_(True)
    (pred, context_state) = forward(x_t[None], h[None], w1, w2)
    loss = (pred - y_t[None]).pow(2).sum() / 2
    loss.backward()
    with torch.no_grad():  # the tutorial: w.data -= lr * w.grad.data
        w1 -= lr * w1.grad
        w2 -= lr * w2.grad
    return context_state.detach()[0], pred.detach()[0], loss.detach()


def train(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """The tutorial's training loop; updates ``w1`` and ``w2`` in place.

    x (L, F), y (L, O), w1 (F+H, H), w2 (H, O) -> per-epoch loss totals (epochs,), x's dtype.
    """
    losses = x.new_empty(epochs)
    for i in range(epochs):
        total_loss = x.new_zeros(())
        context_state = x.new_zeros(w1.shape[1])  # every epoch starts from zeros
        for j in range(x.size(0)):
            context_state, _, loss = step(x[j], y[j], context_state, w1, w2, lr)
            total_loss += loss  # summed in x's dtype, in step order
        losses[i] = total_loss
    return losses


def run_sequence(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """The tutorial's ``forward`` over a sequence, the true x_t at every step, from the context h0
    (H,), with autograd: x (L, F) -> (predictions (L, O), contexts (L, H))."""
    context_state = h0[None]
    predictions, contexts = [], []
    for i in range(x.size(0)):
        input = x[i : i + 1]
        (pred, context_state) = forward(input, context_state, w1, w2)
        predictions.append(pred[0])
        contexts.append(context_state[0])
    return torch.stack(predictions), torch.stack(contexts)


def run_batch(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor, b1: Tensor | None = None,
              b2: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The same network over a batch of sequences in plain torch ops, with autograd (what
    sinernn.nn.ElmanRNN(fused=False) runs): x (L, B, F), h0 (B, H), biases b1 (H,), b2 (O,) or None
    -> (predictions (L, B, O), contexts (L, B, H))."""
    F = x.shape[-1]
    wx, wh = w1[:F], w1[F:]
    z = x @ wx if b1 is None else x @ wx + b1
    h, contexts = h0, []
    for t in range(x.shape[0]):
        h = torch.tanh(z[t] + h @ wh)
        contexts.append(h)
    hidden = torch.stack(contexts)
    pred = hidden @ w2 if b2 is None else hidden @ w2 + b2
    return pred, hidden


@torch.no_grad()
def predict(x: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced prediction from a zero context, no updates.

    x (L, F) -> (predictions (L, O), contexts (L, H)).
    """
    return run_sequence(x, x.new_zeros(w1.shape[1]), w1, w2)


@torch.no_grad()
def forecast(x: Tensor, w1: Tensor, w2: Tensor, steps: int) -> Tensor:
    """Closed-loop forecast (F == O): warm up on x (L, F) teacher-forced from a zero context, then
    feed each prediction back as the next input. -> forecasts (steps, O); row 0 is the prediction
    after x's last row (the point following the observed data)."""
    preds, contexts = predict(x, w1, w2)
    pred, context_state = preds[-1:], contexts[-1:]
    out = []
    for _ in range(steps):
        out.append(pred[0])
        (pred, context_state) = forward(pred, context_state, w1, w2)
    return torch.stack(out) if out else x.new_empty(0, w2.shape[1])
