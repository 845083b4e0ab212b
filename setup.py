"""Build script: one Cython extension, gocore._gocore, from src/_gocore.pyx."""
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

extra_compile_args = []
libraries = []
if sys.platform == "win32":
    libraries.append("synchronization")          # WaitOnAddress
else:
    extra_compile_args += ["-O2"]

extensions = [
    Extension(
        "gocore._gocore",
        ["src/_gocore.pyx"],
        include_dirs=["src"],
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
