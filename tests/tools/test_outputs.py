"""Output paths of the CLI: checked before the first epoch, so no run is lost to a bad path at its
end; written whole or not at all; missing folders made. In-process (cli.main) where nothing needs
a subprocess."""

import os
import stat

import numpy as np
import pytest

from sinernn.tools import cli


def _fake_train(monkeypatch):
    """Forecaster.fit that records being called: the checks must come before it."""
    from sinernn import forecaster

    calls = []
    real = forecaster.Forecaster.fit

    def fit(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(forecaster.Forecaster, "fit", fit)
    return calls


@pytest.mark.parametrize("flag", ["--save", "--plot", "--loss-plot"])
def test_train_checks_its_outputs_before_the_first_epoch(tmp_path, monkeypatch, capsys, flag):
    calls = _fake_train(monkeypatch)
    (tmp_path / "file").write_text("a file, not a folder")
    bad = str(tmp_path / "file" / "out.x")  # a path under a file: never writable
    args = ["train", "--epochs", "5", "--log-every", "0", "--no-plot", flag, bad]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"sinernn train: error: {flag} {bad}: " in err and "is not a folder" in err
    assert calls == []  # refused before training


def test_an_output_that_is_a_folder_is_refused(tmp_path, capsys, monkeypatch):
    calls = _fake_train(monkeypatch)
    assert cli.main(["train", "--epochs", "5", "--no-plot", "--save", str(tmp_path)]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err and calls == []


def test_missing_folders_are_made(tmp_path):
    save, plot = tmp_path / "new" / "deeper" / "m.pt", tmp_path / "plots" / "fit.png"
    assert cli.main(["train", "--epochs", "3", "--log-every", "0", "--save", str(save), "--plot", str(plot)]) == 0
    assert save.is_file() and plot.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["forecast", str(save), "--steps", "4", "--out", str(tmp_path / "fc" / "f.csv")]) == 0
    assert len((tmp_path / "fc" / "f.csv").read_text().splitlines()) == 5
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary file left anywhere


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_training(tmp_path, capsys, monkeypatch):
    calls = _fake_train(monkeypatch)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert cli.main(["train", "--epochs", "5", "--no-plot", "--save", str(folder / "m.pt")]) == 2
    finally:
        folder.chmod(stat.S_IRWXU)
    assert "can't write in" in capsys.readouterr().err and calls == []


def test_a_failed_write_is_an_error_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    from sinernn import checkpoint

    def refuse(path, write, **kw):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(checkpoint, "write_atomic", refuse)
    assert cli.main(["train", "--epochs", "2", "--log-every", "0", "--no-plot", "--save", str(tmp_path / "m.pt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sinernn train: error: [Errno 13] Permission denied") and "Traceback" not in err


def test_forecast_predict_sweep_and_bench_check_their_outputs(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    under_file = str(tmp_path / "file" / "o")
    model = tmp_path / "m.pt"
    assert cli.main(["train", "--epochs", "2", "--log-every", "0", "--no-plot", "--save", str(model)]) == 0
    data = tmp_path / "d.csv"
    np.savetxt(data, np.sin(np.arange(30.0))[:, None], header="sin", comments="")
    for args, flag in [(["forecast", str(model), "--steps", "3", "--out", under_file], "--out"),
                       (["forecast", str(model), "--steps", "3", "--plot", under_file], "--plot"),
                       (["predict", str(model), "--data", str(data), "--out", under_file], "--out"),
                       (["sweep", "--lrs", "2", "--seeds", "1", "--epochs", "2", "--table", under_file], "--table"),
                       (["sweep", "--lrs", "2", "--seeds", "1", "--epochs", "2", "--out-dir", str(tmp_path / "file")],
                        "--out-dir"),
                       (["bench", "--quick", "--no-scaling", "--json", under_file], "--json")]:
        capsys.readouterr()
        assert cli.main(args) == 2, args
        assert f"error: {flag} " in capsys.readouterr().err, args
