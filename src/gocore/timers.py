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

Go 1.23 also collects timers nobody references: the heap holds a timer's
state but its channel only weakly, so dropping an unstopped ``Ticker`` or
an unreceived ``after(3600)`` frees it and buries its heap entry.

Time: new timers go to the heap in ``_current`` and read that heap's clock:
the real one (``_queue``, served by the thread), or a test clock's
(``gocore.testing.fake_clock`` swaps it together with ``_clock``'s source,
and drives its heap itself).

Internal API for other gocore modules (context deadlines)::

    handle = _schedule(when, callback)   # `when` on _clock.now()'s scale
    handle.cancel()   # True if it had not run; drops the callback at once

Callbacks run on the timer thread (or the test clock's) and must be quick.
"""
from __future__ import annotations

import heapq
import math
import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from datetime import timedelta
from functools import partial
from typing import Callable, Deque, List, Optional, Tuple, Union

from gocore import _gocore
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

    __slots__ = ("when", "callback", "queue")

    def __init__(self, when: float, callback: Callable[[], object], queue: "_Heap") -> None:
        self.when = when
        self.callback: Optional[Callable[[], object]] = callback   # None: fired or cancelled
        self.queue = queue

    def cancel(self) -> bool:
        """Unschedule; True if the callback had not started.  Drops the
        callback (and everything it references) at once."""
        return self.queue.cancel(self)


def _run_callbacks(due: List[Callable[[], object]]) -> bool:
    """Run timer callbacks; False only if every one reported (by returning
    False) that it woke nobody, which lets a test clock skip waiting for
    the woken to settle."""
    woke = False
    for callback in due:
        try:
            if callback() is not False:
                woke = True
        except BaseException:
            woke = True
            print("Exception in a gocore timer callback:", file=sys.stderr)
            traceback.print_exc()
    return woke


class _Heap:
    """Entries by deadline with lazy deletion; what drives them (a thread on
    the real clock, or a test clock) is the subclass's business.
    _heap, _dead, _seq and _closed are guarded by _mu."""

    def __init__(self) -> None:
        self._mu = Mutex()
        self._heap: List[Tuple[float, int, _Entry]] = []
        self._seq = 0          # tie-break: equal deadlines fire in scheduling order
        self._dead = 0         # husks in _heap
        self._closed = False   # a closed heap schedules nothing (a finished test clock)
        # Entries whose timer channel was collected.  Filled by weakref
        # callbacks, which may run inside a GC pass on a thread that already
        # holds _mu (or a timer's lock): so they only append here, which takes
        # none of our locks, and whoever next holds _mu kills them.
        self._buried: Deque[_Entry] = deque()

    def now(self) -> float:
        raise NotImplementedError

    def schedule(self, when: float, callback: Callable[[], object]) -> _Entry:
        entry = _Entry(when, callback, self)
        with self._mu:
            if self._closed:
                entry.callback = None
                return entry
            if self._buried:
                self._reap_locked()
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, entry))
            self._pushed_locked(entry)
        return entry

    def _pushed_locked(self, entry: _Entry) -> None:
        """Hook: `entry` was just pushed (_mu held)."""

    def cancel(self, entry: _Entry) -> bool:
        with self._mu:
            return self._kill_locked(entry)

    def bury(self, entry: _Entry) -> None:
        """Kill `entry` soon; safe from a weakref callback (takes no lock)."""
        self._buried.append(entry)

    def _kill_locked(self, entry: _Entry) -> bool:
        # callback is not None exactly while the entry is still in _heap
        # (firing pops the entry and clears it in one locked step).
        if entry.callback is None:
            return False
        entry.callback = None
        self._dead += 1
        if self._dead >= _COMPACT_MIN_DEAD and 2 * self._dead > len(self._heap):
            self._heap[:] = [item for item in self._heap if item[2].callback is not None]
            heapq.heapify(self._heap)
            self._dead = 0
        return True

    def _reap_locked(self) -> None:
        buried = self._buried
        while buried:
            try:
                entry = buried.popleft()
            except IndexError:             # emptied by another reaper (free-threaded)
                break
            self._kill_locked(entry)

    def _top_locked(self) -> Optional[float]:
        """The earliest live deadline, dropping husks from the top."""
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
            self._dead -= 1
        return heap[0][0] if heap else None

    def _pop_due_locked(self, now: float) -> List[Callable[[], object]]:
        """Take the callbacks due at `now`, in deadline order."""
        due = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)[2]
            if entry.callback is None:
                self._dead -= 1
                continue
            due.append(entry.callback)
            entry.callback = None
        return due

    def next_deadline(self) -> Optional[float]:
        with self._mu:
            self._reap_locked()
            return self._top_locked()

    def pending(self) -> int:
        """Live (not yet fired, not cancelled) entries: for tests."""
        with self._mu:
            self._reap_locked()
            return len(self._heap) - self._dead

    def close(self) -> None:
        """Drop every entry and schedule nothing more."""
        with self._mu:
            self._closed = True
            for item in self._heap:
                item[2].callback = None
            self._heap.clear()
            self._dead = 0
            self._buried.clear()


class _TimerQueue(_Heap):
    """The real clock's heap and its thread (_thread guarded by _mu)."""

    def __init__(self) -> None:
        super().__init__()
        self._cond = Cond(self._mu)
        self._thread: Optional[threading.Thread] = None

    def now(self) -> float:
        # Real entries fire on the real clock, also while a test clock is
        # installed for the Python layer.
        return time.monotonic()

    def _pushed_locked(self, entry: _Entry) -> None:
        if self._thread is None:
            self._start()
        elif self._heap[0][2] is entry:
            self._cond.signal()            # a new earliest deadline: re-arm the sleep

    def _start(self) -> None:
        t = threading.Thread(target=self._run, name="gocore-timer", daemon=True)
        self._thread = t
        t.start()

    def _run(self) -> None:
        # A record makes this a thread gocore knows: the deadlock detector
        # counts it as blocked only while it waits with no timer pending.
        _gocore._register_system_thread()
        mu, cond = self._mu, self._cond
        while True:
            with mu:
                while True:
                    self._reap_locked()
                    top = self._top_locked()
                    if top is None:
                        cond.wait()
                        continue
                    now = time.monotonic()
                    if top > now:
                        # A core Cond (sleeps with the GIL released), on the
                        # real clock also while a test clock is installed.
                        cond._wait_real(top - now)
                        continue
                    due = self._pop_due_locked(now)
                    break
            _run_callbacks(due)
            due = []                       # hold no references while asleep

    def _after_fork(self) -> None:
        # The parent's timer thread does not exist here and may have held _mu.
        global _fork_epoch, _epoch_lock
        _fork_epoch += 1
        _epoch_lock = threading.Lock()
        self._mu = Mutex()
        self._cond = Cond(self._mu)
        self._thread = None
        if any(item[2].callback is not None for item in self._heap):
            self._start()


# Fork safety of the per-timer locks.  A parent thread may hold a timer's
# lock at fork time (inside reset(), say); in the child that holder does not
# exist, so the lock would stay taken for ever and the child's timer thread
# would hang in the first callback that needs it.  Each guarded object
# remembers the epoch its lock was made in; the child bumps the epoch, and the
# first user of a stale lock swaps in a fresh one (under _epoch_lock, so two
# child threads agree on the replacement).  The cost is one compare per use.
_fork_epoch = 0
_epoch_lock = threading.Lock()


class _Guarded:
    __slots__ = ("_mu", "_epoch")

    def __init__(self) -> None:
        self._mu = Mutex()
        self._epoch = _fork_epoch

    def _lock(self) -> Mutex:
        if self._epoch != _fork_epoch:
            with _epoch_lock:
                if self._epoch != _fork_epoch:
                    self._mu = Mutex()
                    self._epoch = _fork_epoch
        return self._mu


_queue = _TimerQueue()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_queue._after_fork)

