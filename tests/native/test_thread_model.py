"""The batched CUDA kernel's arithmetic, checked without a GPU: thread_model_check.cpp compiles
the kernel's body (thread_train_model, csrc/core/thread_model.h: interleaved storage, registers at
compile-time sizes, the epoch-start copy in the output buffer) for the CPU and runs it model by model against the
single-model op's run (elman_train_epochs), model by model, bit for bit: weights, losses, where each
model diverged; float32 and float64, compile-time and run-time sizes, shared and per-model series."""

import subprocess
from pathlib import Path

import pytest

from sinernn._native import build as native

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.mark.skipif(not native.have_compiler(), reason="no C++ compiler")
def test_the_cuda_kernels_body_equals_the_single_model_op_bit_for_bit(tmp_path):
    exe = tmp_path / "thread_model_check"
    build = [native.compiler(), "-O2", "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-std=c++17",
             "-I", str(ROOT / "csrc"), str(HERE / "thread_model_check.cpp"), "-o", str(exe)]
    subprocess.run(build, check=True, capture_output=True, text=True, timeout=600)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("OK: 0 of ") and int(last.split()[3]) >= 3000, last
    assert "compile-time float32 F=1 H=6 O=1" in out.stdout and "run-time float64 F=1 H=32 O=1" in out.stdout
    tutorial = [line for line in out.stdout.splitlines() if line.startswith("compile-time float32 F=1 H=6 O=1 N=40")]
    assert tutorial and all(int(line.split(": ")[1].split()[0]) > 0 for line in tutorial)  # divergence is checked too
