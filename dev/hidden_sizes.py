"""Time the whole-loop train op per step for several hidden sizes (F = O = 1, float32, one thread).

Up to H = 16 the native code is compiled for each size (compile-time sizes, `with_sizes` in
csrc/core/config.h); larger H run at run-time sizes. This prints the median time per step of
`torch.ops.sinernn.train` for each H, so the effect of that choice can be seen and compared:

    .venv/bin/python dev/hidden_sizes.py                   # this checkout's build
    .venv/bin/python dev/hidden_sizes.py --library OLD.so  # another build of sinernn._C

With --library, only that shared library is loaded (not the sinernn package), so a build of another
commit can be timed against this one, each in its own process.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch


def time_per_step(H: int, L: int, epochs: int, calls: int) -> float:
    """Median seconds per step of the train op on a sine series of L points, H hidden units."""
    t = torch.arange(L + 1, dtype=torch.float32)
    s = torch.sin(t * 0.1)
    x, y = s[:-1].reshape(L, 1).contiguous(), s[1:].reshape(L, 1).contiguous()
    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(1 + H, H, generator=g) * (0.4 / math.sqrt(max(H, 1) / 6))
    w2 = torch.randn(H, 1, generator=g) * 0.3
    times = []
    for _ in range(calls):
        a, b = w1.clone(), w2.clone()
        start = time.perf_counter()
        torch.ops.sinernn.train(x, y, a, b, epochs, 0.01)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / (L * epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", default="1,2,3,4,5,6,7,8,9,12,15,16,17,24",
                        help="comma-separated hidden sizes (default: 1-9, 12, 15, 16, 17, 24)")
    parser.add_argument("--library", help="time this build of sinernn._C instead of this checkout's")
    parser.add_argument("--steps", type=int, default=1000, help="series length L (default 1000)")
    parser.add_argument("--calls", type=int, default=21, help="timed calls per size (default 21)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(h) for h in args.hidden.split(",")]
    except ValueError:
        parser.error(f"--hidden must be comma-separated integers, got {args.hidden!r}")
    if any(h < 1 for h in sizes) or args.steps < 1 or args.calls < 1:
        parser.error("--hidden sizes, --steps and --calls must be >= 1")
    if args.library:
        torch.ops.load_library(args.library)
    else:
        import sinernn

        sinernn.load_native()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        epochs = 5
        print(f"train op, F = O = 1, L = {args.steps}, {epochs} epochs a call, median of {args.calls} calls, "
              f"float32, one thread ({args.library or 'this checkout'})")
        for h in sizes:
            print(f"H = {h:3d}: {time_per_step(h, args.steps, epochs, args.calls) * 1e9:7.1f} ns a step")
    finally:
        torch.set_num_threads(threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
