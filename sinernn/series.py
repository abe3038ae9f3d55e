"""Multi-column series: reading them (CSV, .npy, arrays, tensors, pandas objects), choosing
columns, missing values, z-score normalisation, time-ordered train/validation splits.

A series is a float64 array (T, C): T time points of C columns. A model reads the columns it was
given as inputs at time t and predicts its target columns at time t + 1.

Reading a CSV parses only the columns asked for (a date column is never read as a number), with
NumPy's C parser (``numpy.loadtxt``) rather than a Python loop over cells. Missing values (empty
fields, NaN, blank lines inside the data) are an error naming the file, line and column, unless
``missing="interpolate"`` fills them, with a warning saying how many.
"""

from __future__ import annotations

import csv
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

#: What ``missing=`` accepts: refuse missing values, or fill them by linear interpolation in time.
MISSING = ("error", "interpolate")

Columns = Sequence["str | int"] | str | int | None


@dataclass
class Table:
    """A series read from somewhere.

    values (T, C) float64, the chosen columns; columns: their C names; source: where it came from
    (for messages); time (T,): the time column's labels (numbers, datetime64 or strings) when one
    was named, else None; filled: how many missing values were filled, by column name;
    source_columns: every column name of the source (0-based indices refer to these).
    """

    values: np.ndarray
    columns: list[str]
    source: str
    time: np.ndarray | None = None
    time_name: str | None = None
    filled: dict[str, int] = field(default_factory=dict)
    source_columns: list[str] | None = None

    def __post_init__(self):
        if self.source_columns is None:
            self.source_columns = list(self.columns)

    def names_of(self, columns: Columns) -> list[str]:
        """The names of ``columns`` (names, or 0-based indices into the source's columns; None:
        this table's columns), each of them in this table. Raises ValueError naming the source."""
        if columns is None:
            return list(self.columns)
        names = [self.source_columns[i] for i in _resolve(columns, self.source_columns, self.source)]
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise ValueError(f"{self.source}: column {missing[0]!r} was not read; read are {', '.join(self.columns)}")
        return names

    def select(self, columns: Columns) -> list[int]:
        """Indices into this table's columns of ``columns`` (as ``names_of`` takes them)."""
        return [self.columns.index(n) for n in self.names_of(columns)]

    def take(self, names: Sequence[str]) -> "Table":
        """The table restricted to the named columns, in that order."""
        idx = self.select(list(names))
        filled = {n: k for n, k in self.filled.items() if n in names}
        return Table(self.values[:, idx], [self.columns[i] for i in idx], self.source, self.time, self.time_name,
                     filled, self.source_columns)


def _resolve(columns: Columns, names: list[str], source: str) -> list[int]:
    """Indices of ``columns`` among ``names``: by name first, then as a 0-based index (an int, or a
    string of digits that is not itself a name). Duplicates are kept once, in the order given."""
    if columns is None:
        return list(range(len(names)))
    if isinstance(columns, (str, int)):
        columns = [columns]
    out: list[int] = []
    for c in columns:
        if isinstance(c, str) and c in names:
            i = names.index(c)
        elif isinstance(c, str) and c.lstrip("-").isdigit():
            i = _index(int(c), c, names, source)
        elif isinstance(c, int) and not isinstance(c, bool):
            i = _index(c, c, names, source)
        else:
            raise ValueError(f"{source}: unknown column {c!r}; the columns are {', '.join(names)}")
        if i not in out:
            out.append(i)
    if not out:
        raise ValueError(f"{source}: no columns chosen")
    return out


def _value_columns(columns: Columns, tcol: int | None, names: list[str], source: str) -> list[int]:
    """The columns to read as values: those named, else every column but the time column."""
    if columns is not None:
        return _resolve(columns, names, source)
    cols = [i for i in range(len(names)) if i != tcol]
    if not cols:
        raise ValueError(f"{source}: no value columns besides the time column {names[tcol]!r}")
    return cols


def wanted_columns(columns: Columns, targets: Columns) -> Columns:
    """What to read for a model with these input and target columns: both lists, or None (all) when
    the inputs are not given."""
    if columns is None:
        return None
    as_list = lambda c: [c] if isinstance(c, (str, int)) else list(c)  # noqa: E731
    return as_list(columns) + (as_list(targets) if targets is not None else [])


def _index(i: int, given: object, names: list[str], source: str) -> int:
    if not -len(names) <= i < len(names):
        raise ValueError(f"{source}: column index {given} is out of range; there are {len(names)} columns")
    return i % len(names)


def _check_missing_arg(missing: str) -> None:
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")


# -- CSV -------------------------------------------------------------------------------------------

