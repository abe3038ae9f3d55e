"""The errors and warnings of training, raised by every backend alike (and re-exported by
``sinernn``). Imports nothing of the package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:
    from .single import TrainResult


class OneModelOnGpuWarning(UserWarning):
    """``sinernn.train`` on CUDA tensors: one model runs as one GPU thread, which the CPU outpaces."""


ONE_MODEL_ON_GPU = (
    "sinernn.train on {device}: one model on a GPU runs as a single thread through the step's chain of dependent "
    "operations (about 100 in a row at the tutorial's size), and a GPU thread takes several times a CPU core's "
    "time for each dependent operation, so expect the CPU to be faster (docs/many-models.md). Train one model on "
    "the CPU, or many at once with sinernn.train_many, which puts one model on each GPU thread."
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
