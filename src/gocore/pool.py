"""Pool: a bounded pool of reusable objects, after go-zero's ``syncx.Pool``.

Objects are made on demand by ``create`` while fewer than ``limit`` exist,
handed out LIFO (the most recently returned one first: its caches and
connections are the warmest), and destroyed when they have been idle longer
than ``max_age`` or when the pool is closed.

``create`` and ``destroy`` run without the pool's lock held: they may be slow
or use the pool themselves.  An object's slot (counted in ``_live``) is taken
before ``create`` runs and given back only after ``destroy`` has returned, so
created-and-not-yet-destroyed objects never exceed the limit, even while
creations and destructions are in flight.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any, Callable, Deque, Generic, Iterator, List, Optional, Tuple, TypeVar, cast

from gocore import _clock
from gocore._gocore import Cond, Mutex, _timeout_seconds

__all__ = ["Pool"]

T = TypeVar("T")

# What a get can do now (Pool._take_locked).
_GOT, _STALE, _CREATE, _WAIT = range(4)


def _set_done(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


class Pool(Generic[T]):
    """A pool of reusable objects (go-zero's ``syncx.Pool``).

    ``get(timeout=None)`` returns an idle object, or creates one while fewer
    than `limit` exist (0: no limit), or waits for a ``put``; objects idle for
    more than `max_age` seconds are destroyed instead of reused.

    Example::

        pool = gocore.Pool(connect, destroy=lambda c: c.close(), limit=10, max_age=60)
        with pool.borrow() as conn:
            conn.execute(query)
    """

    def __init__(self, create: Callable[[], T], destroy: Optional[Callable[[T], Any]] = None,
                 limit: int = 0, max_age: Optional[float] = None) -> None:
        if not callable(create):
            raise TypeError(f"create must be callable, not {type(create).__name__}")
        if destroy is not None and not callable(destroy):
            raise TypeError(f"destroy must be callable or None, not {type(destroy).__name__}")
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if limit < 0:
            raise ValueError(f"limit must be >= 0 (0 means no limit), got {limit}")
        if max_age is not None:
            if not isinstance(max_age, (int, float)) or isinstance(max_age, bool):
                raise TypeError(f"max_age must be a number of seconds or None, not {type(max_age).__name__}")
            if not (max_age >= 0):
                raise ValueError(f"max_age must be >= 0 seconds, got {max_age}")
        self._create = create
        self._destroy = destroy
        self._limit = limit
        self._max_age = max_age or None     # 0 disables ageing, as in go-zero
        self._mu = Mutex()
        self._cond = Cond(self._mu)
        self._idle: List[Tuple[T, float]] = []   # (object, when put back); top = end. Guarded by _mu.
        self._live = 0          # objects created (or being created) and not destroyed. Guarded by _mu.
        self._closed = False    # guarded by _mu
        self._task_waiters: Deque[Tuple[Any, Any]] = collections.deque()   # (loop, future); guarded by _mu

    @property
    def limit(self) -> int:
        return self._limit

    def _drop(self, obj: T) -> None:
        if self._destroy is not None:
            self._destroy(obj)

    def _release_slot(self) -> None:
        """An object is gone (destroyed, or its creation failed): one waiter
        may now create."""
        with self._mu:
            self._live -= 1
            self._signal_locked()

    def _take_locked(self) -> Tuple[int, Any]:
        """_mu held: what a get can do now: (_GOT, obj), (_STALE, obj) (too
        old: destroy it outside the lock and look again; its slot stays
        counted until destroy() has returned, so a replacement never
        coexists with it beyond the limit), (_CREATE, None) (a slot is taken
        for a new object) or (_WAIT, None)."""
        if self._closed:
            raise RuntimeError("get from a closed Pool")
        if self._idle:
            obj, since = self._idle.pop()
            if self._max_age is not None and _clock.now() - since > self._max_age:
                return _STALE, obj
            return _GOT, obj
        if self._limit == 0 or self._live < self._limit:
            self._live += 1
            return _CREATE, None
        return _WAIT, None

    def _finish_take(self, kind: int, obj: Any) -> Tuple[bool, Any]:
        """Outside the lock: (True, obj) for an object to return, (False,
        None) to look again (a stale object was destroyed)."""
        if kind == _STALE:
            try:
                self._drop(obj)
            finally:
                self._release_slot()
            return False, None
        if kind == _CREATE:
            try:
                obj = self._create()
            except BaseException:
                self._release_slot()
                raise
            if obj is None:
                # None cannot be put back (put() refuses it), so handing it
                # out would lose the slot for good: give the slot back.
                self._release_slot()
                raise TypeError(f"Pool create() returned None; it must return the object "
                                f"to pool (create={self._create!r})")
        return True, obj

    def _signal_locked(self) -> None:
        """_mu held: an object or a slot became available: wake one waiting
        thread and one waiting task (each looks again; a spare wake-up only
        costs a re-check)."""
        self._cond.signal()
        while self._task_waiters:
            loop, fut = self._task_waiters.popleft()
            try:
                loop.call_soon_threadsafe(_set_done, fut)
                return
            except RuntimeError:      # its loop is closed: the next one
                continue

    def get(self, timeout: Optional[float] = None) -> T:
        """An idle object, a new one (while under the limit), or the next one
        ``put`` back.  Raises TimeoutError if `timeout` seconds pass first and
        RuntimeError if the pool is closed."""
        seconds = _timeout_seconds(timeout)
        deadline = None if seconds is None else _clock.now() + seconds
        mu = self._mu
        while True:
            mu.lock()
            try:
                while True:
                    kind, obj = self._take_locked()
                    if kind != _WAIT:
                        break
                    if deadline is None:
                        self._cond.wait()
                    else:
                        left = deadline - _clock.now()
                        if left <= 0 or not self._cond.wait(left):
                            if not self._idle and not (self._live < self._limit) and not self._closed:
                                raise TimeoutError(f"Pool.get timed out after {timeout} s")
            finally:
                mu.unlock()
            done, obj = self._finish_take(kind, obj)
            if done:
                return cast(T, obj)

    async def aget(self) -> T:
        """Awaitable ``get``: waits for a ``put`` without blocking the event
        loop (no timeout: use ``asyncio.timeout``).  A cancelled aget takes
        nothing: a wake-up it was sent is passed on to the next waiter.

        Example::

            conn = await pool.aget()
            try:
                await conn.ping()
            finally:
                pool.put(conn)
        """
        loop = asyncio.get_running_loop()
        while True:
            fut = None
            with self._mu:
                kind, obj = self._take_locked()
                if kind == _WAIT:
                    fut = loop.create_future()
                    entry = (loop, fut)
                    self._task_waiters.append(entry)
            if fut is None:
                done, obj = self._finish_take(kind, obj)
                if done:
                    return cast(T, obj)
                continue
            try:
                await fut
            except BaseException:
                with self._mu:
                    try:
                        self._task_waiters.remove(entry)
                    except ValueError:        # it was woken: pass the wake-up on
                        self._signal_locked()
                raise

    def put(self, obj: T) -> None:
        """Return `obj` to the pool (ValueError for None).  After ``close()``
        the object is destroyed instead."""
        if obj is None:
            raise ValueError("cannot put None into a Pool")
        with self._mu:
            if not self._closed:
                self._idle.append((obj, _clock.now()))
                self._signal_locked()
                return
        try:
            self._drop(obj)
        finally:
            self._release_slot()

    @contextlib.contextmanager
    def borrow(self, timeout: Optional[float] = None) -> Iterator[T]:
        """``with pool.borrow() as obj:`` gets an object and puts it back.

        Example::

            with pool.borrow(timeout=1.0) as conn:
                conn.ping()
        """
        obj = self.get(timeout)
        try:
            yield obj
        finally:
            self.put(obj)

    def close(self) -> None:
        """Destroy the idle objects; later ``get`` raises RuntimeError (also in
        callers waiting now) and a later ``put`` destroys its object."""
        with self._mu:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.broadcast()
            for _ in range(len(self._task_waiters)):
                self._signal_locked()
        first_error = None
        for obj, _ in reversed(idle):
            try:
                self._drop(obj)
            except BaseException as exc:     # destroy the rest, then report
                if first_error is None:
                    first_error = exc
            finally:
                self._release_slot()
        if first_error is not None:
            raise first_error

    def __repr__(self) -> str:
        with self._mu:
            return (f"<gocore.Pool live={self._live} idle={len(self._idle)} limit={self._limit}"
                    f"{' closed' if self._closed else ''}>")
