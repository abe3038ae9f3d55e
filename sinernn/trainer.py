"""Training and prediction, one API over every backend.

Backends (all give the same results; see ``sinernn.verify``):
  "reference"  the tutorial's loop in PyTorch autograd (sinernn.reference)
  "cpp-step"   a Python loop over the fused step, through its direct binding in sinernn._C
  "cpp-step-op" the same loop over the registered op torch.ops.sinernn.step (the dispatcher)
  "cpp"        the whole run in one native call, torch.ops.sinernn.train
  "auto"       the fastest available: "cpp" when the native ops load, else "reference"
"""

from __future__ import annotations

import contextlib
import math
import _signal  # signal's functions without its enum wrappers: ~7 us less per train call
import signal
import threading
import time
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _extension, checks, ops, reference

BACKENDS = ("auto", "reference", "cpp-step", "cpp-step-op", "cpp")


@dataclass
class TrainResult:
    """What one training run did. ``losses`` (epochs,): per-epoch totals of the step losses."""

    losses: Tensor
    backend: str
    seconds: float
    epochs: int
    seq_length: int
    lr: float

    @property
    def steps(self) -> int:
        return self.epochs * self.seq_length

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if self.epochs else float("nan")

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("inf")


# The backends with kernels for CUDA tensors when sinernn's CUDA kernels are built ("cpp-step"
# binds raw CPU pointers, so it stays on the CPU).
CUDA_BACKENDS = ("reference", "cpp-step-op", "cpp")


def has_native_kernels(device: torch.device) -> bool:
    """Whether the native ops have kernels for tensors on ``device`` and load: the CPU; CUDA when
    sinernn was built with its CUDA kernels (sinernn.cuda_built())."""
    if device.type == "cpu":
        return _extension.available()
    return device.type == "cuda" and _extension.available() and _extension.cuda_built()


def no_kernel_error(backend: str, device: torch.device) -> ValueError:
    """The error for a native backend asked for tensors on a device it has no kernel for."""
    why = " (sinernn was built without CUDA kernels: sinernn.cuda_built() is False)" if device.type == "cuda" else ""
    return ValueError(f"backend {backend!r} has no kernel for tensors on {device}{why}; use backend='reference'")


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that ``backend`` names for tensors on ``device``; "auto" picks "cpp" when the
    native ops load and have kernels for the device (the CPU; CUDA when sinernn.cuda_built())."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if device.type != "cpu":
        native = has_native_kernels(device)
        if backend == "auto":
            return "cpp" if native else "reference"
        if backend == "reference" or (native and backend in CUDA_BACKENDS):
            return backend
        if native:  # CUDA kernels exist, but not for this backend's way of stepping
            raise ValueError(f"backend {backend!r} has no kernel for tensors on {device}; use one of {', '.join(CUDA_BACKENDS)}")
        raise no_kernel_error(backend, device)
    if backend != "auto":
        if backend != "reference":
            _extension.load()  # a clear RuntimeError when the native ops can't be had
        return backend
    if _extension.available():
        return "cpp"
    warnings.warn("sinernn: native ops unavailable, backend 'auto' falls back to 'reference'", stacklevel=3)
    return "reference"


class OneModelOnGpuWarning(UserWarning):
    """``sinernn.train`` on CUDA tensors: one model runs as one GPU thread, which the CPU outpaces."""


ONE_MODEL_ON_GPU = (
    "sinernn.train on {device}: one model on a GPU runs as a single thread through the step's chain of dependent "
    "operations (about 100 in a row at the tutorial's size), where one CPU core takes 31-45 ns a step (measured, "
    "docs/performance.md) and a GPU thread takes several times a CPU core's time for each dependent operation; "
    "expect the CPU to be faster (not yet measured on a GPU). Train one model on the CPU, or many at once with "
    "sinernn.train_many, which puts one model on each GPU thread."
)


