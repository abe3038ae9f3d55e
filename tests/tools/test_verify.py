"""sinernn.verify: passes on the real ops, and fails when a fused path is off."""

import torch

import sinernn
from sinernn.engine import single as trainer
from sinernn.tools import cli
from sinernn.tools import verification as verify_module


def test_verify_passes_and_covers_every_quantity():
    report = sinernn.verify(n_random=2)
    assert report.ok, report.table()
    seen = {(c.case, c.dtype, c.backend, c.quantity) for c in report.checks}
    for case in ("tutorial", "random0", "random1"):
        for dtype in ("float64", "float32"):
            for backend in ("cpp", "cpp-step", "cpp vs cpp-step"):
                for q in verify_module.QUANTITIES:
                    assert (case, dtype, backend, q) in seen
    assert all(c.tolerance == verify_module.FLOAT64_TOL for c in report.checks if c.dtype == "float64" and c.backend == "cpp")
    f32 = [c for c in report.checks if c.dtype == "float32" and c.backend == "cpp"]
    assert all(verify_module.FLOAT32_FLOOR < c.tolerance < 1e-3 for c in f32)


def test_random_cases_start_with_the_edge_sizes():
    cases = verify_module.random_cases(5)
    assert [(c.input_size, c.hidden_size, c.output_size) for c in cases[:3]] == [(1, 1, 1), (3, 1, 2), (2, 7, 3)]
    assert all(1 <= c.seq_length <= 30 for c in cases)


def test_verify_catches_a_wrong_fused_path(monkeypatch, capsys):
    real = trainer._TRAINERS["cpp"]

    def off_by_a_little(x, y, w1, w2, epochs, lr, stop):
        losses = real(x, y, w1, w2, epochs, lr, stop)
        w1.add_(1e-7 * w1.abs().max())  # a relative error far below float32 noise, far above float64's
        return losses

    monkeypatch.setitem(trainer._TRAINERS, "cpp", off_by_a_little)
    report = sinernn.verify(n_random=0, dtypes=(torch.float64,))
    assert not report.ok
    bad = [c for c in report.checks if not c.ok]
    assert {c.quantity for c in bad} >= {"w1"} and all(c.backend in ("cpp", "cpp vs cpp-step") for c in bad)
    assert cli.main(["verify", "--random", "0"]) == 1
    assert "FAILED" in capsys.readouterr().err
