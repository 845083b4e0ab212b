"""sync rows: each gocore primitive beside its stdlib (or pure-Python) anchor and its peers."""
from __future__ import annotations

import threading
from typing import Any, Callable, List

import gocore

from .harness import Row, Side, peer
from .threads import run_threads

ROWS: List[Row] = []


def with_loop(lock: Any, n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            with lock:
                pass
    return run


def pair_loop(first: Callable[..., Any], second: Callable[..., Any], n: int) -> Callable[[], None]:
    """n rounds of first(); second() -- acquire/release, rlock/runlock, add/done."""
    def run() -> None:
        for _ in range(n):
            first()
            second()
    return run


def acquire_release(lock: Any, n: int) -> Callable[[], None]:
    return pair_loop(lock.acquire, lock.release, n)


def contended(lock: Any, n: int) -> Callable[[], None]:
    """Two threads each doing n with-blocks on one lock; the count is checked,
    so a lock that failed to exclude would not pass as a fast one."""
    def run() -> None:
        box = [0]

        def worker() -> None:
            for _ in range(n):
                with lock:
                    box[0] += 1
        run_threads(2, worker)
        if box[0] != 2 * n:
            raise AssertionError(f"lost updates: {box[0]} of {2 * n}")
    return run


ROWS += [
    Row("Mutex with-block", "op", 1000, [
        Side("gocore Mutex", lambda n: with_loop(gocore.Mutex(), n)),
        Side("threading.Lock", lambda n: with_loop(threading.Lock(), n)),
        Side("aiologic Lock", lambda n: with_loop(peer("aiologic").Lock(), n), requires="aiologic"),
        Side("pygolang sync.Mutex", lambda n: with_loop(peer("golang.sync").Mutex(), n), requires="golang.sync"),
    ]),
    Row("Mutex acquire+release", "op", 1000, [
        Side("gocore Mutex", lambda n: acquire_release(gocore.Mutex(), n)),
        Side("threading.Lock", lambda n: acquire_release(threading.Lock(), n)),
    ]),
    Row("Mutex, 2 threads contending", "with-block", 100_000, [
        Side("gocore Mutex", lambda n: contended(gocore.Mutex(), n)),
        Side("threading.Lock", lambda n: contended(threading.Lock(), n)),
        Side("pygolang sync.Mutex", lambda n: contended(peer("golang.sync").Mutex(), n), requires="golang.sync"),
    ], heavy=True, quick_n=5_000),
]


class CondRWLock:
    """The usual pure-Python reader/writer lock (writer preference), read side only."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def rlock(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def runlock(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()


class CondWaitGroup:
    """A WaitGroup on threading.Condition, the stdlib way to write one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._n = 0

    def add(self, delta: int = 1) -> None:
        with self._cond:
            self._n += delta
            if self._n == 0:
                self._cond.notify_all()

    def done(self) -> None:
        self.add(-1)


def rlock_loop(rw: Any, n: int) -> Callable[[], None]:
    return pair_loop(rw.rlock, rw.runlock, n)


def add_done(wg: Any, n: int) -> Callable[[], None]:
    add, done = wg.add, wg.done

    def run() -> None:
        for _ in range(n):
            add(1)
            done()
    return run


def locked_counter(n: int) -> Callable[[], None]:
    lock = threading.Lock()
    box = [0]

    def run() -> None:
        for _ in range(n):
            with lock:
                box[0] += 1
    return run


def atomic_add(a: Any, n: int) -> Callable[[], None]:
    add = a.add

    def run() -> None:
        for _ in range(n):
            add(1)
    return run


def cereggii_add(n: int) -> Callable[[], None]:
    inc = peer("cereggii").AtomicInt64(0).increment_and_get

    def run() -> None:
        for _ in range(n):
            inc(1)
    return run


def ft_utils_add(n: int) -> Callable[[], None]:
    inc = peer("ft_utils.concurrency").AtomicInt64(0).incr

    def run() -> None:
        for _ in range(n):
            inc()
    return run


ROWS += [
    Row("RWMutex rlock+runlock", "op", 1000, [
        Side("gocore RWMutex", lambda n: rlock_loop(gocore.RWMutex(), n)),
        Side("Condition RW lock", lambda n: rlock_loop(CondRWLock(), n)),
    ]),
    Row("AtomicInt.add", "op", 1000, [
        Side("gocore AtomicInt", lambda n: atomic_add(gocore.AtomicInt(), n)),
        Side("with lock: n += 1", locked_counter),
        Side("cereggii AtomicInt64", cereggii_add, requires="cereggii"),
        Side("ft_utils AtomicInt64", ft_utils_add, requires="ft_utils.concurrency"),
    ]),
    Row("WaitGroup add+done", "op", 1000, [
        Side("gocore WaitGroup", lambda n: add_done(gocore.WaitGroup(), n)),
        Side("Condition WaitGroup", lambda n: add_done(CondWaitGroup(), n)),
        Side("pygolang sync.WaitGroup", lambda n: add_done(peer("golang.sync").WaitGroup(), n),
             requires="golang.sync"),
    ]),
]
