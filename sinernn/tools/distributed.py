"""Many-model training sharded over torch.distributed (one process a rank, launched by torchrun).

    torchrun --nproc-per-node 2 -m sinernn sweep --out-dir sweep-shards      # one machine
    torchrun --nnodes 2 --node-rank R --rdzv-endpoint HOST:PORT --nproc-per-node 8 -m sinernn sweep ...

Each rank trains a contiguous shard of the N models (and of their series when each model has its
own) with train_many on its device (its GPU when it has one, else the CPU with its share of the
threads), then the shards are gathered to rank 0 in rank order. Models are independent and the
batched op trains each exactly as it would alone, so the result equals train_many in one process
bit for bit (same backend).

Before training, the ranks compare a digest of the problem (series, weights, learning rates, epochs):
ranks launched with different arguments raise ShardFailed instead of stitching two problems together.
With ``out_dir`` every rank first writes its shard to ``out_dir/shard-START-STOP.pt`` (whole or not
at all), and rank 0 writes ``index.json``; ``resume=True`` loads a rank's shard from its file instead
of training it when the file is there and was made for the same problem. A rank that raises reports
it to the others and every rank raises ShardFailed naming it; a rank that dies is named by rank 0's
monitored barrier (gloo) within ``timeout``; torchrun then stops the rest. A rank with no models
(more ranks than models) trains nothing and joins the gather with an empty shard.

Without a process group (one process, no torchrun) train_sharded runs as the only rank: no group,
no store, no sockets.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor

from .._atomic import write_atomic, write_text_atomic
from .._native import ops
from ..engine import checks
from ..engine.many import ManyResult, train_many


class ShardFailed(RuntimeError):
    """A rank's shard could not be trained; ``ranks`` maps each failed rank to its message."""

    def __init__(self, ranks: dict[int, str]):
        self.ranks = ranks  # -1: a rank that could not be told
        super().__init__("; ".join(f"rank {r} failed: {msg}" if r >= 0 else msg for r, msg in sorted(ranks.items())))


def shard_range(n_models: int, world: int, rank: int) -> tuple[int, int]:
    """Rank's contiguous share [start, stop) of n_models: the first n_models % world ranks get one more."""
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in 0..{world - 1}, got {rank}")
    base, extra = divmod(n_models, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def default_backend() -> str:
    """nccl when this process has a GPU and sinernn's CUDA kernels, else gloo."""
    return "nccl" if torch.cuda.is_available() and ops.available() and ops.cuda_built() else "gloo"


def init_from_env(backend: str = "auto", timeout_s: float = 1800.0) -> None:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)."""
    if dist.is_initialized():
        return
    backend = default_backend() if backend == "auto" else backend
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))


def init_single() -> None:
    """A process group of one (gloo, an in-memory store: no file, no socket). train_sharded needs
    none (without a group it runs as the only rank); this is for code that wants a group anyway."""
    if not dist.is_initialized():
        dist.init_process_group("gloo", store=dist.HashStore(), world_size=1, rank=0)


def launched() -> bool:
    """Whether this process is one rank of several (started by torchrun or the like)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank_threads() -> int:
    """This rank's share of the machine's cores: cores // ranks on this machine (at least 1)."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // local)


@dataclass
class ShardInfo:
    rank: int
    start: int
    stop: int
    loaded: bool  # from its shard file (resume), not trained


def problem_digest(x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: Tensor) -> str:
    """sha256 of everything that decides the result: a shard file is reused only for the same problem."""
    h = hashlib.sha256()
    for t in (x, y, w1, w2, lr):
        t = t.detach().cpu().contiguous()
        h.update(str((t.dtype, tuple(t.shape))).encode())
        h.update(t.numpy().tobytes())
    h.update(str(epochs).encode())
    return h.hexdigest()


def _shard_path(out_dir: Path, start: int, stop: int) -> Path:
    return out_dir / f"shard-{start:09d}-{stop:09d}.pt"


def _write_shard(shard: dict, path: Path) -> None:
    """A shard's file, whole or not at all (tests replace this to kill a rank before it writes)."""
    write_atomic(path, lambda f: torch.save(shard, f))


