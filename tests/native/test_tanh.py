"""The float32 tanh of the native ops (csrc/elman_math.h), read through the predict op.

With F = H = O = 1, w1 = [[1], [0]] the hidden state is exactly tanh(x_t): the pre-activation is
fma(x, 1, 0) = x, and the context row adds h * 0 = 0. So predict's hidden states are the kernel's
tanh of every x, in the very code the training loop runs (the AVX-512 form where the build has it;
the scalar form, bit for bit the same, elsewhere and on CUDA). Measured against float64 tanh (its
own error, ~1e-16, is far below a float32 ulp). dev/tanh_accuracy.cpp does the exhaustive check
(every float of magnitude 2^-126 .. 10, about three minutes: at most 0.992 ulp, with FMA and
without); here a sample of 6 million floats, every 2^8-th bit pattern plus every float within 2^12
of each of the table's interval edges, and the script itself on every 61st float, built for this CPU
and for the architecture's baseline.
"""

import subprocess
from pathlib import Path

import pytest
import torch

from sinernn import ops
from sinernn._native import build as _native_build

ROOT = Path(__file__).resolve().parents[2]

# the exhaustive measurement gives 0.992 ulp with FMA and without (SINERNN_PORTABLE=1)
MAX_ULP = 1.0


def kernel_tanh(x: torch.Tensor) -> torch.Tensor:
    w1 = torch.tensor([[1.0], [0.0]], dtype=x.dtype)
    w2 = torch.ones(1, 1, dtype=x.dtype)
    return ops.predict(x.reshape(-1, 1), w1, w2)[1].reshape(-1)


def float32_range(lo: float, hi: float, step: int = 1) -> torch.Tensor:
    """Every step-th float32 from lo to hi (both positive), by bit pattern."""
    a = torch.tensor([lo], dtype=torch.float32).view(torch.int32).item()
    b = torch.tensor([hi], dtype=torch.float32).view(torch.int32).item()
    return torch.arange(a, b, step, dtype=torch.int32).view(torch.float32)


def ulp_error(got: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """|got - tanh(x)| in float32 ulps of the correctly rounded tanh(x) (2^-24 at 1)."""
    exact = torch.tanh(x.double())
    r = exact.float().abs()
    ulp = torch.where(r == 1, 2.0**-24, torch.nextafter(r, torch.tensor(2.0)).double() - r.double())
    return (got.double() - exact).abs() / ulp


def interval_edges() -> list[float]:
    """The float32 tanh's interval edges: quarter binades from 0.046875 to 8 (and the clamp, 9.5)."""
    return [e * 2.0**k for k in range(-5, 4) for e in (1.0, 1.25, 1.5, 1.75) if 0.046875 <= e * 2.0**k <= 8] + [9.5]


def around(edge: float, n: int = 2**12) -> torch.Tensor:
    """Every float32 within n bit patterns of edge."""
    b = torch.tensor([edge], dtype=torch.float32).view(torch.int32).item()
    return torch.arange(b - n, b + n, dtype=torch.int32).view(torch.float32)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_float32_tanh_is_within_1_ulp(sign):
    x = torch.cat([float32_range(2.0**-126, 12.0, 256), *(around(e) for e in interval_edges())]) * sign
    err = ulp_error(kernel_tanh(x), x)
    worst = int(err.argmax())
    assert err.max().item() <= MAX_ULP, f"tanh({x[worst].item()!r}): {err[worst].item():.3f} ulp"
    # and it is no rougher than torch's own float tanh on the same inputs by more than a fraction of an ulp
    assert err.mean().item() <= ulp_error(torch.tanh(x), x).mean().item() + 0.25


def test_float32_tanh_edges():
    """Subnormals pass through (tanh(x) = x), and from |x| = 9.01 on tanh rounds to +-1. (The ops
    refuse non-finite inputs; dev/tanh_accuracy.cpp checks +-inf, NaN and -0.)"""
    x = torch.tensor([1e-40, -1e-40, 2.0**-126, 9.0, 9.02, 30.0, -30.0, 3.0e38])
    got = kernel_tanh(x)
    assert torch.equal(got[:3], x[:3])
    assert got[3].item() == torch.tanh(torch.tensor(9.0, dtype=torch.float64)).float().item() < 1.0
    assert got[4:].tolist() == [1.0, 1.0, -1.0, 1.0]


def test_float64_tanh_is_libms():
    x = torch.linspace(-12, 12, 100001, dtype=torch.float64)
    torch.testing.assert_close(kernel_tanh(x), torch.tanh(x), rtol=4e-16, atol=1e-300)


@pytest.mark.skipif(not _native_build.have_compiler(), reason="needs a C++ compiler")
@pytest.mark.parametrize("target", ["this CPU", "baseline"])
def test_tanh_accuracy_script_on_every_61st_float(tmp_path, target):
    """dev/tanh_accuracy.cpp on every 61st float up to 10: within MAX_ULP, odd, the special
    values right, and the array form (AVX-512 where this CPU has it) equal to the scalar form bit
    for bit. Built for this CPU (as the ops are: with FMA here, the scalar form then rounds as CUDA's
    does) and for the architecture's baseline (the scalar form only, no FMA, so each multiply-add
    rounds twice: what SINERNN_PORTABLE=1 builds)."""
    exe = tmp_path / "tanh_accuracy"
    march = ["-march=native"] if target == "this CPU" else []
    build = [_native_build.compiler(), "-std=c++17", "-O2", *march, "-ffp-contract=off", "-fopenmp-simd"]
    subprocess.run([*build, "-I", str(ROOT / "csrc"), str(Path(__file__).resolve().parent / "tanh_accuracy.cpp"), "-o", str(exe)],
                   check=True, timeout=300)
    run = subprocess.run([str(exe), "61", str(MAX_ULP)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "array and scalar forms: same" in run.stdout and "max error" in run.stdout
