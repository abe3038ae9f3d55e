"""The native ops as typed Python functions, for users who call them directly: the same functions
the package itself calls (``sinernn._native.ops``, the one way into the native code), re-exported.
The ops themselves are ``torch.ops.sinernn.*`` (schemas with their contracts:
csrc/aten/schema.cpp); every one has a fake kernel and passes ``torch.library.opcheck``.

Shapes: F input features, H hidden units, O outputs, L time steps, N models, B sequences.
"""

from ._native.ops import (  # noqa: F401
    OP_NAMES,
    cell,
    cell_backward,
    cell_batch,
    forecast,
    load,
    op,
    predict,
    predict_many,
    seq_backward,
    step,
    train,
    train_guarded,
    train_many,
)

__all__ = ["OP_NAMES", "cell", "cell_backward", "cell_batch", "forecast", "load", "op", "predict", "predict_many",
           "seq_backward", "step", "train", "train_guarded", "train_many"]


def __getattr__(name: str):  # old spellings (docs/changes.md)
    from . import _compat

    return _compat.module_attribute(__name__, name)
