"""gocore's pytest plugin (registered through the ``pytest11`` entry point).

* fixture ``goroutine_leak_check``: after the test body passes, every
  goroutine the test started must finish within 1 s, else the test fails
  with a dump of them (goroutines started before the test are not its own,
  so tests running side by side do not blame each other);
* option ``--gocore-leak-check``: applies that fixture to every test.
"""
from __future__ import annotations

from typing import Any, Generator

import pytest

from gocore import testing as _testing

_LEAK_TIMEOUT = 1.0
_FIXTURE = "goroutine_leak_check"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("gocore")
    group.addoption(
        "--gocore-leak-check", action="store_true", default=False,
        help="fail every test that leaves goroutines it started running "
             "(the goroutine_leak_check fixture on every test)")


def pytest_collection_modifyitems(config: Any, items: Any) -> None:
    if not config.getoption("--gocore-leak-check"):
        return
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is not None and _FIXTURE not in names:
            names.append(_FIXTURE)


@pytest.fixture
def goroutine_leak_check(request: Any) -> Generator[None, None, None]:
    """Fail the test if a goroutine it started is still alive 1 s after it
    passed; the failure carries the goroutine dump.

    Example::

        def test_no_leak(goroutine_leak_check):
            gocore.go(print, "done")
    """
    request.node._gocore_leak_start = _testing._last_id()
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: Any) -> Generator[None, None, None]:
    # The check runs in the call phase so that a leak fails the test itself
    # (not its teardown), and only when the body passed.
    __tracebackhide__ = True
    result = yield
    start = getattr(item, "_gocore_leak_start", None)
    if start is not None:
        _testing._verify(_LEAK_TIMEOUT, (), start)
    return result
