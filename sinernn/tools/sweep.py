"""A learning-rate x seed sweep of the tutorial's network in one train_many call.

    sw = sinernn.tools.sweep.run(SweepSpec(n_lrs=64, n_seeds=16))     # 1024 models, one call
    sw.write_table("sweep.csv"); plots.plot_sweep(sw, "sweep.png")

Model m = i_lr * n_seeds + i_seed trains with lrs[i_lr] from init_weights(seed=seed + i_seed): every
learning rate sees the same initial weights. ``spec.models()`` builds all of them; a contiguous slice
of model indices is what a shard trains (sinernn.tools.distributed).
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._atomic import write_atomic
from ..data import init_weights, sine_data
from ..engine import checks
from ..engine.many import ManyResult, train_many


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: n_lrs learning rates spaced evenly in log between lr_min and lr_max, n_seeds
    initial weights each, the tutorial's sine of seq_length points, H hidden units."""

    n_lrs: int = 64
    n_seeds: int = 16
    lr_min: float = 1e-3
    lr_max: float = 2.0
    epochs: int = 300
    seq_length: int = 20
    hidden_size: int = 6
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("n_lrs", "n_seeds", "seq_length", "hidden_size"):
            object.__setattr__(self, name, checks.check_int(name, getattr(self, name)))
        object.__setattr__(self, "epochs", checks.check_int("epochs", self.epochs, minimum=0))
        if not (math.isfinite(self.lr_min) and math.isfinite(self.lr_max) and 0 < self.lr_min <= self.lr_max):
            raise ValueError(f"need 0 < lr_min <= lr_max, both finite; got lr_min={self.lr_min}, lr_max={self.lr_max}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")

    @property
    def n_models(self) -> int:
        return self.n_lrs * self.n_seeds

    def lrs(self) -> Tensor:
        """(n_lrs,) float64, log-spaced."""
        if self.n_lrs == 1:
            return torch.tensor([self.lr_min], dtype=torch.float64)
        return torch.logspace(math.log10(self.lr_min), math.log10(self.lr_max), self.n_lrs, dtype=torch.float64)

    def models(self, start: int = 0, stop: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Models start .. stop-1 (default: all): x (L, 1), y (L, 1), w1 (n, 1+H, H), w2 (n, H, 1), lr (n,)."""
        stop = self.n_models if stop is None else stop
        if not 0 <= start <= stop <= self.n_models:
            raise ValueError(f"need 0 <= start <= stop <= {self.n_models}, got start={start}, stop={stop}")
        dtype = getattr(torch, self.dtype)
        x, y = sine_data(seq_length=self.seq_length, dtype=dtype)
        index = torch.arange(start, stop)
        w1, w2 = init_weights(1, self.hidden_size, 1, seed=self.seed, dtype=dtype, models=self.n_seeds)
        seeds = index % self.n_seeds
        return x, y, w1[seeds].contiguous(), w2[seeds].contiguous(), self.lrs()[index // self.n_seeds].contiguous()


@dataclass
class Sweep:
    spec: SweepSpec
    result: ManyResult

    @property
    def final_losses(self) -> np.ndarray:
        """(n_lrs, n_seeds) the last epoch's loss of each model (NaN where it diverged)."""
        return self.result.final_losses.double().cpu().numpy().reshape(self.spec.n_lrs, self.spec.n_seeds)

    @property
    def diverged(self) -> np.ndarray:
        """(n_lrs, n_seeds) bool."""
        return (self.result.diverged[:, 0] >= 0).cpu().numpy().reshape(self.spec.n_lrs, self.spec.n_seeds)

    def rows(self) -> list[dict]:
        """One row a learning rate: the final loss's median, best and worst over the seeds that did not
        diverge, and how many diverged."""
        rows = []
        for lr, losses, div in zip(self.spec.lrs().tolist(), self.final_losses, self.diverged):
            ok = losses[~div]
            stats = (np.median(ok), ok.min(), ok.max()) if ok.size else (math.nan,) * 3
            rows.append({"lr": lr, "median_final_loss": float(stats[0]), "best_final_loss": float(stats[1]),
                         "worst_final_loss": float(stats[2]), "diverged": int(div.sum()), "seeds": self.spec.n_seeds})
        return rows

    def write_table(self, path: str | Path) -> Path:
        """The rows as CSV (a header, a row a learning rate), whole or not at all; missing folders are made."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.rows()

        def write(f):
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

        return write_atomic(path, write, text=True)

    def describe(self) -> dict:
        r = self.result
        return {**asdict(self.spec), "models": r.models, "backend": r.backend, "seconds": r.seconds,
                "model_steps_per_second": r.model_steps_per_second}


def run(spec: SweepSpec, device: str | torch.device = "cpu", backend: str = "auto") -> Sweep:
    """Train every model of the sweep in one train_many call on ``device``."""
    x, y, w1, w2, lr = (t.to(device) for t in spec.models())
    return Sweep(spec, train_many(x, y, w1, w2, spec.epochs, lr, backend=backend))
