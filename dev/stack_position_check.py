"""Does the tutorial step's speed depend on where the stack lies when the op is called?

It does, by 2x, in a GCC build without `--param vect-epilogues-nomask=0` (docs/performance.md, "The
whole-loop op as the network grows"): half-filled vectors hold stack garbage, and a denormal there
makes the step take microcode assists. This runs the whole-loop op on the tutorial's problem at several C-stack depths (each
level nests one more C call, map + list, between this script and the op) and prints the median time
per step at each. A healthy build shows one level throughout; two clusters about 2x apart are the
old problem back (a new compiler, new flags).

    .venv/bin/python dev/stack_position_check.py [--depths 24] [--calls 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import sinernn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", type=int, default=24, help="how many stack depths to try (default 24)")
    parser.add_argument("--calls", type=int, default=60, help="timed op calls per depth (default 60)")
    args = parser.parse_args(argv)
    if args.depths < 1 or args.calls < 1:
        parser.error("--depths and --calls must be >= 1")
    sinernn.load_native()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _report(args)
    finally:
        torch.set_num_threads(threads)


def _report(args: argparse.Namespace) -> int:
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(1, 6, 1, seed=0)
    op = torch.ops.sinernn.train_guarded.default
    steps = x.shape[0] * 300

    def timed(_=None) -> float:
        times = []
        for _ in range(args.calls):
            a, b = w1.clone(), w2.clone()
            start = time.perf_counter()
            op(x, y, a, b, 300, 0.1)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e9 / steps

    def nested(depth: int) -> float:  # one more C frame per level between here and the op
        return timed() if depth == 0 else list(map(lambda _: nested(depth - 1), [0]))[0]

    per_depth = [nested(d) for d in range(args.depths)]
    print("ns per step, tutorial problem, whole-loop op, by C-stack depth:")
    print(" ".join(f"{v:.0f}" for v in per_depth))
    lo, hi = min(per_depth), max(per_depth)
    print(f"min {lo:.1f}  median {statistics.median(per_depth):.1f}  max {hi:.1f}  max/min {hi / lo:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