def _load_shard(path: Path, digest: str) -> dict | None:
    try:
        shard = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError):  # absent, or a torn file from another writer
        return None
    return shard if shard.get("digest") == digest else None


def train_sharded(
    x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, epochs: int, lr: float | Tensor = 0.1, *,
    device: str | torch.device | None = None, out_dir: str | os.PathLike | None = None, resume: bool = False,
    timeout_s: float = 1800.0,
) -> tuple[ManyResult | None, ShardInfo]:
    """train_many over the ranks of the default process group (every rank passes the same full
    problem), or as the only rank when there is no group. Rank 0 gets the full ManyResult and w1, w2
    updated in place; other ranks get None (their w1, w2 are left as they were). ``device``: this
    rank's (default: cuda:LOCAL_RANK under nccl, else the CPU). Raises ShardFailed naming the ranks
    that failed, or that were given another problem than rank 0."""
    grouped = dist.is_initialized()
    world, rank = (dist.get_world_size(), dist.get_rank()) if grouped else (1, 0)
    checks.check_models(x, y, w1, w2)  # every rank alike, before any collective
    epochs = checks.check_epochs(epochs)
    N = w1.shape[0]
    start, stop = shard_range(N, world, rank)
    if device is None:
        device = f"cuda:{torch.cuda.current_device()}" if grouped and dist.get_backend() == "nccl" else "cpu"
    lrs = checks.check_lrs(lr, N)
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ValueError("resume needs out_dir: the shards are resumed from their files")
    digest = problem_digest(x, y, w1, w2, epochs, lrs)
    # collectives of python objects go through gloo (a side group under nccl); made by every rank alike
    side = dist.new_group(backend="gloo") if grouped and world > 1 and dist.get_backend() != "gloo" else None
    if world > 1:
        _barrier(side, timeout_s, "did not reach the start: it died or hung")
        digests: list = [None] * world
        dist.all_gather_object(digests, digest, group=side)
        other = {r: d for r, d in enumerate(digests) if d != digests[0]}
        if other:
            raise ShardFailed({r: f"was given another problem than rank 0 (digest {d[:12]} against {digests[0][:12]}): "
                                  "every rank must be launched with the same arguments" for r, d in other.items()})
    shard, error, loaded = None, None, False
    try:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            if resume:
                shard = _load_shard(_shard_path(out, start, stop), digest)
                loaded = shard is not None
        if shard is None:
            shard = _train_shard(x, y, w1, w2, epochs, lrs, start, stop, device)
            shard["digest"] = digest
            if out is not None:
                _write_shard(shard, _shard_path(out, start, stop))
    except Exception as exc:  # noqa: BLE001  reported to every rank below, then raised there
        if world == 1:
            raise
        error = f"{type(exc).__name__}: {exc}"
    info = ShardInfo(rank, start, stop, loaded)
    if world == 1:
        shards = [shard]
    else:
        shards = _gather(shard, error, world, rank, side, timeout_s)
        if rank != 0:
            return None, info
    with torch.no_grad():
        for s in shards:
            w1[s["start"]:s["stop"]].copy_(s["w1"])
            w2[s["start"]:s["stop"]].copy_(s["w2"])
    losses = torch.cat([s["losses"] for s in shards])
    diverged = torch.cat([s["diverged"] for s in shards])
    if out is not None:
        index = {"models": N, "world_size": world, "digest": digest, "epochs": epochs,
                 "shards": [{"rank": r, "start": s["start"], "stop": s["stop"], "file": _shard_path(out, s["start"], s["stop"]).name,
                             "seconds": s["seconds"], "backend": s["backend"]} for r, s in enumerate(shards)]}
        write_text_atomic(out / "index.json", json.dumps(index, indent=2) + "\n")
    seconds = max(s["seconds"] for s in shards)
    return ManyResult(losses=losses, diverged=diverged, backend=shards[0]["backend"], seconds=seconds, epochs=epochs,
                      seq_length=x.shape[-2]), info


