#!/usr/bin/env bash
# On a machine with a GPU and PyTorch (a CUDA build) already installed, from the repository root:
#   bash scripts/gpu_check.sh [OUT_DIR]        (default: $OUT, else ./gpu_check)
# builds the extension with CUDA kernels for this GPU's architecture only (in place; sm_90 on an
# H100/H200 unless TORCH_CUDA_ARCH_LIST says otherwise), with each kernel's registers and spills in
# the build log; runs the CUDA tests (tests/native/test_cuda.py: CUDA against the CPU on the same inputs);
# benchmarks train_many on the GPU (N = 4,096, 65,536, 1,048,576; H = 6 and 32) against the CPU on
# 2 threads; and writes OUT_DIR/gpu_report.json plus the logs. Needs pytest; uses no network. Meant
# to fit one device run of at most 8 minutes. Each stage runs even when one before it failed, and
# the report says which failed; the exit status is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-gpu_check}}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python}"
if [ -z "${CUDA_HOME:-}" ]; then  # the toolkit: /usr/local/cuda, else the folder above nvcc's bin/
  if [ -x /usr/local/cuda/bin/nvcc ]; then CUDA_HOME=/usr/local/cuda
  elif command -v nvcc >/dev/null; then CUDA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
  fi
  export CUDA_HOME
fi
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then  # this GPU's architecture only (one compile, not three)
  TORCH_CUDA_ARCH_LIST="$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())' 2>/dev/null || echo 9.0)"
  export TORCH_CUDA_ARCH_LIST
fi
export SINERNN_CUDA=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "== build (SINERNN_CUDA=1, CUDA_HOME=${CUDA_HOME:-unset}, TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST)"
start=$(date +%s)
NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:+$NVCC_APPEND_FLAGS }-Xptxas -v" "$PY" setup.py build_ext --inplace >"$OUT_DIR/build.log" 2>&1
build_rc=$?
echo "build rc=$build_rc in $(( $(date +%s) - start )) s"; tail -3 "$OUT_DIR/build.log"
"$PY" scripts/ptxas_table.py "$OUT_DIR/build.log" | tee "$OUT_DIR/kernels.txt" | grep train_many
echo "== tests"
if [ "$build_rc" -eq 0 ]; then
  # -o addopts= : no --benchmark-disable (pytest-benchmark may be missing there)
  "$PY" -m pytest -o addopts= -p no:cacheprovider -q tests/native/test_cuda.py >"$OUT_DIR/tests.log" 2>&1
  tests_rc=$?
  summary="$(tail -1 "$OUT_DIR/tests.log")"
else
  tests_rc=1 summary="not run: the build failed"
fi
echo "tests rc=$tests_rc: $summary"
echo "== benchmark and report"
"$PY" scripts/gpu_report.py --json "$OUT_DIR/gpu_report.json" --build-rc "$build_rc" --tests-rc "$tests_rc" \
  --tests-summary "$summary"
report_rc=$?
for rc in $build_rc $tests_rc $report_rc; do [ "$rc" -ne 0 ] && exit "$rc"; done
exit 0
