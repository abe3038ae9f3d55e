"""Many independent models in one call: an lr or seed sweep, an ensemble, one forecaster per sensor.

    w1, w2 = sinernn.init_weights(models=1024, seed=0)        # (N, F+H, H), (N, H, O)
    res = sinernn.train_many(x, y, w1, w2, epochs=300, lr=torch.linspace(0.01, 0.3, 1024))
    res.losses                                                 # (N, epochs)
    preds = sinernn.predict_many(x, w1, w2)                    # (N, L, O)

Model i of a batch is trained exactly as ``sinernn.train`` trains it alone, bit for bit on the CPU
(the batched op runs each model's arithmetic in its own SIMD lane; see csrc/cpu/lanes.h). A model
whose loss stops being finite stops there: its weights go back to the end of its last finite epoch,
its losses are NaN from that epoch on, and ``diverged`` says where; the other models carry on.

Backends: sinernn.engine.backends.MANY_BACKENDS.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from .._native import ops
from . import backends, checks, single
from .errors import DivergenceError


@dataclass
class ManyResult:
    """What a train_many run did. losses (N, epochs): per-model per-epoch loss totals, NaN from a
    model's divergence on; diverged (N, 2) int64: (epoch, step) where model n diverged, or (-1, -1)."""

    losses: Tensor
    diverged: Tensor
    backend: str
    seconds: float
    epochs: int
    seq_length: int

    @property
    def models(self) -> int:
        return self.losses.shape[0]

    @property
    def final_losses(self) -> Tensor:
        """(N,) each model's last epoch loss (NaN for a model that diverged)."""
        return self.losses[:, -1] if self.epochs else self.losses.new_full((self.models,), math.nan)

    @property
    def model_steps(self) -> int:
        return self.models * self.epochs * self.seq_length

    @property
    def model_steps_per_second(self) -> float:
        return self.model_steps / self.seconds if self.seconds > 0 else float("inf")


def train_many(
    x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int = 300, lr: float | Tensor = 0.1, backend: str = "auto"
) -> ManyResult:
    """Train N independent Elman networks, each exactly as ``sinernn.train`` would.

    x (L, F) and y (L, O) shared by every model, or (N, L, F) and (N, L, O) one series per model;
    w1 (N, F+H, H), w2 (N, H, O), updated in place; lr a number or one per model (N,).
    Returns a ManyResult: losses (N, epochs), diverged (N, 2). Bad arguments raise TypeError or
    ValueError naming them, before any weight changes. A diverging model does not raise: see
    ``diverged`` (its weights hold the end of its last finite epoch).
    """
    N, L, F, H, O = checks.check_models(x, y, w1, w2, need_y=True)
    checks.check_written("w1", w1, w2=w2, x=x, y=y)
    checks.check_written("w2", w2, x=x, y=y)
    epochs = checks.check_epochs(epochs)
    if epochs * L >= 2**63:
        raise ValueError(f"epochs * L must fit in 64 bits, got epochs={epochs} and L={L}")
    lrs = checks.check_lrs(lr, N)
    name = backends.resolve_many(backend, x.device)
    x, y = x.detach().contiguous(), y.detach().contiguous()
    w1_work, w2_work = w1.detach().contiguous(), w2.detach().contiguous()
    start = time.perf_counter()
    with torch.no_grad():
        if name == "cpp":
            # to a GPU from pinned memory: the copy does not wait for the work queued before it
            lr_arg = lrs if x.device.type == "cpu" else lrs.pin_memory().to(x.device, non_blocking=True)
            losses, diverged = ops.train_many(x, y, w1_work, w2_work, epochs, lr_arg)
        else:
            losses, diverged = _train_one_by_one(x, y, w1_work, w2_work, epochs, lrs, name)
        for w, work in ((w1, w1_work), (w2, w2_work)):
            if work.data_ptr() != w.data_ptr():
                w.copy_(work)
    seconds = time.perf_counter() - start
    return ManyResult(losses=losses, diverged=diverged, backend=name, seconds=seconds, epochs=epochs, seq_length=L)


def _train_one_by_one(x, y, w1, w2, epochs, lrs, name) -> tuple[Tensor, Tensor]:
    """sinernn.train on each model in turn (backend "cpp" or "reference"), divergence recorded."""
    losses = x.new_full((w1.shape[0], epochs), math.nan)
    diverged = torch.full((w1.shape[0], 2), -1, dtype=torch.int64, device=x.device)
    one = "cpp" if name == "cpp-loop" else "reference"
    for n in range(w1.shape[0]):
        xs, ys = (x[n], y[n]) if x.dim() == 3 else (x, y)
        lr = float(lrs[n])
        try:
            losses[n] = single.train(xs, ys, w1[n], w2[n], epochs, lr, backend=one).losses
        except DivergenceError as exc:  # w1[n], w2[n] hold the end of the last finite epoch
            diverged[n] = torch.tensor([exc.epoch, exc.step])
            losses[n, : exc.epoch] = exc.losses
    return losses, diverged


def predict_many(x: Tensor, w1: Tensor, w2: Tensor, backend: str = "auto", return_hidden: bool = False):
    """Teacher-forced predictions of N models from a zero context: x (L, F) or (N, L, F),
    w1 (N, F+H, H), w2 (N, H, O) -> (N, L, O); with ``return_hidden`` also the contexts (N, L, H)."""
    name, x, w1, w2 = backends.inference_inputs(x, w1, w2, backend, many=True)
    N = w1.shape[0]
    with torch.no_grad():
        if name == "cpp":
            preds, hidden = ops.predict_many(x, w1, w2)
        else:
            one = "cpp" if name == "cpp-loop" else "reference"
            outs = [single.predict(x[n] if x.dim() == 3 else x, w1[n], w2[n], backend=one, return_hidden=True)
                    for n in range(N)]
            preds, hidden = torch.stack([p for p, _ in outs]), torch.stack([h for _, h in outs])
    return (preds, hidden) if return_hidden else preds
