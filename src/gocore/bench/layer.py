"""Goroutine-layer rows: go(), Context, WorkerPool and a real pipeline, each
beside the stdlib way of doing the same thing."""
from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any, Callable, Dict, List

import gocore

from . import pipeline
from .harness import Row, Side, peer

ROWS: List[Row] = []


def _noop() -> None:
    pass


def _ident(x: Any) -> Any:
    return x


@functools.lru_cache(maxsize=None)
def warm_executor(workers: int = 8) -> ThreadPoolExecutor:
    """A ThreadPoolExecutor whose threads are started before any timing, made
    once per process (as a long-running program keeps one)."""
    ex = ThreadPoolExecutor(workers)
    futures_wait([ex.submit(_noop) for _ in range(8 * workers)])
    return ex


# ---- spawning a task and waiting for it ----

def go_waitgroup(n: int) -> Callable[[], None]:
    def run() -> None:
        wg = gocore.WaitGroup()
        spawn = wg.go
        for _ in range(n):
            spawn(_noop)
        wg.wait()
    return run


def pygolang_go_waitgroup(n: int) -> Callable[[], None]:
    golang = peer("golang")

    def run() -> None:
        wg = golang.sync.WaitGroup()
        done = wg.done
        for _ in range(n):
            wg.add(1)
            golang.go(done)
        wg.wait()
    return run


def executor_submit_wait(n: int) -> Callable[[], None]:
    submit = warm_executor().submit

    def run() -> None:
        futures_wait([submit(_noop) for _ in range(n)])
    return run


def thread_start_join(n: int) -> Callable[[], None]:
    def run() -> None:
        threads = [threading.Thread(target=_noop) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return run


def _workers() -> int:
    stats = getattr(getattr(gocore, "_gocore", None), "_scheduler_stats", None)
    return int(stats()["workers"]) if stats is not None else -1


def go_burst(n: int) -> Callable[[], Dict[str, int]]:
    """n no-op go() calls from one thread, then wait for all: reports how many
    worker threads the burst started (a bound on this is the scheduler's
    promise that short work does not become a thread storm)."""
    def run() -> Dict[str, int]:
        before = _workers()
        wg = gocore.WaitGroup()
        spawn = wg.go
        for _ in range(n):
            spawn(_noop)
        wg.wait()
        # Idle workers retire only after seconds, so the count after the burst
        # is the pool the burst grew: threads started, plus those already there.
        return {"threads started": max(0, _workers() - before), "workers after": _workers()}
    return run


def executor_burst(n: int) -> Callable[[], None]:
    submit = warm_executor(os.cpu_count() or 1).submit

    def run() -> None:
        futures_wait([submit(_noop) for _ in range(n)])
    return run


ROWS += [
    # The burst first: it reports the threads it starts, so it wants the pool cold.
    Row("go() burst of 200k no-op tasks", "task", 200_000, [
        Side("gocore go()", go_burst),
        # A quarter of the burst (still 50k tasks queued onto a few threads):
        # at ~30 us a task, the full burst would be most of the run's time.
        Side("ThreadPoolExecutor(cpu_count) submit+wait", executor_burst, fraction=0.25),
    ], heavy=True, quick_n=2000),
    Row("go()+WaitGroup per task", "task", 1000, [
        Side("gocore go()", go_waitgroup),
        Side("ThreadPoolExecutor(8) submit+wait (warm)", executor_submit_wait),
        Side("threading.Thread start+join", thread_start_join, fraction=0.1),
        Side("pygolang go()+sync.WaitGroup", pygolang_go_waitgroup, requires="golang", fraction=0.1),
    ]),
]


# ---- cancellation tokens ----

def with_cancel_loop(parent: Any, n: int) -> Callable[[], None]:
    with_cancel = gocore.with_cancel

    def run() -> None:
        for _ in range(n):
            ctx, cancel = with_cancel(parent)
            cancel()
    return run


def event_set_loop(n: int) -> Callable[[], None]:
    event = threading.Event

    def run() -> None:
        for _ in range(n):
            ev = event()
            ev.set()
    return run


def _cancellable_parent() -> Any:
    # Never cancelled: the row measures linking to and unlinking from a live parent.
    parent, _cancel = gocore.with_cancel(gocore.background())
    _parents.append((parent, _cancel))
    return parent


_parents: List[Any] = []
_NEAREST_TOKEN = "threading.Event() + set() (nearest stdlib token)"

ROWS += [
    Row("with_cancel+cancel", "op", 1000, [
        Side("gocore", lambda n: with_cancel_loop(gocore.background(), n)),
        Side(_NEAREST_TOKEN, event_set_loop),
    ]),
    Row("with_cancel+cancel under a cancellable parent", "op", 1000, [
        Side("gocore", lambda n: with_cancel_loop(_cancellable_parent(), n)),
        Side(_NEAREST_TOKEN, event_set_loop),
    ]),
]


# ---- map over trivial items, and the sha256 pipeline ----

def workerpool_map(n: int) -> Callable[[], Any]:
    pool = gocore.WorkerPool(8)
    items = range(n)
    return lambda: pool.map(_ident, items)


def executor_map(n: int) -> Callable[[], Any]:
    ex = warm_executor()
    items = range(n)
    return lambda: list(ex.map(_ident, items))


def pipeline_side(variant: str) -> Callable[[int], Callable[[], None]]:
    def make(n: int) -> Callable[[], None]:
        fn = pipeline.VARIANTS[variant]
        want = pipeline.expected(n)

        def run() -> None:
            if fn(n) != want:
                raise AssertionError(f"pipeline {variant}: wrong aggregate")
        return run
    return make


ROWS += [
    Row("WorkerPool(8).map, trivial items", "item", 10_000, [
        Side("gocore WorkerPool(8)", workerpool_map),
        Side("ThreadPoolExecutor(8).map (warm)", executor_map),
    ]),
    Row("pipeline 64KiB->sha256->aggregate", "block", 1000, [
        Side("gocore (Chan + go)", pipeline_side("gocore")),
        Side("queue.Queue + threading.Thread", pipeline_side("queue")),
        Side("concurrent.futures", pipeline_side("futures")),
    ], heavy=True, quick_n=64),
]