_BLANK_LINE = re.compile(r"\n[ \t]*(?=\r?\n)")  # a line holding nothing, inside the text


def read_csv(path: str | Path, columns: Columns = None, *, time_column: str | int | None = None,
             missing: str = "error") -> Table:
    """Read the chosen columns of a comma-separated file as numbers.

    A first line that is not all numbers is the header (names; quoted names and a UTF-8 byte-order
    mark, as Excel writes them, are fine; CRLF line ends too). columns: names or 0-based indices
    (default: every column but the time column); only those are parsed. time_column: a column kept
    as the time axis' labels (read as numbers when all are, else as dates when all parse as ISO
    dates, else as text). missing: "error" (default) or "interpolate" (see ``fill_missing``).

    Errors name the file, the line (1-based) and the column.
    """
    _check_missing_arg(missing)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from None
    if "\0" in text:
        raise ValueError(f"{path}: not a CSV text file (it holds NUL bytes)")
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise ValueError(f"{path}: the file is empty")
    last = len(lines) - 1
    while not lines[last].strip():
        last -= 1  # blank lines at the end are not part of the series
    source = str(path)
    head = _split_line(lines[first], first, source)
    if _is_header(head, lines, first, last, source):
        names, start = distinct_names([cell.strip() or f"column {i}" for i, cell in enumerate(head)]), first + 1
    else:
        names, start = [str(i) for i in range(len(head))], first
    tcol = None if time_column is None else _resolve([time_column], names, source)[0]
    cols = _value_columns(columns, tcol, names, source)
    data = lines[start : last + 1]  # data[k] is line start + k + 1 of the file
    if len(data) < 2:
        raise ValueError(f"{source}: a series needs at least 2 rows to make one (input, target) pair, got {len(data)}")

    blank = _blank_rows(text, data)
    if blank and missing == "error":
        raise ValueError(f"{source}: line {start + blank[0] + 1} is blank: a gap in the series ({len(blank)} blank "
                         "line(s) inside the data; missing='interpolate' / --missing interpolate fills them)")
    width = len(names)
    if blank:  # a blank line inside the data is a row of missing values
        filler = "," * (width - 1)
        data = [ln if ln.strip() else filler for ln in data]
    if "\n".join(data).count(",") != len(data) * (width - 1):
        _check_widths(data, width, start, source, names)  # names the ragged line (quoted commas are fine)
    values = _parse(data, cols, start, source, names, missing)
    table = Table(values, [names[i] for i in cols], source, source_columns=names)
    if tcol is not None:
        table.time, table.time_name = _time_labels(data, tcol, source), names[tcol]
    return _finish(table, missing, what_row=lambda r: f"line {start + r + 1}")


# How many lines below the first one the header rule looks at (enough to find a number under each
# named column in any real file; the whole file would cost a Python loop over every line).
HEADER_LOOKAHEAD = 100


def _split_line(line: str, index: int, source: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration) as exc:
        raise ValueError(f"{source}: line {index + 1} is not CSV ({exc})") from None


def _is_header(head: list[str], lines: list[str], first: int, last: int, source: str) -> bool:
    """Whether the first non-blank line is a header: a line of names over lines of numbers. It is one
    when one of its cells is text (not a number, not empty) and the lines below hold a number in that
    cell's column (HEADER_LOOKAHEAD lines at most); a text cell over text below (a date column of a
    headerless file) names nothing. Empty cells are missing values, never names: ``1,,3`` is data.
    A first line of empty cells only can't be told either way and is refused."""
    cells = [c.strip() for c in head]
    if not any(cells):
        raise ValueError(f"{source}: line {first + 1} holds only empty fields: neither a header of column names nor "
                         "a row of numbers; remove it, or write the names in it")
    text = [j for j, c in enumerate(cells) if c and not _is_number(c)]
    if not text:
        return False
    below = [ln for ln in lines[first + 1 : min(last, first + HEADER_LOOKAHEAD) + 1] if ln.strip()]
    for line in csv.reader(below):
        if any(j < len(line) and _is_number(line[j].strip()) for j in text):
            return True
    return False


def distinct_names(names: Sequence[str]) -> list[str]:
    """Column names made distinct as ``pandas.read_csv`` makes a header's: the k-th repeat of a name
    gets ``.k`` appended, skipping any suffix the header holds itself, so ``a, a, b`` reads as
    ``a, a.1, b`` (and ``a, a, a.1`` as ``a, a.2, a.1``): each column can be chosen by its own name."""
    given = set(names)
    counts: dict[str, int] = {}
    out = []
    for name in names:
        count = counts.get(name, 0)
        new = name
        while count > 0:
            counts[name] = count + 1
            new = f"{name}.{count}"
            count = count + 1 if new in given else counts.get(new, 0)
        out.append(new)
        counts[new] = count + 1
    return out


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _blank_rows(text: str, data: list[str]) -> list[int]:
    """Indices (into data) of the lines that are blank; fast when there are none."""
    if _BLANK_LINE.search(text.rstrip()) is None and "" not in data:
        return []
    return [k for k, ln in enumerate(data) if not ln.strip()]


