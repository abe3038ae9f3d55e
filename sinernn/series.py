"""Multi-column series: reading them (CSV, .npy, arrays, tensors), choosing columns, z-score
normalisation, time-ordered train/validation splits.

A series is a float64 array (T, C): T time points of C columns. A model reads the columns it was
given as inputs at time t and predicts its target columns at time t + 1.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor


@dataclass
class Table:
    """A series read from somewhere: values (T, C) float64, the column names, where it came from."""

    values: np.ndarray
    columns: list[str]
    source: str

    def select(self, columns: Sequence[str | int] | None) -> list[int]:
        """Indices of ``columns`` (names or 0-based indices; None: every column). Raises ValueError
        naming the source and the unknown column."""
        if columns is None:
            return list(range(len(self.columns)))
        if isinstance(columns, (str, int)):
            columns = [columns]
        out = []
        for c in columns:
            if isinstance(c, str) and c in self.columns:
                out.append(self.columns.index(c))
            elif isinstance(c, str) and c.lstrip("-").isdigit():
                out.append(self._index(int(c), c))
            elif isinstance(c, int) and not isinstance(c, bool):
                out.append(self._index(c, c))
            else:
                raise ValueError(f"{self.source}: unknown column {c!r}; the columns are {', '.join(self.columns)}")
        if not out:
            raise ValueError(f"{self.source}: no columns chosen")
        return out

    def _index(self, i: int, given: object) -> int:
        if not -len(self.columns) <= i < len(self.columns):
            raise ValueError(f"{self.source}: column index {given} is out of range; there are {len(self.columns)} columns")
        return i % len(self.columns)


def _check_values(values: np.ndarray, source: str, columns: list[str]) -> None:
    if values.shape[0] < 2:
        raise ValueError(f"{source}: a series needs at least 2 rows to make one (input, target) pair, got {values.shape[0]}")
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, col = bad[0]
        raise ValueError(f"{source}: row {row} (0-based), column {columns[col]!r} is {values[row, col]}: NaN and Inf are not accepted")


def read_csv(path: str | Path) -> Table:
    """A CSV of numbers, comma-separated, with or without a header line (a first line that is not
    all numbers is the header). Errors name the file, the line (1-based) and the column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, newline="") as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f), start=1) if r and any(cell.strip() for cell in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a CSV text file ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: the file is empty")

    def numbers(row):
        try:
            return [float(cell) for cell in row]
        except ValueError:
            return None

    first_line, first = rows[0]
    if numbers(first) is None:
        names = [cell.strip() or f"column {i}" for i, cell in enumerate(first)]
        rows = rows[1:]
    else:
        names = [str(i) for i in range(len(first))]
    values = np.empty((len(rows), len(names)), dtype=np.float64)
    for i, (line, row) in enumerate(rows):
        if len(row) != len(names):
            raise ValueError(f"{path}: line {line} has {len(row)} fields, expected {len(names)} (like line {first_line})")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: {cell.strip()!r} is not a number") from None
            if not math.isfinite(values[i, j]):
                raise ValueError(f"{path}: line {line}, column {names[j]!r}: {cell.strip()} (NaN and Inf are not accepted)")
    _check_values(values, str(path), names)
    return Table(values, names, str(path))


def as_table(data: object, source: str = "data") -> Table:
    """A Table from a path (.csv/.txt, .npy), a NumPy array or a tensor of shape (T,) or (T, C)."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix == ".npy":
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"{path}: not a readable .npy array of numbers ({exc})") from None
            return as_table(array, str(path))
        return read_csv(path)
    if isinstance(data, Tensor):
        data = data.detach().cpu().double().numpy()
    values = np.asarray(data)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{source}: expected numbers, got an array of dtype {values.dtype}")
    values = values.astype(np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{source}: expected shape (T,) or (T, C), got {values.shape}")
    names = [str(i) for i in range(values.shape[1])]
    _check_values(values, source, names)
    return Table(values, names, source)


@dataclass
class Normalizer:
    """z-score per column: (v - mean) / std, std 1 where a column is constant. mean, std (C,)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Normalizer":
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    @classmethod
    def identity(cls, n: int) -> "Normalizer":
        return cls(np.zeros(n), np.ones(n))

    def apply(self, values: np.ndarray, cols: list[int]) -> np.ndarray:
        return (values - self.mean[cols]) / self.std[cols]

    def undo(self, values: np.ndarray, cols: list[int]) -> np.ndarray:
        return values * self.std[cols] + self.mean[cols]


def split_point(n_points: int, val_frac: float) -> int:
    """How many of n_points go to training when the last ``val_frac`` of them (in time order) are
    kept for validation. Both parts need at least 2 points (one pair)."""
    if not (isinstance(val_frac, (int, float)) and 0 <= val_frac < 1):
        raise ValueError(f"val_frac must be a number in [0, 1), got {val_frac!r}")
    if val_frac == 0:
        return n_points
    n_val = max(2, round(n_points * val_frac))
    n_train = n_points - n_val
    if n_train < 2:
        raise ValueError(f"val_frac={val_frac} leaves {n_train} of {n_points} points for training; at least 2 are needed")
    return n_train


def pairs(values: np.ndarray, inputs: list[int], targets: list[int], dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Next-step pairs: x = values[:-1, inputs] (L, F), y = values[1:, targets] (L, O)."""
    v = torch.from_numpy(np.ascontiguousarray(values))
    return v[:-1, inputs].to(dtype).contiguous(), v[1:, targets].to(dtype).contiguous()
