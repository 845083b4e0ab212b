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
else:
    extra_compile_args += ["-O2"]
if os.environ.get("GOCORE_DEBUG"):
    define_macros.append(("GOCORE_DEBUG", "1"))
    extra_compile_args = ["-O0", "-g"] if sys.platform != "win32" else []

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
