"""Which backend runs a call: the names each API accepts, "auto"'s choice, and the devices the
native kernels serve. Also the opening every inference call shares (checks, backend, contiguous
inputs). Backends are interchangeable: every one gives the same results (``sinernn.verify``)."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .._native import ops
from . import checks

#: sinernn.train / predict / forecast:
#:   "reference"   the tutorial's loop in PyTorch autograd (sinernn.engine.reference)
#:   "cpp-step"    a Python loop over the fused step, through its direct binding in sinernn._C
#:   "cpp-step-op" the same loop over the registered op torch.ops.sinernn.step (the dispatcher)
#:   "cpp"         the whole run in one native call, torch.ops.sinernn.train_guarded
#:   "auto"        "cpp" when the native ops load (and have kernels for the device), else "reference"
BACKENDS = ("auto", "reference", "cpp-step", "cpp-step-op", "cpp")

#: sinernn.train_many / predict_many: "cpp" the batched native op (CPU: SIMD lanes x threads; CUDA:
#: one model per thread), "cpp-loop" the single-model whole-loop op once per model, "reference" the
#: autograd loop once per model, "auto" = "cpp" when the native ops load.
MANY_BACKENDS = ("auto", "reference", "cpp-loop", "cpp")

# The backends with kernels for CUDA tensors when sinernn's CUDA kernels are built ("cpp-step"
# binds raw CPU pointers, so it stays on the CPU).
CUDA_BACKENDS = ("reference", "cpp-step-op", "cpp")


def has_native_kernels(device: torch.device) -> bool:
    """Whether the native ops have kernels for tensors on ``device`` and load: the CPU; CUDA when
    sinernn was built with its CUDA kernels (sinernn.cuda_built())."""
    if device.type == "cpu":
        return ops.available()
    return device.type == "cuda" and ops.available() and ops.cuda_built()


def no_kernel_error(backend: str, device: torch.device) -> ValueError:
    """The error for a native backend asked for tensors on a device it has no kernel for."""
    why = " (sinernn was built without CUDA kernels: sinernn.cuda_built() is False)" if device.type == "cuda" else ""
    return ValueError(f"backend {backend!r} has no kernel for tensors on {device}{why}; use backend='reference'")


def resolve(backend: str, device: torch.device) -> str:
    """The single-model backend that ``backend`` names for tensors on ``device``; "auto" picks
    "cpp" when the native ops load and have kernels for the device (the CPU; CUDA when
    sinernn.cuda_built())."""
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
            ops.load()  # a clear RuntimeError when the native ops can't be had
        return backend
    if ops.available():
        return "cpp"
    warnings.warn("sinernn: native ops unavailable, backend 'auto' falls back to 'reference'", stacklevel=3)
    return "reference"


def resolve_many(backend: str, device: torch.device) -> str:
    """The many-model backend that ``backend`` names for tensors on ``device`` (as ``resolve``)."""
    if backend not in MANY_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(MANY_BACKENDS)}; got {backend!r}")
    if backend == "reference":
        return backend
    if device.type != "cpu" and not has_native_kernels(device):
        if backend == "auto":
            return "reference"
        raise no_kernel_error(backend, device)
    if backend == "auto":
        return "cpp" if ops.available() else "reference"
    ops.load()  # a clear RuntimeError when the native ops can't be had
    return backend


def inference_inputs(x: object, w1: object, w2: object, backend: str, *, many: bool = False
                     ) -> tuple[str, Tensor, Tensor, Tensor]:
    """The opening of predict, forecast (many=False: x (L, F), w1 (F+H, H), w2 (H, O)) and
    predict_many (many=True: x (L, F) or (N, L, F), w1 (N, F+H, H), w2 (N, H, O)): the arguments
    checked, the backend resolved, then x, w1, w2 detached and contiguous, one memory layout for
    every backend and caller. -> (backend name, x, w1, w2)."""
    if many:
        checks.check_models(x, None, w1, w2)
        name = resolve_many(backend, x.device)
    else:
        _, F, _ = checks.check_series(x)
        checks.check_weights(w1, w2, F, None)
        checks.check_same_dtype_device(x=x, w1=w1, w2=w2)
        checks.check_finite_weights(w1, w2)
        name = resolve(backend, x.device)
    return (name, *(t.detach().contiguous() for t in (x, w1, w2)))
