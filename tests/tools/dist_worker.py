"""One rank of tests/tools/test_distributed.py, launched by torchrun: trains the test problem sharded and,
on rank 0, saves what it got. argv: OUT_FILE N PER_MODEL(0|1) [OUT_DIR [hang-rank-1 | seed-by-rank]]
(hang-rank-1: rank 1 sleeps 30 s before training, against a 4 s timeout; seed-by-rank: each rank draws
its weights with its own seed, as a launch typed per node with another --seed would)."""

import sys
import time

import torch

from sinernn.tools import distributed
from test_distributed import problem  # noqa: E402  (tests/ is on sys.path: the script's folder)

out_file, n, per_model = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
out_dir = sys.argv[4] if len(sys.argv) > 4 else None
hang = len(sys.argv) > 5 and sys.argv[5] == "hang-rank-1"
seed_by_rank = len(sys.argv) > 5 and sys.argv[5] == "seed-by-rank"
distributed.init_from_env("gloo", timeout_s=120)
if hang and distributed.dist.get_rank() == 1:
    time.sleep(30)
torch.set_num_threads(1)
x, y, w1, w2, lr = problem(n, per_model)
if seed_by_rank:
    w1 = w1 + distributed.dist.get_rank()
res, info = distributed.train_sharded(x, y, w1, w2, 9, lr, out_dir=out_dir, timeout_s=4 if hang else 120)
if info.rank == 0:
    torch.save({"losses": res.losses, "diverged": res.diverged, "w1": w1, "w2": w2}, out_file)
distributed.dist.destroy_process_group()
