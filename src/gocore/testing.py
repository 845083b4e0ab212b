"""Tools for testing code built on gocore.

``verify_none()``: goroutine leak checks in the style of uber-go/goleak; it
fails with a dump of every goroutine still alive.  The pytest plugin shipped
with gocore (``gocore.pytest_plugin``) runs the same check after each test
that asks for it, counting only the goroutines that test started.

``fake_clock()``: virtual time for every gocore timer, deadline and
``timeout=`` inside a ``with`` block (Go's ``testing/synctest``).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Iterable, List, Optional

from gocore import _gocore
from gocore._fakeclock import FakeClock, fake_clock
from gocore.dump import GoroutineInfo, format_goroutines, goroutines
from gocore.timers import Seconds

__all__ = ["FakeClock", "fake_clock", "verify_none"]


def _leaked(ignore: frozenset, after_id: int) -> List[GoroutineInfo]:
    me = threading.get_ident()
    out = []
    for g in goroutines():
        if g.id <= after_id or g.name in ignore:
            continue
        if g._ident == me:
            continue                  # the goroutine that is checking
        out.append(g)
    return out


def _verify(timeout: float, ignore: Iterable[str], after_id: int) -> None:
    __tracebackhide__ = True          # pytest: the failure is the dump, not this loop
    if isinstance(ignore, str):
        raise TypeError("ignore must be a collection of goroutine names, not a str")
    names = frozenset(ignore)
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        leaked = _leaked(names, after_id)
        if not leaked:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            break
        # goleak's schedule: retry fast at first, back off to 100 ms.
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.1)
    raise AssertionError(
        f"found unexpected goroutines ({len(leaked)} still alive after {timeout} s):\n\n"
        + format_goroutines(leaked))


def verify_none(timeout: Optional[Seconds] = 1.0, ignore: Iterable[str] = ()) -> None:
    """Raise ``AssertionError`` with a dump if any goroutine is still alive
    after `timeout` seconds (retrying with backoff until then), except those
    whose ``name`` is in `ignore`.  Goroutines that finish in time pass.

    Example::

        def test_worker_stops():
            stop = gocore.Chan()
            gocore.go(worker, stop)
            stop.close()
            gocore.testing.verify_none()
    """
    seconds = _gocore._timeout_seconds(timeout)     # the library's one rule; None: forever
    __tracebackhide__ = True
    _verify(math.inf if seconds is None else seconds, ignore, 0)


def _last_id() -> int:
    return int(_gocore._last_goroutine_id())
