"""Bad input, case by case (docs/correctness.md, "Bad input"): results are never silently wrong,
and work is never lost. Each test here failed before its fix."""

import json
import math
import threading
import warnings

import numpy as np
import pytest
import torch

import sinernn
from sinernn import Forecaster, checkpoint, series

from cases import ALL_BACKENDS

pd = pytest.importorskip("pandas")


def three_columns(n=40):
    t = np.arange(n, dtype=np.float64)
    return np.stack([np.sin(0.3 * t), np.cos(0.2 * t), 0.01 * t], axis=1)


# -- 1. duplicate column names ------------------------------------------------------------------


def test_repeated_csv_names_are_made_distinct_as_pandas_does(tmp_path):
    values = three_columns()
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in values))
    table = series.read_csv(path)
    assert table.columns == ["a", "a.1", "b"] == list(pd.read_csv(path).columns)
    np.testing.assert_array_equal(table.values, values)
    model = Forecaster(3).fit(path, 2)
    assert model.inputs == [0, 1, 2] and model.columns == ["a", "a.1", "b"]
    # the second "a" is its own column: chosen by its name, it is not the first one
    np.testing.assert_array_equal(series.read_csv(path, ["a.1"]).values[:, 0], values[:, 1])


def test_repeated_dataframe_names_are_made_distinct():
    values = three_columns()
    frame = pd.DataFrame(values, columns=["a", "a", "b"])
    table = series.as_table(frame)
    assert table.columns == ["a", "a.1", "b"]
    np.testing.assert_array_equal(table.values, values)
    assert Forecaster(3).fit(frame, 1).inputs == [0, 1, 2]


@pytest.mark.parametrize("names,want", [
    (["x", "y", "x", "x"], ["x", "y", "x.1", "x.2"]),
    (["a", "a", "a.1"], ["a", "a.2", "a.1"]),  # a suffix the header holds itself is skipped
    (["a.1", "a", "a"], ["a.1", "a", "a.2"]),
])
def test_distinct_names_match_pandas(names, want, tmp_path):
    assert series.distinct_names(names) == want
    path = tmp_path / "h.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n" + ",".join("2" for _ in names) + "\n")
    assert list(pd.read_csv(path).columns) == want


# -- 2. the header rule -------------------------------------------------------------------------


def test_a_headerless_first_row_with_an_empty_cell_is_data(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_text("1,,3\n4,5,6\n7,8,9\n")
    with pytest.raises(ValueError, match=r"line 1, column '1' is empty: a missing value"):
        series.read_csv(path)  # missing="error" names the gap in row 1: the row is not taken as names
    with pytest.warns(series.MissingValuesFilled):
        table = series.read_csv(path, missing="interpolate")
    assert table.columns == ["0", "1", "2"] and table.values.tolist() == [[1, 5, 3], [4, 5, 6], [7, 8, 9]]


@pytest.mark.parametrize("text,columns,rows", [
    ("a,b\n1,2\n3,4\n", ["a", "b"], 2),                       # names over numbers
    ("a,\n1,2\n3,4\n", ["a", "column 1"], 2),                 # an unnamed column in a header
    (",a\n2020-01-01,1\n2020-01-02,2\n", ["column 0", "a"], 2),  # pandas' index column: no name
    ("2020-01-01,1\n2020-01-02,2\n", ["0", "1"], 2),           # a headerless date column: text over text
    ("x\n1\n2\n", ["x"], 2),
    ("1,2\n3,4\n", ["0", "1"], 2),
])
def test_header_rule(text, columns, rows, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(text)
    table = series.read_csv(path, columns=[columns[-1]])
    assert table.source_columns == columns and table.values.shape == (rows, 1)


def test_a_first_line_of_empty_fields_is_refused(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(",,\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="line 1 holds only empty fields: neither a header of column names nor a row"):
        series.read_csv(path)


# -- 3. epochs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("epochs,error", [(-5, ValueError), (2.5, TypeError), (True, TypeError)])
def test_fit_refuses_bad_epochs_before_anything(epochs, error):
    model = Forecaster(3)
    with pytest.raises(error, match="epochs must be"):
        model.fit(three_columns(), epochs)
    assert model.w1 is None and model.epochs_trained == 0


# -- 5. NumPy scalars -----------------------------------------------------------------------------


def test_numpy_scalars_as_settings_save_and_load(tmp_path):
    model = Forecaster(np.int64(4), lr=np.float32(0.05), seed=np.int32(3), normalize=np.bool_(True))
    model.fit(three_columns(), np.int64(3))
    assert type(model.lr) is float and type(model.seed) is int and model.normalize is True
    model.save(tmp_path / "m.pt")
    loaded = Forecaster.load(tmp_path / "m.pt")
    assert loaded.lr == model.lr and torch.equal(loaded.w1, model.w1)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"lr": "0.1"}, TypeError, "lr must be a real number"),
    ({"lr": -1.0}, ValueError, "lr must be finite and >= 0"),
    ({"lr": math.nan}, ValueError, "lr must be finite"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"backend": "fast"}, ValueError, "backend must be one of"),
    ({"normalize": "yes"}, TypeError, "normalize must be True or False"),
])
def test_bad_settings_are_refused_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        Forecaster(3, **kwargs)


