"""Build script: one Cython extension, gocore._gocore, from src/_gocore.pyx."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

define_macros = []
extra_compile_args = []
libraries = []
if sys.platform == "win32":
    libraries.append("synchronization")          # WaitOnAddress
elif "-O" not in os.environ.get("CFLAGS", ""):
    # A sanitizer build (make test-asan / test-tsan) brings its own level.
    extra_compile_args += ["-O2"]
if os.environ.get("GOCORE_DEBUG"):
    # Debug build (make test-debug): widens the race windows at the protocol
    # gaps of the sync core (race_window() in sema.pxi) so stress tests hit them.
    define_macros.append(("GOCORE_DEBUG", "1"))

extensions = [
    Extension(
        "gocore._gocore",
        ["src/_gocore.pyx"],
        include_dirs=["src"],
        define_macros=define_macros,
        extra_compile_args=extra_compile_args,
        libraries=libraries,
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3},
        include_path=["src"],
    ),
)
