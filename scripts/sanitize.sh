#!/usr/bin/env bash
# Build the native ops with AddressSanitizer + UndefinedBehaviorSanitizer (a first-use build in
# its own cache folder) and run the tests that exercise them. Any finding fails the run.
#   bash scripts/sanitize.sh            # after `make setup` (uses .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ASAN_RT=$(gcc -print-file-name=libasan.so)
UBSAN_RT=$(gcc -print-file-name=libubsan.so)
export SINERNN_SANITIZE=1
export SINERNN_BUILD_DIR=${SINERNN_BUILD_DIR:-$HOME/.cache/sinernn-sanitize}
# detect_leaks=0: CPython and torch keep allocations alive at exit by design.
# allocator_may_return_null=1: a huge allocation fails as it does without ASan (malloc returns
# NULL, torch raises), which the tests of 2**40-element views rely on; ASan would abort instead.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LD_PRELOAD="$ASAN_RT $UBSAN_RT"   # the runtimes must come first in Python's process
"$PY" -c "import sinernn; print('sanitizer build:', sinernn.load_native())"   # build once
"$PY" -m pytest -q -p no:cacheprovider \
  tests/native/test_fused.py tests/native/test_ops.py tests/native/test_opcheck.py tests/native/test_hostile.py \
  tests/native/test_properties.py tests/native/test_cell.py tests/native/test_tanh.py \
  tests/api/test_errors.py tests/api/test_divergence.py tests/api/test_reference.py tests/api/test_threads.py \
  tests/api/test_checkpoint.py tests/api/test_forecaster.py tests/api/test_files.py tests/api/test_many.py \
  tests/tools/test_verify.py \
  --deselect tests/native/test_cell.py::test_torch_compile_fullgraph_training_step_matches_eager "$@"
echo "sanitizers: no findings"
