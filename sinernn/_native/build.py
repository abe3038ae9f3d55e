"""What the native extension is built from and with: shared by setup.py (ahead of time) and the
first-use JIT build in ``sinernn._native.loader``, so both compile the same sources the same way.

This module imports nothing from ``sinernn``: setup.py and scripts/cuda_compile_check.sh load it by
path, before the package can be imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

#: Top of the source tree: csrc/ sits beside the sinernn package (this file is sinernn/_native/build.py).
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent
CSRC = SOURCE_ROOT / "csrc"
#: TORCH_CUDA_ARCH_LIST when it is unset (sm_80 A100, sm_90 H100/H200, PTX for later GPUs).
DEFAULT_CUDA_ARCHS = "8.0;9.0+PTX"
#: Written beside the compiled module: what it was built against.
BUILD_INFO_NAME = "_C.build.json"


@dataclass(frozen=True)
class BuildSettings:
    sources: list[str]
    cflags: list[str]
    cuda_cflags: list[str]
    ldflags: list[str]
    macros: list[tuple[str, str | None]]
    cuda: bool
    debug: bool
    sanitize: bool
    #: Why the CUDA kernels are not built under SINERNN_CUDA=auto (None when built, or when switched off).
    cuda_note: str | None = None


def cpu_sources(root: Path = CSRC) -> list[str]:
    """The module's C++ sources: the Python module, the ATen glue (schemas, autograd) and the CPU
    kernels (csrc/core/ is headers only)."""
    return [str(root / "python_module.cpp"), *sorted(str(p) for p in (root / "aten").glob("*.cpp")),
            *sorted(str(p) for p in (root / "cpu").glob("*.cpp"))]


def cuda_sources(root: Path = CSRC) -> list[str]:
    return sorted(str(p) for p in (root / "cuda").glob("*.cu"))


def sources_digest(root: Path = CSRC) -> str:
    """sha256 over every file under csrc/ (names and contents), to tell a stale binary."""
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def want_cuda(switch: str | None = None, announce: bool = True) -> bool:
    """Resolve SINERNN_CUDA (auto|0|1); no GPU is needed to build.

    auto: the CUDA kernels are built when torch is a CUDA build, csrc/cuda/ has sources and the
    toolkit torch's builder would use (``cpp_extension.CUDA_HOME``) compiles *and links* a probe
    kernel; otherwise only the CPU ops are built, and one line on stderr says why. 1: build them or
    raise RuntimeError saying why not. 0: never.
    """
    switch = (switch if switch is not None else os.environ.get("SINERNN_CUDA", "auto")).strip().lower()
    if switch not in ("auto", "0", "1"):
        raise ValueError(f"SINERNN_CUDA must be auto, 0 or 1, got {switch!r}")
    if switch == "0":
        return False
    problem = cuda_problem()
    if problem is None:
        return True
    if switch == "1":
        raise RuntimeError(f"SINERNN_CUDA=1 but CUDA cannot be built here: {problem}")
    if announce and problem not in _cuda_reason_told:
        _cuda_reason_told.add(problem)
        print(f"sinernn: building the CPU ops only (SINERNN_CUDA=auto): {problem}", file=sys.stderr)
    return False


_cuda_reason_told: set[str] = set()
_cuda_problem_cache: dict[str, str | None] = {}

_PROBE_CU = """
#include <cuda_runtime.h>
__global__ void probe(float *x) { x[threadIdx.x] += 1.0f; }
int main() { probe<<<1, 1>>>(nullptr); return cudaDeviceSynchronize() == cudaSuccess ? 0 : 1; }  // built, never run
"""


def cuda_problem() -> str | None:
    """Why the CUDA kernels can't be built here, or None when they can: torch must be a CUDA build,
    csrc/cuda/ must have sources, and the toolkit at ``cpp_extension.CUDA_HOME`` must compile a
    kernel with its nvcc and link it against the cudart in the library folders torch's builder
    passes to the linker (the check a ``cannot find -lcudart`` build fails; a few seconds, once)."""
    import torch
    from torch.utils import cpp_extension

    home = cpp_extension.CUDA_HOME
    key = f"{torch.version.cuda}|{home}"
    if key in _cuda_problem_cache:
        return _cuda_problem_cache[key]
    if torch.version.cuda is None:
        problem = f"torch {torch.__version__} is not a CUDA build"
    elif not cuda_sources():
        problem = f"no CUDA sources in {CSRC / 'cuda'}"
    elif home is None:
        problem = "no CUDA toolkit found (set CUDA_HOME to the toolkit's folder)"
    else:
        problem = _probe_toolkit(home)
    _cuda_problem_cache[key] = problem
    return problem


def _probe_toolkit(home: str) -> str | None:
    import subprocess
    import tempfile

    from torch.utils import cpp_extension

    nvcc = os.path.join(home, "bin", "nvcc")
    try:
        lib_dirs = cpp_extension.library_paths(device_type="cuda")
    except TypeError:  # torch < 2.6: library_paths(cuda=True)
        lib_dirs = cpp_extension.library_paths(cuda=True)
    with tempfile.TemporaryDirectory(prefix="sinernn-cuda-probe-") as tmp:
        src = os.path.join(tmp, "probe.cu")
        with open(src, "w") as f:
            f.write(_PROBE_CU)
        steps = [
            ("compile", [nvcc, "-c", src, "-o", os.path.join(tmp, "probe.o")]),
            ("link", [compiler(), os.path.join(tmp, "probe.o"), "-o", os.path.join(tmp, "probe"),
                      *(f"-L{d}" for d in lib_dirs), "-lcudart"]),
        ]
        for what, cmd in steps:
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.SubprocessError) as exc:
                return f"the toolkit at CUDA_HOME={home} can't {what} a probe kernel ({exc})"
            if out.returncode != 0:
                lines = [ln.strip() for ln in (out.stderr + out.stdout).splitlines() if ln.strip()]
                why = next((ln for ln in lines if any(w in ln.lower() for w in ("error", "cannot find", "undefined"))),
                           lines[0] if lines else "no output")
                return f"the toolkit at CUDA_HOME={home} can't {what} a probe kernel: {why}"
    return None


def portable() -> bool:
    """SINERNN_PORTABLE=1: build for the baseline of the architecture, not for this CPU."""
    return os.environ.get("SINERNN_PORTABLE", "0") == "1"


def cpu_tag() -> str:
    """A short digest of this CPU's model and feature flags: a -march=native binary runs only there."""
    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        text += "".join(sorted(set(lines)))
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def compiler() -> str:
    """The C++ compiler torch's builder uses: $CXX, else c++."""
    return os.environ.get("CXX", "c++")


