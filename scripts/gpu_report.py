"""The benchmark half of scripts/gpu_check.sh: train_many on the GPU, float32, for N = 4,096, 65,536
and 1,048,576 models of the tutorial's size (H = 6) and of H = 32; model-steps per second, the share
of the card's FP32 peak, and the ratio to the CPU op on 2 threads (measured here, on this machine's
CPU); the batched cell against cuDNN's nn.RNN; one JSON report. Run after the extension is built
with CUDA kernels.

    python scripts/gpu_report.py --json OUT.json [--build-rc N --tests-rc N --tests-summary TEXT]

Each figure is the median of timed calls of the op (the model data already on the device, a
synchronize before and after each call: the call's whole time, its checks and the layout transposes
included). The FP32 peak is SMs x 128 lanes x 2 flops x the maximum SM clock (NVML), and, where
torch's jiterator compiles it, also measured by a kernel of independent FMA chains.
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
from sinernn import ops
from sinernn._native import ops as native_ops
from sinernn.tools import benchmarking as bm

SIZES = (6, 32)
MODELS = (4096, 65536, 1 << 20)
L = 20
TARGET_MODEL_STEPS = {6: 4e9, 32: 2e8}  # per timed call: long enough to time, short enough for 8 minutes


def nominal_peak_gflops() -> tuple[float | None, str]:
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        mhz = float(pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM))
        how = "NVML maximum SM clock"
    except Exception as exc:  # noqa: BLE001  NVML may be missing
        return None, f"no NVML ({type(exc).__name__}: {exc})"
    return sms * 128 * 2 * mhz * 1e6 / 1e9, f"{sms} SMs x 128 FP32 lanes x 2 x {mhz:.0f} MHz ({how})"


FMA_LOOP = """
template <typename T> T fma_loop(T x) {
  T a0 = x, a1 = x + T(1), a2 = x + T(2), a3 = x + T(3), a4 = x + T(4), a5 = x + T(5), a6 = x + T(6), a7 = x + T(7);
  const T b = T(0.999999), c = T(1e-7);
  for (int i = 0; i < 2048; ++i) {
    a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c;
    a4 = a4 * b + c; a5 = a5 * b + c; a6 = a6 * b + c; a7 = a7 * b + c;
  }
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
"""


def measured_peak_gflops() -> tuple[float | None, str]:
    """Independent FMA chains in every thread of a large elementwise launch (torch's jiterator)."""
    try:
        fn = torch.cuda.jiterator._create_jit_fn(FMA_LOOP)
        x = torch.rand(132 * 2048 * 16, device="cuda")
        fn(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn(x)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        flops = x.numel() * 2048 * 8 * 2
        return flops / min(times) / 1e9, "jiterator kernel: 8 independent FMA chains a thread, best of 5"
    except Exception as exc:  # noqa: BLE001
        return None, f"not measured ({type(exc).__name__}: {exc})"


def problem(n: int, H: int, device: str):
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(2, 10, L + 1, dtype=torch.float64).sin().float()
    x, y = t[:-1, None].contiguous(), t[1:, None].contiguous()
    w1 = torch.randn(n, 1 + H, H, generator=g) * (0.4 if H <= 8 else 0.4 / (H / 8) ** 0.5)  # contractive at H = 32
    w2 = torch.randn(n, H, 1, generator=g) * 0.3
    lr = torch.full((n,), 0.05, dtype=torch.float64)
    return x.to(device), y.to(device), w1.to(device), w2.to(device), lr


def rate(n: int, H: int, device: str, rounds: int = 3) -> tuple[float, int]:
    """Median model-steps per second of ops.train_many, and the epochs a call ran."""
    x, y, w1, w2, lr = problem(n, H, device)
    epochs = max(1, int(TARGET_MODEL_STEPS[H] / (n * L)) if device == "cuda" else int(2e7 / (n * L)) or 1)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    ops.train_many(x, y, w1.clone(), w2.clone(), 1, lr)  # warm-up
    times = []
    for _ in range(rounds):
        a, b = w1.clone(), w2.clone()
        sync()
        start = time.perf_counter()
        ops.train_many(x, y, a, b, epochs, lr)
        sync()
        times.append(time.perf_counter() - start)
    return n * epochs * L / statistics.median(times), epochs


def bitwise_check() -> dict:
    """1000 tutorial models, 50 epochs, lr up to ~30 (some diverge): CUDA and CPU outputs, every one."""
    x, y, w1, w2, lr = bm.many_problem(1000)
    lr = torch.logspace(-3, 1.5, 1000, dtype=torch.float64)
    a1, a2 = w1.cuda(), w2.cuda()
    cpu = sinernn.train_many(x, y, w1, w2, 50, lr)
    gpu = sinernn.train_many(x.cuda(), y.cuda(), a1, a2, 50, lr)
    same = {
        "w1": torch.equal(a1.cpu(), w1), "w2": torch.equal(a2.cpu(), w2),
        "losses": torch.equal(gpu.losses.cpu().nan_to_num(), cpu.losses.nan_to_num()),
        "diverged": torch.equal(gpu.diverged.cpu(), cpu.diverged),
    }
    return {"float32_cuda_equals_cpu_bitwise": all(same.values()), "equal_outputs": same,
            "models_diverged": int((cpu.diverged[:, 0] >= 0).sum()),
            "cpu_fused_fma": native_ops.cpu_fused_fma()}


def cell_against_cudnn() -> list[dict]:
    """The batched cell (sinernn.nn.ElmanRNN on CUDA: one launch each way for H <= 32, else cuBLAS a
    step) against cuDNN's nn.RNN + nn.Linear, forward + backward over L = 100, float32, medians of 20
    synchronized calls."""
    from sinernn.nn import ElmanRNN

    rows = []
    for B, H in ((32, 6), (1024, 32), (64, 64), (64, 256), (1024, 256)):
        torch.manual_seed(0)
        rnn, linear = torch.nn.RNN(1, H, bias=False).cuda(), torch.nn.Linear(H, 1, bias=False).cuda()
        model = ElmanRNN.from_torch(rnn, linear)
        x, y = torch.randn(100, B, 1, device="cuda"), torch.randn(100, B, 1, device="cuda")

        def ours():
            pred, _ = model(x)
            ((pred - y) ** 2).sum().backward()

        def cudnn():
            hs, _ = rnn(x)
            ((linear(hs) - y) ** 2).sum().backward()

        times = {}
        for name, fn in (("sinernn", ours), ("cudnn", cudnn)):
            fn()
            torch.cuda.synchronize()
            ts = []
            for _ in range(20):
                start = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - start)
            times[name] = statistics.median(ts)
        rows.append({"B": B, "H": H, "sinernn_ms": times["sinernn"] * 1e3, "cudnn_rnn_ms": times["cudnn"] * 1e3,
                     "speedup": times["cudnn"] / times["sinernn"]})
        print(f"cell B={B} H={H}: sinernn {times['sinernn'] * 1e3:.2f} ms, cuDNN nn.RNN+Linear {times['cudnn'] * 1e3:.2f} ms",
              flush=True)
    return rows


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
        "tests_summary": args.tests_summary,
        "flops_per_model_step": {H: bm.flops_per_step(1, H, 1) for H in SIZES},
    }
    try:
        report["native_ops"] = sinernn.load_native()
        report["cuda_built"] = sinernn.cuda_built()
    except RuntimeError as exc:
        report["native_ops"] = f"unavailable: {exc}"
        report["cuda_built"] = False
    torch.set_num_threads(2)  # the development machine's 2 cores, for the ratio
    cpu = {H: rate(4096, H, "cpu")[0] for H in SIZES}
    report["cpu_2_threads"] = {str(H): {"models": 4096, "model_steps_per_second": cpu[H]} for H in SIZES}
    for H in SIZES:
        print(f"CPU, 2 threads, N=4096, H={H}: {cpu[H]:,.0f} model-steps/s", flush=True)
    if torch.cuda.is_available() and report["cuda_built"]:
        report["gpu"] = torch.cuda.get_device_name(0)
        nominal, nominal_how = nominal_peak_gflops()
        measured, measured_how = measured_peak_gflops()
        peak = measured or nominal
        report["gpu_fp32_peak"] = {"nominal_gflops": nominal, "nominal_how": nominal_how,
                                   "measured_gflops": measured, "measured_how": measured_how, "used_gflops": peak}
        print(f"GPU {report['gpu']}: FP32 peak nominal {nominal} ({nominal_how}); measured {measured} ({measured_how})", flush=True)
        report.update(bitwise_check())
        print(f"float32 CUDA = CPU bit for bit: {report['float32_cuda_equals_cpu_bitwise']} {report['equal_outputs']}", flush=True)
        rows = []
        for H in SIZES:
            flops = bm.flops_per_step(1, H, 1)
            for n in MODELS:
                r, epochs = rate(n, H, "cuda")
                row = {"H": H, "models": n, "epochs": epochs, "model_steps_per_second": r, "gflops": r * flops / 1e9,
                       "share_of_fp32_peak": r * flops / 1e9 / peak if peak else None, "vs_cpu_2_threads": r / cpu[H]}
                rows.append(row)
                share = f"{row['share_of_fp32_peak']:.1%}" if peak else "?"
                print(f"GPU H={H} N={n:,}: {r:,.0f} model-steps/s, {row['gflops']:.0f} GFLOP/s, {share} of FP32 peak, "
                      f"{row['vs_cpu_2_threads']:.0f}x the CPU on 2 threads", flush=True)
        report["gpu_train_many"] = rows
        report["cell_vs_cudnn"] = cell_against_cudnn()
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
