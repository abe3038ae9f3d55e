"""Builds sinernn._C, the native ops, with torch.utils.cpp_extension.

    pip install -e .        # through build_backend/sinernn_build.py: against the torch already installed

The build backend makes the target environment's torch importable here (docs/building.md). The
wheel's torch dependency is pinned to the version compiled against: the module is only valid with it.

Environment switches:
    SINERNN_CUDA=auto|0|1   CUDA kernels: auto builds them when torch is a CUDA build and the toolkit
                            compiles and links a probe kernel (no GPU needed), else says why in one
                            line; 1 requires them (fails with the reason); 0 never.
    SINERNN_DEBUG=1         -O0 -g, for debuggers and sanitizers.
    SINERNN_PORTABLE=1      the architecture's baseline instead of -march=native.
"""

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
RUNTIME_DEPS = ["numpy>=1.24", "matplotlib>=3.7", "ninja", "tqdm>=4.60"]

try:
    import torch
except ImportError:
    torch = None

if torch is None:
    if "sdist" not in sys.argv:
        raise SystemExit(
            "sinernn: building the native ops needs torch, and none is importable here. "
            "Install torch first (pip install torch), or let pip build sinernn (pip install .): "
            "its build backend uses the torch of the environment it installs into."
        )
    setup(install_requires=["torch>=2.4", *RUNTIME_DEPS])  # an sdist holds the sources only
    sys.exit(0)

from torch.utils import cpp_extension  # noqa: E402

# Load the shared build description by path: importing the sinernn package here would need it built.
_spec = importlib.util.spec_from_file_location("sinernn_native_build", ROOT / "sinernn" / "_native" / "build.py")
native = importlib.util.module_from_spec(_spec)
sys.modules["sinernn_native_build"] = native  # dataclasses look their module up there
_spec.loader.exec_module(native)

settings = native.build_settings()
# The module links against this torch's C++ library: the wheel depends on exactly this version
# (the public part; 2.13.0+cpu satisfies torch==2.13.0).
TORCH_PIN = f"torch=={torch.__version__.split('+')[0]}"


class BuildExtension(cpp_extension.BuildExtension):
    """torch's BuildExtension, plus a record of the torch and sources the module was built from."""

    def build_extensions(self):
        super().build_extensions()
        native.write_build_info(os.path.dirname(self.get_ext_fullpath("sinernn._C")), cuda=settings.cuda)
        if self.inplace or getattr(self, "editable_mode", False):
            # editable installs copy the module into the source package afterwards: record it there too
            native.write_build_info(ROOT / "sinernn", cuda=settings.cuda)

    def copy_extensions_to_source(self):
        # build_ext --inplace builds under build/ and copies the module here: record it here too
        super().copy_extensions_to_source()
        native.write_build_info(ROOT / "sinernn", cuda=settings.cuda)


Extension = cpp_extension.CUDAExtension if settings.cuda else cpp_extension.CppExtension
setup(
    install_requires=[TORCH_PIN, *RUNTIME_DEPS],
    ext_modules=[
        Extension(
            "sinernn._C",
            [os.path.relpath(src, ROOT) for src in settings.sources],  # setuptools wants relative paths
            extra_compile_args={"cxx": settings.cflags, "nvcc": settings.cuda_cflags},
            extra_link_args=settings.ldflags,
            define_macros=settings.macros,
        )
    ],
    cmdclass={"build_ext": BuildExtension},
)
