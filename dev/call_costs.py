"""The per-call costs behind the Python layer's choices (docs/performance.md, "Figures behind the
code"): each pair is timed in one process, interleaved, median of repeats, microseconds a call.

    .venv/bin/python dev/call_costs.py
"""

from __future__ import annotations

import _signal
import argparse
import contextlib
import platform
import signal
import statistics
import timeit

import torch

from sinernn._native import ops
from sinernn.data import init_weights, sine_data


def host() -> str:
    """The CPU's model name (the machines' host CPU varies; every figure names it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def per_call_us(fn, number: int, repeat: int) -> tuple[float, float, float]:
    """(median, min, max) of `repeat` timings of `number` calls, in microseconds a call."""
    times = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return statistics.median(times), min(times), max(times)


class _Cls:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@contextlib.contextmanager
def _gen():
    yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls a timing (default 2000)")
    parser.add_argument("--repeats", type=int, default=15, help="timings a figure, median taken (default 15)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.repeats < 1:
        parser.error("--calls and --repeats must be at least 1")
    ops.load()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _report(args.calls, args.repeats)
    finally:
        torch.set_num_threads(threads)
    return 0


def _report(calls: int, repeats: int) -> None:
    x, y = sine_data(dtype=torch.float32)
    w1, w2 = init_weights(dtype=torch.float32)
    h = torch.zeros(w2.shape[0])
    x0, y0 = x[0].contiguous(), y[0].contiguous()
    small = torch.randn(100)
    session = ops.StepSession(x, y, w1, w2, 1e-3)
    step = ops.op("step")
    train = ops.op("train")

    def py_signal():
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def c_signal():
        _signal.signal(signal.SIGINT, signal.default_int_handler)

    def with_cls():
        with _Cls():
            pass

    def with_gen():
        with _gen():
            pass

    def with_no_grad():
        with torch.no_grad():
            pass

    pairs = [
        ("finite check, 100 values", "torch.isfinite(t).all()", lambda: bool(torch.isfinite(small).all()),
         "native _all_finite", lambda: ops.all_finite(small)),
        ("SIGINT handler set", "signal.signal", py_signal, "_signal.signal", c_signal),
        ("context manager", "contextlib generator", with_gen, "class", with_cls),
        ("one fused step", "dispatcher op", lambda: step(x0, y0, h, w1, w2, 0.0),
         "direct binding", lambda: session.step(session.capsule, 0)),
        ("no autograd", "torch.no_grad()", with_no_grad, "nothing", lambda: None),
        ("tensor facts", "t.device", lambda: small.device, "t.untyped_storage()", lambda: small.untyped_storage()),
        ("whole-loop op, 0 epochs", "train op call", lambda: train(x, y, w1, w2, 0, 0.0), "nothing", lambda: None),
    ]
    print(f"host: {host()}, torch {torch.__version__}, one thread")
    print(f"{'what':26} {'first':26} {'us (min-max)':>18}   {'second':22} {'us (min-max)':>18}")
    for what, a_name, a, b_name, b in pairs:
        ra, rb = per_call_us(a, calls, repeats), per_call_us(b, calls, repeats)
        print(f"{what:26} {a_name:26} {ra[0]:7.2f} ({ra[1]:.2f}-{ra[2]:.2f})   {b_name:22} {rb[0]:7.2f} ({rb[1]:.2f}-{rb[2]:.2f})")


if __name__ == "__main__":
    raise SystemExit(main())
