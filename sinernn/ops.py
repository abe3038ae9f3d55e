"""Typed wrappers of the native ops (``torch.ops.sinernn.*``) and their fake kernels.

The wrappers call the ops as they are; the checks are the ops' own. Shapes: F input features,
H hidden units, O outputs, L time steps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _extension

_fakes_registered = False


def step(x: Tensor, y: Tensor, h: Tensor, w1: Tensor, w2: Tensor, lr: float) -> tuple[Tensor, Tensor, Tensor]:
    """One fused training step; updates ``w1`` (F+H, H) and ``w2`` (H, O) in place.

    x (F,), y (O,), h (H,) -> (new context (H,), prediction (O,), loss ()).
    """
    _extension.load()
    return torch.ops.sinernn.step.default(x, y, h, w1, w2, lr)


def train(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """The whole training run in one call; updates w1, w2 in place.

    x (L, F), y (L, O) -> per-epoch loss totals (epochs,).
    """
    _extension.load()
    return torch.ops.sinernn.train.default(x, y, w1, w2, epochs, lr)


def train_guarded(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> tuple[Tensor, Tensor]:
    """``train`` that reports divergence instead of raising it; updates w1, w2 in place.

    x (L, F), y (L, O) -> (losses (epochs,), NaN from the epoch where the loss or the weights
    stopped being finite on; diverged (2,) int64, that (epoch, step) or (-1, -1)). After a
    divergence w1 and w2 hold the end of the epoch before it.
    """
    _extension.load()
    return torch.ops.sinernn.train_guarded.default(x, y, w1, w2, epochs, lr)


def predict(x: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced prediction from a zero context: x (L, F) -> (predictions (L, O), contexts (L, H))."""
    _extension.load()
    return torch.ops.sinernn.predict.default(x, w1, w2)


def forecast(x: Tensor, w1: Tensor, w2: Tensor, steps: int) -> Tensor:
    """Closed-loop forecast (F == O): warm up on x (L, F) teacher-forced from a zero context, then
    feed each prediction back as the next input. -> forecasts (steps, O), row 0 following x's last row."""
    _extension.load()
    return torch.ops.sinernn.forecast.default(x, w1, w2, steps)


