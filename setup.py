"""Builds sinernn._C, the native ops, with torch.utils.cpp_extension.

    pip install --no-build-isolation -e .      # builds against the torch already installed

Environment switches:
    SINERNN_CUDA=auto|0|1   CUDA kernels: auto builds them when torch is a CUDA build, nvcc is
                            found and csrc/cuda/ has sources (no visible GPU needed); 1 requires
                            a CUDA toolkit; 0 never.
    SINERNN_DEBUG=1         -O0 -g, for debuggers and sanitizers.
"""

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from torch.utils import cpp_extension

# Load the shared build description by path: importing the sinernn package here would need it built.
_spec = importlib.util.spec_from_file_location("_native_build", Path(__file__).parent / "sinernn" / "_native_build.py")
native = importlib.util.module_from_spec(_spec)
sys.modules["_native_build"] = native  # dataclasses look their module up there
_spec.loader.exec_module(native)

settings = native.build_settings()


class BuildExtension(cpp_extension.BuildExtension):
    """torch's BuildExtension, plus a record of the torch and sources the module was built from."""

    def build_extensions(self):
        super().build_extensions()
        native.write_build_info(os.path.dirname(self.get_ext_fullpath("sinernn._C")), cuda=settings.cuda)
        if self.inplace or getattr(self, "editable_mode", False):
            # editable installs copy the module into the source package afterwards: record it there too
            native.write_build_info(Path(__file__).parent / "sinernn", cuda=settings.cuda)

    def copy_extensions_to_source(self):
        # build_ext --inplace builds under build/ and copies the module here: record it here too
        super().copy_extensions_to_source()
        native.write_build_info(Path(__file__).parent / "sinernn", cuda=settings.cuda)


Extension = cpp_extension.CUDAExtension if settings.cuda else cpp_extension.CppExtension
setup(
    ext_modules=[
        Extension(
            "sinernn._C",
            [os.path.relpath(src, Path(__file__).parent) for src in settings.sources],  # setuptools wants relative paths
            extra_compile_args={"cxx": settings.cflags, "nvcc": settings.cuda_cflags},
            extra_link_args=settings.ldflags,
            define_macros=settings.macros,
        )
    ],
    cmdclass={"build_ext": BuildExtension},
)
