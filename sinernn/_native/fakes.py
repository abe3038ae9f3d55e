"""Fake (shape-only) kernels of every sinernn op, so FakeTensor, torch.compile and
torch.library.opcheck can trace them. Registered once by ``sinernn._native.ops.load``.

They are also the ops' Meta kernels: a call that mixes meta and real tensors lands here, so the
device check the native kernels make is made here too. Shapes as the schemas in csrc/aten/schema.cpp.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_one_device(op: str, **tensors: Tensor | None) -> None:
    """Every tensor given (None: an optional one left out) on the first one's device."""
    (first_name, first), *rest = tensors.items()
    for name, t in rest:
        if t is not None and t.device != first.device:
            raise RuntimeError(f"{op}: {name} is on {t.device} but {first_name} is on {first.device}; all tensors must be on one device")


def register() -> None:
    """Register the fake kernels (once per process: torch.library refuses a second registration)."""

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
        _check_one_device("sinernn::seq_backward", x=x, grad_pred=grad_pred, grad_hidden=grad_hidden, h0=h0, w1=w1,
                          w2=w2, hidden=hidden)
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

    @torch.library.register_fake("sinernn::cell_forward")
    def _(x, h0, w1, w2, b1, b2):
        _check_one_device("sinernn::cell_forward", x=x, h0=h0, w1=w1, w2=w2, b1=b1, b2=b2)
        L, B = x.shape[0], x.shape[1]
        return x.new_empty(L, B, w2.shape[1]), x.new_empty(L, B, w1.shape[1])

    @torch.library.register_fake("sinernn::cell_backward")
    def _(grad_pred, grad_hidden, x, h0, w1, w2, hidden, bias1, bias2):
        _check_one_device("sinernn::cell_backward", x=x, grad_pred=grad_pred, grad_hidden=grad_hidden, h0=h0, w1=w1,
                          w2=w2, hidden=hidden)
        H, O = w1.shape[1], w2.shape[1]
        return (torch.empty_like(x), torch.empty_like(h0), torch.empty_like(w1), torch.empty_like(w2),
                x.new_empty(H if bias1 else 0), x.new_empty(O if bias2 else 0))
