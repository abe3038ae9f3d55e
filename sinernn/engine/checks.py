"""Argument checks of the public Python API, shared by every backend.

They run before anything is trained, so a call that fails one changes no weight. Messages name
the argument, what was expected and what was given. (The native ops check their own arguments
again at their entry, for callers that use ``torch.ops.sinernn.*`` directly: csrc/aten/checks.h.)
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from .._native import ops

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """value as an int >= minimum (a Python or NumPy integer; not a bool). Raises ValueError naming
    ``name``, as every size, count and length of the API is checked."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _tensor(name: str, t: object, shape: str, dims: tuple[int, ...] = (2,)) -> Tensor:
    """t as a float32/float64 tensor with one of ``dims`` dimensions (``shape`` says which, for messages)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if t.dim() not in dims:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    return t


def check_same_dtype_device(**tensors: Tensor) -> None:
    (first_name, first), *rest = tensors.items()
    for name, t in rest:
        if t.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but {first_name} has {first.dtype}; all must share one dtype")
        if not (t.is_cpu and first.is_cpu) and t.device != first.device:  # (.device builds an object: skip it on the CPU)
            raise ValueError(f"{name} is on {t.device} but {first_name} is on {first.device}; all must be on one device")


def check_finite(name: str, t: Tensor) -> None:
    if t.is_meta:
        raise ValueError(f"{name} is on the meta device, which holds no data to train on")
    finite = ops.all_finite(t)  # the native loop where it applies: cheaper than torch.isfinite on small tensors
    if finite is not None:
        if not finite:
            raise ValueError(f"{name} contains NaN or Inf")
        return
    try:
        finite = bool(torch.isfinite(t).all())
    except RuntimeError as exc:  # e.g. an expanded view of 2**40 steps: no memory to look at it
        raise MemoryError(f"{name} of shape {tuple(t.shape)} is too large to check and copy: {exc}") from None
    if not finite:
        raise ValueError(f"{name} contains NaN or Inf")


def _elements_distinct(t: Tensor) -> bool:
    """Every element of t has its own memory (the rule of csrc/aten/checks.h: dims sorted by
    |stride| must each step past what the smaller ones reach)."""
    reach = 0
    for stride, size in sorted((abs(st), n) for st, n in zip(t.stride(), t.shape) if n > 1):
        if stride <= reach:
            return False
        reach += (size - 1) * stride
    return True


def _byte_span(t: Tensor) -> tuple[int, int]:
    lo = sum((n - 1) * st for st, n in zip(t.stride(), t.shape) if st < 0)
    hi = sum((n - 1) * st for st, n in zip(t.stride(), t.shape) if st > 0)
    return t.data_ptr() + lo * t.element_size(), t.data_ptr() + (hi + 1) * t.element_size()


def check_written(name: str, w: Tensor, **reads: Tensor) -> None:
    """w is updated in place: its elements must be distinct memory (not an expanded view), and it
    must share no memory with the tensors in ``reads``."""
    if w.is_meta or w.numel() == 0:
        return
    if w.is_cpu and w.is_contiguous() and all(o.is_cpu and o.is_contiguous() for o in reads.values()):
        # the common case, without building the storage objects: contiguous spans overlap or not
        lo = w.data_ptr()
        hi = lo + w.nbytes
        for other_name, other in reads.items():
            o_lo = other.data_ptr()
            if other.numel() and lo < o_lo + other.nbytes and o_lo < hi:
                raise ValueError(f"{name} is updated in place but shares memory with {other_name}; pass separate tensors")
        return
    if not w.is_contiguous() and not _elements_distinct(w):
        raise ValueError(
            f"{name} is updated in place but several of its elements share one memory location "
            f"(an expanded or overlapping view, strides {w.stride()}); pass {name}.clone()"
        )
    storage = w.untyped_storage().data_ptr()
    for other_name, other in reads.items():
        if other.device != w.device or other.numel() == 0 or other.untyped_storage().data_ptr() != storage:
            continue
        lo, hi = _byte_span(w)
        o_lo, o_hi = _byte_span(other)
        if lo < o_hi and o_lo < hi:
            raise ValueError(f"{name} is updated in place but shares memory with {other_name}; pass separate tensors")


def check_series(x: object, y: object | None = None) -> tuple[int, int, int | None]:
    """x (L, F) and, when given, y (L, O): finite, L >= 1, F, O >= 1. Returns (L, F, O or None)."""
    x = _tensor("x", x, "(L, F)")
    L, F = x.shape
    if L < 1 or F < 1:
        raise ValueError(f"x must have shape (L, F) with L >= 1 steps and F >= 1 features, got {tuple(x.shape)}")
    check_finite("x", x)
    if y is None:
        return L, F, None
    y = _tensor("y", y, "(L, O)")
    if y.shape[0] != L or y.shape[1] < 1:
        raise ValueError(f"y must have shape (L, O) = ({L}, O) with O >= 1, to match x {tuple(x.shape)}, got {tuple(y.shape)}")
    check_same_dtype_device(x=x, y=y)
    check_finite("y", y)
    return L, F, y.shape[1]


def check_weights(w1: object, w2: object, n_features: int, n_out: int | None) -> int:
    """w1 (F+H, H), w2 (H, O): leaf float tensors. Returns H. (Their values: check_finite_weights,
    once the devices are known to agree.)"""
    w1 = _tensor("w1", w1, "(F+H, H)")
    w2 = _tensor("w2", w2, "(H, O)")
    for name, w in (("w1", w1), ("w2", w2)):
        if not w.is_leaf:
            raise ValueError(
                f"{name} must be a leaf tensor (weights are updated in place), but it was computed by "
                f"{type(w.grad_fn).__name__}; pass {name}.detach() or a tensor you created"
            )
    H = w1.shape[1]
    if H < 1 or w1.shape[0] != n_features + H:
        raise ValueError(
            f"w1 must have shape (F+H, H) = ({n_features + H}, {H}) for F={n_features} input features, "
            f"got {tuple(w1.shape)}"
        )
    if w2.shape[0] != H or (n_out is not None and w2.shape[1] != n_out):
        expected = f"({H}, {n_out})" if n_out is not None else f"({H}, O)"
        raise ValueError(f"w2 must have shape (H, O) = {expected} to match w1 and y, got {tuple(w2.shape)}")
    if w2.shape[1] < 1:
        raise ValueError(f"w2 must have at least one output column, got {tuple(w2.shape)}")
    return H


def check_finite_weights(w1: Tensor, w2: Tensor) -> None:
    """NaN or Inf in a starting weight is the same ValueError on every backend, before anything
    runs (trained, it would be a divergence at step 0 on one backend and a NaN prediction on
    another). For many models (w1 (N, F+H, H)), the message names the first such model. Cost: the
    native loop over both, about 1.4 us a call (docs/performance.md, "Figures behind the code")."""
    if ops.all_finite(w1) and ops.all_finite(w2):  # the common case; None (no native loop) goes below
        return
    for name, w in (("w1", w1), ("w2", w2)):
        try:
            check_finite(name, w)
        except ValueError:
            if w.is_meta or w.dim() != 3:
                raise
            n = int((~torch.isfinite(w.detach())).flatten(1).any(1).nonzero()[0])
            raise ValueError(f"{name}[{n}] (model {n}) contains NaN or Inf") from None


def check_lr(lr: object) -> float:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a real number, got {type(lr).__name__}")
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be finite and >= 0, got {lr}")
    return float(lr)


def check_epochs(epochs: object) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    return int(epochs)


# -- many models (train_many, predict_many) ------------------------------------------------------


def check_models(x: object, y: object | None, w1: object, w2: object, *, need_y: bool = False
                 ) -> tuple[int, int, int, int, int]:
    """x (L, F) or (N, L, F); y likewise with O (None only where ``need_y`` is False: predictions);
    w1 (N, F+H, H), w2 (N, H, O): finite leaf float tensors of one dtype and device, finite inputs.
    Returns (N, L, F, H, O)."""
    x = _tensor("x", x, "(L, F) or (N, L, F)", (2, 3))
    if y is None and need_y:
        raise TypeError("y must be a torch.Tensor of shape (L, O) or (N, L, O), got None")
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
    L, F, O = check_series(series_x, series_y)
    for name, w in (("w1", w1), ("w2", w2)):
        if not w.is_leaf:
            raise ValueError(f"{name} must be a leaf tensor (weights are updated in place); pass {name}.detach()")
    # Shapes from model 0 (detached: an index into a leaf that requires grad is not itself a leaf).
    H = check_weights(w1[0].detach(), w2[0].detach(), F, O)
    check_same_dtype_device(x=x, **({"y": y} if y is not None else {}), w1=w1, w2=w2)
    check_finite("x", x)
    if y is not None:
        check_finite("y", y)
    check_finite_weights(w1, w2)
    return N, L, F, H, w2.shape[2]


def check_lrs(lr: object, n: int) -> Tensor:
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