# The heap new timers go to: _queue, or a test clock's heap while one is
# installed (gocore.testing.fake_clock swaps it together with _clock's source).
_current: _Heap = _queue


def _schedule(when: float, callback: Callable[[], object]) -> _Entry:
    """Run ``callback()`` once gocore's clock (``_clock.now()``) reaches
    `when`.  Returns a handle whose ``cancel()`` unschedules it.  For gocore's
    own modules (context deadlines); callbacks must be quick."""
    return _current.schedule(when, callback)


class _ChanRef(weakref.ref):  # type: ignore[type-arg]
    """How a timer's state holds its channel: weakly, remembering (weakly
    too, so no cycle) the state to clean up when the channel goes."""

    __slots__ = ("state",)


def _chan_dropped(ref: _ChanRef) -> None:
    # Go 1.23: a timer whose channel nobody can receive from is garbage.  The
    # heap holds the channel weakly; once it is gone, bury the pending entry
    # so an after(3600) dropped after a select does not sit in the heap.
    state = ref.state()
    if state is not None:
        entry = state.entry
        if entry is not None:
            entry.queue.bury(entry)


def _weak_chan(c: Chan, state: "_TimerState | _TickerState") -> _ChanRef:
    ref = _ChanRef(c, _chan_dropped)
    ref.state = weakref.ref(state)
    return ref


