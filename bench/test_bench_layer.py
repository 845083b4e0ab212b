"""Goroutines, Context, WorkerPool and a real pipeline, each beside the stdlib
way of doing the same thing in the same run."""
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait

import pytest
from benchutil import compare

import gocore
import pipeline

N_TASKS = 1000          # goroutines / futures per timed round
N_THREADS = 100         # threading.Thread start+join per round (much slower)
N_MAP = 10_000          # items per map call
N_BLOCKS = 1000         # pipeline blocks per round


def _noop():
    pass


def _ident(x):
    return x


@pytest.fixture(scope="module")
def executor():
    """A warm ThreadPoolExecutor(8): its threads are started before timing."""
    ex = ThreadPoolExecutor(8)
    futures_wait([ex.submit(_noop) for _ in range(64)])
    yield ex
    ex.shutdown()


# ---- spawning a task and waiting for it ----

def test_go_waitgroup_gocore(benchmark):
    compare(benchmark, "go()+WaitGroup per task", "gocore", per=N_TASKS)

    def run():
        wg = gocore.WaitGroup()
        spawn = wg.go
        for _ in range(N_TASKS):
            spawn(_noop)
        wg.wait()
    run()                      # warm the worker pool, as the executor is warm
    benchmark(run)


def test_go_waitgroup_executor(benchmark, executor):
    compare(benchmark, "go()+WaitGroup per task", "ThreadPoolExecutor(8) submit+wait (warm)", baseline=True,
            per=N_TASKS)
    submit = executor.submit

    def run():
        futures_wait([submit(_noop) for _ in range(N_TASKS)])
    benchmark(run)


def test_go_waitgroup_thread(benchmark):
    compare(benchmark, "go()+WaitGroup per task", "threading.Thread start+join", baseline=True, per=N_THREADS)

    def run():
        threads = [threading.Thread(target=_noop) for _ in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    benchmark(run)


# ---- with_cancel + cancel ----

def test_with_cancel_gocore(benchmark):
    compare(benchmark, "with_cancel+cancel", "gocore", per=1000)
    bg = gocore.background()
    with_cancel = gocore.with_cancel

    def run():
        for _ in range(1000):
            ctx, cancel = with_cancel(bg)
            cancel()
    benchmark(run)


def _event_create_and_set(n=1000):
    Event = threading.Event
    for _ in range(n):
        ev = Event()
        ev.set()


def test_with_cancel_event(benchmark):
    # Not the same feature: the nearest stdlib cancellation token.
    compare(benchmark, "with_cancel+cancel", "threading.Event() + set() (nearest stdlib token)", baseline=True,
            per=1000)
    benchmark(_event_create_and_set)


def test_with_cancel_child_gocore(benchmark):
    # Linking to and unlinking from a cancellable parent, the common case.
    compare(benchmark, "with_cancel+cancel under a cancellable parent", "gocore", per=1000)
    parent, cancel_parent = gocore.with_cancel(gocore.background())
    with_cancel = gocore.with_cancel

    def run():
        for _ in range(1000):
            ctx, cancel = with_cancel(parent)
            cancel()
    benchmark(run)
    cancel_parent()


def test_with_cancel_child_event(benchmark):
    compare(benchmark, "with_cancel+cancel under a cancellable parent",
            "threading.Event() + set() (nearest stdlib token)", baseline=True, per=1000)
    benchmark(_event_create_and_set)


# ---- map over 10,000 trivial items ----

def test_workerpool_map_gocore(benchmark):
    compare(benchmark, "WorkerPool(8).map, 10k trivial items", "gocore", per=N_MAP)
    pool = gocore.WorkerPool(8)
    items = range(N_MAP)
    pool.map(_ident, items)
    benchmark(lambda: pool.map(_ident, items))


def test_workerpool_map_executor(benchmark, executor):
    compare(benchmark, "WorkerPool(8).map, 10k trivial items", "ThreadPoolExecutor(8).map (warm)", baseline=True,
            per=N_MAP)
    items = range(N_MAP)
    benchmark(lambda: list(executor.map(_ident, items)))


# ---- the pipeline: 64 KiB blocks -> sha256 -> aggregate ----

def _pipeline(benchmark, name, impl, baseline):
    compare(benchmark, "pipeline 64KiB->sha256->aggregate, per block", impl, baseline=baseline, per=N_BLOCKS)
    fn = pipeline.VARIANTS[name]
    want = pipeline.expected(N_BLOCKS)
    fn(64)

    def run():
        assert fn(N_BLOCKS) == want
    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=1)


def test_pipeline_gocore(benchmark):
    _pipeline(benchmark, "gocore", "gocore (Chan + go)", False)


def test_pipeline_queue(benchmark):
    _pipeline(benchmark, "queue", "queue.Queue + threading.Thread", True)


def test_pipeline_futures(benchmark):
    _pipeline(benchmark, "futures", "concurrent.futures", True)
