"""Timers on one shared thread: Go's ``time.After``, ``Timer``, ``AfterFunc``
and ``Ticker``, with Go 1.23 semantics.

Every timer in the process is an entry in one heap served by one daemon
thread ("gocore-timer"), which sleeps on a core ``Cond`` until the earliest
deadline (GIL released) and is signalled when an earlier deadline arrives.
A thousand pending timers cost one thread and a thousand heap entries.

Stopping a timer empties its entry at once (the entry drops its callback,
and with it every reference to the timer) and leaves the husk in the heap;
husks are skipped when they reach the top and the heap is compacted when
they pile up (lazy deletion, as Go's runtime timers).

Go 1.23 semantics: a ``Timer``/``Ticker`` channel never yields a value from
before a ``stop()``/``reset()`` that has returned.  Firing and stopping
decide under the timer's own lock, and ``stop``/``reset`` also drain a
value that fired but was not received (for a ``Timer`` that counts as
pending: ``stop`` returns True).

Internal API for other gocore modules (context deadlines)::

    handle = _schedule(when_monotonic, callback)   # callback() on the timer thread
    handle.cancel()   # True if it had not run; drops the callback at once

Callbacks run on the timer thread and must be quick (no blocking).
"""
from __future__ import annotations

import heapq
import math
import os
import sys
import threading
import time
import traceback
from datetime import timedelta
from functools import partial
from typing import Callable, Optional, Union

from gocore._gocore import Chan, Cond, Mutex, _duration_seconds, go

__all__ = ["after", "Timer", "after_func", "Ticker"]

Seconds = Union[int, float, timedelta]

# Heap husks (stopped entries) tolerated before compacting: at least this
# many, and more than half the heap.
_COMPACT_MIN_DEAD = 64


def _seconds(d: Seconds, what: str = "duration") -> float:
    """A duration in seconds as a float (the library's one rule, in
    timeout.pxi); +/-inf for durations beyond a float."""
    return _duration_seconds(d, what)


class _Entry:
    """A scheduled callback: what ``_schedule`` returns."""

    __slots__ = ("when", "callback")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback: Optional[Callable[[], object]] = callback   # None: fired or cancelled

    def cancel(self) -> bool:
        """Unschedule; True if the callback had not started.  Drops the
        callback (and everything it references) at once."""
        return _queue.cancel(self)


class _TimerQueue:
    """The heap and its thread.  _heap, _dead and _thread are guarded by _mu."""

    def __init__(self) -> None:
        self._mu = Mutex()
        self._cond = Cond(self._mu)
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = 0          # tie-break: equal deadlines fire in scheduling order
        self._dead = 0         # husks in _heap
        self._thread: Optional[threading.Thread] = None

    def schedule(self, when: float, callback: Callable[[], object]) -> _Entry:
        entry = _Entry(when, callback)
        with self._mu:
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, entry))
            if self._thread is None:
                self._start()
            elif self._heap[0][2] is entry:
                self._cond.signal()        # a new earliest deadline: re-arm the sleep
        return entry

    def cancel(self, entry: _Entry) -> bool:
        with self._mu:
            if entry.callback is None:
                return False
            entry.callback = None
            self._dead += 1
            if self._dead >= _COMPACT_MIN_DEAD and 2 * self._dead > len(self._heap):
                self._heap[:] = [item for item in self._heap if item[2].callback is not None]
                heapq.heapify(self._heap)
                self._dead = 0
            return True

    def pending(self) -> int:
        """Live (not yet fired, not cancelled) entries: for tests."""
        with self._mu:
            return len(self._heap) - self._dead

    def _start(self) -> None:
        t = threading.Thread(target=self._run, name="gocore-timer", daemon=True)
        self._thread = t
        t.start()

    def _run(self) -> None:
        mu, cond, heap = self._mu, self._cond, self._heap
        while True:
            due = []
            with mu:
                while True:
                    while heap and heap[0][2].callback is None:
                        heapq.heappop(heap)
                        self._dead -= 1
                    if not heap:
                        cond.wait()
                        continue
                    now = time.monotonic()
                    delay = heap[0][0] - now
                    if delay > 0:
                        cond.wait(delay)       # a core Cond: sleeps with the GIL released
                        continue
                    break
                while heap and heap[0][0] <= now:
                    entry = heapq.heappop(heap)[2]
                    if entry.callback is None:
                        self._dead -= 1
                        continue
                    due.append(entry.callback)
                    entry.callback = None
            for callback in due:
                try:
                    callback()
                except BaseException:
                    print("Exception in a gocore timer callback:", file=sys.stderr)
                    traceback.print_exc()
            due = callback = None  # type: ignore[assignment]   # hold no references while asleep

    def _after_fork(self) -> None:
        # The parent's timer thread does not exist here and may have held _mu.
        self._mu = Mutex()
        self._cond = Cond(self._mu)
        self._thread = None
        if any(item[2].callback is not None for item in self._heap):
            self._start()


_queue = _TimerQueue()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_queue._after_fork)


def _schedule(when: float, callback: Callable[[], object]) -> _Entry:
    """Run ``callback()`` on the timer thread once ``time.monotonic()`` reaches
    `when`.  Returns a handle whose ``cancel()`` unschedules it.  For gocore's
    own modules (context deadlines); callbacks must be quick."""
    return _queue.schedule(when, callback)


def _spawn(fn: Callable[[], object]) -> None:
    """Run fn in a goroutine (after_func's callback)."""
    go(fn)