def _spawn(fn: Callable[[], object]) -> None:
    """Run fn in a goroutine (after_func's callback)."""
    go(fn)


class _TimerState(_Guarded):
    """The part of a Timer the heap holds: its channel only weakly, so a
    Timer and channel nobody references are freed even while pending (an
    ``after_func`` timer keeps its function, as in Go).  entry and gen are
    guarded by the lock."""

    __slots__ = ("chan", "fn", "entry", "gen", "__weakref__")

    def __init__(self, c: Optional[Chan], fn: Optional[Callable[[], object]]) -> None:
        self._mu = Mutex()
        self._epoch = _fork_epoch
        self.chan = None if c is None else _weak_chan(c, self)
        self.fn = fn
        self.entry: Optional[_Entry] = None
        self.gen = 0                       # makes a callback from an earlier arming a no-op

    def arm(self, seconds: float) -> None:
        # Lock held.
        self.gen += 1
        q = _current
        self.entry = q.schedule(q.now() + seconds, partial(self.fire, self.gen))

    def fire(self, gen: int) -> Optional[bool]:
        # False: woke nobody (see _run_callbacks).
        c = None                           # released after the lock: see _chan_dropped
        with self._lock():
            entry = self.entry
            if gen != self.gen or entry is None:
                return False               # stopped or re-armed meanwhile
            self.entry = None
            fn = self.fn
            if fn is None:
                c = self.chan() if self.chan is not None else None
                # c is empty: every stop/reset drains it, and only this fires.
                # A value sent may have woken a receiver (one that was
                # waiting takes it from the buffer itself).
                return c is not None and c._try_send(entry.queue.now())
        _spawn(fn)
        return None

    def stop_locked(self) -> bool:
        pending = False
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None
            pending = True
        c = self.chan() if self.chan is not None else None
        if c is not None and c._try_recv()[1]:
            pending = True                 # fired but not received: discarded
        return pending


class Timer:
    """A single event, Go's ``time.Timer``: after `seconds` the current
    ``time.monotonic()`` value is sent on ``c``.

    ``stop()`` returns True if it stopped a pending timer (a value that
    fired but was not received counts as pending, and is discarded);
    ``reset(seconds)`` re-arms, also a stopped or fired timer, and returns
    the same.  Once either returns, no value from before can be received.
    Negative durations fire at once; durations up to Go's maximum (about
    292 years) simply never fire in practice.  As in Go 1.23, a timer that
    nobody references any more (neither it nor its ``c``) is garbage even
    if it was never stopped.

    Example::

        t = gocore.Timer(0.5)
        i, _ = gocore.select(done.recv, t.c.recv)
        t.stop()
    """

    __slots__ = ("c", "_state", "__weakref__")

    c: Optional[Chan]

    def __init__(self, seconds: Seconds) -> None:
        self._setup(_seconds(seconds), None)

    def _setup(self, seconds: float, fn: Optional[Callable[[], object]]) -> None:
        self.c = Chan(1) if fn is None else None
        st = self._state = _TimerState(self.c, fn)
        with st._lock():
            st.arm(seconds)

    def stop(self) -> bool:
        """Prevent the timer from firing; True if it was pending."""
        st = self._state
        with st._lock():
            return st.stop_locked()

    def reset(self, seconds: Seconds) -> bool:
        """Re-arm to fire `seconds` from now; True if the timer was pending."""
        s = _seconds(seconds)
        st = self._state
        with st._lock():
            pending = st.stop_locked()
            st.arm(s)
            return pending

    def __repr__(self) -> str:
        state = "pending" if self._state.entry is not None else "idle"
        return f"<gocore.Timer {state}>"


def after(seconds: Seconds) -> Chan:
    """A channel that receives the ``time.monotonic()`` value once, after
    `seconds` (Go's ``time.After``).  Dropping the channel unreceived frees
    the timer (Go 1.23), so a ``select`` on ``after(60).recv`` in a loop
    costs nothing once each select returns.

    Example::

        i, v = gocore.select(results.recv, gocore.after(1.0).recv)
    """
    return Timer(seconds).c  # type: ignore[return-value]


