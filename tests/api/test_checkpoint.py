"""Checkpoints: exact round trip, atomic writes, and refusal of damaged or foreign files without
running code from them."""

import os
import pickle

import pytest
import torch

import sinernn
from sinernn import checkpoint
from sinernn.checkpoint import load_checkpoint, save_checkpoint


def _weights():
    return sinernn.init_weights(2, 5, 3, seed=7, dtype=torch.float64)


def test_round_trip_is_exact(tmp_path):
    w1, w2 = _weights()
    save_checkpoint(tmp_path / "m.pt", w1, w2, epochs_completed=4, note="x")
    r1, r2, meta = load_checkpoint(tmp_path / "m.pt")
    assert torch.equal(r1, w1) and torch.equal(r2, w2) and r1.dtype == torch.float64
    assert meta == {"epochs_completed": 4, "note": "x"}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


def test_a_crash_mid_write_leaves_the_old_file(tmp_path, monkeypatch):
    w1, w2 = _weights()
    path = save_checkpoint(tmp_path / "m.pt", w1, w2, version="old")
    before = path.read_bytes()

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, w1 * 2, w2, version="new")
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_truncated_file_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", *_weights())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="m.pt: not a readable sinernn checkpoint"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_file_with_code_is_refused_and_the_code_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "version": 1, "w1": _Exploit()}, path)
    with pytest.raises(ValueError, match="evil.pt: not a readable sinernn checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "payload,message",
    [
        ({"format": "other"}, "not a sinernn checkpoint"),
        ({"format": checkpoint.FORMAT, "version": 99}, "checkpoint version 99"),
        ({"format": checkpoint.FORMAT, "version": 1, "w1": torch.zeros(3, 3), "w2": torch.zeros(3, 1)}, "shapes don't fit"),
        ({"format": checkpoint.FORMAT, "version": 1, "w1": torch.full((4, 3), float("nan")), "w2": torch.zeros(3, 1)}, "NaN or Inf"),
    ],
)
def test_tampered_content_is_refused(tmp_path, payload, message):
    path = tmp_path / "m.pt"
    torch.save(payload, path)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere.pt: no such checkpoint file"):
        load_checkpoint("nowhere.pt")
