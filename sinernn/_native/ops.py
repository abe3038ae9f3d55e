"""The one way into the native code: typed wrappers of the registered ops (``torch.ops.sinernn.*``)
and of the private entries of the extension module ``sinernn._C``. Nothing else in the package
touches either (tests aside).

The op wrappers load the native module on first use (``load``) and call the ops as they are; the
argument checks are the ops' own. Shapes: F input features, H hidden units, O outputs, L time
steps, N models, B sequences of a batch. The public names are re-exported by ``sinernn.ops``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import autograd, fakes, loader


def _register() -> None:
    """The Python registrations of the ops, run once when the module loads (fakes, autograd)."""
    fakes.register()
    autograd.register(seq_backward)


def load() -> str:
    """Load (or build, once) the native ops; returns how: ``"aot"`` (the ahead-of-time module
    sinernn._C) or ``"jit"`` (compiled on first use). Raises RuntimeError when they can be neither
    imported nor compiled."""
    return loader.load(on_load=_register)


def available() -> bool:
    """True when the native ops load (building them first if needed)."""
    try:
        load()
    except RuntimeError:
        return False
    return True


def _module():
    load()
    return loader.loaded_module()


def cuda_built() -> bool:
    """Whether the loaded native ops include CUDA kernels."""
    return bool(_module().cuda_built())


def cpu_fused_fma() -> bool:
    """Whether the CPU kernels fuse multiply-adds (one rounding, as CUDA always does)."""
    return bool(_module().cpu_fused_fma())


# -- the registered ops ------------------------------------------------------------------------------


def step(x: Tensor, y: Tensor, h: Tensor, w1: Tensor, w2: Tensor, lr: float) -> tuple[Tensor, Tensor, Tensor]:
    """One fused training step; updates ``w1`` (F+H, H) and ``w2`` (H, O) in place.

    x (F,), y (O,), h (H,) -> (new context (H,), prediction (O,), loss ()).
    """
    load()
    return torch.ops.sinernn.step.default(x, y, h, w1, w2, lr)


def train(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> Tensor:
    """The whole training run in one call; updates w1, w2 in place.

    x (L, F), y (L, O) -> per-epoch loss totals (epochs,).
    """
    load()
    return torch.ops.sinernn.train.default(x, y, w1, w2, epochs, lr)


def train_guarded(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float) -> tuple[Tensor, Tensor]:
    """``train`` that reports divergence instead of raising it; updates w1, w2 in place.

    x (L, F), y (L, O) -> (losses (epochs,), NaN from the epoch where the loss or the weights
    stopped being finite on; diverged (2,) int64, that (epoch, step) or (-1, -1)). After a
    divergence w1 and w2 hold the end of the epoch before it.
    """
    load()
    return torch.ops.sinernn.train_guarded.default(x, y, w1, w2, epochs, lr)


def predict(x: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced prediction from a zero context: x (L, F) -> (predictions (L, O), contexts (L, H))."""
    load()
    return torch.ops.sinernn.predict.default(x, w1, w2)


def forecast(x: Tensor, w1: Tensor, w2: Tensor, steps: int) -> Tensor:
    """Closed-loop forecast (F == O): warm up on x (L, F) teacher-forced from a zero context, then
    feed each prediction back as the next input. -> forecasts (steps, O), row 0 following x's last row."""
    load()
    return torch.ops.sinernn.forecast.default(x, w1, w2, steps)


