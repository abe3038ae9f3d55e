"""Forecaster on real-looking series: a multi-column CSV (F = O = 3, noisy), normalisation,
validation, checkpoints and resuming, forecasting, bad files."""

import numpy as np
import pytest
import torch

import sinernn
from sinernn import ops, series
from sinernn.engine import reference
from sinernn import Forecaster

from cases import FUSED_BACKENDS, problem


def noisy_table(T=120, seed=0) -> np.ndarray:
    t = np.arange(T) * 0.1
    rng = np.random.default_rng(seed)
    clean = np.stack([np.sin(t), 0.5 * np.cos(0.7 * t), 3 + 2 * np.sin(0.3 * t)], 1)
    return clean + 0.05 * rng.standard_normal(clean.shape)


@pytest.fixture
def sensors_csv(tmp_path):
    path = tmp_path / "sensors.csv"
    np.savetxt(path, noisy_table(), delimiter=",", header="a,b,c", comments="", fmt="%.6f")
    return path


def fit(backend, data, epochs=20, dtype=torch.float64, **kw):
    return Forecaster(5, lr=0.02, seed=3, dtype=dtype, backend=backend).fit(data, epochs, **kw)


def test_fused_backends_equal_the_reference_on_a_three_column_csv(sensors_csv):
    ref = fit("reference", sensors_csv, val_frac=0.25)
    assert (ref.input_size, ref.output_size) == (3, 3) and ref.columns == ["a", "b", "c"]
    runs = {b: fit(b, sensors_csv, val_frac=0.25) for b in FUSED_BACKENDS}
    for b, m in runs.items():
        torch.testing.assert_close(m.w1, ref.w1, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.history.train, ref.history.train, rtol=1e-9)
        np.testing.assert_allclose(m.history.val, ref.history.val, rtol=1e-9)
        np.testing.assert_allclose(m.predict(sensors_csv), ref.predict(sensors_csv), rtol=1e-9, atol=1e-12)
        assert torch.equal(m.w1, runs["cpp"].w1) and m.history.train == runs["cpp"].history.train  # bit for bit


def test_normalisation_is_fitted_on_the_training_part_and_undone_on_output(sensors_csv):
    m = fit("cpp", sensors_csv, val_frac=0.25)
    values = series.read_csv(sensors_csv).values
    n_train = series.split_point(len(values), 0.25)
    np.testing.assert_allclose(m.normalizer.mean, values[:n_train].mean(0))
    np.testing.assert_allclose(m.normalizer.std, values[:n_train].std(0))
    np.testing.assert_allclose(m.normalizer.undo(m.normalizer.apply(values, [0, 1, 2]), [0, 1, 2]), values, rtol=1e-14)
    # predict = normalise, the native predict op, undo
    x = torch.from_numpy((values - m.normalizer.mean) / m.normalizer.std)
    by_hand = ops.predict(x, m.w1, m.w2)[0].numpy() * m.normalizer.std + m.normalizer.mean
    np.testing.assert_allclose(m.predict(sensors_csv), by_hand, rtol=1e-13)
    assert abs(m.predict(sensors_csv)[:, 2].mean() - values[:, 2].mean()) < 0.5  # in data units, not z-scores


@pytest.mark.parametrize("epochs", [1, 4])
def test_validation_loss_equals_a_reference_computation(sensors_csv, epochs):
    m = fit("cpp", sensors_csv, epochs=epochs, val_frac=0.3)
    assert len(m.history.val) == len(m.history.train) == epochs
    values = series.read_csv(sensors_csv).values
    n_train = series.split_point(len(values), 0.3)
    val = torch.from_numpy((values[n_train:] - m.normalizer.mean) / m.normalizer.std)
    pred, _ = reference.predict(val[:-1], m.w1, m.w2)  # teacher-forced from a zero context, no updates
    expected = float(((pred - val[1:]) ** 2).sum() / 2) / (len(val) - 1)  # per step
    assert m.history.val[-1] == pytest.approx(expected, rel=1e-12)


def test_history_is_per_step_and_keeps_the_tutorials_sums(sensors_csv):
    """train and val are mean step losses (one scale); train_total the tutorial's per-epoch sums,
    equal to sinernn.train's losses."""
    m = fit("cpp", sensors_csv, epochs=3, val_frac=0.25)
    n_train = series.split_point(120, 0.25)
    steps = n_train - 1
    np.testing.assert_allclose(m.history.train, np.array(m.history.train_total) / steps, rtol=1e-15)
    x, y = series.series_pairs(m._normed(series.read_csv(sensors_csv).values[:n_train]), torch.float64, inputs=m.inputs, targets=m.targets)
    w1, w2 = sinernn.init_weights(3, 5, 3, seed=3, dtype=torch.float64)
    res = sinernn.train(x, y, w1, w2, epochs=3, lr=0.02, backend="cpp")
    assert m.history.train_total == res.losses.tolist()


def test_columns_and_targets_by_name_and_index(sensors_csv):
    m = fit("cpp", sensors_csv, columns=["a", 2], targets=["b"])
    assert (m.inputs, m.targets, m.input_size, m.output_size, m.columns) == ([0, 1], [2], 2, 1, ["a", "c", "b"])
    assert m.predict(sensors_csv).shape == (120, 1)
    with pytest.raises(ValueError, match="inputs and the targets must be the same columns"):
        m.forecast(3)


def test_arrays_tensors_and_npy_give_the_same_model(sensors_csv, tmp_path):
    values = series.read_csv(sensors_csv).values
    np.save(tmp_path / "s.npy", values)
    models = [fit("cpp", d) for d in (sensors_csv, values, torch.from_numpy(values), tmp_path / "s.npy")]
    for m in models[1:]:
        assert torch.equal(m.w1, models[0].w1)


