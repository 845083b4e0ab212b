"""sync benchmarks: each gocore operation beside its stdlib (or pure-Python) anchor."""
import threading

import pytest
from benchutil import compare, run_threads

import gocore

N_CONTENDED = 100_000


# ---- Mutex vs threading.Lock: uncontended with-block ----
def _with_loop(lock, n=1000):
    def run():
        for _ in range(n):
            with lock:
                pass
    return run


def test_mutex_with_gocore(benchmark):
    compare(benchmark, "Mutex with-block", "gocore", per=1000)
    benchmark(_with_loop(gocore.Mutex()))


def test_mutex_with_threading(benchmark):
    compare(benchmark, "Mutex with-block", "threading.Lock", baseline=True, per=1000)
    benchmark(_with_loop(threading.Lock()))


# ---- acquire/release ----
def _pair_loop(first, second, n=1000):
    """n rounds of first(); second() — e.g. acquire/release, rlock/runlock."""
    def run():
        for _ in range(n):
            first()
            second()
    return run


def test_mutex_acquire_gocore(benchmark):
    compare(benchmark, "Mutex acquire+release", "gocore", per=1000)
    mu = gocore.Mutex()
    benchmark(_pair_loop(mu.acquire, mu.release))


def test_mutex_acquire_threading(benchmark):
    compare(benchmark, "Mutex acquire+release", "threading.Lock", baseline=True, per=1000)
    lock = threading.Lock()
    benchmark(_pair_loop(lock.acquire, lock.release))


# ---- contended: 2 threads x 100,000 with-blocks ----
def _contended(lock):
    box = [0]

    def worker():
        for _ in range(N_CONTENDED):
            with lock:
                box[0] += 1

    def run():
        run_threads(2, worker)
    return run


def test_mutex_contended_gocore(benchmark):
    compare(benchmark, "Mutex 2 threads x 100k with", "gocore")
    benchmark.pedantic(_contended(gocore.Mutex()), rounds=5, iterations=1)


def test_mutex_contended_threading(benchmark):
    compare(benchmark, "Mutex 2 threads x 100k with", "threading.Lock", baseline=True)
    benchmark.pedantic(_contended(threading.Lock()), rounds=5, iterations=1)


# ---- RWMutex read side vs a Condition-based reader/writer lock ----
class CondRWLock:
    """The usual pure-Python reader/writer lock (writer preference)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def rlock(self):
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def runlock(self):
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()


def test_rwmutex_rlock_gocore(benchmark):
    compare(benchmark, "RWMutex rlock+runlock", "gocore", per=1000)
    rw = gocore.RWMutex()
    benchmark(_pair_loop(rw.rlock, rw.runlock))


def test_rwmutex_rlock_condition(benchmark):
    compare(benchmark, "RWMutex rlock+runlock", "Condition RW lock", baseline=True, per=1000)
    rw = CondRWLock()
    benchmark(_pair_loop(rw.rlock, rw.runlock))


# ---- AtomicInt.add vs a locked counter (and cereggii where it installs) ----
def test_atomic_add_gocore(benchmark):
    compare(benchmark, "AtomicInt.add", "gocore", per=1000)
    a = gocore.AtomicInt()
    add = a.add

    def run():
        for _ in range(1000):
            add(1)
    benchmark(run)


def test_atomic_add_lock(benchmark):
    compare(benchmark, "AtomicInt.add", "with lock: n += 1", baseline=True, per=1000)
    lock = threading.Lock()
    box = [0]

    def run():
        for _ in range(1000):
            with lock:
                box[0] += 1
    benchmark(run)


def test_atomic_add_cereggii(benchmark):
    cereggii = pytest.importorskip("cereggii")
    compare(benchmark, "AtomicInt.add", "cereggii AtomicInt64", baseline=True, per=1000)
    a = cereggii.AtomicInt64(0)
    inc = a.increment_and_get

    def run():
        for _ in range(1000):
            inc(1)
    benchmark(run)


# ---- WaitGroup add+done vs a Condition-based WaitGroup ----
class CondWaitGroup:
    def __init__(self):
        self._cond = threading.Condition()
        self._n = 0

    def add(self, delta=1):
        with self._cond:
            self._n += delta
            if self._n == 0:
                self._cond.notify_all()

    def done(self):
        self.add(-1)

    def wait(self):
        with self._cond:
            while self._n:
                self._cond.wait()


def _wg_loop(wg, n=1000):
    add, done = wg.add, wg.done

    def run():
        for _ in range(n):
            add(1)
            done()
    return run


def test_waitgroup_gocore(benchmark):
    compare(benchmark, "WaitGroup add+done", "gocore", per=1000)
    benchmark(_wg_loop(gocore.WaitGroup()))


def test_waitgroup_condition(benchmark):
    compare(benchmark, "WaitGroup add+done", "Condition WaitGroup", baseline=True, per=1000)
    benchmark(_wg_loop(CondWaitGroup()))
