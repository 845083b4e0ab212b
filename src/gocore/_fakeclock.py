"""A test clock for gocore (Go's ``testing/synctest``): ``fake_clock()``.

Inside ``with fake_clock() as clock:`` everything in gocore that reads time
reads a virtual clock that starts at the real ``time.monotonic()`` and moves
only when told:

* the Python layer (timers, context deadlines, pools, the rate limiter and
  the breakers) reads ``_clock.now()``, whose source is swapped here;
* new timers go to a heap of this clock's own (``timers._current``), which no
  thread serves: ``advance`` pops what falls due and runs the callbacks on
  the advancing thread, in deadline order;
* the core's ``timeout=`` waits read the virtual time through one C global
  (``_gocore._fake_clock_set``) and park in short real slices, re-checking
  their virtual deadline; the earliest such deadline counts as a pending
  timer for ``auto_advance``.

Leaving the block closes the heap (no timer of the block fires later, not
even on the real clock) and puts the real clock back.

"Every goroutine is blocked" is asked of ``_all_blocked`` below; see there.
"""
from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from gocore import _clock, _gocore, timers
from gocore.timers import Seconds, _Entry, _Heap, _run_callbacks, _seconds

__all__ = ["FakeClock", "fake_clock"]

# How often the waiting loops below look again (real seconds).
_POLL = 0.0005

_install_lock = threading.Lock()


# ---- "every goroutine is blocked" ----

def _core_hook(name: str) -> Optional[Callable[..., Any]]:
    return getattr(_gocore, name, None)


# A thread in a core wait on virtual time polls it in short real slices, so
# it burns a little CPU while blocked: up to this much between two looks.
_POLLER_NS = 200_000