class Timer:
    """A single event, Go's ``time.Timer``: after `seconds` the current
    ``time.monotonic()`` value is sent on ``c``.

    ``stop()`` returns True if it stopped a pending timer (a value that
    fired but was not received counts as pending, and is discarded);
    ``reset(seconds)`` re-arms, also a stopped or fired timer, and returns
    the same.  Once either returns, no value from before can be received.
    Negative durations fire at once; durations up to Go's maximum (about
    292 years) simply never fire in practice.

    Example::

        t = gocore.Timer(0.5)
        i, _ = gocore.select(done.recv, t.c.recv)
        t.stop()
    """

    __slots__ = ("c", "_fn", "_mu", "_entry", "_gen", "__weakref__")

    c: Optional[Chan[float]]

    def __init__(self, seconds: Seconds) -> None:
        self._setup(_seconds(seconds), None)

    def _setup(self, seconds: float, fn: Optional[Callable[[], object]]) -> None:
        self.c = Chan(1) if fn is None else None
        self._fn = fn
        self._mu = Mutex()
        self._entry: Optional[_Entry] = None
        self._gen = 0
        with self._mu:
            self._arm(seconds)

    def _arm(self, seconds: float) -> None:
        # _mu held.  The generation makes a callback from an earlier arming a no-op.
        self._gen += 1
        self._entry = _queue.schedule(time.monotonic() + seconds, partial(self._fire, self._gen))

    def _fire(self, gen: int) -> None:
        with self._mu:
            if gen != self._gen or self._entry is None:
                return                     # stopped or re-armed meanwhile
            self._entry = None
            if self.c is not None:
                # c is empty: every stop/reset drains it, and only this fires.
                self.c._try_send(time.monotonic())
                return
            fn = self._fn
        _spawn(fn)  # type: ignore[arg-type]   # c is None only when fn is set

    def _stop_locked(self) -> bool:
        pending = False
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None
            pending = True
        if self.c is not None and self.c._try_recv()[1]:
            pending = True                 # fired but not received: discarded
        return pending

    def stop(self) -> bool:
        """Prevent the timer from firing; True if it was pending."""
        with self._mu:
            return self._stop_locked()

    def reset(self, seconds: Seconds) -> bool:
        """Re-arm to fire `seconds` from now; True if the timer was pending."""
        s = _seconds(seconds)
        with self._mu:
            pending = self._stop_locked()
            self._arm(s)
            return pending

    def __repr__(self) -> str:
        state = "pending" if self._entry is not None else "idle"
        return f"<gocore.Timer {state}>"


def after(seconds: Seconds) -> Chan[float]:
    """A channel that receives the ``time.monotonic()`` value once, after
    `seconds` (Go's ``time.After``).

    Example::

        i, v = gocore.select(results.recv, gocore.after(1.0).recv)
    """
    return Timer(seconds).c  # type: ignore[return-value]


def after_func(seconds: Seconds, fn: Callable[[], object]) -> Timer:
    """Run ``fn()`` in a goroutine after `seconds` (Go's ``time.AfterFunc``).
    The returned Timer's ``stop()`` is True if it kept `fn` from running;
    its ``c`` is None.

    Example::

        t = gocore.after_func(5.0, lambda: print("slow"))
        ...
        t.stop()
    """
    if not callable(fn):
        raise TypeError(f"after_func needs a callable, not {type(fn).__name__}")
    t = Timer.__new__(Timer)
    t._setup(_seconds(seconds), fn)
    return t


class Ticker:
    """Ticks every `seconds` on ``c`` (Go's ``time.Ticker``): ``c`` has a
    buffer of one and ticks are dropped for a slow reader; the schedule
    skips missed ticks instead of bunching them.  ``stop()`` ends it,
    ``reset(seconds)`` restarts it with a new period; neither leaves a stale
    tick in ``c``.  An interval <= 0 raises ValueError.

    Example::

        tk = gocore.Ticker(0.1)
        for _ in range(3):
            tk.c.recv()
        tk.stop()
    """

    __slots__ = ("c", "_mu", "_entry", "_gen", "_period", "_next", "__weakref__")

    c: Chan[float]

    def __init__(self, seconds: Seconds) -> None:
        period = self._check(seconds)
        self.c = Chan(1)
        self._mu = Mutex()
        self._entry: Optional[_Entry] = None
        self._gen = 0
        self._period = period
        self._next = 0.0
        with self._mu:
            self._arm(period)

    @staticmethod
    def _check(seconds: Seconds) -> float:
        period = _seconds(seconds, "ticker interval")
        if not period > 0:
            raise ValueError(f"non-positive interval for Ticker: {seconds!r}")
        return period

    def _arm(self, period: float) -> None:
        # _mu held.
        self._gen += 1
        self._period = period
        self._next = time.monotonic() + period
        self._entry = _queue.schedule(self._next, partial(self._tick, self._gen))

    def _tick(self, gen: int) -> None:
        with self._mu:
            if gen != self._gen or self._entry is None:
                return
            now = time.monotonic()
            self.c._try_send(now)          # dropped when the reader is behind
            p = self._period
            nxt = self._next + p
            if nxt <= now:                 # late: skip the ticks we missed
                nxt += p * math.floor((now - nxt) / p + 1)
            self._next = nxt
            self._entry = _queue.schedule(nxt, partial(self._tick, gen))

    def _stop_locked(self) -> None:
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None
        self._gen += 1
        self.c._try_recv()                 # no stale tick after stop/reset

    def stop(self) -> None:
        """Stop ticking.  ``c`` is not closed (as in Go)."""
        with self._mu:
            self._stop_locked()

    def reset(self, seconds: Seconds) -> None:
        """Stop, then tick every `seconds` from now on."""
        period = self._check(seconds)
        with self._mu:
            self._stop_locked()
            self._arm(period)

    def __repr__(self) -> str:
        state = f"every {self._period}s" if self._entry is not None else "stopped"
        return f"<gocore.Ticker {state}>"
