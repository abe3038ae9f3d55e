"""Fit the float32 tanh table of csrc/core/tanh_table.h (kTanhTable) and print it as C++.

tanh(|x|) on 32 intervals of |x|, read off the float's bits: bits >> 21 is the exponent and the
two leading mantissa bits, so the intervals are quarters of binades, [0.047, 0.055), ... [1, 1.25),
... [8, 10); the codes are clamped to the 32 from 0.0390625 to 9.5, so interval 0 takes all of
[0, 0.047) and the last [8, 9.5] (|x| is clamped at 9.5: from 9.01 on tanh rounds to 1). A code's
table slot is its low five bits (what one AVX-512 two-table permute reads).

On each interval tanh(|x|) = c0 + t * q(t), t = |x| - m, q of degree 4 (evaluated as in
elman_tanh). m is a float near the interval's middle whose tanh lies within a small fraction of an
ulp of a float (that float is c0), and m/2 <= |x| <= 2m on the interval, so t is exact. Interval 0
is the odd series: m = 0, c0 = 0, c1 = 1, c2 = c4 = 0. The other coefficients are fitted one at a
time for least maximum relative error (Lawson's iteration on weighted least squares over Chebyshev
nodes), each rounded to float32 before the next is fitted around it.

    python dev/fit_tanh.py            # the table, as pasted into csrc/core/tanh_table.h
    python dev/fit_tanh.py --report   # also each interval's fit, on stderr

The accuracy of the result is measured, not assumed: dev/tanh_accuracy.cpp checks the header's
tanh against tanhl over every float up to 10. Needs numpy.
"""

import argparse
import struct
import sys

import numpy as np

HI = 9.5  # |x| is clamped here
DEGREE = 5  # of c0 + t q(t)


def bits(f: float) -> int:
    return struct.unpack("<I", struct.pack("<f", f))[0]


def from_bits(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def f32(v: float) -> float:
    return float(np.float32(v))


def ulps_from_float(v: float) -> float:
    """How far v lies from the nearest float32, in float32 ulps there."""
    return abs(v - f32(v)) / float(np.spacing(np.float32(abs(v))))


def lawson(A: np.ndarray, y: np.ndarray, w: np.ndarray, iterations: int = 80) -> np.ndarray:
    """Coefficients c minimising max |A c - y| * w (approximately: Lawson's reweighting)."""
    weights = np.full(len(y), 1.0 / len(y))
    for _ in range(iterations):
        W = (w * np.sqrt(weights))[:, None]
        c, *_ = np.linalg.lstsq(A * W, y * W[:, 0], rcond=None)
        r = np.abs(A @ c - y) * w
        weights = weights * (r + 1e-300)
        weights /= weights.sum()
    return c


def fit_interval(i: int, a: float, b: float) -> tuple[float, list[float], float]:
    """(m, [c0..c5], max relative error of the rounded polynomial in exact arithmetic)."""
    n = 3000
    xs = (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    xs = np.concatenate([xs, [max(a, 1e-30), b]])
    y = np.tanh(xs)
    w = 1 / np.abs(y)
    if i == 0:
        m, coefs = 0.0, {0: 0.0, 1: 1.0, 2: 0.0, 4: 0.0}
    else:
        mid = bits(f32((a + b) / 2))
        m = from_bits(min(range(mid - 20000, mid + 20001, 7), key=lambda c: ulps_from_float(np.tanh(from_bits(c)))))
        assert b <= 2 * m and a >= m / 2, "t = |x| - m must be exact"
        coefs = {0: f32(np.tanh(m))}
    t = xs - m
    for k in range(DEGREE + 1):
        if k in coefs:
            continue
        free = [j for j in range(DEGREE + 1) if j not in coefs]
        fixed = sum(coefs[j] * t**j for j in coefs)
        coefs[k] = f32(lawson(np.stack([t**j for j in free], 1), y - fixed, w)[0])
    p = sum(coefs[j] * t**j for j in range(DEGREE + 1))
    return m, [coefs[k] for k in range(DEGREE + 1)], float(np.max(np.abs(p - y) * w))


def literal(v: float) -> str:
    if v == 0:
        return "0.0f"
    s = f"{np.float32(v).item():.9g}"
    return (s if any(ch in s for ch in ".e") else s + ".0") + "f"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="each interval's fit on stderr")
    args = parser.parse_args()
    top = bits(HI) >> 21
    columns = {name: [0.0] * 32 for name in ("m", "c0", "c1", "c2", "c3", "c4", "c5")}
    worst = 0.0
    for i, code in enumerate(range(top - 31, top + 1)):
        a, b = from_bits(code << 21), min(from_bits((code + 1) << 21), HI)
        if i == 0:
            a = 0.0
        m, c, err = fit_interval(i, a, b)
        worst = max(worst, err)
        slot = code & 31
        columns["m"][slot] = m
        for k in range(DEGREE + 1):
            columns[f"c{k}"][slot] = c[k]
        if args.report:
            print(f"{i:2d} [{a:.6g}, {b:.6g}) m={m!r} fit {err / 2**-24:.3f} x 2^-24", file=sys.stderr)
    if args.report:
        print(f"largest relative error of the fits: {worst / 2**-24:.3f} x 2^-24", file=sys.stderr)
    for name, values in columns.items():  # a macro's lines, six slots to a line
        lines = [", ".join(literal(v) for v in values[k : k + 6]) for k in range(0, 32, 6)]
        print(f"    {{/* {name} */ \\")
        print(", \\\n".join(f"     {line}" for line in lines) + "}, \\")
    return 0


if __name__ == "__main__":
    sys.exit(main())
