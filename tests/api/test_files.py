"""Real-world series files and objects: a CSV as pandas writes it (a date column), an Excel export
(UTF-8 byte-order mark, quoted header, CRLF), gaps (empty fields, NaN, blank lines) refused with the
file, line and column or filled on request, pandas DataFrames and Series. The CLI runs as users
type it, in a subprocess."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import sinernn
from sinernn import series

pd = pytest.importorskip("pandas")


def co2_frame(n=120):
    t = np.arange(n)
    return pd.DataFrame({
        "date": pd.date_range("1958-03-29", periods=n, freq="7D"),
        "co2": 315 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 52),
        "station": ["MLO"] * n,  # text: never read unless chosen
    })


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sinernn", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def pandas_csv(tmp_path):
    path = tmp_path / "co2.csv"
    co2_frame().to_csv(path, index=False)
    return path


def test_pandas_csv_reads_the_chosen_columns_only(pandas_csv):
    frame = co2_frame()
    table = series.read_csv(pandas_csv, time_column="date", columns=["co2"])
    assert table.columns == ["co2"] and table.time_name == "date"
    np.testing.assert_allclose(table.values[:, 0], frame["co2"].to_numpy(), rtol=1e-15)
    assert table.time.dtype.kind == "M" and table.time[0] == np.datetime64("1958-03-29")
    assert series.read_csv(pandas_csv, columns=["co2"]).time is None
    with pytest.raises(ValueError, match=r"co2.csv: line 2, column 'date': '1958-03-29' is not a number \(choose the value columns"):
        series.read_csv(pandas_csv)  # every column, the date included, unless told otherwise
    with pytest.raises(ValueError, match="column 'station': 'MLO' is not a number"):
        series.read_csv(pandas_csv, time_column="date")  # the text column is a value column unless left out


def test_excel_export_bom_quoted_header_crlf(tmp_path):
    path = tmp_path / "export.csv"
    rows = "".join(f'"{d}",{v}\r\n' for d, v in [("2024-01-01", 1.5), ("2024-01-02", 2.5), ("2024-01-03", 2.0)])
    path.write_bytes(b"\xef\xbb\xbf" + b'"date","level"\r\n' + rows.encode())
    table = series.read_csv(path, time_column="date")
    assert table.columns == ["level"] and table.values[:, 0].tolist() == [1.5, 2.5, 2.0]
    assert str(table.time[2]) == "2024-01-03"


def test_numeric_and_text_time_labels(tmp_path):
    (tmp_path / "n.csv").write_text("year,v\n1990,1\n1991,2\n1992,4\n")
    assert series.read_csv(tmp_path / "n.csv", time_column="year").time.tolist() == [1990.0, 1991.0, 1992.0]
    (tmp_path / "q.csv").write_text("quarter,v\nQ1,1\nQ2,2\nQ3,4\n")
    assert series.read_csv(tmp_path / "q.csv", time_column=0).time.tolist() == ["Q1", "Q2", "Q3"]


GAPS = {
    "empty field": ("t,a,b\n0,1,10\n1,,11\n2,3,12\n3,4,13\n", "line 3, column 'a' is empty: a missing value"),
    "NaN": ("t,a,b\n0,1,10\n1,2,11\n2,3,NaN\n3,4,13\n", "line 4, column 'b' is missing (NaN)"),
    "blank line": ("t,a,b\n0,1,10\n1,2,11\n\n3,4,13\n", "line 4 is blank: a gap in the series"),
}


@pytest.mark.parametrize("kind", list(GAPS))
def test_gaps_are_refused_naming_file_and_line(tmp_path, kind):
    text, message = GAPS[kind]
    (tmp_path / "g.csv").write_text(text)
    with pytest.raises(ValueError) as info:
        series.read_csv(tmp_path / "g.csv", time_column="t")
    assert f"g.csv: {message}" in str(info.value) and "interpolate" in str(info.value)


def test_gaps_are_filled_linearly_when_asked_and_counted(tmp_path):
    (tmp_path / "g.csv").write_text("t,a,b\n0,1,10\n1,,11\n\n3,7,NaN\n4,9,14\n5,,15\n")
    with pytest.warns(series.MissingValuesFilled, match=r"g.csv: filled 5 missing value\(s\) by linear interpolation \(3 in 'a', 2 in 'b'\)"):
        table = series.read_csv(tmp_path / "g.csv", time_column="t", missing="interpolate")
    np.testing.assert_allclose(table.values, [[1, 10], [3, 11], [5, 12], [7, 13], [9, 14], [9, 15]])
    assert table.filled == {"a": 3, "b": 2}
    (tmp_path / "none.csv").write_text("a,b\n1,\n2,\n")
    with pytest.raises(ValueError, match="column 'b' has no values to interpolate from"):
        series.read_csv(tmp_path / "none.csv", missing="interpolate")
    with pytest.raises(ValueError, match="missing must be one of error, interpolate, got 'drop'"):
        series.read_csv(tmp_path / "g.csv", missing="drop")


def test_ragged_rows_and_quoted_commas(tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match="r.csv: line 3 has 3 fields, expected 2"):
        series.read_csv(tmp_path / "r.csv", columns=["a"])
    (tmp_path / "q.csv").write_text('name,v\n"x, y",1\n"z",2\n')
    assert series.read_csv(tmp_path / "q.csv", columns=["v"]).values[:, 0].tolist() == [1, 2]


def test_dataframes_and_series_keep_their_names():
    frame = co2_frame()
    model = sinernn.Forecaster(4, seed=1).fit(frame, 3, time_column="date", columns=["co2"])
    assert model.columns == ["co2"]
    by_csv_values = sinernn.Forecaster(4, seed=1).fit(frame["co2"].to_numpy(), 3)
    assert torch.equal(model.w1, by_csv_values.w1)
    table = series.as_table(frame.set_index("date")[["co2"]])  # a DatetimeIndex is the time axis
    assert table.time_name == "date" and table.time.dtype.kind == "M"
    s = frame["co2"]
    assert series.as_table(s).columns == ["co2"]
    np.testing.assert_array_equal(sinernn.Forecaster(4, seed=1).fit(s, 3).predict(s), model.predict(frame))
    gappy = frame.copy()
    gappy.loc[5, "co2"] = np.nan
    with pytest.raises(ValueError, match=r"DataFrame: row 5 \(0-based, index 5\), column 'co2' is missing \(NaN\)"):
        series.as_table(gappy, ["co2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", series.MissingValuesFilled)
        filled = series.as_table(gappy, ["co2"], missing="interpolate")
    assert filled.values[5, 0] == pytest.approx((frame["co2"][4] + frame["co2"][6]) / 2)
    with pytest.raises(ValueError, match="column 'station' is not numeric"):
        series.as_table(frame, ["station"])


def test_cli_trains_on_a_pandas_csv_with_dates(pandas_csv, tmp_path):
    out = run("train", "--data", pandas_csv.name, "--time-column", "date", "--columns", "co2", "--val-frac", "0.2",
              "--epochs", "20", "--plot", "fit.png", "--loss-plot", "loss.png", "--save", "co2.pt", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "co2 -> co2" in out.stdout and "final loss per step: training" in out.stdout
    assert (tmp_path / "fit.png").stat().st_size > 10_000 and (tmp_path / "loss.png").stat().st_size > 10_000
    out = run("predict", "co2.pt", "--data", pandas_csv.name, cwd=tmp_path)  # reads co2 by name; the dates are left alone
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "next_co2" and len(out.stdout.splitlines()) == 121


def test_cli_trains_on_an_excel_export(tmp_path):
    t = np.arange(60)
    rows = "".join(f'"2024-01-{1 + i % 28:02d}",{np.sin(i / 5):.6f}\r\n' for i in t)
    (tmp_path / "export.csv").write_bytes(b"\xef\xbb\xbf" + b'"day","level"\r\n' + rows.encode())
    out = run("train", "--data", "export.csv", "--columns", "level", "--epochs", "10", "--no-plot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "level -> level" in out.stdout


def test_cli_refuses_gaps_and_fills_them_when_asked(tmp_path):
    (tmp_path / "g.csv").write_text("date,v\n2024-01-01,1\n2024-01-02,\n2024-01-03,3\n2024-01-04,4\n")
    out = run("train", "--data", "g.csv", "--time-column", "date", "--no-plot", cwd=tmp_path)
    assert out.returncode == 2 and "g.csv: line 3, column 'v' is empty: a missing value" in out.stderr
    out = run("train", "--data", "g.csv", "--time-column", "date", "--missing", "interpolate", "--epochs", "5",
              "--plot", "fit.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "sinernn train: g.csv: filled 1 missing value(s) by linear interpolation (1 in 'v')" in out.stderr


def test_fit_plot_marks_the_held_out_part_and_losses_share_a_scale(tmp_path, monkeypatch):
    """The fit plot draws the held-out span from the first validation point; the loss plot gets
    per-step training and validation losses (history), not the tutorial's sums."""
    from sinernn.tools import plots

    calls = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: calls.setdefault(str(path), fig) and path)
    frame = co2_frame()
    model = sinernn.Forecaster(4).fit(frame, 30, columns=["co2"], time_column="date", val_frac=0.25)
    preds = model.predict(frame)[:-1]
    plots.plot_fit(frame["date"].to_numpy(), frame[["co2"]].to_numpy(), preds, ["co2"], "fit.png", val_start=90, time_name="date")
    ax = calls["fit.png"].axes[0]
    spans = [p for p in ax.patches]
    assert spans and ax.get_legend_handles_labels()[1].count("held out (validation)") == 1
    assert calls["fit.png"].axes[-1].get_xlabel() == "date"
    # the held-out span starts at the 91st date
    import matplotlib.dates as mdates
    assert mdates.num2date(spans[0].get_x()).date().isoformat() == str(frame["date"][90].date())
    train, val = model.history.train, model.history.val
    assert 0.1 < val[-1] / train[-1] < 10  # one scale: per step, both (the sums differ ~3x in length alone)
