"""Checks that only mean something on a free-threaded (GIL-disabled) CPython.

On a GIL build they skip, saying so; `make test PYTHON=python3.14t` runs them.
The rest of the suite (every stress test) runs there unchanged, with real
parallelism instead of GIL-serialised threads.
"""
import os
import subprocess
import sys
import sysconfig

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_ft = pytest.mark.skipif(
    not FREE_THREADED,
    reason="not a free-threaded CPython build: run `make test PYTHON=python3.14t` to check GIL-free operation",
)


@needs_ft
def test_import_keeps_gil_disabled():
    # A module that does not declare free-threading support makes CPython turn
    # the GIL back on at import (with a warning); gocore must not.
    import gocore

    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(gocore.__file__))
    code = "import sys, gocore; m = gocore.Mutex(); m.lock(); m.unlock(); print(sys._is_gil_enabled())"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@needs_ft
def test_this_run_has_no_gil():
    import gocore  # noqa: F401

    assert sys._is_gil_enabled() is False, "the suite is meant to run with the GIL disabled here"


def test_build_kind_is_reported():
    # Always runs: documents which kind of interpreter this suite ran on.
    import gocore

    assert type(gocore.Mutex()).__module__ == "gocore._gocore"
    if FREE_THREADED:
        assert sys._is_gil_enabled() is False
