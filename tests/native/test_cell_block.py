"""The batched cell's one-launch CUDA kernels, checked without a GPU: cell_block_check.cpp compiles
their body (csrc/core/cell_block.h: the phases between the kernels' barriers) for the CPU,
runs it block by block, each phase on every thread before the next, and compares it with the CPU
loops (csrc/core/cell_loops.h): hidden states, predictions and the gradients of x and h0 bit for
bit, weight and bias gradients within their summation-order rounding; float32 and float64, batches
of 1, a partial block and several blocks, biases and either gradient on or off. Built twice: as the
GPU rounds (FMA), and with AddressSanitizer + UBSan. Each block's shared memory is a buffer of
exactly the kernels' size, filled with NaN: an index past it fails under AddressSanitizer, a read of
an entry never written spreads NaN into a compared value."""

import os
import subprocess
from pathlib import Path

import pytest

from sinernn._native import build as native

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.mark.skipif(not native.have_compiler(), reason="no C++ compiler")
@pytest.mark.parametrize("sanitize", [False, True], ids=["fma", "asan-ubsan"])
def test_the_cuda_cell_kernels_body_equals_the_cpu_loops(tmp_path, sanitize):
    exe = tmp_path / "cell_block_check"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if sanitize else ["-O2"]
    build = [native.compiler(), *flags, "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp-simd",
             "-std=c++17", "-I", str(ROOT / "csrc"), str(HERE / "cell_block_check.cpp"), "-o", str(exe)]
    subprocess.run(build, check=True, capture_output=True, text=True, timeout=600)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    env.pop("LD_PRELOAD", None)  # scripts/sanitize.sh preloads the runtimes into Python, not into this binary
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("OK: 0 of ") and int(last.split()[3]) >= 1000, last
