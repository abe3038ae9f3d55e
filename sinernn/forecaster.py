"""ElmanRNN: the tutorial's network as an object a user keeps: sizes, weights, normalisation,
training history and trainer settings, with fit / predict / forecast / save / load.

    model = sinernn.ElmanRNN(hidden=6)
    model.fit("sensors.csv", columns=["a", "b", "c"], epochs=300, val_frac=0.2)
    model.forecast(50)                      # 50 steps past the end of the training data
    model.save("sensors.pt"); model = sinernn.ElmanRNN.load("sensors.pt")

Training is ``sinernn.train`` (every backend, the same results); the model adds the data handling
around it. Values in and out are in the data's own units; inside, the columns are z-scored with
statistics fitted on the training part (``normalize=False`` to train on raw values).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from . import checkpoint, series, trainer
from .data import init_weights
from .trainer import TrainingInterrupted, resolve_backend, train

# What a model keeps of its training data, to forecast from without being given data again.
TAIL_POINTS = 1000


@dataclass
class History:
    """Per-epoch losses: ``train`` (sum of the step losses while training, the tutorial's figure)
    and ``val`` (teacher-forced loss on the validation part with the epoch's final weights, no
    updates; empty without validation). Both in normalised units."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)


class ElmanRNN:
    """The tutorial's Elman network for any series: ``inputs`` columns at t -> ``targets`` at t + 1.

    Sizes are fixed at the first ``fit`` (F = len(inputs), O = len(targets)) unless given here.
    """

    def __init__(
        self,
        hidden: int = 6,
        *,
        lr: float = 0.1,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        backend: str = "auto",
        normalize: bool = True,
    ):
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.hidden, self.lr, self.seed, self.dtype, self.backend, self.normalize = hidden, lr, seed, dtype, backend, normalize
        self.w1: Tensor | None = None
        self.w2: Tensor | None = None
        self.columns: list[str] = []  # the data's column names
        self.inputs: list[int] = []
        self.targets: list[int] = []
        self.normalizer: series.Normalizer | None = None
        self.history = History()
        self.tail: np.ndarray | None = None  # the last TAIL_POINTS rows of the training data (T, C)
        self.last_run: dict = {}  # backend, epochs, steps, seconds of training of the last fit

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return len(self.inputs)

    @property
    def n_out(self) -> int:
        return len(self.targets)

    @property
    def epochs_trained(self) -> int:
        return len(self.history.train)

    def __repr__(self) -> str:
        sizes = f"F={self.n_features}, H={self.hidden}, O={self.n_out}" if self.w1 is not None else f"H={self.hidden}, untrained"
        return f"ElmanRNN({sizes}, lr={self.lr}, {str(self.dtype)[6:]}, epochs trained {self.epochs_trained})"

    # -- data --------------------------------------------------------------------------------
    def _bind(self, table: series.Table, columns, targets) -> None:
        """First fit: choose the columns, fix the sizes, draw the weights."""
        self.columns = list(table.columns)
        self.inputs = table.select(columns)
        self.targets = table.select(targets) if targets is not None else list(self.inputs)
        self.w1, self.w2 = init_weights(self.n_features, self.hidden, self.n_out, seed=self.seed, dtype=self.dtype)

    def _check_table(self, table: series.Table) -> None:
        if table.values.shape[1] != len(self.columns):
            raise ValueError(
                f"{table.source}: has {table.values.shape[1]} columns, the model was trained on {len(self.columns)} "
                f"({', '.join(self.columns)})"
            )

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        data,
        epochs: int = 300,
        *,
        columns: Sequence[str | int] | None = None,
        targets: Sequence[str | int] | None = None,
        val_frac: float = 0.0,
        progress: bool | None = None,
    ) -> "ElmanRNN":
        """Train ``epochs`` more epochs on ``data`` (a CSV/.npy path, array or tensor (T,) or (T, C)).

        columns: the input columns (names or indices; default all); targets: the columns to
        predict at t + 1 (default: the inputs). Both are fixed by the first fit. val_frac: the last
        fraction of the series (in time order) is held out and its loss reported per epoch.
        progress: a progress bar on stderr (default: when stderr is a terminal and the run looks
        longer than a second).

        A second fit continues from the current weights: fit(d, 3) then fit(d, 2) gives exactly
        fit(d, 5). Ctrl-C stops at an epoch boundary and raises TrainingInterrupted; the model then
        holds the completed epochs.
        """
        table = series.as_table(data)
        if self.w1 is None:
            self._bind(table, columns, targets)
        else:
            self._check_table(table)
            for given, have, what in ((columns, self.inputs, "columns"), (targets, self.targets, "targets")):
                if given is not None and table.select(given) != have:
                    raise ValueError(f"{what} are fixed by the first fit: {[self.columns[i] for i in have]}")
        n_train = series.split_point(table.values.shape[0], val_frac)
        train_part = table.values[:n_train]
        if self.normalizer is None:
            self.normalizer = series.Normalizer.fit(train_part) if self.normalize else series.Normalizer.identity(len(self.columns))
        x, y = series.pairs(self._normed(train_part), self.inputs, self.targets, self.dtype)
        val = None
        if n_train < table.values.shape[0]:
            val = series.pairs(self._normed(table.values[n_train:]), self.inputs, self.targets, self.dtype)
        self.tail = table.values[:n_train][-TAIL_POINTS:].copy()

        backend = resolve_backend(self.backend, x.device)
        steps_per_epoch = x.shape[0]
        show = _Progress.wanted(progress, epochs * steps_per_epoch, backend)
        bar = _Progress(epochs, steps_per_epoch) if show else None
        # Whole chunks of epochs per call when nothing needs each epoch, else one epoch a call.
        per_call = 1 if val is not None else max(1, min(epochs, 200_000 // steps_per_epoch) if bar else epochs)
        done, seconds = 0, 0.0
        self.last_run = {"backend": backend, "epochs": 0, "steps": 0, "seconds": 0.0}
        try:
            while done < epochs:
                n = min(per_call, epochs - done)
                try:
                    res = train(x, y, self.w1, self.w2, epochs=n, lr=self.lr, backend=backend)
                except TrainingInterrupted as stop:
                    self.history.train.extend(float(v) for v in stop.result.losses)
                    if val is not None and stop.epochs_completed:  # one epoch a call here
                        self.history.val.append(self._val_loss(*val))
                    raise
                self.history.train.extend(float(v) for v in res.losses)
                if val is not None:
                    self.history.val.append(self._val_loss(*val))
                done += n
                seconds += res.seconds
                self.last_run.update(epochs=done, steps=done * steps_per_epoch, seconds=seconds)
                if bar:
                    bar.update(done, self.history.train[-1], self.history.val[-1] if self.history.val else None)
        finally:
            if bar:
                bar.close()
        return self

    def _normed(self, values: np.ndarray) -> np.ndarray:
        return self.normalizer.apply(values, list(range(values.shape[1])))

    def _val_loss(self, xv: Tensor, yv: Tensor) -> float:
        """Teacher-forced loss over the validation pairs from a zero context, no updates: the sum
        over steps of 0.5 * sum((pred - y)^2), in normalised units."""
        pred = self._predict_normed(xv)
        return float(((pred - yv) ** 2).sum() / 2)

    # -- using the model ---------------------------------------------------------------------
    def _require_trained(self) -> None:
        if self.w1 is None:
            raise RuntimeError("the model is not trained yet: call fit() or ElmanRNN.load() first")

    def _predict_normed(self, x: Tensor) -> Tensor:
        return trainer.predict(x, self.w1, self.w2, backend=self.backend)

    def predict(self, data) -> np.ndarray:
        """Teacher-forced one-step-ahead predictions over ``data`` (the columns the model was trained
        on), from a zero context: row t predicts the targets at t + 1. -> (T, O) in data units."""
        self._require_trained()
        table = series.as_table(data)
        self._check_table(table)
        x = torch.from_numpy(self._normed(table.values)[:, self.inputs].copy()).to(self.dtype)
        pred = self._predict_normed(x).double().numpy()
        return self.normalizer.undo(pred, self.targets)

    def forecast(self, steps: int, data=None) -> np.ndarray:
        """Closed-loop forecast of ``steps`` points past the end of ``data`` (default: the training
        data): a teacher-forced warm-up over the data, then each prediction fed back as the next
        input. Needs inputs == targets. -> (steps, O) in data units."""
        self._require_trained()
        if self.inputs != self.targets:
            raise ValueError(
                "forecasting feeds each prediction back as the next input, so the inputs and the targets "
                f"must be the same columns; this model reads {[self.columns[i] for i in self.inputs]} and predicts "
                f"{[self.columns[i] for i in self.targets]}"
            )
        if data is None:
            values = self.tail
        else:
            table = series.as_table(data)
            self._check_table(table)
            values = table.values
        x = torch.from_numpy(self._normed(values)[:, self.inputs].copy()).to(self.dtype)
        out = trainer.forecast(x, self.w1, self.w2, steps, backend=self.backend)
        return self.normalizer.undo(out.double().numpy(), self.targets)

    # -- checkpoints -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to one checkpoint file (see sinernn.checkpoint: atomic, no code on load)."""
        self._require_trained()
        checkpoint.save_checkpoint(
            path, self.w1, self.w2,
            kind="ElmanRNN", hidden=self.hidden, lr=self.lr, seed=self.seed, dtype=str(self.dtype)[6:],
            backend=self.backend, normalize=self.normalize, columns=self.columns, inputs=self.inputs,
            targets=self.targets, mean=self.normalizer.mean.tolist(), std=self.normalizer.std.tolist(),
            history_train=self.history.train, history_val=self.history.val,
            tail=self.tail.tolist(),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ElmanRNN":
        """A model saved by ``save``; raises ValueError naming the file if it is not one."""
        w1, w2, meta = checkpoint.load_checkpoint(path)
        try:
            if meta.get("kind") != "ElmanRNN":
                raise KeyError("kind")
            model = cls(meta["hidden"], lr=meta["lr"], seed=meta["seed"], dtype=getattr(torch, meta["dtype"]),
                        backend=meta["backend"], normalize=meta["normalize"])
            model.columns, model.inputs, model.targets = list(meta["columns"]), list(meta["inputs"]), list(meta["targets"])
            model.normalizer = series.Normalizer(np.asarray(meta["mean"], dtype=np.float64), np.asarray(meta["std"], dtype=np.float64))
            model.history = History(list(meta["history_train"]), list(meta["history_val"]))
            model.tail = np.asarray(meta["tail"], dtype=np.float64).reshape(-1, len(model.columns))
            ok = (w1.dtype == model.dtype and tuple(w1.shape) == (model.n_features + model.hidden, model.hidden)
                  and tuple(w2.shape) == (model.hidden, model.n_out) and len(model.normalizer.mean) == len(model.columns))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: not an ElmanRNN checkpoint (metadata: {exc})") from None
        if not ok:
            raise ValueError(f"{path}: the weights don't fit the model's sizes and columns")
        model.w1, model.w2 = w1, w2
        return model


class _Progress:
    """A one-line progress bar on stderr: epoch, loss, steps per second."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        self.epochs, self.steps_per_epoch, self.start = epochs, steps_per_epoch, time.perf_counter()

    @staticmethod
    def wanted(progress: bool | None, total_steps: int, backend: str) -> bool:
        if progress is not None:
            return progress
        per_step = {"cpp": 1e-7, "cpp-step": 2e-7, "cpp-step-op": 1e-5}.get(backend, 2e-4)
        return sys.stderr.isatty() and total_steps * per_step > 1.0

    def update(self, done: int, loss: float, val: float | None) -> None:
        elapsed = time.perf_counter() - self.start
        width = 30
        filled = int(width * done / self.epochs) if self.epochs else width
        rate = done * self.steps_per_epoch / elapsed if elapsed > 0 else math.inf
        val_text = f" val {val:.4g}" if val is not None else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] epoch {done}/{self.epochs} loss {loss:.4g}{val_text} {rate:,.0f} steps/s ")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()