def _check_widths(data: list[str], width: int, start: int, source: str, names: list[str]) -> None:
    for k, row in enumerate(csv.reader(data)):
        if len(row) != width:
            raise ValueError(f"{source}: line {start + k + 1} has {len(row)} fields, expected {width} ({', '.join(names)})")


_EMPTY_FIELD = re.compile(r"(?:^|(?<=,))[ \t]*(?=,|$)", re.M)


def _parse(data: list[str], cols: list[int], start: int, source: str, names: list[str], missing: str) -> np.ndarray:
    """The chosen columns as float64 (T, k), parsed by numpy.loadtxt. When missing values are to be
    filled, empty fields are read as NaN. On a parse error, one pass with the csv module names the
    cell."""
    def loadtxt(rows):
        return np.loadtxt(rows, delimiter=",", usecols=cols, dtype=np.float64, ndmin=2, comments=None, quotechar='"')

    try:
        return loadtxt(data)
    except ValueError:
        pass
    if missing == "interpolate":
        try:
            return loadtxt(_EMPTY_FIELD.sub("nan", "\n".join(data)).split("\n"))
        except ValueError:
            pass
    for k, row in enumerate(csv.reader(data)):
        for c in cols:
            cell = row[c].strip() if c < len(row) else ""
            try:
                float(cell)
            except ValueError:
                where = f"{source}: line {start + k + 1}, column {names[c]!r}"
                if cell == "":
                    raise ValueError(f"{where} is empty: a missing value "
                                     "(missing='interpolate' / --missing interpolate fills it)") from None
                raise ValueError(f"{where}: {cell!r} is not a number (choose the value columns with columns= / "
                                 "--columns, or name a date column with time_column= / --time-column)") from None
    raise ValueError(f"{source}: not readable as CSV numbers")  # loadtxt refused what csv accepts


def _time_labels(data: list[str], tcol: int, source: str) -> np.ndarray:
    """The time column as numbers, else ISO dates (datetime64), else text."""
    try:
        raw = np.loadtxt(data, delimiter=",", usecols=[tcol], dtype=str, ndmin=1, comments=None, quotechar='"')
    except ValueError as exc:
        raise ValueError(f"{source}: the time column can't be read ({exc})") from None
    raw = np.char.strip(raw)
    for kind in (np.float64, "datetime64"):
        try:
            return raw.astype(kind)
        except ValueError:
            continue
    return raw


# -- arrays, tensors, pandas -------------------------------------------------------------------------


def as_table(data: object, columns: Columns = None, *, time_column: str | int | None = None,
             missing: str = "error", source: str = "data") -> Table:
    """A Table from a path (.csv/.txt, .npy), a NumPy array or tensor (T,) or (T, C), a pandas
    DataFrame (column names kept) or Series, or a Table (columns chosen from it).

    columns: the columns to keep (names or 0-based indices; default every column but the time
    column). time_column: the column of time labels (files and DataFrames; a DataFrame's index is
    used when it is a DatetimeIndex and no time column is named). missing: "error" or "interpolate".
    """
    _check_missing_arg(missing)
    if isinstance(data, Table):
        return data if columns is None else data.take(data.names_of(columns))
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix != ".npy":
            return read_csv(path, columns, time_column=time_column, missing=missing)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a readable .npy array of numbers ({exc})") from None
        source = str(path)
    if _is_pandas(data):
        return _from_pandas(data, columns, time_column, missing, source)
    if time_column is not None:
        raise ValueError(f"{source}: time_column needs a file with named columns or a DataFrame")
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
    cols = _resolve(columns, names, source)
    table = Table(values[:, cols], [names[i] for i in cols], source, source_columns=names)
    return _finish(table, missing, what_row=lambda r: f"row {r} (0-based)")


def _is_pandas(data: object) -> bool:
    return type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "to_numpy")


