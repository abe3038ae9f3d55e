"""The benchmark helpers: FLOP count, the reference check, the alternatives' correctness."""

import pytest

from sinernn.tools import benchmarking as bm


def test_flops_per_step_counts_the_step():
    # tutorial: forward 2*7*6 + 2*6, loss 3, backward 2*6 + 3*6, updates 3*6 + 3*7*6
    assert bm.flops_per_step(1, 6, 1) == 84 + 12 + 3 + 12 + 18 + 18 + 126
    assert bm.flops_per_step(1, 256, 1) == 5 * 257 * 256 + 7 * 256 + 3 * 256 + 3


@pytest.mark.parametrize("path", list(bm.PATHS))
def test_every_path_trains_like_the_reference(path):
    dev = bm.check_against_reference(path, bm.Problem(H=5, L=12, epochs=15))
    assert dev < 1e-4


def test_the_reference_check_catches_a_wrong_path(monkeypatch):
    monkeypatch.setitem(bm.PATHS, "numpy", lambda x, y, w1, w2, epochs, lr: bm.PATHS["reference"](x, y, w1, w2, epochs, lr * 1.01))
    with pytest.raises(AssertionError, match="numpy: losses deviate"):
        bm.check_against_reference("numpy", bm.Problem(H=3, L=10, epochs=10))


def test_fma_peak_is_measured():
    assert bm.fma_peak_gflops(1_000_000) > 1.0