class DivergenceError(FloatingPointError):
    """Training stopped because the loss, or the weights after an epoch's last update, stopped
    being finite. ``epoch`` and ``step`` (0-based) say where; w1 and w2 hold their values at the
    end of the last finite epoch (before training when ``epoch`` is 0): no NaN is handed back.
    ``losses`` (epoch,): the completed epochs' loss totals, as TrainResult.losses would hold them
    (sinernn.train always sets it; None where unknown)."""

    def __init__(self, epoch: int, step: int, lr: float, losses: Tensor | None = None):
        self.epoch, self.step, self.lr, self.losses = epoch, step, lr, losses
        where = "their values before training" if epoch == 0 else f"the end of epoch {epoch - 1}"
        super().__init__(
            f"training diverged at epoch {epoch}, step {step}: the loss or the weights are no longer finite "
            f"(lr={lr}); w1 and w2 are restored to {where}. A smaller lr usually helps."
        )

    def __reduce__(self):  # pickles with its fields (the default would call it with the message)
        return type(self), (self.epoch, self.step, self.lr, self.losses)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped training. w1 and w2 hold their values at the end of epoch
    ``epochs_completed - 1`` (before training when it is 0): never a half-done epoch. ``result``
    is the TrainResult of the completed epochs. A KeyboardInterrupt, so an uncaught one ends the
    program as Ctrl-C does."""

    def __init__(self, result: "TrainResult"):
        self.result = result
        self.epochs_completed = result.epochs
        super().__init__(
            f"training interrupted after {result.epochs} complete epochs; w1 and w2 hold the end of "
            + ("none (their values before training)" if result.epochs == 0 else f"epoch {result.epochs - 1}")
        )


class _Interrupts:
    """While training runs in the main thread under Python's default SIGINT handler: the first
    Ctrl-C asks the loops to stop at the end of the current epoch (chunk of epochs for "cpp"); a
    second one raises KeyboardInterrupt at once, and the loop puts the weights back to the end of
    the last complete epoch. Elsewhere (other threads, a handler of the caller's) nothing is
    installed and a KeyboardInterrupt is handled the second way."""

    def __init__(self, raise_on_second: bool = True):
        self.requested = False
        self.raise_on_second = raise_on_second
        # Whether a KeyboardInterrupt can land inside the loop: not when this handler is installed
        # and told not to raise (the whole-loop op can't be stopped mid-call anyway).
        self.may_raise = True

    def _handler(self, signum, frame):
        if self.requested and self.raise_on_second:
            raise KeyboardInterrupt
        self.requested = True

    # "with _Interrupts(...) as stop:" installs the handler where it may (a class, not a
    # contextlib generator: ~1.5 us less per train call)
    def __enter__(self):
        self._mine = threading.current_thread() is threading.main_thread() and _signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if self._mine:
            _signal.signal(signal.SIGINT, self._handler)
            self.may_raise = self.raise_on_second
        return self

    def __exit__(self, *exc_info):
        if self._mine:
            _signal.signal(signal.SIGINT, signal.default_int_handler)
        return False


class _Stop(Exception):
    """Raised inside a training loop to stop it: ``done`` complete epochs; ``losses`` (>= done,)
    holds theirs first."""

    def __init__(self, done: int, losses: Tensor):
        self.done, self.losses = done, losses


def _step_loop(step):
    """A Python loop over a per-step function step(x_t, y_t, h, w1, w2, lr) -> (h_new, pred, loss)
    that updates w1, w2 in place: the tutorial's loop, with the divergence guard."""

    def run(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: _Interrupts) -> Tensor:
        xs, ys = x.unbind(0), y.unbind(0)
        losses = x.new_empty(epochs)
        done = 0
        for i in range(epochs):
            start = None  # the weights at this epoch's start while it runs (see _Interrupts)
            try:
                if stop.requested:
                    raise _Stop(done, losses)
                start = (w1.clone(), w2.clone())
                h = x.new_zeros(w1.shape[1])
                total = x.new_zeros(())
                for t, (x_t, y_t) in enumerate(zip(xs, ys)):
                    h, _, loss = step(x_t, y_t, h, w1, w2, lr)
                    if not math.isfinite(loss):
                        _restore(w1, w2, start)
                        raise DivergenceError(i, t, lr, losses[:i].clone())
                    total += loss  # in x's dtype, in step order: the native loop's sum, bit for bit
                if not bool(torch.isfinite(w1).all() & torch.isfinite(w2).all()):
                    _restore(w1, w2, start)
                    raise DivergenceError(i, len(xs) - 1, lr, losses[:i].clone())
                losses[i] = total
                start, done = None, i + 1  # one statement: no signal is handled between the two stores
            except KeyboardInterrupt:  # a second Ctrl-C: back to the end of the last complete epoch
                if start is not None:
                    _restore(w1, w2, start)
                raise _Stop(done, losses) from None
        return losses

    return run


def _restore(w1: Tensor, w2: Tensor, start: tuple[Tensor, Tensor]) -> None:
    with torch.no_grad():
        w1.copy_(start[0])
        w2.copy_(start[1])


def _train_cpp_step(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: _Interrupts) -> Tensor:
    """The per-step shape: a Python loop over the fused step, through its direct binding in
    sinernn._C (about 0.1 us a call; the dispatcher path costs about 6 us). The session holds raw
    pointers: x, y, w1, w2 are checked, contiguous CPU tensors kept alive here."""
    C = _extension.module()
    L, F = x.shape
    H, O = w2.shape
    session = C._step_session(
        x.data_ptr(), y.data_ptr(), w1.data_ptr(), w2.data_ptr(), F, H, O, L, lr, x.dtype == torch.float64
    )
    step, total = C._session_step, C._session_total
    totals = []
    for i in range(epochs):
        try:
            if stop.requested:
                raise _Stop(len(totals), torch.tensor(totals, dtype=x.dtype))
            for t in range(L):
                if math.isnan(step(session, t)):  # NaN: this step diverged
                    C._session_restore(session)  # the weights of this epoch's start
                    raise DivergenceError(i, t, lr, torch.tensor(totals, dtype=x.dtype))
            totals.append(total(session))  # summed in x's dtype, in step order: exact as a float
        except KeyboardInterrupt:  # a second Ctrl-C
            C._session_restore(session)  # undoes a half-done epoch only (the session knows)
            if C._session_epochs(session) > len(totals):  # it landed after an epoch's end
                totals.append(total(session))
            raise _Stop(len(totals), torch.tensor(totals, dtype=x.dtype)) from None
    return torch.tensor(totals, dtype=x.dtype)


# "cpp" trains in chunks of whole epochs of about this many steps, so that Ctrl-C is answered
# within a few milliseconds on the tutorial's sizes (the op itself can't be interrupted, so here a
# second Ctrl-C also just stops after the chunk: the handler raises nothing). Chunking
# changes no result: each epoch starts from a zero context either way. A chunk costs one op call
# (~10 us) more: about 0.2% at 50,000 steps of ~80 ns.
CHUNK_STEPS = 50_000


def _train_cpp(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: _Interrupts) -> Tensor:
    chunk = max(1, CHUNK_STEPS // x.shape[0])
    parts, done = [], 0

    def joined() -> Tensor:  # the losses of the chunks so far
        return parts[0] if len(parts) == 1 else torch.cat(parts) if parts else x.new_empty(0)

    while done < epochs:
        start = None  # as in _step_loop
        try:
            if stop.requested:
                raise _Stop(done, joined())
            n = min(chunk, epochs - done)
            if stop.may_raise:  # under a caller's own SIGINT handler: keep what to undo
                start = (w1.clone(), w2.clone())
            part, diverged = ops.train_guarded(x, y, w1, w2, n, lr)
            epoch, step = diverged.tolist()
            if epoch >= 0:  # w1, w2 hold the end of the epoch before
                parts.append(part[:epoch])
                raise DivergenceError(done + epoch, step, lr, joined())
            parts.append(part)
            start, done = None, done + n  # one statement: no signal is handled between the two stores
        except KeyboardInterrupt:  # a second Ctrl-C, raised once the op returned: undo this chunk
            if start is not None:
                _restore(w1, w2, start)
            raise _Stop(done, joined()) from None
    return joined()


_TRAINERS = {
    "reference": _step_loop(reference.step),
    "cpp-step": _train_cpp_step,
    # looked up at call time: torch.ops.sinernn exists only once the native ops are loaded
    "cpp-step-op": _step_loop(lambda *args: torch.ops.sinernn.step.default(*args)),
    "cpp": _train_cpp,
}


def train(
    x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int = 300, lr: float = 0.1, backend: str = "auto"
) -> TrainResult:
    """Train the tutorial's Elman network: SGD after every step, context detached between steps.

    x (L, F) inputs and y (L, O) targets (float32 or float64, finite); w1 (F+H, H) and w2 (H, O)
    of the same dtype, leaf tensors, updated in place like the tutorial's. Each of ``epochs``
    passes starts from a zero context. Returns a TrainResult whose ``losses`` (epochs,) are the
    per-epoch sums of the step losses 0.5 * sum((pred - y)^2).

    Raises TypeError/ValueError naming the bad argument, before any weight is touched; raises
    DivergenceError when the loss stops being finite (w1, w2 then hold the end of the last finite
    epoch; its ``losses`` are the completed epochs'). Ctrl-C (in the main thread) stops at the end
    of the current epoch and raises TrainingInterrupted (a KeyboardInterrupt) carrying the completed
    epochs' result; a second Ctrl-C stops at once, the weights put back to the end of the last
    complete epoch.
    """
    L, F, O = checks.check_series(x, y)
    checks.check_weights(w1, w2, F, O)
    checks.check_same_dtype_device(x=x, w1=w1, w2=w2)
    checks.check_written("w1", w1, w2=w2, x=x, y=y)
    checks.check_written("w2", w2, x=x, y=y)
    lr = checks.check_lr(lr)
    epochs = checks.check_epochs(epochs)
    if epochs * L >= 2**63:
        raise ValueError(f"epochs * L must fit in 64 bits, got epochs={epochs} and L={L}")
    name = resolve_backend(backend, x.device)
    if x.device.type == "cuda" and name != "reference":
        warnings.warn(ONE_MODEL_ON_GPU.format(device=x.device), OneModelOnGpuWarning, stacklevel=2)

    x, y = _plain(x), _plain(y)
    # Train contiguous weights; a non-contiguous caller's tensor gets the result copied back once.
    w1_work, w2_work = _plain(w1), _plain(w2)
    start = time.perf_counter()
    stopped = None
    # No autograd to switch off for "cpp": its op sees only the detached tensors above (no_grad costs ~4 us).
    grad_off = contextlib.nullcontext() if name == "cpp" else torch.no_grad()
    try:
        with grad_off, _Interrupts(raise_on_second=name != "cpp") as stop:
            losses = _TRAINERS[name](x, y, w1_work, w2_work, epochs, lr, stop)
    except _Stop as exc:  # Ctrl-C: the work tensors hold the end of the last complete epoch
        stopped = exc
    finally:  # also after a DivergenceError: the work tensors then hold the restored weights
        for w, work in ((w1, w1_work), (w2, w2_work)):
            if work.data_ptr() != w.data_ptr():
                with torch.no_grad():
                    w.copy_(work)
    seconds = time.perf_counter() - start
    if stopped is not None:
        losses = stopped.losses[: stopped.done].clone()
        result = TrainResult(losses=losses, backend=name, seconds=seconds, epochs=stopped.done, seq_length=L, lr=lr)
        raise TrainingInterrupted(result) from None
    return TrainResult(losses=losses, backend=name, seconds=seconds, epochs=epochs, seq_length=L, lr=lr)


def _plain(t: Tensor) -> Tensor:
    """t without autograd history, contiguous: t itself when it already is both."""
    return (t.detach() if t.requires_grad else t).contiguous()


def predict(
    x: Tensor, w1: Tensor, w2: Tensor, backend: str = "auto", return_hidden: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Teacher-forced predictions: zero context, the true x_t at every step, no updates.

    x (L, F), w1 (F+H, H), w2 (H, O) -> predictions (L, O); with ``return_hidden`` also the
    contexts (L, H). Every native backend uses the native predict op.
    """
    _, F, _ = checks.check_series(x)
    checks.check_weights(w1, w2, F, None)
    checks.check_same_dtype_device(x=x, w1=w1, w2=w2)
    name = resolve_backend(backend, x.device)
    with torch.no_grad():
        # one memory layout for every backend and caller, as in train
        x, w1, w2 = (t.detach().contiguous() for t in (x, w1, w2))
        if name == "reference":
            preds, hidden = reference.predict(x, w1, w2)
        else:
            preds, hidden = ops.predict(x, w1, w2)
    return (preds, hidden) if return_hidden else preds


def forecast(x: Tensor, w1: Tensor, w2: Tensor, steps: int, backend: str = "auto") -> Tensor:
    """Closed-loop forecast (F == O): a teacher-forced warm-up over x (L, F) from a zero context,
    then each prediction fed back as the next input. -> (steps, O); row 0 follows x's last row.
    Every native backend uses the native forecast op."""
    _, F, _ = checks.check_series(x)
    checks.check_weights(w1, w2, F, None)
    checks.check_same_dtype_device(x=x, w1=w1, w2=w2)
    if w2.shape[1] != F:
        raise ValueError(f"forecasting feeds each prediction back as the next input: it needs O == F, got F={F}, O={w2.shape[1]}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    name = resolve_backend(backend, x.device)
    with torch.no_grad():
        x, w1, w2 = (t.detach().contiguous() for t in (x, w1, w2))
        return reference.forecast(x, w1, w2, steps) if name == "reference" else ops.forecast(x, w1, w2, steps)