# -- 6. divergence inside fit -----------------------------------------------------------------------


@pytest.mark.parametrize("val_frac", [0.0, 0.25])
def test_divergence_in_fit_leaves_weights_and_history_in_step(tmp_path, val_frac):
    data = three_columns() * 50
    model = Forecaster(5, lr=1.0, normalize=False)
    with pytest.raises(sinernn.DivergenceError) as info:
        model.fit(data, 200, val_frac=val_frac)
    done = info.value.epoch
    assert model.epochs_trained == done == len(model.history.train_total) == len(info.value.losses)
    assert len(model.history.val) == (done if val_frac else 0)
    assert all(math.isfinite(v) for v in model.history.train_total)
    # the weights are those of `done` epochs from the start, as the history says
    again = Forecaster(5, lr=1.0, normalize=False).fit(data, done, val_frac=val_frac) if done else None
    if again is not None:
        assert torch.equal(again.w1, model.w1) and again.history.train_total == model.history.train_total
    if done:
        model.save(tmp_path / "m.pt")
        assert Forecaster.load(tmp_path / "m.pt").epochs_trained == done


# -- 7. checkpoints of 0.1 -----------------------------------------------------------------------------


def _save_0_1(path, model, **changes):
    """A checkpoint as sinernn 0.1's ElmanRNN.save wrote it (kind "ElmanRNN", "hidden", per-epoch sums)."""
    meta = dict(kind="ElmanRNN", hidden=model.hidden_size, lr=model.lr, seed=model.seed, dtype="float32",
                backend=model.backend, normalize=model.normalize, columns=model.columns, inputs=model.inputs,
                targets=model.targets, mean=model.normalizer.mean.tolist(), std=model.normalizer.std.tolist(),
                history_train=model.history.train_total, history_val=[], tail=model.tail.tolist())
    meta.update(changes)
    checkpoint.save_checkpoint(path, model.w1, model.w2, **meta)


