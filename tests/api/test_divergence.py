"""Divergence: a non-finite loss stops training with an error naming the epoch and step, and the
weights are those of the end of the last finite epoch, on every backend. No NaN is handed back."""

import subprocess
import sys

import pytest
import torch

import sinernn

from cases import ALL_BACKENDS, FUSED_BACKENDS, problem


def tutorial(dtype=torch.float32):
    x, y = sinernn.sine_data(dtype=dtype)
    w1, w2 = sinernn.init_weights(seed=0, dtype=dtype)
    return x, y, w1, w2


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("lr", [50.0, 1.5])  # 50 diverges in the first epoch, 1.5 after three finite ones
def test_divergence_stops_and_restores_the_last_finite_epoch(backend, lr):
    x, y, w1, w2 = tutorial()
    start1, start2 = w1.clone(), w2.clone()
    with pytest.raises(sinernn.DivergenceError) as info:
        sinernn.train(x, y, w1, w2, epochs=300, lr=lr, backend=backend)
    err = info.value
    assert f"at epoch {err.epoch}, step {err.step}" in str(err) and f"lr={lr}" in str(err)
    assert 0 <= err.step < 20
    assert torch.isfinite(w1).all() and torch.isfinite(w2).all()
    # the weights are exactly those after err.epoch complete epochs of the same backend, and the
    # error carries those epochs' losses
    e1, e2 = start1.clone(), start2.clone()
    finite = sinernn.train(x, y, e1, e2, epochs=err.epoch, lr=lr, backend=backend).losses
    assert torch.equal(w1, e1) and torch.equal(w2, e2)
    assert err.losses.shape == (err.epoch,) and err.losses.dtype == x.dtype
    assert torch.equal(err.losses, finite)


def test_the_error_carries_the_losses_across_chunks(monkeypatch):
    """The "cpp" backend trains in chunks of epochs: the losses of earlier chunks are kept."""
    from sinernn.engine import single as trainer

    monkeypatch.setattr(trainer, "CHUNK_STEPS", 20)  # one epoch of the tutorial per op call
    x, y, w1, w2 = tutorial()
    start1, start2 = w1.clone(), w2.clone()
    with pytest.raises(sinernn.DivergenceError) as info:
        sinernn.train(x, y, w1, w2, epochs=300, lr=1.5, backend="cpp")
    err = info.value
    assert err.epoch >= 2  # several chunks completed
    assert torch.equal(err.losses, sinernn.train(x, y, start1, start2, epochs=err.epoch, lr=1.5, backend="cpp").losses)


def test_the_error_pickles_with_its_fields():
    import pickle

    err = pickle.loads(pickle.dumps(sinernn.DivergenceError(3, 7, 0.5, torch.tensor([1.0, 2.0, 3.0]))))
    assert (err.epoch, err.step, err.lr) == (3, 7, 0.5) and torch.equal(err.losses, torch.tensor([1.0, 2.0, 3.0]))
    assert "at epoch 3, step 7" in str(err)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lr", [0.1, 50.0, 1.5])
def test_the_guarded_op_reports_what_the_train_op_raises(dtype, lr):
    x, y, w1, w2 = tutorial(dtype)
    a1, a2 = w1.clone(), w2.clone()
    losses, diverged = torch.ops.sinernn.train_guarded(x, y, w1, w2, 300, lr)
    epoch, step = diverged.tolist()
    try:
        expected = torch.ops.sinernn.train(x, y, a1, a2, 300, lr)
        assert (epoch, step) == (-1, -1)
        assert torch.equal(losses, expected)
    except RuntimeError as exc:
        assert f"training diverged at epoch {epoch}, step {step}:" in str(exc)
        assert torch.isnan(losses[epoch:]).all() and torch.isfinite(losses[:epoch]).all()
    assert torch.equal(w1, a1) and torch.equal(w2, a2)  # bit for bit, restored alike


@pytest.mark.parametrize("lr", [50.0, 1.5])
def test_fused_backends_diverge_at_the_same_place(lr):
    where = set()
    for backend in FUSED_BACKENDS:
        x, y, w1, w2 = tutorial()
        with pytest.raises(sinernn.DivergenceError) as info:
            sinernn.train(x, y, w1, w2, epochs=300, lr=lr, backend=backend)
        where.add((info.value.epoch, info.value.step))
    assert len(where) == 1  # they run the same arithmetic


def test_the_op_raises_and_restores_too():
    x, y, w1, w2 = tutorial()  # float32: diverges in the first epoch (float64 lasts until epoch 3)
    before = (w1.clone(), w2.clone())
    with pytest.raises(RuntimeError, match=r"sinernn::train: training diverged at epoch 0, step \d+: .*restored to their values before training"):
        torch.ops.sinernn.train(x, y, w1, w2, 300, 50.0)
    assert torch.equal(w1, before[0]) and torch.equal(w2, before[1])


def test_non_contiguous_weights_are_restored_into_the_callers_tensors():
    x, y, w1, w2 = tutorial()
    t1 = w1.t().contiguous().t()
    assert not t1.is_contiguous()
    with pytest.raises(sinernn.DivergenceError):
        sinernn.train(x, y, t1, w2, epochs=10, lr=50.0, backend="cpp")
    assert torch.equal(t1, w1) and torch.isfinite(w2).all()


def test_a_stable_run_is_unaffected():
    x, y, w1, w2 = problem(2, 5, 2, L=9)
    res = sinernn.train(x, y, w1, w2, epochs=40, lr=0.05, backend="cpp")
    assert torch.isfinite(res.losses).all() and res.losses.shape == (40,)


def test_cli_reports_divergence():
    out = subprocess.run([sys.executable, "-m", "sinernn", "train", "--lr", "50", "--no-plot"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "training diverged at epoch 0, step" in out.stderr