def cell(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """The differentiable fused cell over one sequence (op ``seq_forward``): x (L, F), h0 (H,) ->
    (predictions (L, O), hidden states (L, H)). Gradients flow to x, h0, w1, w2 through every step
    (backpropagation through time by the native seq_backward op)."""
    load()
    return torch.ops.sinernn.seq_forward.default(x, h0, w1, w2)


def seq_backward(grad_pred: Tensor, grad_hidden: Tensor, x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor,
                 hidden: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``cell``'s backward through time: grad_pred (L, O), grad_hidden (L, H) -> gradients for
    x (L, F), h0 (H,), w1 (F+H, H), w2 (H, O)."""
    load()
    return torch.ops.sinernn.seq_backward.default(grad_pred, grad_hidden, x, h0, w1, w2, hidden)


def cell_batch(x: Tensor, h0: Tensor, w1: Tensor, w2: Tensor, b1: Tensor | None = None,
               b2: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The batched differentiable cell (op ``cell_forward``): x (L, B, F), h0 (B, H), optional biases
    b1 (H,), b2 (O,) -> (predictions (L, B, O), hidden states (L, B, H)). Gradients flow to every
    tensor argument through every step (native cell_backward). A second derivative raises an error."""
    load()
    return torch.ops.sinernn.cell_forward.default(x, h0, w1, w2, b1, b2)


def cell_backward(grad_pred: Tensor | None, grad_hidden: Tensor | None, x: Tensor, h0: Tensor, w1: Tensor,
                  w2: Tensor, hidden: Tensor, bias1: bool, bias2: bool) -> tuple[Tensor, ...]:
    """``cell_batch``'s backward through time: grad_pred (L, B, O), grad_hidden (L, B, H) (None:
    zero) -> gradients for x, h0, w1, w2, b1 (H,), b2 (O,) (a bias's (0,) when absent)."""
    load()
    return torch.ops.sinernn.cell_backward.default(grad_pred, grad_hidden, x, h0, w1, w2, hidden, bias1, bias2)


def train_many(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: Tensor) -> tuple[Tensor, Tensor]:
    """N models at once; updates w1 (N, F+H, H), w2 (N, H, O) in place. x (L, F) or (N, L, F),
    y (L, O) or (N, L, O), lr (N,) -> (losses (N, epochs), diverged (N, 2) int64)."""
    load()
    return torch.ops.sinernn.train_many.default(x, y, w1, w2, epochs, lr)


def predict_many(x: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced prediction of N models: x (L, F) or (N, L, F) -> ((N, L, O), contexts (N, L, H))."""
    load()
    return torch.ops.sinernn.predict_many.default(x, w1, w2)


#: Every registered op, by name (``torch.ops.sinernn.<name>``).
OP_NAMES = ("step", "train", "train_guarded", "predict", "forecast", "seq_forward", "seq_backward", "cell_forward",
            "cell_backward", "train_many", "predict_many")


def op(name: str):
    """The registered op ``torch.ops.sinernn.<name>.default`` (for opcheck and dispatcher tests)."""
    if name not in OP_NAMES:
        raise ValueError(f"no sinernn op {name!r}; the ops are {', '.join(OP_NAMES)}")
    load()
    return getattr(torch.ops.sinernn, name).default


# -- private entries of sinernn._C -------------------------------------------------------------------


class StepSession:
    """One model's training state for a Python loop over the fused step (the "cpp-step" backend):
    the direct binding in sinernn._C, which skips the dispatcher and output allocation. It holds raw
    pointers: x (L, F), y (L, O), w1, w2 must be checked, contiguous CPU tensors that the caller
    keeps alive while the session is used. ``step``, ``total``, ``restore`` and ``epochs`` are the
    module's functions themselves, with no Python layer between them and the loop (docs/performance.md,
    "Figures behind the code"), each taking the session's ``capsule`` first."""

    def __init__(self, x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, lr: float):
        C = _module()
        L, F = x.shape
        H, O = w2.shape
        self.capsule = C._step_session(x.data_ptr(), y.data_ptr(), w1.data_ptr(), w2.data_ptr(), F, H, O, L, lr,
                                       x.dtype == torch.float64)
        self.step = C._session_step        # (capsule, t) -> step t's loss; NaN when it diverged
        self.total = C._session_total      # (capsule) -> the epoch's loss total so far
        self.restore = C._session_restore  # (capsule) mid-epoch: the weights of the epoch's start
        self.epochs = C._session_epochs    # (capsule) -> how many epochs ran to their end


def all_finite(t: Tensor) -> bool | None:
    """Whether the contiguous float32/float64 CPU tensor t holds only finite values, by the native
    module's loop (cheaper than torch.isfinite(t).all() on small tensors); None when the native
    module is not loaded yet (loads nothing) or t is not such a tensor."""
    native = loader.loaded_module()
    if native is None or not (t.is_cpu and t.dtype in (torch.float32, torch.float64) and t.is_contiguous()):
        return None
    return bool(native._all_finite(t.data_ptr(), t.numel(), t.dtype == torch.float64))


def fma_peak_gflops(iterations: int = 20_000_000) -> float:
    """One core's float32 FMA throughput for this build's instruction set, measured, in GFLOP/s."""
    return float(_module()._fma_peak_gflops(iterations))
