"""sinernn sweep: the spec's models, the table and plot, the CLI."""

import csv

import pytest
import torch

import sinernn
from sinernn.tools import cli
from sinernn.tools.sweep import SweepSpec, run


def test_spec_models_are_the_seeds_times_the_lrs():
    spec = SweepSpec(n_lrs=3, n_seeds=2, lr_min=0.01, lr_max=1.0, epochs=2, hidden_size=4)
    x, y, w1, w2, lr = spec.models()
    assert w1.shape == (6, 5, 4) and lr.shape == (6,)
    torch.testing.assert_close(lr, torch.tensor([0.01, 0.01, 0.1, 0.1, 1.0, 1.0], dtype=torch.float64))
    for m in range(6):
        assert torch.equal(w1[m], sinernn.init_weights(1, 4, 1, seed=m % 2)[0])
    _, _, s1, _, slr = spec.models(2, 5)  # a shard: models 2..4
    assert torch.equal(s1, w1[2:5]) and torch.equal(slr, lr[2:5])


def test_sweep_equals_training_each_model_alone():
    spec = SweepSpec(n_lrs=4, n_seeds=3, lr_min=0.01, lr_max=5.0, epochs=30)
    sweep = run(spec)
    x, y, w1, w2, lr = spec.models()
    for m in range(spec.n_models):
        try:
            losses = sinernn.train(x, y, w1[m], w2[m], spec.epochs, float(lr[m])).losses
            assert float(sweep.final_losses.flat[m]) == float(losses[-1])
        except sinernn.DivergenceError:
            assert sweep.diverged.flat[m]


@pytest.mark.parametrize("bad", [dict(n_lrs=0), dict(lr_min=0.0), dict(lr_min=2.0, lr_max=1.0), dict(epochs=-1), dict(dtype="half")])
def test_bad_spec(bad):
    with pytest.raises(ValueError):
        SweepSpec(**bad)


def test_cli_writes_table_and_plot(tmp_path, capsys):
    table, plot = tmp_path / "s.csv", tmp_path / "s.png"
    assert cli.main(["sweep", "--lrs", "5", "--seeds", "3", "--epochs", "20", "--lr-max", "20",
                     "--table", str(table), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "15 models (5 learning rates" in out and "model-steps per second" in out
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 5 and {int(r["seeds"]) for r in rows} == {3}
    assert sum(int(r["diverged"]) for r in rows) >= 1  # lr 20 diverges
    assert plot.stat().st_size > 10_000


def test_cli_reports_bad_arguments(capsys):
    assert cli.main(["sweep", "--lr-min", "-1", "--lrs", "2", "--seeds", "1"]) == 2
    assert "need 0 < lr_min <= lr_max" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where no GPU is visible")
def test_cli_cuda_device_without_gpu(capsys):
    assert cli.main(["sweep", "--device", "cuda", "--lrs", "2", "--seeds", "1"]) == 2
    assert "no GPU is visible" in capsys.readouterr().err
    assert cli.main(["sweep", "--device", "tpu", "--lrs", "2", "--seeds", "1"]) == 2
