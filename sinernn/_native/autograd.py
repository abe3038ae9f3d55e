"""The Python autograd registrations of the sinernn ops. Registered once by
``sinernn._native.ops.load``.

- ``seq_forward``: its backward is the native ``seq_backward`` op (backpropagation through time
  over the whole sequence).
- ``cell_forward``'s autograd kernel is C++ (csrc/aten/cell_autograd.cpp): the Python one costs
  more than the ops at small sizes (docs/performance.md, "Figures behind the code").
- The backward ops (``seq_backward``, ``cell_backward``) have no derivative of their own: a second
  derivative through the cell (``autograd.grad(..., create_graph=True)``, then backward) raises
  here instead of running them without one, which PyTorch only warns about and which gives wrong
  results.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

SECOND_DERIVATIVE = ("sinernn: second derivatives through sinernn's cell are not supported "
                     "(create_graph=True through seq_forward / cell_forward, then backward)")


def register(seq_backward: Callable) -> None:
    """Register the autograd formulas; ``seq_backward`` is the op wrapper the backward calls
    (passed in so that this module imports nothing of the package)."""

    def setup_context(ctx, inputs, output):
        x, h0, w1, w2 = inputs
        ctx.save_for_backward(x, h0, w1, w2, output[1])

    def backward(ctx, grad_pred, grad_hidden):
        x, h0, w1, w2, hidden = ctx.saved_tensors
        if grad_pred is None:
            grad_pred = x.new_zeros(x.shape[0], w2.shape[1])
        if grad_hidden is None:
            grad_hidden = torch.zeros_like(hidden)
        return seq_backward(grad_pred, grad_hidden, x, h0, w1, w2, hidden)

    torch.library.register_autograd("sinernn::seq_forward", backward, setup_context=setup_context)

    def no_second_derivative(ctx, *grads):
        raise RuntimeError(SECOND_DERIVATIVE)

    for op in ("sinernn::seq_backward", "sinernn::cell_backward"):
        torch.library.register_autograd(op, no_second_derivative, setup_context=lambda ctx, inputs, output: None)
