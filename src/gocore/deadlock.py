"""Deadlock detection, Go's "all goroutines are asleep - deadlock!" (off by
default): ``set_deadlock_detection(True)`` or ``GOCORE_DEADLOCK_DETECT=1``.

The main thread's waits in gocore sleep in slices (the core's mainwait.pxi).
Between two slices of a wait with no deadline, the core calls ``_probe()``,
which answers with a report when the main thread can never be woken; the
waiting call then raises ``DeadlockError`` with it.

Why there is no false alarm.  A thread can only be woken by a thread that is
running, by a timer, or by a signal handler.  ``_probe`` reports only when,
at one instant T, all of these hold:
  1. every thread with a gocore record other than the main thread (the
     workers and gocore's timer thread) is parked in gocore with no wake-up
     on the way, in a wait with no deadline or idle, and no goroutine is
     queued or starting.  The core's snapshot checks that for each record and
     returns each record's `gen`, a counter that only grows and is odd only
     while its thread is parked with no wake-up pending (a waker makes it even
     before its unpark: the "B unparks A, then parks itself before A runs"
     race leaves A even, so A counts as running).  Two equal snapshots mean
     every record stayed parked, untouched, from its reading in the first to
     its reading in the second, hence all at once at any instant T between.
     A timer pending keeps the timer thread in a timed wait, so it fails 1.
  2. no other thread exists at T: the thread list is read between the two
     snapshots, and any thread gocore has no record of (a plain thread in
     ``time.sleep``, I/O or a ``threading.Lock``) makes the probe silent.
  3. no Python signal handler is installed but gocore's own dump handler and
     the default ones (a handler could close a channel when a signal comes).
At T nobody can run who could wake anyone, so nobody ever will; the main
thread, the only thread left, is inside the waiting call, which makes a last
non-blocking attempt (the primitive's state can no longer change) and raises
only if that fails too.
Threads whose Python state has no frame yet (started a moment ago through
``_thread`` by foreign code) are not in ``sys._current_frames()``; gocore's
own workers are accounted for by the scheduler's counters instead.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import Optional

from gocore import _gocore
from gocore.dump import format_goroutines

__all__ = ["set_deadlock_detection"]

_enabled = False
_lock = threading.Lock()


def _custom_signal_handlers() -> bool:
    defaults = (signal.SIG_DFL, signal.SIG_IGN, None, signal.default_int_handler)
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (ValueError, OSError):
            continue
        if handler in defaults or getattr(handler, "_gocore_passive", False):
            continue
        return True
    return False


def _probe(state: str) -> Optional[str]:
    """The report if the main thread, waiting on `state` with no deadline,
    can never be woken; None otherwise (see the module docstring)."""
    first = _gocore._blocked_snapshot()
    if first is None:
        return None
    main = threading.main_thread().ident
    known = {ident for ident, _ in first}
    if any(ident != main and ident not in known for ident in sys._current_frames()):
        return None
    if _custom_signal_handlers():
        return None
    dump = format_goroutines()
    if _gocore._blocked_snapshot() != first:
        return None
    here = "".join(traceback.format_stack(sys._getframe(1)))
    return (f"all goroutines are asleep - deadlock!\n\n"
            f"main thread [{state}]:\n{here}\n{dump}")


def set_deadlock_detection(enabled: bool) -> bool:
    """Switch deadlock detection on or off; returns the previous setting.

    When on, a main-thread call that waits in gocore with no timeout raises
    ``DeadlockError`` (its message carries the goroutine dump) once every
    other thread of the process is a gocore thread blocked the same way or
    idle, with no timer pending.  A thread gocore does not know keeps it
    silent.  ``GOCORE_DEADLOCK_DETECT=1`` in the environment switches it on
    at import.

    Example::

        gocore.set_deadlock_detection(True)
        ch = gocore.Chan()
        ch.recv()        # nobody will ever send: raises gocore.DeadlockError
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
    with _lock:
        previous, _enabled = _enabled, enabled
        _gocore._install_deadlock_probe(_probe if enabled else None)
    return previous


if os.environ.get("GOCORE_DEADLOCK_DETECT", "").strip().lower() in ("1", "true", "yes", "on"):
    set_deadlock_detection(True)
