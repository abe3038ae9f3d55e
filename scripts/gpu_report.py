"""The GPU half of scripts/gpu_check.sh: benchmark train_many on the GPU against the CPU and write
the JSON report. Run after the extension is built with CUDA kernels and the tests have run.

    python scripts/gpu_report.py --json OUT.json [--tests-rc N --build-rc N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

import sinernn
from sinernn import benchmarking as bm

FLOPS = bm.flops_per_step(1, 6, 1)  # per model-step of the tutorial's network (273)


def gpu_fp32_peak_gflops() -> tuple[float | None, str]:
    """Nominal FP32 peak: SMs x 128 FP32 lanes x 2 (FMA) x clock. The clock comes from
    torch.cuda.clock_rate() when NVML answers; else Hopper's 1.98 GHz boost, said so."""
    props = torch.cuda.get_device_properties(0)
    try:
        mhz, how = float(torch.cuda.clock_rate()), "torch.cuda.clock_rate() (NVML)"
    except Exception:  # noqa: BLE001  NVML may be missing
        mhz, how = 1980.0, "assumed 1980 MHz (H100/H200 boost)"
    return props.multi_processor_count * 128 * 2 * mhz * 1e6 / 1e9, f"{props.multi_processor_count} SMs x 128 x 2 x {mhz:.0f} MHz, {how}"


def median_rate(n_models: int, epochs: int, device: str, rounds: int) -> float:
    times = bm.time_many(n_models, epochs, rounds, device)
    return n_models * epochs * 20 / statistics.median(times[1:] if len(times) > 1 else times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--build-rc", type=int, default=None)
    ap.add_argument("--tests-rc", type=int, default=None)
    ap.add_argument("--tests-summary", default=None)
    args = ap.parse_args()
    report: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__, "torch_cuda": torch.version.cuda, "python": platform.python_version(),
        "cuda_available": torch.cuda.is_available(), "build_rc": args.build_rc, "tests_rc": args.tests_rc,
        "tests_summary": args.tests_summary, "flops_per_model_step": FLOPS,
    }
    try:
        report["native_ops"] = sinernn.load_native()
        report["cuda_built"] = sinernn.cuda_built()
    except RuntimeError as exc:
        report["native_ops"] = f"unavailable: {exc}"
        report["cuda_built"] = False
    if torch.cuda.is_available() and report["cuda_built"]:
        report["gpu"] = torch.cuda.get_device_name(0)
        peak, how = gpu_fp32_peak_gflops()
        report["gpu_fp32_peak_gflops"], report["gpu_fp32_peak_how"] = peak, how
        # same inputs on both devices: float32 bit for bit, float64 within 1e-12 (tests/test_cuda.py)
        x, y, w1, w2, lr = bm.many_problem(1000)
        a1, a2 = w1.cuda(), w2.cuda()
        cpu = sinernn.train_many(x, y, w1, w2, 50, lr)
        gpu = sinernn.train_many(x.cuda(), y.cuda(), a1, a2, 50, lr)
        report["float32_cuda_equals_cpu_bitwise"] = bool(torch.equal(a1.cpu(), w1) and torch.equal(gpu.losses.cpu(), cpu.losses))
        report["float32_max_abs_weight_diff"] = float((a1.cpu() - w1).abs().max())
        rows = []
        for n in (4096, 65536, 1 << 20):
            rate = median_rate(n, 50 if n < (1 << 20) else 10, "cuda", 4)
            rows.append({"models": n, "model_steps_per_second": rate, "gflops": rate * FLOPS / 1e9,
                         "share_of_fp32_peak": rate * FLOPS / 1e9 / peak})
            print(f"GPU N={n}: {rate:,.0f} model-steps/s, {rate * FLOPS / 1e9:.1f} GFLOP/s, {rate * FLOPS / 1e9 / peak:.2%} of FP32 peak", flush=True)
        report["gpu_train_many"] = rows
    torch.set_num_threads(os.cpu_count() or 1)
    cpu_rate = median_rate(4096, 20, "cpu", 4)
    report["cpu"] = {"threads": torch.get_num_threads(), "model_steps_per_second_N4096": cpu_rate}
    print(f"CPU N=4096, {torch.get_num_threads()} threads: {cpu_rate:,.0f} model-steps/s", flush=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
