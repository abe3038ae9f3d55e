"""Reading a series file: 1,000,000 rows x 3 columns of a CSV with a header, by
sinernn.series.read_csv against numpy.loadtxt (and pandas.read_csv when installed), in one process.

    pytest benchmarks/bench_read.py --benchmark-enable

The summary prints each reader's median, per row, and its speed relative to numpy.loadtxt's (0.5x:
twice loadtxt's time). read_csv does more than
loadtxt (header, blank-line and width checks, missing values named by line and column), on loadtxt's
own parser. Before timing, read_csv's values are checked equal to loadtxt's.
"""

import numpy as np
import pytest

from sinernn import series

ROWS = 1_000_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("read") / "big.csv"
    values = np.random.default_rng(0).standard_normal((ROWS, 3))
    np.savetxt(path, values, delimiter=",", header="a,b,c", comments="", fmt="%.9g")
    return path


READERS = {
    "sinernn.series.read_csv": lambda path: series.read_csv(path).values,
    "numpy.loadtxt": lambda path: np.loadtxt(path, delimiter=",", skiprows=1),
    "pandas.read_csv": lambda path: __import__("pandas").read_csv(path).to_numpy(),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_read_a_million_rows(benchmark, record_speed, big_csv, reader):
    if reader.startswith("pandas"):
        pytest.importorskip("pandas")
    if reader == "sinernn.series.read_csv":
        np.testing.assert_array_equal(READERS[reader](big_csv), READERS["numpy.loadtxt"](big_csv))
    benchmark.group = f"read a CSV of {ROWS:,} rows x 3 columns"
    benchmark.pedantic(READERS[reader], args=(big_csv,), rounds=5, warmup_rounds=1)
    record_speed(benchmark, benchmark.group, reader, ROWS, 0, baseline=reader == "numpy.loadtxt")
