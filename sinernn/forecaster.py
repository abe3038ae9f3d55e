"""Forecaster: the tutorial's network as an estimator for a user's own series: sizes, weights,
normalisation, training history and trainer settings, with fit / predict / forecast / save / load.

    model = sinernn.Forecaster(hidden_size=12, lr=0.02)
    model.fit("sensors.csv", epochs=300, columns=["a", "b", "c"], val_frac=0.2)
    model.forecast(50)                      # (50, 3): 50 steps past the end of the training data
    model.save("sensors.pt"); model = sinernn.Forecaster.load("sensors.pt")

Training is ``sinernn.train`` (every backend, the same results); the estimator adds the data
handling around it. Values in and out are in the data's own units; inside, the columns are z-scored
with statistics fitted on the training part (``normalize=False`` to train on raw values).
"""

from __future__ import annotations

import numbers
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from . import checkpoint, series
from .data import init_weights
from .engine import backends, checks, single
from .engine.errors import DivergenceError, TrainingInterrupted

# What a model keeps of its training data, to forecast from without being given data again.
TAIL_POINTS = 1000
#: The ``kind`` tag of a Forecaster's checkpoint.
KIND = "sinernn.Forecaster"


@dataclass
class History:
    """Per-epoch losses, one entry an epoch.

    ``train``: the mean step loss while training (``0.5 * sum((pred - y)^2)`` per step, averaged
    over the epoch's steps); ``val``: the mean step loss over the held-out part, teacher-forced from
    a zero context with the epoch's final weights, no updates (empty without validation). Both per
    step and in normalised units, so the two curves are on one scale. ``train_total``: the sum over
    the epoch's steps, the figure the tutorial prints."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    train_total: list[float] = field(default_factory=list)


class Forecaster:
    """The tutorial's Elman network for any series: ``inputs`` columns at t -> ``targets`` at t + 1.

    hidden_size: hidden (context) units H. The input and output sizes (``input_size`` = number of
    input columns F, ``output_size`` = number of target columns O) are fixed by the first ``fit``.
    lr: SGD learning rate (one update per step, as the tutorial). seed: the initial weights' seed.
    dtype: torch.float32 or torch.float64. backend: as ``sinernn.train``. normalize: z-score the
    columns (statistics of the training part).
    """

    def __init__(
        self,
        hidden_size: int = 6,
        *,
        lr: float = 0.1,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        backend: str = "auto",
        normalize: bool = True,
    ):
        # Plain Python values (a NumPy lr or seed is taken as its value): they go into the checkpoint's
        # JSON, and every check runs before anything is drawn.
        hidden_size = checks.check_int("hidden_size", hidden_size)
        lr = checks.check_lr(lr)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if backend not in backends.BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(backends.BACKENDS)}; got {backend!r}")
        if not isinstance(normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be True or False, got {type(normalize).__name__}")
        self.hidden_size, self.lr, self.seed, self.dtype = hidden_size, lr, int(seed), dtype
        self.backend, self.normalize = backend, bool(normalize)
        self.w1: Tensor | None = None  # (F+H, H)
        self.w2: Tensor | None = None  # (H, O)
        self.columns: list[str] = []  # the columns the model reads, by name
        self.inputs: list[int] = []  # indices into columns
        self.targets: list[int] = []
        self.normalizer: series.Normalizer | None = None
        self.history = History()
        self.tail: np.ndarray | None = None  # the last TAIL_POINTS rows of the training data (T, len(columns))
        self.last_run: dict = {}  # backend, epochs, steps, seconds of training of the last fit

    # -- sizes -------------------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return len(self.inputs)

    @property
    def output_size(self) -> int:
        return len(self.targets)

    @property
    def epochs_trained(self) -> int:
        return len(self.history.train)

    def __repr__(self) -> str:
        sizes = (f"input_size={self.input_size}, hidden_size={self.hidden_size}, output_size={self.output_size}"
                 if self.w1 is not None else f"hidden_size={self.hidden_size}, untrained")
        return f"Forecaster({sizes}, lr={self.lr}, {str(self.dtype)[6:]}, epochs trained {self.epochs_trained})"

    # -- data --------------------------------------------------------------------------------
    def _read(self, data, missing: str) -> series.Table:
        """The model's columns of ``data`` (by name; arrays' columns are named 0, 1, ...)."""
        return series.as_table(data, self.columns, missing=missing)

    def _bind(self, data, columns, targets, time_column, missing) -> series.Table:
        """First fit: read the chosen columns, fix the sizes, draw the weights."""
        table = series.as_table(data, series.wanted_columns(columns, targets), time_column=time_column, missing=missing)
        inputs = table.select(columns)
        outputs = table.select(targets) if targets is not None else list(inputs)
        self.columns, self.inputs, self.targets = list(table.columns), inputs, outputs
        self.w1, self.w2 = init_weights(self.input_size, self.hidden_size, self.output_size, seed=self.seed, dtype=self.dtype)
        return table

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        data,
        epochs: int = 300,
        *,
        columns: Sequence[str | int] | None = None,
        targets: Sequence[str | int] | None = None,
        time_column: str | int | None = None,
        missing: str = "error",
        val_frac: float = 0.0,
        progress: bool | None = None,
    ) -> "Forecaster":
        """Train ``epochs`` more epochs on ``data``: a CSV or .npy path, an array or tensor (T,) or
        (T, C), a pandas DataFrame or Series.

        columns: the input columns (names or 0-based indices; default all but the time column);
        targets: the columns to predict at t + 1 (default: the inputs). Both are fixed by the first
        fit; later fits and ``predict`` read the same columns by name. time_column: a column of time
        labels, not a value (a date column). missing: "error" (default: a missing value is an error
        naming where it is) or "interpolate" (filled linearly, with a warning saying how many).
        val_frac: the last fraction of the series (in time order) is held out and its loss recorded
        per epoch. progress: a progress bar on stderr (default: when stderr is a terminal and the
        run looks longer than a second).

        A second fit continues from the current weights: fit(d, 3) then fit(d, 2) gives exactly
        fit(d, 5). Ctrl-C stops at an epoch boundary and raises TrainingInterrupted; the model then
        holds the completed epochs. When the loss stops being finite, DivergenceError (its ``epoch``
        counted from this fit's start): the model holds the epochs before it, weights and history
        alike, so ``save()`` then writes a consistent model.
        """
        epochs = checks.check_epochs(epochs)
        if self.w1 is None:
            table = self._bind(data, columns, targets, time_column, missing)
        else:
            table = self._read(data, missing)
            for given, have, what in ((columns, self.inputs, "columns"), (targets, self.targets, "targets")):
                if given is not None and table.names_of(given) != [self.columns[i] for i in have]:
                    raise ValueError(f"{what} are fixed by the first fit: {[self.columns[i] for i in have]}")
        n_train = series.split_point(table.values.shape[0], val_frac)
        train_part = table.values[:n_train]
        if self.normalizer is None:
            self.normalizer = series.Normalizer.fit(train_part) if self.normalize else series.Normalizer.identity(len(self.columns))
        x, y = series.series_pairs(self._normed(train_part), self.dtype, inputs=self.inputs, targets=self.targets)
        val = None
        if n_train < table.values.shape[0]:
            val = series.series_pairs(self._normed(table.values[n_train:]), self.dtype, inputs=self.inputs, targets=self.targets)
        self.tail = train_part[-TAIL_POINTS:].copy()

        backend = backends.resolve(self.backend, x.device)
        steps = x.shape[0]
        bar = _progress_bar(progress, epochs, steps, backend)
        # Whole chunks of epochs per call when nothing needs each epoch, else one epoch a call.
        per_call = 1 if val is not None else max(1, min(epochs, 200_000 // steps) if bar else epochs)
        done, seconds, started = 0, 0.0, time.perf_counter()
        self.last_run = {"backend": backend, "epochs": 0, "steps": 0, "seconds": 0.0}

        def record(losses: Tensor, with_val: bool) -> None:
            totals = [float(v) for v in losses]
            self.history.train_total.extend(totals)
            self.history.train.extend(v / steps for v in totals)
            if with_val:
                self.history.val.append(self._val_loss(*val))

        try:
            while done < epochs:
                n = min(per_call, epochs - done)
                try:
                    res = single.train(x, y, self.w1, self.w2, epochs=n, lr=self.lr, backend=backend)
                except TrainingInterrupted as stop:
                    record(stop.result.losses, val is not None and stop.epochs_completed > 0)  # one epoch a call here
                    raise
                except DivergenceError as exc:  # the weights hold exc.losses' epochs of this call: so does the history
                    record(exc.losses, val is not None and len(exc.losses) > 0)
                    done += len(exc.losses)
                    self.last_run.update(epochs=done, steps=done * steps)
                    this_fit = torch.tensor(self.history.train_total[len(self.history.train_total) - done:], dtype=exc.losses.dtype)
                    raise DivergenceError(done, exc.step, exc.lr, this_fit) from None  # epochs counted from this fit's start
                record(res.losses, val is not None)
                done += n
                seconds += res.seconds
                self.last_run.update(epochs=done, steps=done * steps, seconds=seconds)
                if bar is not None:
                    rate = done * steps / max(time.perf_counter() - started, 1e-9)
                    post = {"loss": f"{self.history.train[-1]:.4g}"}
                    if self.history.val:
                        post["val"] = f"{self.history.val[-1]:.4g}"
                    post["steps/s"] = f"{rate:,.0f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(n)
        finally:
            if bar is not None:
                bar.close()
        return self

    def _normed(self, values: np.ndarray) -> np.ndarray:
        return self.normalizer.apply(values, list(range(values.shape[1])))

    def _val_loss(self, xv: Tensor, yv: Tensor) -> float:
        """Mean step loss over the validation pairs, teacher-forced from a zero context, no updates:
        the mean over steps of 0.5 * sum((pred - y)^2), in normalised units."""
        pred = self._predict_normed(xv)
        return float(((pred - yv) ** 2).sum() / 2) / xv.shape[0]

    # -- using the model ---------------------------------------------------------------------
    def _require_trained(self) -> None:
        if self.w1 is None:
            raise RuntimeError("the model is not trained yet: call fit() or Forecaster.load() first")

    def _predict_normed(self, x: Tensor) -> Tensor:
        return single.predict(x, self.w1, self.w2, backend=self.backend)

    def predict(self, data, *, missing: str = "error") -> np.ndarray:
        """Teacher-forced one-step-ahead predictions over ``data`` (read as in ``fit``: the model's
        columns, by name), from a zero context: row t predicts the targets at t + 1.
        -> (T, output_size) in data units."""
        self._require_trained()
        table = self._read(data, missing)
        x = torch.from_numpy(self._normed(table.values)[:, self.inputs].copy()).to(self.dtype)
        pred = self._predict_normed(x).double().numpy()
        return self.normalizer.undo(pred, self.targets)

    def forecast(self, steps: int, data=None, *, missing: str = "error") -> np.ndarray:
        """Closed-loop forecast of ``steps`` points past the end of ``data`` (default: the training
        data): a teacher-forced warm-up over the data, then each prediction fed back as the next
        input. Needs inputs == targets. -> (steps, output_size) in data units."""
        self._require_trained()
        if self.inputs != self.targets:
            raise ValueError(
                "forecasting feeds each prediction back as the next input, so the inputs and the targets "
                f"must be the same columns; this model reads {[self.columns[i] for i in self.inputs]} and predicts "
                f"{[self.columns[i] for i in self.targets]}"
            )
        values = self.tail if data is None else self._read(data, missing).values
        x = torch.from_numpy(self._normed(values)[:, self.inputs].copy()).to(self.dtype)
        out = single.forecast(x, self.w1, self.w2, steps, backend=self.backend)
        return self.normalizer.undo(out.double().numpy(), self.targets)

    # -- checkpoints -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to one checkpoint file (see sinernn.checkpoint: atomic, no code on load)."""
        self._require_trained()
        checkpoint.save_checkpoint(
            path, self.w1, self.w2,
            kind=KIND, hidden_size=self.hidden_size, lr=self.lr, seed=self.seed, dtype=str(self.dtype)[6:],
            backend=self.backend, normalize=self.normalize, columns=self.columns, inputs=self.inputs,
            targets=self.targets, mean=self.normalizer.mean.tolist(), std=self.normalizer.std.tolist(),
            history_train=self.history.train, history_val=self.history.val, history_train_total=self.history.train_total,
            tail=self.tail.tolist(), written_by=f"sinernn {_version()}",
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Forecaster":
        """A model saved by ``save`` (this release's or 0.1's, see docs/changes.md); raises
        ValueError naming the file and the field when it is not one, or when a field makes no sense
        (column indices out of range, a spread that is not positive and finite, values that are not
        finite, weights that don't fit the sizes)."""
        w1, w2, meta = checkpoint.load_checkpoint(path)
        kind = meta.get("kind")
        if kind == KIND_0_1:
            meta = _from_0_1(meta, path)
        elif kind != KIND:
            raise ValueError(f"{path}: not a Forecaster checkpoint (its kind tag is {kind!r}, not {KIND!r})")
        try:
            model = cls(meta["hidden_size"], lr=meta["lr"], seed=meta["seed"], dtype=getattr(torch, meta["dtype"]),
                        backend=meta["backend"], normalize=meta["normalize"])
            columns = [str(c) for c in meta["columns"]]
            inputs, targets = _indices(meta["inputs"], len(columns), "inputs"), _indices(meta["targets"], len(columns), "targets")
            mean = _finite_array(meta["mean"], "mean", (len(columns),))
            std = _finite_array(meta["std"], "std", (len(columns),))
            tail = _finite_array(meta["tail"], "tail", None).reshape(-1, len(columns))
            history = History(*(list(map(float, meta[k])) for k in ("history_train", "history_val", "history_train_total")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: not a usable Forecaster checkpoint ({type(exc).__name__}: {exc})") from None
        if len(set(columns)) != len(columns):
            raise ValueError(f"{path}: the column names repeat: {columns}")
        if (std <= 0).any():
            raise ValueError(f"{path}: std must be > 0 for every column, got {std.tolist()}")
        if tail.shape[0] < 1:
            raise ValueError(f"{path}: the tail of the training data is empty")
        if len(history.train_total) != len(history.train) or len(history.val) not in (0, len(history.train)):
            raise ValueError(f"{path}: the history's lists differ in length")
        model.columns, model.inputs, model.targets, model.tail, model.history = columns, inputs, targets, tail, history
        model.normalizer = series.Normalizer(mean, std)
        if not (w1.dtype == model.dtype and tuple(w1.shape) == (model.input_size + model.hidden_size, model.hidden_size)
                and tuple(w2.shape) == (model.hidden_size, model.output_size)):
            raise ValueError(f"{path}: the weights don't fit the model's sizes and columns")
        model.w1, model.w2 = w1, w2
        return model


# The kind tag of a checkpoint written by sinernn 0.1 (then the estimator was sinernn.ElmanRNN).
KIND_0_1 = "ElmanRNN"


def _from_0_1(meta: dict, path) -> dict:
    """A 0.1 checkpoint's metadata in this release's terms. 0.1 named the hidden size ``hidden`` and
    kept per-epoch sums (``history_train``: this release's ``history_train_total``; the validation
    sums over a step count it did not record). The per-step means are the sums over the training
    part's steps where the tail holds that whole part (fewer than TAIL_POINTS rows), else unknown
    (NaN), and the validation history is unknown (NaN) too; weights, columns and normalisation load
    exactly."""
    import warnings

    try:
        totals = [float(v) for v in meta["history_train"]]
        rows = len(meta["tail"])  # (T, C) as nested lists
        steps = rows - 1 if rows < TAIL_POINTS else 0
        new = {**meta, "kind": KIND, "hidden_size": meta["hidden"], "history_train_total": totals,
               "history_train": [t / steps if steps > 0 else float("nan") for t in totals],
               "history_val": [float("nan")] * len(meta["history_val"])}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a sinernn 0.1 checkpoint without its {exc} field") from None
    warnings.warn(f"{path} was written by sinernn 0.1: loaded (weights, columns and normalisation exactly; its "
                  "per-step loss history is not recorded there: NaN); save() it again to write this release's format",
                  UserWarning, stacklevel=3)
    return new


def _indices(value, n: int, name: str) -> list[int]:
    """A non-empty list of column indices in 0..n-1."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a non-empty list of column indices, got {value!r}")
    for i in value:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"{name} must hold column indices in 0..{n - 1}, got {i!r}")
    return list(value)


def _finite_array(value, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or Inf")
    return a


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sinernn")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _progress_bar(progress: bool | None, epochs: int, steps_per_epoch: int, backend: str):
    """A tqdm bar on stderr (epochs; postfix: loss, validation loss, steps per second), or None.
    Default (progress=None): shown when stderr is a terminal and the run looks longer than a second
    at the backend's typical time per step."""
    if progress is None:
        per_step = {"cpp": 1e-7, "cpp-step": 2e-7, "cpp-step-op": 1e-5}.get(backend, 2e-4)
        progress = sys.stderr.isatty() and epochs * steps_per_epoch * per_step > 1.0
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True, leave=True)