def cell(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """The differentiable fused cell over a sequence: x (L, F), h0 (H,) -> (predictions (L, O),
    hidden states (L, H)). Gradients flow to x, h0, w1, w2 through every step (backpropagation
    through time by the native seq_backward op)."""
    _extension.load()
    return torch.ops.sinernn.seq_forward.default(x, h0, w1, w2)


def cell_batch(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor, b1: Tensor | None = None,
               b2: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The batched differentiable cell: x (L, B, F), h0 (B, H), optional biases b1 (H,), b2 (O,) ->
    (predictions (L, B, O), hidden states (L, B, H)). Gradients flow to every tensor argument
    through every step (native cell_backward). A second derivative raises an error."""
    _extension.load()
    return torch.ops.sinernn.cell_forward.default(x, h0, w1, w2, b1, b2)


def train_many(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: Tensor) -> tuple[Tensor, Tensor]:
    """N models at once; updates w1 (N, F+H, H), w2 (N, H, O) in place. x (L, F) or (N, L, F),
    y (L, O) or (N, L, O), lr (N,) -> (losses (N, epochs), diverged (N, 2) int64)."""
    _extension.load()
    return torch.ops.sinernn.train_many.default(x, y, w1, w2, epochs, lr)


def predict_many(x: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced prediction of N models: x (L, F) or (N, L, F) -> ((N, L, O), contexts (N, L, H))."""
    _extension.load()
    return torch.ops.sinernn.predict_many.default(x, w1, w2)


def _check_one_device(op: str, **tensors: Tensor) -> None:
    (first_name, first), *rest = tensors.items()
    for name, t in rest:
        if t.device != first.device:
            raise RuntimeError(f"{op}: {name} is on {t.device} but {first_name} is on {first.device}; all tensors must be on one device")


def register_fake_kernels() -> None:
    """Shape-only kernels, so FakeTensor, torch.compile and opcheck can trace the ops."""
    global _fakes_registered
    if _fakes_registered:
        return

    # Also the Meta kernels: a call that mixes meta and real tensors lands here, so the device
    # check the native kernels make is made here too.
    @torch.library.register_fake("sinernn::step")
    def _(x, y, h, w1, w2, lr):
        _check_one_device("sinernn::step", x=x, y=y, h=h, w1=w1, w2=w2)
        return h.new_empty(w1.shape[1]), y.new_empty(y.shape[0]), x.new_empty(())

    @torch.library.register_fake("sinernn::train")
    def _(x, y, w1, w2, epochs, lr):
        _check_one_device("sinernn::train", x=x, y=y, w1=w1, w2=w2)
        return x.new_empty(epochs)

    @torch.library.register_fake("sinernn::train_guarded")
    def _(x, y, w1, w2, epochs, lr):
        _check_one_device("sinernn::train_guarded", x=x, y=y, w1=w1, w2=w2)
        return x.new_empty(epochs), x.new_empty(2, dtype=torch.int64)

    @torch.library.register_fake("sinernn::predict")
    def _(x, w1, w2):
        _check_one_device("sinernn::predict", x=x, w1=w1, w2=w2)
        return x.new_empty(x.shape[0], w2.shape[1]), x.new_empty(x.shape[0], w1.shape[1])

    @torch.library.register_fake("sinernn::forecast")
    def _(x, w1, w2, steps):
        _check_one_device("sinernn::forecast", x=x, w1=w1, w2=w2)
        return x.new_empty(steps, w2.shape[1])

    @torch.library.register_fake("sinernn::seq_forward")
    def _(x, h0, w1, w2):
        _check_one_device("sinernn::seq_forward", x=x, h0=h0, w1=w1, w2=w2)
        return x.new_empty(x.shape[0], w2.shape[1]), x.new_empty(x.shape[0], w1.shape[1])

    @torch.library.register_fake("sinernn::seq_backward")
    def _(grad_pred, grad_hidden, x, h0, w1, w2, hidden):
        _check_one_device("sinernn::seq_backward", x=x, h0=h0, w1=w1, w2=w2)
        return torch.empty_like(x), torch.empty_like(h0), torch.empty_like(w1), torch.empty_like(w2)

    @torch.library.register_fake("sinernn::train_many")
    def _(x, y, w1, w2, epochs, lr):
        _check_one_device("sinernn::train_many", x=x, y=y, w1=w1, w2=w2, lr=lr)
        return x.new_empty(w1.shape[0], epochs), x.new_empty(w1.shape[0], 2, dtype=torch.int64)

    @torch.library.register_fake("sinernn::predict_many")
    def _(x, w1, w2):
        _check_one_device("sinernn::predict_many", x=x, w1=w1, w2=w2)
        N, L = w1.shape[0], x.shape[-2]
        return x.new_empty(N, L, w2.shape[2]), x.new_empty(N, L, w1.shape[2])

    def setup_context(ctx, inputs, output):
        x, h0, w1, w2 = inputs
        ctx.save_for_backward(x, h0, w1, w2, output[1])

    def backward(ctx, grad_pred, grad_hidden):
        x, h0, w1, w2, hidden = ctx.saved_tensors
        if grad_pred is None:
            grad_pred = x.new_zeros(x.shape[0], w2.shape[1])
        if grad_hidden is None:
            grad_hidden = torch.zeros_like(hidden)
        return torch.ops.sinernn.seq_backward.default(grad_pred, grad_hidden, x, h0, w1, w2, hidden)

    torch.library.register_autograd("sinernn::seq_forward", backward, setup_context=setup_context)

    @torch.library.register_fake("sinernn::cell_forward")
    def _(x, h0, w1, w2, b1, b2):
        _check_one_device("sinernn::cell_forward", x=x, h0=h0, w1=w1, w2=w2)
        L, B = x.shape[0], x.shape[1]
        return x.new_empty(L, B, w2.shape[1]), x.new_empty(L, B, w1.shape[1])

    @torch.library.register_fake("sinernn::cell_backward")
    def _(grad_pred, grad_hidden, x, h0, w1, w2, hidden, bias1, bias2):
        _check_one_device("sinernn::cell_backward", x=x, h0=h0, w1=w1, w2=w2)
        H, O = w1.shape[1], w2.shape[1]
        return (torch.empty_like(x), torch.empty_like(h0), torch.empty_like(w1), torch.empty_like(w2),
                x.new_empty(H if bias1 else 0), x.new_empty(O if bias2 else 0))

    # cell_forward's autograd kernel is C++ (csrc/elman_cell_autograd.cpp): the Python one
    # costs more than the ops at small sizes.

    # The backward ops have no derivative of their own: a second derivative through the cell
    # (autograd.grad(..., create_graph=True), then backward) raises here instead of running them
    # without one, which PyTorch only warns about and which gives wrong results.
    def no_second_derivative(ctx, *grads):
        raise RuntimeError("sinernn: second derivatives through sinernn's cell are not supported "
                           "(create_graph=True through seq_forward / cell_forward, then backward)")

    for op in ("sinernn::seq_backward", "sinernn::cell_backward"):
        torch.library.register_autograd(op, no_second_derivative, setup_context=lambda ctx, inputs, output: None)
    _fakes_registered = True
