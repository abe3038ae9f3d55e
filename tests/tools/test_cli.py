"""The command line, run as a user runs it: `python -m sinernn ...` in a subprocess."""

import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sinernn", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_train_reproduces_the_tutorials_log_and_plot(tmp_path):
    out = run("train", "--plot", str(tmp_path / "fig.png"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    epochs = [line for line in lines if line.startswith("Epoch: ")]
    assert [int(line.split()[1]) for line in epochs] == list(range(0, 300, 10))
    assert all(line.split()[2] == "loss" and float(line.split()[3]) > 0 for line in epochs)
    assert any(line.startswith("final loss ") for line in lines)
    assert any(line.startswith("backend cpp") for line in lines)
    assert any("steps per second" in line for line in lines)
    png = (tmp_path / "fig.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_train_log_matches_the_api(tmp_path):
    import torch

    import sinernn

    out = run("train", "--epochs", "30", "--hidden", "3", "--seed", "2", "--lr", "0.05", "--no-plot", "--backend", "cpp-step")
    assert out.returncode == 0, out.stderr
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(1, 3, 1, seed=2)
    res = sinernn.train(x, y, w1, w2, epochs=30, lr=0.05, backend="reference")
    logged = [float(line.split()[3]) for line in out.stdout.splitlines() if line.startswith("Epoch: ")]
    expected = [float(res.losses[i]) for i in (0, 10, 20)]
    assert logged == pytest.approx(expected, rel=1e-5)
    assert "backend cpp-step" in out.stdout and not list(tmp_path.iterdir())
    assert torch.isfinite(res.losses).all()


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_train_on_a_series_file(tmp_path, suffix):
    series = np.cos(np.linspace(0, 12, 40))
    path = tmp_path / f"series{suffix}"
    if suffix == ".npy":
        np.save(path, series)
    else:
        path.write_text("value\n" + "\n".join(f"{v:.9f}" for v in series) + "\n")
    out = run("train", "--data", str(path), "--epochs", "20", "--plot", str(tmp_path / "f.png"))
    assert out.returncode == 0, out.stderr
    assert f"{path}" in out.stdout and (tmp_path / "f.png").exists()


def test_train_bad_arguments_fail_with_a_message(tmp_path):
    out = run("train", "--epochs", "-3")
    assert out.returncode == 2 and "--epochs" in out.stderr and "must be >= 0" in out.stderr
    out = run("train", "--lr", "nan", "--no-plot")
    assert out.returncode == 2 and "lr must be finite" in out.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,4\n5\n")
    out = run("train", "--data", str(bad), "--no-plot")
    assert out.returncode == 2 and "bad.csv: line 3 has 1 fields, expected 2" in out.stderr
    out = run("train", "--data", str(tmp_path / "missing.csv"))
    assert out.returncode == 2 and "missing.csv: no such file" in out.stderr
    ok = tmp_path / "ok.csv"
    ok.write_text("a\n1\n2\n")
    out = run("train", "--data", str(ok), "--columns", "x")
    assert out.returncode == 2 and "unknown column 'x'; the columns are a" in out.stderr


def test_verify_passes_and_reports():
    out = run("verify", "--random", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tutorial" in out.stdout and "random0" in out.stdout and "0 exceeded" in out.stdout


def test_help_shows_examples():
    for command in ("train", "forecast", "predict", "verify", "bench"):
        out = run(command, "--help")
        assert out.returncode == 0 and "examples:" in out.stdout and f"sinernn {command}" in out.stdout
    assert "--data" in run("train", "--help").stdout
    out = run("--help")
    assert out.returncode == 0 and "train" in out.stdout and "verify" in out.stdout


def test_info():
    out = run("info")
    assert out.returncode == 0 and "native ops: loaded" in out.stdout


def test_bench_quick_writes_json(tmp_path):
    import json

    out = run("bench", "--quick", "--no-scaling", "--json", str(tmp_path / "b.json"))
    assert out.returncode == 0, out.stderr
    assert "FMA peak, measured" in out.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    paths = [row["path"] for row in data["tutorial"]]
    assert paths == ["reference", "nn.RNNCell+SGD", "numpy", "torchscript", "cpp-step-op", "cpp-step", "cpp"]
    cpp = data["tutorial"][-1]
    # the figures' form only: how fast each path is, is the benchmarks' claim (benchmarks/), not a test's
    assert cpp["speedup"] > 0 and cpp["ns_per_step"] > 0 and data["fma_peak_gflops"] > 0
    one, many = data["many"]
    assert one["speedup"] == 1 and many["path"].startswith("train_many, 4096 models")
    assert many["speedup"] > 0 and 0 < many["peak_share"] < 1


def test_readme_commands_on_a_three_column_csv(tmp_path):
    """The README's commands, as a new user types them: each writes the files it promises."""
    t = np.arange(300) * 0.05
    table = np.stack([np.sin(t), np.cos(0.5 * t), 3 + 2 * np.sin(0.3 * t)], 1)
    np.savetxt(tmp_path / "sensors.csv", table, delimiter=",", header="a,b,c", comments="", fmt="%.6f")
    out = run("train", "--data", "sensors.csv", "--columns", "a", "b", "c", "--val-frac", "0.2", "--hidden", "12",
              "--lr", "0.02", "--epochs", "50", "--save", "sensors.pt", "--plot", "fit.png", "--loss-plot", "loss.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "(per step: training " in out.stdout and "final loss per step: training" in out.stdout and "a,b,c -> a,b,c" in out.stdout
    for name in ("sensors.pt", "fit.png", "loss.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    out = run("forecast", "sensors.pt", "--steps", "30", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "a,b,c" and len(lines) == 31 and all(len(line.split(",")) == 3 for line in lines[1:])
    out = run("forecast", "sensors.pt", "--steps", "30", "--out", "fc.csv", "--plot", "fc.png", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "fc.png").stat().st_size > 1000
    fc = np.loadtxt(tmp_path / "fc.csv", delimiter=",", skiprows=1)
    assert fc.shape == (30, 3) and np.isfinite(fc).all()
    out = run("predict", "sensors.pt", "--data", "sensors.csv", "--out", "pred.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    pred = np.loadtxt(tmp_path / "pred.csv", delimiter=",", skiprows=1)
    assert pred.shape == (300, 3)
    out = run("predict", "sensors.pt", "--data", "fit.png", cwd=tmp_path)
    assert out.returncode == 2 and "fit.png" in out.stderr