def compiler_is_gcc() -> bool:
    """Whether the C++ compiler torch's builder uses ($CXX, else c++) is GCC (for GCC-only flags)."""
    import subprocess

    try:
        out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "clang" not in out.lower() and ("gcc" in out.lower() or "free software foundation" in out.lower())


def sanitize() -> bool:
    """SINERNN_SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer (first-use builds; see
    scripts/sanitize.sh, which also preloads the runtimes into Python)."""
    return os.environ.get("SINERNN_SANITIZE", "0") == "1"


def build_settings(announce: bool = True) -> BuildSettings:
    """Sources and flags of the native module. announce: say on stderr why CUDA is left out (auto)."""
    debug = os.environ.get("SINERNN_DEBUG", "0") == "1"
    cuda = want_cuda(announce=announce)
    cuda_off = os.environ.get("SINERNN_CUDA", "auto").strip().lower() == "0"
    note = None if cuda or cuda_off else cuda_problem()
    opt = ["-O0", "-g"] if debug else ["-O3"]
    # -march=native: AVX-512 and FMA where the CPU has them (SINERNN_PORTABLE=1 for a binary that
    # runs on any CPU of the architecture). -ffp-contract=off: the compiler fuses no multiply-add
    # on its own, so every FMA is the explicit one in csrc/core/ and the per-step op and the
    # whole-loop op round identically (they agree bit for bit). -fopenmp-simd: honour the
    # `omp simd` marks on element-wise loops (no OpenMP runtime is involved). -fno-trapping-math:
    # no code here relies on floating-point traps, and without it GCC won't if-convert the
    # selects of the float32 tanh, so its loop stays scalar (docs/performance.md, "Figures behind the code").
    # It changes no result: sums are still never reassociated. -fopenmp (compile and link): the
    # `omp simd` marks, and at::parallel_for in the batched op, which runs serially without it; the
    # OpenMP runtime is the libgomp torch itself loads (same soname), so torch.set_num_threads holds.
    # --param vect-epilogues-nomask=0 (GCC): the few elements left after a loop's full vectors (2 of
    # the tutorial's 6 hidden units) run as scalars, not as a half-filled vector. With
    # -fno-trapping-math GCC 12 computes such a half vector in a full register whose upper lanes hold
    # whatever the stack held before (a spill writes 8 bytes, the reload reads 16); a denormal there
    # makes every division and multiply of the step take a microcode assist, and the tutorial's step
    # takes one of two speeds depending on where the stack lies when the op is called; with the flag,
    # one speed at every stack position (docs/performance.md, "Figures behind the code"; dev/stack_position_check.py). It
    # changes no result (the same operations, lane by lane).
    gcc_only = ["--param", "vect-epilogues-nomask=0"] if compiler_is_gcc() else []
    march = [] if portable() else ["-march=native"]
    cflags = [*opt, *march, "-ffp-contract=off", "-fno-trapping-math", *gcc_only, "-fopenmp"]
    cuda_cflags = [*opt, "--fmad=false"]
    ldflags = ["-fopenmp"]
    if sanitize():
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]
        cflags += san
        ldflags += san[:1]
    if cuda and not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        # torch's default asks the visible GPU, and there may be none where this builds: Ampere and
        # Hopper binaries plus PTX, which newer GPUs compile at load time.
        os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_CUDA_ARCHS
    macros = [("SINERNN_WITH_CUDA", None)] if cuda else []
    sources = cpu_sources() + (cuda_sources() if cuda else [])
    return BuildSettings(sources, cflags, cuda_cflags, ldflags, macros, cuda, debug, sanitize(), note)


def write_build_info(directory: str | os.PathLike, cuda: bool) -> Path:
    """Record the torch version and the source digest beside a freshly built module."""
    import torch

    path = Path(directory) / BUILD_INFO_NAME
    info = {
        "torch": torch.__version__,
        "sources_sha256": sources_digest(),
        "cuda": cuda,
        "cpu": "portable" if portable() else cpu_tag(),
    }
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path


def read_build_info(directory: str | os.PathLike) -> dict | None:
    path = Path(directory) / BUILD_INFO_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def have_compiler() -> bool:
    return shutil.which(compiler()) is not None