def _look(skip: Set[int], only: Optional[Set[int]]) -> Optional[Dict[int, Tuple[bytes, int]]]:
    """State letter and CPU nanoseconds of every thread not in `skip` (of
    those in `only`, if given), from /proc; None where there is no /proc."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    seen = {}
    for name in tids:
        tid = int(name)
        if tid in skip or (only is not None and tid not in only):
            continue
        try:
            with open(f"/proc/self/task/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:                    # the thread just exited
            continue
        close = stat.rindex(b")")
        fields = stat[close + 2:].split()
        try:
            with open(f"/proc/self/task/{name}/schedstat", "rb") as f:
                cpu = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            cpu = (int(fields[11]) + int(fields[12])) * 10_000_000   # utime+stime ticks
        seen[tid] = (fields[0], cpu)
    return seen


class _Quiet:
    """Answers "is everything blocked?" by successive looks: every goroutine
    (idle workers included), and the threads in `watch` (the block's own
    thread, for auto-advance); never the threads in `exclude`.

    Goroutines: the core's goroutine registry knows exactly
    (``_all_goroutines_blocked``: parked in gocore, no wake-up on the way).
    Without one (a core built without it) every thread but `exclude` is
    judged from /proc instead, as `watch` threads always are: a thread is
    blocked when it is asleep in the kernel (not "R": running or runnable)
    and was not scheduled at all since the previous look (no CPU time), or,
    in a core wait on virtual time, only for its polls.  The CPU test is
    what makes it sound on GIL builds: a woken thread that wants the GIL
    sleeps on it while the looker holds it, and can lose it to the looker
    again and again on a loaded machine, but every attempt runs it.  (This
    judgement counts time.sleep and I/O as blocked.)"""

    def __init__(self, exclude: Iterable[int], watch: Iterable[int] = ()) -> None:
        self._registry = _core_hook("_all_goroutines_blocked")
        self._skip = set(exclude)
        self._only: Optional[Set[int]] = None
        if self._registry is not None:
            self._only = set(watch) - self._skip
        self._prev: Optional[Dict[int, Tuple[bytes, int]]] = None
        self._wakes = -1
        self._reg_wakes = -1
        self._frames: Optional[Dict[int, Tuple[int, int]]] = None

    def blocked(self) -> bool:
        if self._registry is not None:
            if not self._registry():
                self._prev = None
                self._reg_wakes = -1
                return False
            if not self._only:
                # Two looks with no core wait ending in between: a wait that
                # has just left its virtual deadline is marked running a few
                # instructions after it stops counting as due.
                wakes_now = _core_hook("_fake_clock_wakes")
                w = wakes_now() if wakes_now is not None else 0
                stable, self._reg_wakes = w == self._reg_wakes, w
                return stable
        elif not self._scheduler_idle():
            self._prev = None
            return False
        wakes_hook = _core_hook("_fake_clock_wakes")
        wakes = wakes_hook() if wakes_hook is not None else 0
        now = _look(self._skip, self._only)
        if now is None:
            return self._frames_still()
        prev, self._prev = self._prev, now
        woke, self._wakes = wakes != self._wakes, wakes
        if prev is None or woke:
            return False
        waiters = _core_hook("_fake_clock_waiters")
        pollers = waiters() if waiters is not None else frozenset()
        for tid, (state, cpu) in now.items():
            if state == b"R":
                return False
            before = prev.get(tid)
            if before is None:
                return False
            ran = cpu - before[1]
            if ran > (_POLLER_NS if tid in pollers else 0):
                return False
        return True

    @staticmethod
    def _scheduler_idle() -> bool:
        # A goroutine queued, or a worker woken to look for one, is work
        # that no thread shows yet.
        stats = _gocore._scheduler_stats()
        return stats["queued"] == 0 and stats["spinning"] == 0

    def _frames_still(self) -> bool:
        # No /proc: no thread's Python frame moved since the last look.
        me = threading.get_ident()
        now = {
            ident: (id(frame), frame.f_lasti)
            for ident, frame in sys._current_frames().items()
            if ident != me
        }
        still, self._frames = now == self._frames, now
        return still


def _wait_quiet(exclude: Iterable[int], stop: Callable[[], bool],
                timeout: Optional[float] = None, polls: int = 3,
                watch: Iterable[int] = ()) -> bool:
    """Wait until `polls` consecutive looks find everything blocked.  False
    if `timeout` (real seconds) passes or `stop()` turns true first."""
    quiet = _Quiet(exclude, watch)
    if quiet._registry is not None and not quiet._only:
        polls = 1                          # the registry's answer is exact
    end = None if timeout is None else time.monotonic() + timeout
    run = 0
    while True:
        if quiet.blocked():
            run += 1
            if run >= polls:
                return True
        else:
            run = 0
        if stop() or (end is not None and time.monotonic() >= end):
            return False
        time.sleep(_POLL)                  # releases the GIL: woken threads run


# ---- the clock ----

class _FakeHeap(_Heap):
    """A heap on the virtual clock; the clock pops it, no thread serves it."""

    def __init__(self, clock: "FakeClock") -> None:
        super().__init__()
        self._clock = clock

    def now(self) -> float:
        return self._clock._now

    def _pushed_locked(self, entry: _Entry) -> None:
        # Due already (after(0), a negative duration): nobody needs to move
        # the clock for it, so the clock's thread fires it.  Event.set takes
        # none of gocore's locks.
        if entry.when <= self._clock._now:
            self._clock._kick.set()

    def due_now(self) -> bool:
        with self._mu:
            self._reap_locked()
            top = self._top_locked()
            return top is not None and top <= self._clock._now


class FakeClock:
    """Virtual time for gocore; made by ``gocore.testing.fake_clock()``.

    Example::

        with gocore.testing.fake_clock() as clock:
            ctx, cancel = gocore.with_timeout(gocore.background(), 3600)
            clock.advance(3600)
            assert ctx.err() is not None
    """

    def __init__(self, auto_advance: bool = False) -> None:
        if not isinstance(auto_advance, bool):
            raise TypeError(f"auto_advance must be a bool, not {type(auto_advance).__name__}")
        self._auto = auto_advance
        self._base = self._now = time.monotonic()
        self._base_ns = self._now_ns = int(round(self._base * 1e9))
        self._heap = _FakeHeap(self)
        # One advance at a time (a test thread and the auto-advance driver).
        self._advancing = threading.RLock()
        self._active = False
        self._stopping = False
        self._owner = 0                    # native id of the thread that entered the block
        self._driver: Optional[threading.Thread] = None
        self._kick = threading.Event()     # a timer is due at the current time

    # -- reading --

    def now(self) -> float:
        """The virtual ``time.monotonic()``."""
        return self._now

    # -- moving --

    def advance(self, seconds: Seconds) -> None:
        """Move the clock `seconds` forward, firing what falls due on the
        way in deadline order; returns once every goroutine woken has
        finished or is blocked again.  Call it from the test's own thread
        (a goroutine that advances would wait for itself to block)."""
        s = _seconds(seconds)
        if s < 0:
            raise ValueError(f"cannot advance the clock by a negative duration: {seconds!r}")
        if math.isinf(s):
            raise ValueError("cannot advance the clock by an infinite duration")
        with self._advancing:
            self._check_active()
            self._advance_to(self._now + s)

    def wait_idle(self, timeout: Optional[Seconds] = None) -> bool:
        """Wait until every goroutine is blocked (synctest's ``Wait``);
        False if `timeout` real seconds pass first.  As ``advance``, for the
        test's own thread."""
        seconds = _gocore._timeout_seconds(timeout)     # the library's one rule; None: forever
        self._check_active()
        return _wait_quiet([threading.get_native_id()], lambda: self._stopping, seconds)

    def _check_active(self) -> None:
        if not self._active:
            raise RuntimeError("the fake clock is not installed (use it inside its with block)")

    # The time is kept twice: a float for the Python layer (what now()
    # returns, what timers are scheduled on) and int ns for the core.  Both
    # count from the install point, so a deadline `s` seconds ahead is
    # exactly now + s on either side, whatever rounding the absolute values
    # would suffer.

    def _from_ns(self, ns: int) -> float:
        return self._base + (ns - self._base_ns) / 1e9

    def _to_ns(self, t: float) -> int:
        return self._base_ns + int(round((t - self._base) * 1e9))

    def _next_due(self) -> Tuple[Optional[float], Optional[int]]:
        """The earliest pending virtual deadline (a timer, or a core wait),
        and for a core wait its exact ns."""
        nxt = self._heap.next_deadline()
        nxt_ns = None
        core_next = _core_hook("_fake_clock_next")
        if core_next is not None:
            ns = core_next()
            if ns is not None:
                t = self._from_ns(ns)
                if nxt is None or t <= nxt:
                    nxt, nxt_ns = t, ns
        return nxt, nxt_ns

    def _core_due(self) -> int:
        """Core waits whose virtual deadline has passed but that have not
        yet seen it (they poll in short real slices)."""
        core_due = _core_hook("_fake_clock_due")
        return core_due() if core_due is not None else 0

    def _set_now(self, t: float, ns: Optional[int] = None) -> None:
        # Never backwards on either side; a core deadline reached is reached
        # exactly (its ns), not within a rounding of it.
        new_ns = max(self._to_ns(t), self._now_ns if ns is None else max(ns, self._now_ns))
        self._now = max(t, self._now)
        self._now_ns = new_ns
        core_set = _core_hook("_fake_clock_set")
        if core_set is not None:
            core_set(new_ns)

    def _advance_to(self, target: float) -> None:
        # _advancing held.  Step from deadline to deadline, letting what each
        # step woke run until it blocks again, so a timer armed by a woken
        # goroutine inside the window fires in its place in the order.
        while not self._stopping:
            nxt, nxt_ns = self._next_due()
            if nxt is None or nxt > target:
                break
            self._set_now(max(nxt, self._now), nxt_ns)
            with self._heap._mu:
                due = self._heap._pop_due_locked(self._now)
            woke = _run_callbacks(due)
            due = []
            if woke or self._core_due():
                self._settle()
        if target > self._now:
            self._set_now(target)
        self._settle()

    def _settle(self) -> None:
        """Wait until the core's waits that came due have seen it, then until
        everything else is blocked."""
        while self._core_due() and not self._stopping:
            time.sleep(_POLL)
        _wait_quiet([threading.get_native_id()], lambda: self._stopping)

    def _drive(self) -> None:
        # The clock's own thread.  It fires timers that are due without the
        # clock moving (armed for now or the past), and with auto_advance,
        # when everything (the block's own thread included) is blocked and
        # something is pending, jumps to it.
        me = threading.get_native_id()
        stopping = lambda: self._stopping
        while not self._stopping:
            self._kick.wait(_POLL if self._auto else None)
            self._kick.clear()
            if self._heap.due_now():
                with self._advancing:
                    if self._stopping:
                        break
                    self._advance_to(self._now)
            if not self._auto or self._next_due()[0] is None:
                continue
            if not _wait_quiet([me], stopping, timeout=0.05, watch=[self._owner]):
                continue
            with self._advancing:
                if self._stopping:
                    break
                nxt = self._next_due()[0]
                if nxt is not None:
                    self._advance_to(max(nxt, self._now))

    # -- the block --

    def _install(self) -> None:
        with _install_lock:
            if timers._current is not timers._queue:
                raise RuntimeError("fake_clock blocks do not nest")
            self._base = self._now = time.monotonic()
            self._base_ns = self._now_ns = int(round(self._base * 1e9))
            self._set_now(self._now)       # the core's clock first: see _uninstall
            _clock._source = self.now
            timers._current = self._heap
            self._active = True
            self._owner = threading.get_native_id()
        self._driver = threading.Thread(target=self._drive, name="gocore-fake-clock", daemon=True)
        self._driver.start()

    def _uninstall(self) -> None:
        self._stopping = True
        self._kick.set()
        if self._driver is not None:
            self._driver.join()
        with self._advancing, _install_lock:
            self._active = False
            # Close first: a timer of the block must not fire, neither here
            # nor later on the real clock.
            self._heap.close()
            timers._current = timers._queue
            _clock._source = time.monotonic
            core_set = _core_hook("_fake_clock_set")
            if core_set is not None:
                core_set(None)

    def __enter__(self) -> "FakeClock":
        self._install()
        return self

    def __exit__(self, *exc: object) -> None:
        self._uninstall()

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"<gocore.testing.FakeClock {state} now={self._now:.6f}>"


def fake_clock(auto_advance: bool = False) -> FakeClock:
    """Virtual time for every gocore timer, deadline and ``timeout=`` inside
    a ``with`` block (Go's ``testing/synctest``).  The clock starts at the
    real ``time.monotonic()`` and moves only by ``clock.advance(seconds)``;
    with ``auto_advance=True`` it also jumps to the next pending timer
    whenever every goroutine is blocked.  After the block the real clock is
    back and no timer armed inside it fires.

    Example::

        with gocore.testing.fake_clock() as clock:
            t = gocore.after(60)
            clock.advance(60)
            assert t.recv() == clock.now()
    """
    return FakeClock(auto_advance)