def _train_shard(x, y, w1, w2, epochs: int, lrs: Tensor, start: int, stop: int, device) -> dict:
    """Models start..stop-1 trained on ``device``: the shard's dict (CPU tensors). No models (a rank
    beyond the model count): empty tensors of the right shapes, nothing trained."""
    if start == stop:
        return {"start": start, "stop": stop, "losses": x.new_empty((0, epochs)).cpu(),
                "diverged": torch.empty((0, 2), dtype=torch.int64), "w1": w1[0:0].detach().cpu().clone(),
                "w2": w2[0:0].detach().cpu().clone(), "seconds": 0.0, "backend": "none"}
    sx, sy = (x[start:stop], y[start:stop]) if x.dim() == 3 else (x, y)
    s1, s2 = w1[start:stop].detach().clone().to(device), w2[start:stop].detach().clone().to(device)
    res = train_many(sx.to(device), sy.to(device), s1, s2, epochs, lrs[start:stop], backend="auto")
    return {"start": start, "stop": stop, "losses": res.losses.cpu(), "diverged": res.diverged.cpu(),
            "w1": s1.cpu(), "w2": s2.cpu(), "seconds": res.seconds, "backend": res.backend}


def _barrier(side, timeout_s: float, why: str) -> None:
    """Wait for every rank, at most ``timeout_s``; a rank that died or hangs never arrives, and rank
    0's monitored barrier (gloo; a side group under nccl) names it: ShardFailed."""
    try:
        dist.monitored_barrier(group=side, timeout=datetime.timedelta(seconds=timeout_s), wait_all_ranks=True)
    except RuntimeError as exc:  # on rank 0: gloo names the ranks that did not arrive
        found = re.search(r"Ranks? ([\d, ]+) failed to pass monitoredBarrier", str(exc))
        missing = [int(r) for r in found[1].replace(",", " ").split()] if found else []
        raise ShardFailed({r: why for r in missing} or {-1: f"{why}: {exc}"}) from None


def _gather(shard: dict | None, error: str | None, world: int, rank: int, side, timeout_s: float) -> list | None:
    """Every rank's shard on rank 0, in rank order (None elsewhere), once every rank got this far
    without an error; else ShardFailed on every rank, naming the ranks that failed or never came."""
    _barrier(side, timeout_s, "did not reach the gather: it died or hung")
    statuses: list = [None] * world
    dist.all_gather_object(statuses, error, group=side)
    failed = {r: msg for r, msg in enumerate(statuses) if msg is not None}
    if failed:
        raise ShardFailed(failed)
    shards: list | None = [None] * world if rank == 0 else None
    dist.gather_object(shard, shards, dst=0, group=side)
    return shards


def sweep_sharded(spec, *, device: str | None = None, out_dir: str | os.PathLike | None = None, resume: bool = False,
                  dist_backend: str = "auto", timeout_s: float = 1800.0, threads: int | None = None):
    """``sinernn sweep`` over the ranks (or one process keeping shard files): join torchrun's
    process group (none for one process), train this rank's shard of ``spec`` (a SweepSpec) on
    ``threads`` (default: this rank's share of the cores), print what this rank did, leave the group.
    -> (the Sweep on rank 0, None elsewhere; where it ran, for the log)."""
    from .sweep import Sweep

    grouped = launched()
    if grouped:
        init_from_env(dist_backend, timeout_s)
    rank, world = (dist.get_rank(), dist.get_world_size()) if grouped else (0, 1)
    torch.set_num_threads(threads or rank_threads())
    x, y, w1, w2, lr = spec.models()
    try:
        res, info = train_sharded(x, y, w1, w2, spec.epochs, lr, device=device, out_dir=out_dir, resume=resume,
                                  timeout_s=timeout_s)
    finally:
        if grouped:
            dist.destroy_process_group()
    did = ("no models (more ranks than models)" if info.start == info.stop else
           f"models {info.start}..{info.stop - 1} {'loaded from its shard file' if info.loaded else 'trained'}")
    print(f"rank {rank} of {world}: {did} ({torch.get_num_threads()} threads)", flush=True)
    return (Sweep(spec, res) if rank == 0 else None), f"{world} ranks"
