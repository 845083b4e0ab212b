"""Build script: one Cython extension, gocore._gocore, from src/_gocore.pyx."""
import os
import sys
import sysconfig

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
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    # Cython's fast thread-state path reads a raised exception's __traceback__
    # straight from the struct, outside the critical section CPython guards it
    # with; with one exception raised in several threads at once (a channel
    # closed by _close_with(exc), as concurrent.futures shares one exception
    # among waiters) that read races with another thread's write (TSan).
    # The API path (PyErr_Fetch) takes the lock.
    define_macros.append(("CYTHON_FAST_THREAD_STATE", "0"))
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
