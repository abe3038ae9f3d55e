"""Many independent models in one call: an lr or seed sweep, an ensemble, one forecaster per sensor.

    w1, w2 = sinernn.init_weights(models=1024, seed=0)        # (N, F+H, H), (N, H, O)
    res = sinernn.train_many(x, y, w1, w2, epochs=300, lr=torch.linspace(0.01, 0.3, 1024))
    res.losses                                                 # (N, epochs)
    preds = sinernn.predict_many(x, w1, w2)                    # (N, L, O)

Model i of a batch is trained exactly as ``sinernn.train`` trains it alone, bit for bit on the CPU
(the batched op runs each model's arithmetic in its own SIMD lane; see csrc/elman_math.h). A model
whose loss stops being finite stops there: its weights go back to the end of its last finite epoch,
its losses are NaN from that epoch on, and ``diverged`` says where; the other models carry on.

Backends: "cpp" the batched native op (CPU: SIMD lanes x threads; CUDA: one model per thread),
"cpp-loop" the single-model whole-loop op once per model, "reference" the autograd loop once per
model, "auto" = "cpp" when the native ops load.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _extension, checks, ops, trainer

BACKENDS = ("auto", "reference", "cpp-loop", "cpp")


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


def _tensor(name: str, t: object, shapes: str, dims: tuple[int, ...]) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shapes}, got {type(t).__name__}")
    if t.dtype not in checks.FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if t.dim() not in dims:
        raise ValueError(f"{name} must have shape {shapes}, got {tuple(t.shape)}")
    return t


def check_models(x: object, y: object | None, w1: object, w2: object) -> tuple[int, int, int, int, int]:
    """x (L, F) or (N, L, F); y likewise with O; w1 (N, F+H, H), w2 (N, H, O): leaf float tensors of
    one dtype and device, finite inputs. Returns (N, L, F, H, O)."""
    x = _tensor("x", x, "(L, F) or (N, L, F)", (2, 3))
    w1 = _tensor("w1", w1, "(N, F+H, H)", (3,))
    w2 = _tensor("w2", w2, "(N, H, O)", (3,))
    N = w1.shape[0]
    if N < 1 or w2.shape[0] != N:
        raise ValueError(f"w1 (N, F+H, H) and w2 (N, H, O) must hold the same N >= 1 models, got {tuple(w1.shape)} and {tuple(w2.shape)}")
    if x.dim() == 3 and x.shape[0] != N:
        raise ValueError(f"x of shape (N, L, F) must hold one series per model, N={N}, got {tuple(x.shape)}")
    series_x = x if x.dim() == 2 else x[0]
    series_y = None
    if y is not None:
        y = _tensor("y", y, "(L, O) or (N, L, O)", (2, 3))
        if y.dim() != x.dim() or (y.dim() == 3 and y.shape[0] != N):
            want = "(L, O) like x" if x.dim() == 2 else f"(N, L, O) with N={N} like x"
            raise ValueError(f"y must have shape {want}, got {tuple(y.shape)}")
        series_y = y if y.dim() == 2 else y[0]
    L, F, O = checks.check_series(series_x, series_y)
    H = checks.check_weights(w1[0], w2[0], F, O)  # shapes; leaf-ness is w1's own
    for name, w in (("w1", w1), ("w2", w2)):
        if not w.is_leaf:
            raise ValueError(f"{name} must be a leaf tensor (weights are updated in place); pass {name}.detach()")
    checks.check_same_dtype_device(x=x, **({"y": y} if y is not None else {}), w1=w1, w2=w2)
    checks.check_finite("x", x)
    if y is not None:
        checks.check_finite("y", y)
    return N, L, F, H, w2.shape[2]


def _check_lrs(lr: object, n: int) -> Tensor:
    """A float for every model, or one per model: -> (N,) float64 on the CPU."""
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        lrs = torch.full((n,), float(lr), dtype=torch.float64)
    elif isinstance(lr, (str, bytes, bool)) or lr is None:
        raise TypeError(f"lr must be a real number or a tensor of shape (N,), got {type(lr).__name__}")
    else:  # a tensor, a NumPy array, a list or tuple of numbers
        try:
            lrs = torch.as_tensor(lr, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"lr must be a real number or a sequence of N={n} of them, got {type(lr).__name__}: {exc}") from None
        if lrs.shape != (n,):
            raise ValueError(f"lr must be a number or have shape (N,) = ({n},), one per model, got {tuple(lrs.shape)}")
    bad = ~(torch.isfinite(lrs) & (lrs >= 0))
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(f"lr must be finite and >= 0 for every model, got lr[{i}]={float(lrs[i])}")
    return lrs.contiguous()


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that ``backend`` names for tensors on ``device`` (as trainer.resolve_backend)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "reference":
        return backend
    if device.type != "cpu" and not trainer.has_native_kernels(device):
        if backend == "auto":
            return "reference"
        raise trainer.no_kernel_error(backend, device)
    if backend == "auto":
        return "cpp" if _extension.available() else "reference"
    _extension.load()  # a clear RuntimeError when the native ops can't be had
    return backend


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
    N, L, F, H, O = check_models(x, y, w1, w2)
    checks.check_written("w1", w1, w2=w2, x=x, y=y)
    checks.check_written("w2", w2, x=x, y=y)
    epochs = checks.check_epochs(epochs)
    if epochs * L >= 2**63:
        raise ValueError(f"epochs * L must fit in 64 bits, got epochs={epochs} and L={L}")
    lrs = _check_lrs(lr, N)
    name = resolve_backend(backend, x.device)
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
    single = "cpp" if name == "cpp-loop" else "reference"
    for n in range(w1.shape[0]):
        xs, ys = (x[n], y[n]) if x.dim() == 3 else (x, y)
        lr = float(lrs[n])
        try:
            losses[n] = trainer.train(xs, ys, w1[n], w2[n], epochs, lr, backend=single).losses
        except trainer.DivergenceError as exc:  # w1[n], w2[n] hold the end of the last finite epoch
            diverged[n] = torch.tensor([exc.epoch, exc.step])
            losses[n, : exc.epoch] = exc.losses
    return losses, diverged


def predict_many(x: Tensor, w1: Tensor, w2: Tensor, backend: str = "auto", return_hidden: bool = False):
    """Teacher-forced predictions of N models from a zero context: x (L, F) or (N, L, F),
    w1 (N, F+H, H), w2 (N, H, O) -> (N, L, O); with ``return_hidden`` also the contexts (N, L, H)."""
    N, L, F, H, O = check_models(x, None, w1, w2)
    name = resolve_backend(backend, x.device)
    with torch.no_grad():
        x, w1, w2 = (t.detach().contiguous() for t in (x, w1, w2))
        if name == "cpp":
            preds, hidden = ops.predict_many(x, w1, w2)
        else:
            single = "cpp" if name == "cpp-loop" else "reference"
            outs = [trainer.predict(x[n] if x.dim() == 3 else x, w1[n], w2[n], backend=single, return_hidden=True)
                    for n in range(N)]
            preds, hidden = torch.stack([p for p, _ in outs]), torch.stack([h for _, h in outs])
    return (preds, hidden) if return_hidden else preds