@pytest.mark.parametrize("backend", ["reference", "cpp"])
def test_checkpoint_round_trip_and_resume_equal_uninterrupted_training(sensors_csv, tmp_path, backend):
    whole = fit(backend, sensors_csv, epochs=5, val_frac=0.2)
    first = fit(backend, sensors_csv, epochs=3, val_frac=0.2)
    first.save(tmp_path / "m.pt")
    loaded = Forecaster.load(tmp_path / "m.pt")
    assert torch.equal(loaded.w1, first.w1) and torch.equal(loaded.w2, first.w2)
    assert loaded.history.train == first.history.train and loaded.history.val == first.history.val
    np.testing.assert_array_equal(loaded.predict(sensors_csv), first.predict(sensors_csv))
    loaded.fit(sensors_csv, 2, val_frac=0.2)
    assert torch.equal(loaded.w1, whole.w1) and torch.equal(loaded.w2, whole.w2)
    assert loaded.history.train == whole.history.train and loaded.history.val == whole.history.val


def test_a_plain_checkpoint_is_not_a_model(tmp_path):
    from sinernn.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "w.pt", *sinernn.init_weights())
    with pytest.raises(ValueError, match="w.pt: not a Forecaster checkpoint"):
        Forecaster.load(tmp_path / "w.pt")


@pytest.mark.parametrize("F,H", [(1, 1), (1, 6), (3, 7), (2, 13)])
def test_forecast_op_equals_the_reference(F, H):
    x, _, w1, w2 = problem(F, H, F, L=9)
    for steps in (0, 1, 25):
        got, want = ops.forecast(x, w1, w2, steps), reference.forecast(x, w1, w2, steps)
        assert got.shape == (steps, F)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    assert torch.equal(ops.forecast(x, w1, w2, 25)[0], ops.predict(x, w1, w2)[0][-1])  # row 0 follows x, same code


def test_forecast_op_needs_as_many_outputs_as_inputs():
    x, _, w1, w2 = problem(2, 3, 1, L=4)
    with pytest.raises(RuntimeError, match="sinernn::forecast: .* got F=2 inputs and O=1 outputs"):
        ops.forecast(x, w1, w2, 3)


def test_sine_forecast_follows_the_true_continuation_for_a_period():
    """40 points a period; train on 400 (10 periods), forecast the next 40 closed-loop.
    Measured: max |error| 0.0196 over that period (float64, H=12, lr 0.01, 5000 epochs)."""
    s = np.sin(np.arange(440) * 2 * np.pi / 40)
    m = Forecaster(12, lr=0.01, dtype=torch.float64, normalize=False).fit(s[:400], 5000)
    fc = m.forecast(40)[:, 0]
    assert np.abs(fc - s[400:]).max() < 0.05


def test_progress_bar_on_request(sensors_csv, capsys):
    fit("cpp", sensors_csv, epochs=3, progress=True, val_frac=0.2)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "val=" in err and "steps/s=" in err  # tqdm's bar
    fit("cpp", sensors_csv, epochs=3)  # default: only on a terminal
    assert capsys.readouterr().err == ""


BAD_FILES = [
    ("ragged.csv", "a,b\n1,2\n3\n", "ragged.csv: line 3 has 1 fields, expected 2"),
    ("text.csv", "a,b\n1,2\n3,x\n", "text.csv: line 3, column 'b': 'x' is not a number"),
    ("nan.csv", "a,b\n1,2\n3,nan\n", "nan.csv: line 3, column 'b' is missing (NaN); 1 missing value(s) in all"),
    ("inf.csv", "a,b\n1,2\n3,inf\n", "inf.csv: line 3, column 'b' is inf: Inf is not accepted"),
    ("empty_field.csv", "a,b\n1,2\n3,\n4,5\n", "empty_field.csv: line 3, column 'b' is empty: a missing value"),
    ("gap.csv", "a,b\n1,2\n\n4,5\n6,7\n", "gap.csv: line 3 is blank: a gap in the series"),
    ("short.csv", "a,b\n1,2\n", "short.csv: a series needs at least 2 rows"),
    ("empty.csv", "", "empty.csv: the file is empty"),
]


@pytest.mark.parametrize("name,text,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_refused_naming_file_line_and_column(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError) as info:
        Forecaster().fit(tmp_path / name, 1)
    assert message in str(info.value)


def test_missing_file_unknown_column_and_npy_nan(tmp_path, sensors_csv):
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no such file"):
        Forecaster().fit(tmp_path / "nowhere.csv", 1)
    with pytest.raises(ValueError, match="sensors.csv: unknown column 'd'; the columns are a, b, c"):
        Forecaster().fit(sensors_csv, 1, columns=["a", "d"])
    with pytest.raises(ValueError, match="column index 5 is out of range"):
        Forecaster().fit(sensors_csv, 1, columns=[5])
    arr = noisy_table()
    arr[7, 1] = np.nan
    np.save(tmp_path / "n.npy", arr)
    with pytest.raises(ValueError, match=r"n.npy: row 7 \(0-based\), column '1' is missing \(NaN\)"):
        Forecaster().fit(tmp_path / "n.npy", 1)
    with pytest.raises(ValueError, match="val_frac=0.99 leaves"):
        Forecaster().fit(sensors_csv, 1, val_frac=0.99)
    with pytest.raises(RuntimeError, match="not trained yet"):
        Forecaster().forecast(3)