def test_a_0_1_checkpoint_loads_with_a_warning(tmp_path):
    data = three_columns()
    model = Forecaster(4).fit(data, 3)
    _save_0_1(tmp_path / "old.pt", model)
    with pytest.warns(UserWarning, match="written by sinernn 0.1: loaded"):
        old = Forecaster.load(tmp_path / "old.pt")
    assert torch.equal(old.w1, model.w1) and old.columns == model.columns and old.epochs_trained == 3
    assert old.history.train_total == model.history.train_total
    np.testing.assert_allclose(old.history.train, model.history.train, rtol=1e-12)  # the tail holds the whole series
    np.testing.assert_array_equal(old.forecast(5), model.forecast(5))
    old.save(tmp_path / "new.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Forecaster.load(tmp_path / "new.pt").epochs_trained == 3


def test_a_0_1_checkpoint_without_a_field_names_it(tmp_path):
    model = Forecaster(4).fit(three_columns(), 1)
    _save_0_1(tmp_path / "old.pt", model, hidden=None)
    meta = checkpoint.load_checkpoint(tmp_path / "old.pt")[2]
    del meta["hidden"]
    checkpoint.save_checkpoint(tmp_path / "old.pt", model.w1, model.w2, **meta)
    with pytest.raises(ValueError, match=r"old.pt: a sinernn 0.1 checkpoint without its 'hidden' field"):
        Forecaster.load(tmp_path / "old.pt")


# -- 11. what a checkpoint says is checked ---------------------------------------------------------------


@pytest.mark.parametrize("field,value,message", [
    ("inputs", [0, 5], "inputs must hold column indices in 0..2, got 5"),
    ("targets", [-1], "targets must hold column indices in 0..2, got -1"),
    ("inputs", [], "inputs must be a non-empty list"),
    ("std", [1.0, 0.0, 1.0], "std must be > 0 for every column"),
    ("std", [1.0, -2.0, 1.0], "std must be > 0 for every column"),
    ("std", [1.0, math.inf, 1.0], "std holds NaN or Inf"),
    ("mean", [0.0, math.nan, 0.0], "mean holds NaN or Inf"),
    ("mean", [0.0, 0.0], r"mean must have shape \(3,\)"),
    ("tail", [[1.0, math.nan, 2.0]], "tail holds NaN or Inf"),
    ("tail", [], "the tail of the training data is empty"),
    ("columns", ["a", "a", "b"], "the column names repeat"),
    ("history_train", [1.0], "the history's lists differ in length"),
    ("hidden_size", 0, "hidden_size must be an int >= 1"),
    ("lr", -1, "lr must be finite and >= 0"),
    ("dtype", "int64", "dtype must be torch.float32 or torch.float64"),
])
def test_load_checks_what_the_checkpoint_says(tmp_path, field, value, message):
    model = Forecaster(4).fit(three_columns(), 2)
    model.save(tmp_path / "m.pt")
    w1, w2, meta = checkpoint.load_checkpoint(tmp_path / "m.pt")
    meta[field] = value
    checkpoint.save_checkpoint(tmp_path / "bad.pt", w1, w2, **meta)
    with pytest.raises(ValueError, match="bad.pt: ") as info:
        Forecaster.load(tmp_path / "bad.pt")
    assert message in str(info.value) or __import__("re").search(message, str(info.value)), str(info.value)


# -- 9. train_many's arguments ---------------------------------------------------------------------------


def test_train_many_takes_leaf_weights_that_require_grad():
    x, y = sinernn.sine_data(dtype=torch.float64)
    w1, w2 = sinernn.init_weights(models=3, seed=0, dtype=torch.float64)
    g1, g2 = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    res = sinernn.train_many(x, y, g1, g2, 4, 0.1)
    want = sinernn.train_many(x, y, w1, w2, 4, 0.1)
    assert torch.equal(g1.detach(), w1) and torch.equal(res.losses, want.losses)
    one1, one2 = sinernn.init_weights(seed=0, dtype=torch.float64)
    sinernn.train(x, y, one1.requires_grad_(), one2.requires_grad_(), 4)  # as train does


def test_train_many_without_y_says_so():
    x, _ = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(models=2)
    with pytest.raises(TypeError, match=r"y must be a torch.Tensor of shape \(L, O\) or \(N, L, O\), got None"):
        sinernn.train_many(x, None, w1, w2, 2)


# -- 10. non-finite starting weights -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("which,value", [("w1", math.nan), ("w2", math.inf)])
def test_non_finite_starting_weights_are_one_error_on_every_backend(backend, which, value):
    x, y = sinernn.sine_data(dtype=torch.float64)
    w1, w2 = sinernn.init_weights(seed=0, dtype=torch.float64)
    {"w1": w1, "w2": w2}[which][1, 0] = value
    before = (w1.clone(), w2.clone())
    for call in (lambda: sinernn.train(x, y, w1, w2, 3, backend=backend),
                 lambda: sinernn.predict(x, w1, w2, backend=backend),
                 lambda: sinernn.forecast(x, w1, w2, 3, backend=backend)):
        with pytest.raises(ValueError, match=f"^{which} contains NaN or Inf$"):
            call()
    assert all(torch.equal(a.nan_to_num(), b.nan_to_num()) for a, b in zip((w1, w2), before))


@pytest.mark.parametrize("backend", ["cpp", "cpp-loop", "reference"])
def test_non_finite_starting_weights_of_many_models_name_the_model(backend):
    x, y = sinernn.sine_data(dtype=torch.float64)
    w1, w2 = sinernn.init_weights(models=4, seed=0, dtype=torch.float64)
    w1[2, 0, 0] = math.nan
    for call in (lambda: sinernn.train_many(x, y, w1, w2, 2, backend=backend),
                 lambda: sinernn.predict_many(x, w1, w2, backend=backend)):
        with pytest.raises(ValueError, match=r"w1\[2\] \(model 2\) contains NaN or Inf"):
            call()


# -- 12. files written whole ------------------------------------------------------------------------------


def test_two_threads_saving_one_path_each_write_a_whole_file(tmp_path):
    """Temporary names are unique per call (not per process): two threads saving one path never
    share one, and what is left is one of the two complete checkpoints, no temporary file."""
    a = Forecaster(3, seed=1).fit(three_columns(), 2)
    b = Forecaster(3, seed=2).fit(three_columns(), 2)
    path = tmp_path / "m.pt"
    start = threading.Barrier(2)

    def save(model):
        start.wait()
        for _ in range(20):
            model.save(path)

    threads = [threading.Thread(target=save, args=(m,)) for m in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = Forecaster.load(path)
    assert torch.equal(got.w1, a.w1) or torch.equal(got.w1, b.w1)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from sinernn._atomic import write_text_atomic

    path = write_text_atomic(tmp_path / "index.json", json.dumps({"old": True}))

    class Full(Exception):
        pass

    def fail(f):
        f.write("{\"new\": ")
        raise Full

    from sinernn._atomic import write_atomic

    with pytest.raises(Full):
        write_atomic(path, fail, text=True)
    assert json.loads(path.read_text()) == {"old": True} and [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_written_files_get_the_usual_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    path = Forecaster(3).fit(three_columns(), 1)
    path.save(tmp_path / "m.pt")
    assert (tmp_path / "m.pt").stat().st_mode & 0o777 == 0o666 & ~mask
