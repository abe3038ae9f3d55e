"""One model: training (sinernn.train), teacher-forced prediction and closed-loop forecast, one
API over every backend (sinernn.engine.backends.BACKENDS; all give the same results, see
``sinernn.verify``)."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from .._native import ops
from . import backends, checks, reference
from .errors import ONE_MODEL_ON_GPU, DivergenceError, OneModelOnGpuWarning, TrainingInterrupted
from .interrupts import Interrupts, Stop, restore


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


def _step_loop(get_step):
    """A Python loop over a per-step function step(x_t, y_t, h, w1, w2, lr) -> (h_new, pred, loss)
    that updates w1, w2 in place: the tutorial's loop, with the divergence guard. ``get_step()``
    gives the function once a run (the registered op exists only once the native ops load), so
    the loop calls it with nothing between (docs/performance.md, "Figures behind the code")."""

    def run(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: Interrupts) -> Tensor:
        step = get_step()
        xs, ys = x.unbind(0), y.unbind(0)
        losses = x.new_empty(epochs)
        done = 0
        for i in range(epochs):
            start = None  # the weights at this epoch's start while it runs (see Interrupts)
            try:
                if stop.requested:
                    raise Stop(done, losses)
                start = (w1.clone(), w2.clone())
                h = x.new_zeros(w1.shape[1])
                total = x.new_zeros(())
                for t, (x_t, y_t) in enumerate(zip(xs, ys)):
                    h, _, loss = step(x_t, y_t, h, w1, w2, lr)
                    if not math.isfinite(loss):
                        restore(w1, w2, start)
                        raise DivergenceError(i, t, lr, losses[:i].clone())
                    total += loss  # in x's dtype, in step order: the native loop's sum, bit for bit
                if not bool(torch.isfinite(w1).all() & torch.isfinite(w2).all()):
                    restore(w1, w2, start)
                    raise DivergenceError(i, len(xs) - 1, lr, losses[:i].clone())
                losses[i] = total
                start, done = None, i + 1  # one statement: no signal is handled between the two stores
            except KeyboardInterrupt:  # a second Ctrl-C: back to the end of the last complete epoch
                if start is not None:
                    restore(w1, w2, start)
                raise Stop(done, losses) from None
        return losses

    return run


def _train_cpp_step(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: Interrupts) -> Tensor:
    """The per-step shape: a Python loop over the fused step, through its direct binding in
    sinernn._C (far cheaper a call than the dispatcher: docs/performance.md, "Figures behind the
    code"). The session holds raw pointers: x, y, w1, w2 are checked, contiguous CPU tensors kept
    alive here."""
    L = x.shape[0]
    s = ops.StepSession(x, y, w1, w2, lr)
    session, step, total = s.capsule, s.step, s.total
    totals = []
    for i in range(epochs):
        try:
            if stop.requested:
                raise Stop(len(totals), torch.tensor(totals, dtype=x.dtype))
            for t in range(L):
                if math.isnan(step(session, t)):  # NaN: this step diverged
                    s.restore(session)  # the weights of this epoch's start
                    raise DivergenceError(i, t, lr, torch.tensor(totals, dtype=x.dtype))
            totals.append(total(session))  # summed in x's dtype, in step order: exact as a float
        except KeyboardInterrupt:  # a second Ctrl-C
            s.restore(session)  # undoes a half-done epoch only (the session knows)
            if s.epochs(session) > len(totals):  # it landed after an epoch's end
                totals.append(total(session))
            raise Stop(len(totals), torch.tensor(totals, dtype=x.dtype)) from None
    return torch.tensor(totals, dtype=x.dtype)


# "cpp" trains in chunks of whole epochs of about this many steps, so that Ctrl-C is answered
# within a few milliseconds on the tutorial's sizes (the op itself can't be interrupted, so here a
# second Ctrl-C also just stops after the chunk: the handler raises nothing). Chunking
# changes no result: each epoch starts from a zero context either way. A chunk costs one op call
# more, a small fraction of its steps (docs/performance.md, "Figures behind the code").
CHUNK_STEPS = 50_000


def _train_cpp(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float, stop: Interrupts) -> Tensor:
    chunk = max(1, CHUNK_STEPS // x.shape[0])
    parts, done = [], 0

    def joined() -> Tensor:  # the losses of the chunks so far
        return parts[0] if len(parts) == 1 else torch.cat(parts) if parts else x.new_empty(0)

    while done < epochs:
        start = None  # as in _step_loop
        try:
            if stop.requested:
                raise Stop(done, joined())
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
                restore(w1, w2, start)
            raise Stop(done, joined()) from None
    return joined()


_TRAINERS = {
    "reference": _step_loop(lambda: reference.step),
    "cpp-step": _train_cpp_step,
    "cpp-step-op": _step_loop(lambda: ops.op("step")),  # the OpOverload itself: no wrapper a step
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
    checks.check_finite_weights(w1, w2)
    checks.check_written("w1", w1, w2=w2, x=x, y=y)
    checks.check_written("w2", w2, x=x, y=y)
    lr = checks.check_lr(lr)
    epochs = checks.check_epochs(epochs)
    if epochs * L >= 2**63:
        raise ValueError(f"epochs * L must fit in 64 bits, got epochs={epochs} and L={L}")
    name = backends.resolve(backend, x.device)
    if x.device.type == "cuda" and name != "reference":
        warnings.warn(ONE_MODEL_ON_GPU.format(device=x.device), OneModelOnGpuWarning, stacklevel=2)

    x, y = _plain(x), _plain(y)
    # Train contiguous weights; a non-contiguous caller's tensor gets the result copied back once.
    w1_work, w2_work = _plain(w1), _plain(w2)
    start = time.perf_counter()
    stopped = None
    # No autograd to switch off for "cpp": its op sees only the detached tensors above (no_grad costs
    # more than that: docs/performance.md, "Figures behind the code").
    grad_off = contextlib.nullcontext() if name == "cpp" else torch.no_grad()
    try:
        with grad_off, Interrupts(raise_on_second=name != "cpp") as stop:
            losses = _TRAINERS[name](x, y, w1_work, w2_work, epochs, lr, stop)
    except Stop as exc:  # Ctrl-C: the work tensors hold the end of the last complete epoch
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
    name, x, w1, w2 = backends.inference_inputs(x, w1, w2, backend)
    with torch.no_grad():
        if name == "reference":
            preds, hidden = reference.predict(x, w1, w2)
        else:
            preds, hidden = ops.predict(x, w1, w2)
    return (preds, hidden) if return_hidden else preds


def forecast(x: Tensor, w1: Tensor, w2: Tensor, steps: int, backend: str = "auto") -> Tensor:
    """Closed-loop forecast (F == O): a teacher-forced warm-up over x (L, F) from a zero context,
    then each prediction fed back as the next input. -> (steps, O); row 0 follows x's last row.
    Every native backend uses the native forecast op."""
    name, x, w1, w2 = backends.inference_inputs(x, w1, w2, backend)
    F = x.shape[1]
    if w2.shape[1] != F:
        raise ValueError(f"forecasting feeds each prediction back as the next input: it needs O == F, got F={F}, O={w2.shape[1]}")
    steps = checks.check_int("steps", steps, minimum=0)
    with torch.no_grad():
        return reference.forecast(x, w1, w2, steps) if name == "reference" else ops.forecast(x, w1, w2, steps)
