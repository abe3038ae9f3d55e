"""Sharding train_many over torch.distributed: 2 processes on this machine (gloo, loopback),
launched by torchrun, against train_many in one process; a killed rank and --resume."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import sinernn
from sinernn.tools import cli, distributed
from sinernn.tools.sweep import SweepSpec

HERE = Path(__file__).parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def problem(n, per_model):
    """N models of the sine task with odd sizes, lr up to 20 (some diverge)."""
    if per_model:
        pairs = [sinernn.smooth_series(13, 2, 1, seed=i) for i in range(n)]
        x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    else:
        x, y = sinernn.smooth_series(13, 2, 1, seed=0)
    w1, w2 = sinernn.init_weights(2, 5, 1, seed=0, models=n, dtype=torch.float64)
    return x, y, w1, w2, torch.logspace(-2, 1.3, n, dtype=torch.float64)


def run(cmd, env=None, timeout=180):
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=HERE)


@pytest.mark.parametrize("n,world", [(37, 2), (5, 3), (2, 2), (1, 4), (0, 3)])
def test_shard_ranges_cover_every_model_once(n, world):
    ranges = [distributed.shard_range(n, world, r) for r in range(world)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per-model"])
def test_two_processes_equal_one(tmp_path, per_model):
    out = tmp_path / "result.pt"
    proc = run([*TORCHRUN, str(HERE / "dist_worker.py"), str(out), "37", "1" if per_model else "0", str(tmp_path / "shards")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = torch.load(out, weights_only=True)
    x, y, w1, w2, lr = problem(37, per_model)
    want = sinernn.train_many(x, y, w1, w2, 9, lr)
    assert torch.equal(got["w1"], w1) and torch.equal(got["w2"], w2)  # bit for bit
    assert torch.equal(got["diverged"], want.diverged) and (want.diverged[:, 0] >= 0).any()
    assert torch.equal(got["losses"].nan_to_num(), want.losses.nan_to_num())
    index = (tmp_path / "shards" / "index.json").read_text()
    assert '"start": 0' in index and '"stop": 19' in index and '"stop": 37' in index


def sweep_cmd(out_dir, table, *extra, program=("-m", "sinernn")):
    return [*TORCHRUN, *program, "sweep", "--lrs", "7", "--seeds", "3", "--epochs", "40", "--lr-max", "20",
            "--out-dir", str(out_dir), "--table", str(table), "--plot", str(table.with_suffix(".png")), *extra]


def test_killed_rank_stops_the_job_and_resume_finishes_it(tmp_path):
    shards = tmp_path / "shards"
    start = time.monotonic()
    proc = run(sweep_cmd(shards, tmp_path / "t.csv", program=(str(HERE / "dist_sweep.py"),)))  # rank 1 dies
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and elapsed < 120
    log = proc.stdout + proc.stderr
    assert ": 1 (local_rank: 1)" in log and "-9" in log, log[-3000:]  # torchrun names rank 1, SIGKILL
    # rank 0's shard (models 0..10 of 21) is on disk and intact: what train_many gives those models
    spec = SweepSpec(n_lrs=7, n_seeds=3, epochs=40, lr_max=20.0)
    files = sorted(p.name for p in shards.glob("shard-*.pt"))
    assert files == ["shard-000000000-000000011.pt"], files
    shard = torch.load(shards / files[0], weights_only=True)
    x, y, w1, w2, lr = spec.models(0, 11)
    want = sinernn.train_many(x, y, w1, w2, spec.epochs, lr)
    assert torch.equal(shard["w1"], w1) and torch.equal(shard["losses"].nan_to_num(), want.losses.nan_to_num())

    proc = run(sweep_cmd(shards, tmp_path / "t.csv", "--resume"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "rank 0 of 2: models 0..10 loaded from its shard file" in proc.stdout
    assert "rank 1 of 2: models 11..20 trained" in proc.stdout
    # the final table equals an uninterrupted run in one process
    assert cli.main(["sweep", "--lrs", "7", "--seeds", "3", "--epochs", "40", "--lr-max", "20",
                             "--table", str(tmp_path / "one.csv"), "--plot", str(tmp_path / "one.png")]) == 0
    assert list(csv.reader((tmp_path / "t.csv").open())) == list(csv.reader((tmp_path / "one.csv").open()))


def test_a_rank_that_raises_is_named(tmp_path):
    """A rank whose shard fails with an exception reports it: every rank raises ShardFailed naming it
    (here rank 1 can't write its shard file: a folder stands at its path)."""
    shards = tmp_path / "shards"
    (shards / "shard-000000002-000000003.pt").mkdir(parents=True)  # rank 1 of 2 holds model 2 of 3
    proc = run([*TORCHRUN, str(HERE / "dist_worker.py"), str(tmp_path / "r.pt"), "3", "0", str(shards)])
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "ShardFailed: rank 1 failed: IsADirectoryError" in log, log[-3000:]
    assert "rank 0 failed" not in log
    assert (shards / "shard-000000000-000000002.pt").is_file()  # rank 0's shard was written


def test_a_hanging_rank_is_named_after_the_timeout(tmp_path):
    """Rank 1 sleeps through the timeout (4 s) before it starts: rank 0's monitored barrier names it."""
    start = time.monotonic()
    proc = run([*TORCHRUN, str(HERE / "dist_worker.py"), str(tmp_path / "r.pt"), "4", "0", str(tmp_path / "s"), "hang-rank-1"])
    assert proc.returncode != 0 and time.monotonic() - start < 60
    assert "ShardFailed: rank 1 failed: did not reach the start: it died or hung" in proc.stdout + proc.stderr


def test_more_ranks_than_models(tmp_path):
    """torchrun with 2 ranks and 1 model: rank 1 trains nothing and the result is the one model's."""
    table = tmp_path / "t.csv"
    proc = run([*TORCHRUN, "-m", "sinernn", "sweep", "--lrs", "1", "--seeds", "1", "--epochs", "30",
                "--table", str(table), "--plot", str(tmp_path / "t.png")])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "rank 1 of 2: models 1..0 trained" not in proc.stdout
    assert "rank 1 of 2: no models" in proc.stdout
    assert cli.main(["sweep", "--lrs", "1", "--seeds", "1", "--epochs", "30", "--table", str(tmp_path / "one.csv"),
                     "--plot", str(tmp_path / "one.png")]) == 0
    assert table.read_text() == (tmp_path / "one.csv").read_text()


def test_ranks_given_different_problems_are_refused(tmp_path):
    """Rank 1 is launched with another seed: every rank refuses before training, naming rank 1."""
    proc = run([*TORCHRUN, str(HERE / "dist_worker.py"), str(tmp_path / "r.pt"), "5", "0", str(tmp_path / "s"),
                "seed-by-rank"])
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "ShardFailed: rank 1 failed: was given another problem than rank 0" in log, log[-3000:]
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())  # nothing trained, nothing written


def test_one_process_needs_no_group_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """--out-dir without torchrun: no process group is made, no temporary folder is left."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read anew
    assert cli.main(["sweep", "--lrs", "2", "--seeds", "2", "--epochs", "5", "--out-dir", str(tmp_path / "shards"),
                     "--table", str(tmp_path / "t.csv"), "--plot", str(tmp_path / "t.png")]) == 0
    assert not torch.distributed.is_initialized()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["index.json", "shard-000000000-000000004.pt"]


def test_resume_needs_out_dir(capsys):
    assert cli.main(["sweep", "--resume", "--lrs", "2", "--seeds", "1"]) == 2
    assert "--resume needs --out-dir" in capsys.readouterr().err
