"""Import structure: no import cycle in the package, and a core that imports nothing from it.

Each check runs in a fresh interpreter (a subprocess), since an import cycle only
shows on the first import of a module.
"""
import itertools
import os
import pkgutil
import random
import subprocess
import sys

import pytest

import gocore
import gocore._gocore

PACKAGE_DIR = os.path.dirname(gocore.__file__)
MODULES = sorted(["gocore"] + [f"gocore.{m.name}" for m in pkgutil.iter_modules([PACKAGE_DIR])])
MAX_ORDERS = 8           # of the len(MODULES)! orders, the ones every run checks


def _orders():
    """Every module imported first (each alone, the case a cycle breaks), then a
    fixed sample of whole orders, so the run stays fast and repeatable."""
    orders = [(m,) for m in MODULES]
    rng = random.Random(8)
    seen = set()
    perms = itertools.permutations(MODULES) if len(MODULES) <= 6 else None
    while len(seen) < MAX_ORDERS:
        order = next(perms, None) if perms is not None else tuple(rng.sample(MODULES, len(MODULES)))
        if order is None:
            break
        seen.add(order)
    return orders + sorted(seen)


def _run(code):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(PACKAGE_DIR)] + sys.path)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_module_list_is_found():
    assert "gocore._gocore" in MODULES and "gocore.errors" in MODULES and len(MODULES) >= 8
    # the asyncio plumbing is named for what it owns, apart from the public gocore.aio
    assert "gocore._asyncio_bridge" in MODULES and "gocore._aio" not in MODULES


@pytest.mark.parametrize("order", _orders(), ids=lambda o: ",".join(m.rsplit(".", 1)[-1] for m in o))
def test_import_in_any_order(order):
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in order) + \
        "import gocore\nassert all(hasattr(gocore, n) for n in gocore.__all__)\n"
    r = _run(code)
    assert r.returncode == 0, r.stderr


def test_core_imports_nothing_from_the_package():
    # Load the extension alone: a bare package object stands in for gocore, so
    # gocore/__init__.py never runs; any `import gocore.x` inside the core would
    # then load gocore/x.py from that package path and show in sys.modules.
    code = f"""
import importlib.util, sys, types
pkg = types.ModuleType("gocore")
pkg.__path__ = [{PACKAGE_DIR!r}]
sys.modules["gocore"] = pkg
spec = importlib.util.spec_from_file_location("gocore._gocore", {gocore._gocore.__file__!r})
core = importlib.util.module_from_spec(spec)
sys.modules["gocore._gocore"] = core
spec.loader.exec_module(core)
leaked = sorted(m for m in sys.modules if m.startswith("gocore.") and m != "gocore._gocore")
assert not leaked, leaked
ch = core.Chan(1); ch.close()
try:
    ch.send(1)
except core.ClosedChannelError:
    pass
print("ok")
"""
    r = _run(code)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_errors_are_the_cores_own():
    from gocore import errors
    for name in ("ClosedChannelError", "Canceled", "DeadlineExceeded", "BreakerOpenError", "DeadlockError"):
        assert getattr(errors, name) is getattr(gocore._gocore, name) is getattr(gocore, name)
        assert name in gocore.__all__
    assert issubclass(gocore.ClosedChannelError, RuntimeError)
    assert issubclass(gocore.Canceled, Exception)
    assert issubclass(gocore.DeadlineExceeded, TimeoutError)
    assert issubclass(gocore.BreakerOpenError, RuntimeError)
    assert issubclass(gocore.DeadlockError, RuntimeError)
    assert str(gocore.Canceled()) == "context canceled"
    assert str(gocore.DeadlineExceeded()) == "context deadline exceeded"