def _from_pandas(obj, columns: Columns, time_column, missing: str, source: str) -> Table:
    """A DataFrame or Series, without importing pandas: names from its columns (or the Series' name)."""
    if getattr(obj, "ndim", 2) == 1:
        obj = obj.to_frame(name=str(obj.name) if obj.name is not None else "0")
    names = distinct_names([str(c) for c in obj.columns])
    source = source if source != "data" else "DataFrame"
    tcol = None if time_column is None else _resolve([time_column], names, source)[0]
    cols = _value_columns(columns, tcol, names, source)
    values = np.empty((len(obj), len(cols)), dtype=np.float64)
    for j, c in enumerate(cols):
        try:
            values[:, j] = obj.iloc[:, c].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: column {names[c]!r} is not numeric ({exc})") from None
    table = Table(values, [names[i] for i in cols], source, source_columns=names)
    if tcol is not None:
        table.time, table.time_name = obj.iloc[:, tcol].to_numpy(), names[tcol]
    elif type(obj.index).__name__ == "DatetimeIndex":
        table.time, table.time_name = obj.index.to_numpy(), str(obj.index.name or "time")
    index = obj.index
    return _finish(table, missing, what_row=lambda r: f"row {r} (0-based, index {index[r]!r})")


# -- missing values ----------------------------------------------------------------------------------


def fill_missing(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation in time (row position), per column; NaNs before the
    first or after the last value of a column take that value. values (T, C) -> a new array."""
    out = values.copy()
    t = np.arange(values.shape[0], dtype=np.float64)
    for j in range(values.shape[1]):
        bad = np.isnan(out[:, j])
        if bad.any():
            out[bad, j] = np.interp(t[bad], t[~bad], out[~bad, j])
    return out


def _finish(table: Table, missing: str, what_row) -> Table:
    """Check the values: at least 2 rows; no Inf; NaN refused or filled (warning how many). The
    values end C-contiguous: reductions over them (the normaliser's mean) then sum in one order
    whatever the source, so a CSV, its array and its .npy give the same model bit for bit."""
    table.values = np.ascontiguousarray(table.values, dtype=np.float64)
    values, source, names = table.values, table.source, table.columns
    if values.shape[0] < 2:
        raise ValueError(f"{source}: a series needs at least 2 rows to make one (input, target) pair, got {values.shape[0]}")
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise ValueError(f"{source}: {what_row(r)}, column {names[c]!r} is {values[r, c]}: Inf is not accepted")
    nan = np.isnan(values)
    if not nan.any():
        return table
    if missing == "error":
        r, c = np.argwhere(nan)[0]
        raise ValueError(f"{source}: {what_row(r)}, column {names[c]!r} is missing (NaN); {int(nan.sum())} missing "
                         "value(s) in all (missing='interpolate' / --missing interpolate fills them)")
    empty = [names[j] for j in range(values.shape[1]) if nan[:, j].all()]
    if empty:
        raise ValueError(f"{source}: column {empty[0]!r} has no values to interpolate from")
    table.values = fill_missing(values)
    table.filled = {names[j]: int(nan[:, j].sum()) for j in range(values.shape[1]) if nan[:, j].any()}
    per_column = ", ".join(f"{k} in {n!r}" for n, k in table.filled.items())
    warnings.warn(f"{source}: filled {int(nan.sum())} missing value(s) by linear interpolation ({per_column})",
                  MissingValuesFilled, stacklevel=_caller_level())
    return table


def _caller_level() -> int:
    """warnings' stacklevel of the first frame outside the sinernn package, seen from the caller:
    a warning then points at the user's line, whichever way it came through the package."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1  # the function that warns is level 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


class MissingValuesFilled(UserWarning):
    """Missing values were filled (``missing="interpolate"``); the message says how many, where."""


# -- normalisation, splits, pairs --------------------------------------------------------------------


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


def series_pairs(series: np.ndarray | Tensor, dtype: torch.dtype = torch.float32, *,
                 inputs: Sequence[int] | None = None, targets: Sequence[int] | None = None) -> tuple[Tensor, Tensor]:
    """Next-step pairs of a series s, (T,) one column or (T, C): x = s[:-1, inputs] (L, F) and
    y = s[1:, targets] (L, O), L = T - 1, as ``dtype`` (the values are taken in float64, then cast).
    inputs, targets: column indices (default: every column). Raises ValueError when s has fewer than
    2 points."""
    s = np.asarray(series, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(f"a series has shape (T,) or (T, C), got {s.shape}")
    if s.shape[0] < 2:
        raise ValueError(f"a series needs at least 2 points to make one (input, target) pair, got {s.shape[0]}")
    v = torch.from_numpy(np.ascontiguousarray(s))
    x = v[:-1] if inputs is None else v[:-1, list(inputs)]
    y = v[1:] if targets is None else v[1:, list(targets)]
    return x.to(dtype).contiguous(), y.to(dtype).contiguous()


def __getattr__(name: str):  # old spellings (docs/changes.md)
    from . import _compat

    return _compat.module_attribute(__name__, name)
