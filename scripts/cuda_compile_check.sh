#!/usr/bin/env bash
# Proves the CUDA kernels compile and link, on a machine without a GPU: builds sinernn._C with
# SINERNN_CUDA=1 against a CUDA build of torch (2.14.1, cu13) in a cached virtual environment outside
# the clone, prints each kernel's registers, stack frame and spills (ptxas -v), then loads the module
# and checks that every op has a CUDA kernel registered. Fails when the CUDA sources do not compile,
# or when a compile-time-size float32 train_many kernel has a stack frame or spills
# (scripts/ptxas_table.py). Run by .ci/run; about 4 minutes on 2 cores (+1.5 the first time,
# to install torch into the cache).
#   SINERNN_CUDA_VENV   the cached environment (default: ~/.cache/sinernn-cuda-venv)
#   CUDA_HOME           the toolkit (default: /usr/local/cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SINERNN_CUDA_VENV:-$HOME/.cache/sinernn-cuda-venv}"
TORCH_CUDA="${TORCH_CUDA:-torch==2.14.1}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}" SINERNN_CUDA=1 MAX_JOBS="${MAX_JOBS:-2}"
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.version.cuda is None or torch.__version__.split('+')[0] != '${TORCH_CUDA#torch==}')" 2>/dev/null; then
  echo "installing $TORCH_CUDA (a CUDA build) into $VENV"
  "$VENV/bin/python" -m pip install --quiet "$TORCH_CUDA" "setuptools>=64" wheel ninja numpy
fi
# SINERNN_CUDA=auto decides by compiling and linking a probe kernel: what it decides with the toolkit
# torch finds on its own (no CUDA_HOME; where nvcc on PATH is a wrapper, torch guesses a folder
# without cudart and auto falls back to the CPU ops, saying why), then with CUDA_HOME set.
for home in "" "$CUDA_HOME"; do
  env -u CUDA_HOME ${home:+CUDA_HOME=$home} "$VENV/bin/python" -W ignore -c \
    "import importlib.util as u, sys; s = u.spec_from_file_location('b', 'sinernn/_native/build.py'); n = sys.modules['b'] = u.module_from_spec(s); s.loader.exec_module(n); print('SINERNN_CUDA=auto, CUDA_HOME=${home:-unset}: CUDA kernels', 'built' if n.want_cuda('auto') else 'left out')" 2>&1 | grep -v "No CUDA runtime is found"
done
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "building with CUDA kernels: $("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'), CUDA_HOME=$CUDA_HOME"
start=$(date +%s)
NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:+$NVCC_APPEND_FLAGS }-Xptxas -v" \
  "$VENV/bin/python" setup.py -q build_ext --build-temp "$out/temp" --build-lib "$out/lib" >"$out/build.log" 2>&1 || {
  grep -E "error|Error" "$out/build.log" | head -40; echo "CUDA build FAILED"; exit 1; }
echo "built in $(( $(date +%s) - start )) s; each kernel's resources (ptxas):"
"$VENV/bin/python" scripts/ptxas_table.py "$out/build.log"
"$VENV/bin/python" - "$out/lib" <<'PY'
import glob, importlib.util, sys
import torch
path = glob.glob(f"{sys.argv[1]}/sinernn/_C*.so")[0]
spec = importlib.util.spec_from_file_location("sinernn._C", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert module.cuda_built(), "the module says its CUDA kernels were not built"
ops = ["step", "train", "train_guarded", "predict", "forecast", "train_many", "predict_many", "cell_forward", "cell_backward"]
missing = [op for op in ops if not torch._C._dispatch_has_kernel_for_dispatch_key(f"sinernn::{op}", "CUDA")]
assert not missing, f"no CUDA kernel registered for {missing}"
print(f"CUDA kernels built and registered for {', '.join(ops)} (cuda_built() = True; no GPU needed to load)")
PY