def after_func(seconds: Seconds, fn: Callable[[], object]) -> Timer:
    """Run ``fn()`` in a goroutine after `seconds` (Go's ``time.AfterFunc``).
    The returned Timer's ``stop()`` is True if it kept `fn` from running;
    its ``c`` is None.  `fn` runs even if nobody keeps the Timer.

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


def _next_tick(prev: float, period: float, now: float) -> float:
    """The first tick of the schedule prev + k*period that is after `now`."""
    nxt = prev + period
    if nxt <= now:
        # Late (or a period too small to move the clock): skip the ticks we
        # missed instead of bunching them.  Count them only while the count
        # is exact in a float; a period like 5e-324 would overflow it.
        missed = (now - nxt) / period
        if missed < 2.0 ** 52:
            nxt += period * (math.floor(missed) + 1)
        else:
            nxt = now + period
        if nxt <= now:                     # below the clock's resolution
            nxt = math.nextafter(now, math.inf)
    return nxt


class _TickerState(_Guarded):
    """The part of a Ticker the heap holds (its channel weakly, as for a
    Timer).  Every field but chan is guarded by the lock."""

    __slots__ = ("chan", "entry", "gen", "period", "next", "__weakref__")

    def __init__(self, c: Chan, period: float) -> None:
        self._mu = Mutex()
        self._epoch = _fork_epoch
        self.chan = _weak_chan(c, self)
        self.entry: Optional[_Entry] = None
        self.gen = 0
        self.period = period
        self.next = 0.0

    def arm(self, period: float) -> None:
        # Lock held.
        self.gen += 1
        self.period = period
        q = _current
        self.next = q.now() + period
        self.entry = q.schedule(self.next, partial(self.tick, self.gen))

    def tick(self, gen: int) -> bool:
        # False: woke nobody (see _run_callbacks).
        c = None                           # released after the lock: see _chan_dropped
        with self._lock():
            entry = self.entry
            if gen != self.gen or entry is None:
                return False
            c = self.chan()
            if c is None:                  # nobody can receive: stop for good
                self.entry = None
                return False
            q = entry.queue
            now = q.now()
            # Dropped when the reader is behind (then it woke nobody).
            woke = c._try_send(now)
            self.next = _next_tick(self.next, self.period, now)
            self.entry = q.schedule(self.next, partial(self.tick, gen))
            return woke

    def stop_locked(self) -> None:
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None
        self.gen += 1
        c = self.chan()
        if c is not None:
            c._try_recv()                  # no stale tick after stop/reset


class Ticker:
    """Ticks every `seconds` on ``c`` (Go's ``time.Ticker``): ``c`` has a
    buffer of one and ticks are dropped for a slow reader; the schedule
    skips missed ticks instead of bunching them.  ``stop()`` ends it,
    ``reset(seconds)`` restarts it with a new period; neither leaves a stale
    tick in ``c``.  An interval <= 0 raises ValueError.  A Ticker nobody
    references (neither it nor its ``c``) is garbage, stopped or not.

    Example::

        tk = gocore.Ticker(0.1)
        for _ in range(3):
            tk.c.recv()
        tk.stop()
    """

    __slots__ = ("c", "_state", "__weakref__")

    c: Chan

    def __init__(self, seconds: Seconds) -> None:
        period = self._check(seconds)
        self.c = Chan(1)
        st = self._state = _TickerState(self.c, period)
        with st._lock():
            st.arm(period)

    @staticmethod
    def _check(seconds: Seconds) -> float:
        period = _seconds(seconds, "ticker interval")
        if not period > 0:
            raise ValueError(f"non-positive interval for Ticker: {seconds!r}")
        return period

    def stop(self) -> None:
        """Stop ticking.  ``c`` is not closed (as in Go)."""
        st = self._state
        with st._lock():
            st.stop_locked()

    def reset(self, seconds: Seconds) -> None:
        """Stop, then tick every `seconds` from now on."""
        period = self._check(seconds)
        st = self._state
        with st._lock():
            st.stop_locked()
            st.arm(period)

    def __repr__(self) -> str:
        st = self._state
        state = f"every {st.period}s" if st.entry is not None else "stopped"
        return f"<gocore.Ticker {state}>"
