"""executor=: ErrGroup and WorkerPool on real engines -- a thread pool,
process pools (fork and spawn) and a dask LocalCluster.

The task functions live in tests/executor_tasks.py: process pool children
and dask workers import them by name (they get this process's sys.path)."""
import multiprocessing
import os
import pickle
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

import executor_tasks as tasks
import gocore
from gocore._executor import TaskPicklingError

# The fork pools are started on purpose from this multi-threaded process.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")

ENGINES = ["thread", "fork", "spawn", "dask"]
REMOTE = {"fork", "spawn", "dask"}


@pytest.fixture(scope="module")
def pools():
    made = {}

    def get(kind):
        if kind not in made:
            if kind == "thread":
                made[kind] = ThreadPoolExecutor(2)
            else:
                if kind not in multiprocessing.get_all_start_methods():
                    pytest.skip(f"no {kind} start method here")
                made[kind] = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(kind))
        return made[kind]

    yield get
    for ex in made.values():
        ex.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(params=ENGINES)
def engine(request, pools):
    if request.param == "dask":
        return "dask", request.getfixturevalue("dask_client")
    return request.param, pools(request.param)


def remote_text(exc):
    """The remote traceback text a failed task's exception carries."""
    cause = exc.__cause__
    assert cause is not None, "no remote traceback attached"
    return str(cause)


# ---- results and errors ----

def test_map_keeps_input_order(engine):
    kind, ex = engine
    p = gocore.WorkerPool(2, executor=ex)
    assert p.map(tasks.square, range(97)) == [x * x for x in range(97)]
    assert p.map(tasks.square, []) == []


def test_tasks_run_in_other_processes(engine):
    kind, ex = engine
    pids = set(gocore.WorkerPool(2, executor=ex).map(tasks.pid_of, range(8)))
    if kind in REMOTE:
        assert os.getpid() not in pids
    else:
        assert pids == {os.getpid()}


def test_first_exception_raised_with_remote_traceback(engine):
    kind, ex = engine
    g = gocore.ErrGroup(executor=ex)
    g.go(tasks.add, 1, 2)
    g.go(tasks.fail, "remote boom")
    with pytest.raises(tasks.Boom, match="remote boom") as info:
        g.wait()
    if kind in REMOTE:
        text = remote_text(info.value)
        assert "Traceback" in text and "in fail" in text and "remote boom" in text
    with pytest.raises(tasks.Boom):        # again on a repeated wait
        g.wait()


def test_workerpool_map_raises_and_pool_is_reusable(engine):
    kind, ex = engine
    p = gocore.WorkerPool(2, executor=ex)
    with pytest.raises(tasks.Boom, match="item 13"):
        p.map(_partial_fail_on(13), range(40))
    assert p.map(tasks.square, range(5)) == [0, 1, 4, 9, 16]


def _partial_fail_on(bad):
    import functools
    return functools.partial(tasks.fail_on, bad=bad)


# ---- cancellation ----

def _ran(tmp_path, n):
    return sorted(i for i in range(n) if (tmp_path / f"t{i}").exists())


def test_first_error_cancels_tasks_not_started(engine, tmp_path):
    kind, ex = engine
    n = 30
    g, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
    g.go(tasks.fail_after, 0.2, "first")
    for i in range(n):
        g.go(tasks.touch, str(tmp_path / f"t{i}"), 0.2)
    with pytest.raises(tasks.Boom, match="first"):
        g.wait()
    assert isinstance(gocore.cause(ctx), tasks.Boom)
    ran = _ran(tmp_path, n)
    # Serially the sleepers need 3 s on one free worker; the failure came at 0.2 s.
    assert len(ran) < n, "no pending future was cancelled"
    # A task submitted after the failure is skipped.
    g.go(tasks.touch, str(tmp_path / "late"))
    with pytest.raises(tasks.Boom):
        g.wait()
    assert not (tmp_path / "late").exists()


def test_cancelled_parent_cancels_pending_futures(engine, tmp_path):
    kind, ex = engine
    n = 30
    parent, cancel = gocore.with_cancel(gocore.background())
    g, ctx = gocore.ErrGroup.with_context(parent, executor=ex)
    for i in range(n):
        g.go(tasks.touch, str(tmp_path / f"t{i}"), 0.2)
    cancel()
    g.wait()                # Go's rule: no task failed, so no error
    assert ctx.err() is not None
    assert len(_ran(tmp_path, n)) < n


def test_workerpool_ctx_wait_raises_ctx_err(engine, tmp_path):
    kind, ex = engine
    parent, cancel = gocore.with_cancel(gocore.background())
    p = gocore.WorkerPool(2, ctx=parent, executor=ex)
    p.go(tasks.touch, str(tmp_path / "t0"), 0.3)
    gocore.after_func(0.1, cancel)
    for i in range(1, 10):      # blocks on the full pool until the cancel, then skips
        p.go(tasks.touch, str(tmp_path / f"t{i}"), 0.3)
    with pytest.raises(gocore.Canceled):
        p.wait()
    assert len(_ran(tmp_path, 10)) < 10


def group_cancel_seen(engine, tmp_path, waiter, fail_after):
    """An ErrGroup on the engine runs `waiter` (a task with a ctx parameter)
    beside one that fails after `fail_after` s: wait() raises the failure and
    returns what the waiter saw of the group's cancellation."""
    kind, ex = engine
    marker = tmp_path / "seen"
    g = gocore.ErrGroup(executor=ex)
    g.go(waiter, str(marker))
    g.go(tasks.fail_after, fail_after)
    with pytest.raises(tasks.Boom):
        g.wait()
    return seen(kind, marker)


def test_ctx_parameter_sees_group_cancellation(engine, tmp_path):
    assert group_cancel_seen(engine, tmp_path, tasks.wait_for_cancel, 0.3) == "Canceled"


def seen(kind, marker):
    """What a cooperative task wrote.  On a pool it ran to its end before
    wait() returned (a running future cannot be cancelled); dask drops a
    cancelled running future at once, so there the file comes a bit later."""
    if kind == "dask":
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return marker.read_text()


def test_ctx_keyword_only_and_map(engine, tmp_path):
    _, ex = engine
    assert group_cancel_seen(engine, tmp_path, tasks.wait_for_cancel_kw, 0.2) == "Canceled"
    assert gocore.WorkerPool(2, executor=ex).map(tasks.square_with_ctx, range(6)) == [
        (x * x, True) for x in range(6)]


def test_explicit_ctx_argument_is_not_replaced(engine):
    kind, ex = engine
    g = gocore.ErrGroup(executor=ex)
    g.go(tasks.wait_for_cancel, os.devnull, _AlreadyCancelled())
    g.wait()


class _AlreadyCancelled:
    def err(self):
        return gocore.Canceled()


# ---- bounds ----

class CountingThreadPool(ThreadPoolExecutor):
    """A real thread pool that records how many of its futures were
    outstanding (submitted, not done) at most."""

    def __init__(self, workers):
        super().__init__(workers)
        self.lock = threading.Lock()
        self.outstanding = 0
        self.peak = 0
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        with self.lock:
            self.outstanding += 1
            self.submitted += 1
            self.peak = max(self.peak, self.outstanding)
        fut = super().submit(fn, *args, **kwargs)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, _):
        with self.lock:
            self.outstanding -= 1


def test_in_flight_bounded_by_max_workers_and_limit():
    with CountingThreadPool(8) as ex:
        p = gocore.WorkerPool(3, executor=ex)
        for i in range(200):
            p.go(tasks.sleep_then, 0.001)
        p.wait()
        assert ex.peak <= 3 and ex.submitted == 200
        ex.peak = ex.submitted = 0
        assert p.map(tasks.square, range(1000)) == [x * x for x in range(1000)]
        assert ex.peak <= 3
        ex.peak = ex.submitted = 0
        g = gocore.ErrGroup(executor=ex)
        g.set_limit(2)
        for i in range(200):
            g.go(tasks.sleep_then, 0.001)
        g.wait()
        assert ex.peak <= 2 and ex.submitted == 200
        assert ex.outstanding == 0


def test_process_pool_runs_at_most_max_workers_at_once(tmp_path):
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as ex:
        p = gocore.WorkerPool(2, executor=ex)
        for i in range(12):
            p.go(tasks.running_marker, str(tmp_path), f"m{i}", 0.05)
        p.wait()
    spans = [tuple(map(float, (tmp_path / f"m{i}").read_text().split())) for i in range(12)]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    running = peak = 0
    for _, d in events:
        running += d
        peak = max(peak, running)
    assert peak <= 2


def test_every_task_runs_exactly_once(pools, tmp_path):
    """Nothing lost or duplicated: 400 tasks through a limit of 4 on a
    process pool, each appending one line to its own file."""
    ex = pools("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    g = gocore.ErrGroup(executor=ex)
    g.set_limit(4)
    for i in range(400):
        g.go(tasks.touch_and_count, str(tmp_path / f"c{i}"))
    g.wait()
    assert all(len((tmp_path / f"c{i}").read_text().splitlines()) == 1 for i in range(400))
    p = gocore.WorkerPool(2, executor=ex)
    assert p.map(tasks.square, range(3000)) == [x * x for x in range(3000)]


# ---- pickling ----

@pytest.mark.parametrize("kind", ["fork", "spawn"])
def test_pickling_error_raised_at_go_naming_the_task(pools, kind):
    ex = pools(kind)
    g = gocore.ErrGroup(executor=ex)
    with pytest.raises(pickle.PicklingError, match="add") as info:
        g.go(tasks.add, threading.Lock())
    assert isinstance(info.value, TypeError)
    with pytest.raises(TaskPicklingError, match="lambda"):
        g.go(lambda: None)
    p = gocore.WorkerPool(2, executor=ex)
    with pytest.raises(pickle.PicklingError, match="add"):
        p.go(tasks.add, threading.Lock())
    with pytest.raises(pickle.PicklingError, match="lambda"):
        p.map(lambda x: x, [1, 2])
    # Nothing was submitted, and nothing is broken.
    g.wait()
    p.wait()
    g.go(tasks.add, 1)
    g.wait()
    assert p.map(tasks.square, [3]) == [9]


def test_thread_pool_needs_no_pickling(pools):
    g = gocore.ErrGroup(executor=pools("thread"))
    box = []
    lock = threading.Lock()
    g.go(lambda: box.append(lock))
    g.wait()
    assert box == [lock]


def test_dask_ships_closures_but_not_locks(dask_client):
    k = 5
    assert gocore.WorkerPool(2, executor=dask_client).map(lambda x: x + k, [1, 2]) == [6, 7]
    g = gocore.ErrGroup(executor=dask_client)
    with pytest.raises(pickle.PicklingError, match="add"):
        g.go(tasks.add, threading.Lock())
    g.wait()


def test_dask_get_executor_and_repeated_identical_tasks(dask_client, tmp_path):
    ex = dask_client.get_executor()
    g = gocore.ErrGroup(executor=ex)
    path = str(tmp_path / "count")
    for _ in range(5):          # identical calls are five tasks, not one dask key
        g.go(tasks.touch_and_count, path)
    g.wait()
    assert len(open(path).read().splitlines()) == 5


def test_not_an_executor():
    with pytest.raises(TypeError, match="executor"):
        gocore.WorkerPool(2, executor=object())
    with pytest.raises(TypeError, match="executor"):
        gocore.ErrGroup(executor=42)
    with pytest.raises(TypeError, match="executor"):
        gocore.ErrGroup.with_context(gocore.background(), executor="pool")


def test_submit_failure_leaves_group_usable():
    ex = ThreadPoolExecutor(1)
    ex.shutdown()
    g = gocore.ErrGroup(executor=ex)
    g.set_limit(1)
    with pytest.raises(RuntimeError, match="shutdown"):
        g.go(tasks.add, 1)
    g.wait()                    # the slot and the count were given back
    p = gocore.WorkerPool(1, executor=ex)
    with pytest.raises(RuntimeError, match="shutdown"):
        p.go(tasks.add, 1)
    p.wait()
    with ThreadPoolExecutor(1) as live:
        g2 = gocore.ErrGroup(executor=live)
        g2.set_limit(1)
        g2.go(tasks.add, 1)
        g2.wait()


def test_deadline_of_parent_cancels_like_cancel(pools, tmp_path):
    ex = pools("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    parent, cancel = gocore.with_timeout(gocore.background(), 0.1)
    try:
        p = gocore.WorkerPool(1, ctx=parent, executor=ex)
        for i in range(20):
            p.go(tasks.touch, str(tmp_path / f"t{i}"), 0.05)
        with pytest.raises(gocore.DeadlineExceeded):
            p.wait()
        assert len(_ran(tmp_path, 20)) < 20
    finally:
        cancel()


def test_group_reused_after_clean_wait(engine):
    kind, ex = engine
    g, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
    g.go(tasks.add, 1)
    g.wait()
    assert ctx.err() is not None            # Go: wait() cancels the derived context
    p = gocore.WorkerPool(2, executor=ex)
    g.go(tasks.fail, "second round")        # still runs: only an error or the parent stops the group
    with pytest.raises(tasks.Boom, match="second round"):
        g.wait()
    assert p.map(tasks.square, [2]) == [4]


def test_group_ctx_passed_as_argument_travels_as_proxy(engine, tmp_path):
    """Go's idiom g.go(fn, ctx, ...) works on any engine: the group's own
    context, unpicklable itself, reaches a remote task as a TaskContext."""
    kind, ex = engine
    g, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
    marker = tmp_path / "seen"
    g.go(tasks.wait_for_cancel, str(marker), ctx)
    g.go(tasks.fail_after, 0.2)
    with pytest.raises(tasks.Boom):
        g.wait()
    assert seen(kind, marker) == "Canceled"
    parent, cancel = gocore.with_cancel(gocore.background())
    p = gocore.WorkerPool(2, ctx=parent, executor=ex)
    marker2 = tmp_path / "seen2"
    p.go(tasks.wait_for_cancel, str(marker2), ctx=p.ctx)
    gocore.after_func(0.2, cancel)
    with pytest.raises(gocore.Canceled):
        p.wait()
    assert seen(kind, marker2) == "Canceled"


# ---- the seam map_reduce / for_each run their mappers through ----

def test_remote_mapper_replays_emits_and_cancel(engine):
    from gocore._executor import Dispatcher, remote_call, remote_mapper
    kind, ex = engine
    d = Dispatcher(ex)
    ctx, cancel_ctx = gocore.with_cancel(gocore.background())
    got, cancels = [], []
    call = remote_mapper(d, ctx, tasks.mapper_emit_twice, got.append, cancels.append)
    call(5)
    assert got == [5, -5] and cancels == []
    call = remote_mapper(d, ctx, tasks.mapper_cancel_on, got.append, cancels.append)
    call(3)
    assert [str(c) for c in cancels] == ["mapper cancelled"]
    with pytest.raises(tasks.Boom, match="item 2"):
        remote_call(d, ctx, _partial_fail_on(2))(2)
    cancel_ctx()
    with pytest.raises(gocore.Canceled):     # a stopped run submits nothing more
        remote_call(d, ctx, tasks.square)(1)


# ---- map_reduce / for_each ----

def _sum_reducer(items, emit, cancel):
    emit(sum(items))


def test_map_reduce_mapper_runs_on_the_executor(engine):
    kind, ex = engine
    total = gocore.map_reduce(lambda emit: [emit(i) for i in range(60)], tasks.mapper_square,
                              _sum_reducer, workers=3, executor=ex)
    assert total == sum(i * i for i in range(60))
    assert gocore.map_reduce(lambda emit: [emit(i) for i in range(10)], tasks.mapper_emit_twice,
                             lambda items, emit, cancel: emit(sorted(items)), workers=2,
                             executor=ex) == sorted(list(range(10)) + [-i for i in range(10)])


def test_map_reduce_errors_and_cancel_come_back(engine):
    kind, ex = engine
    gen = lambda emit: [emit(i) for i in range(40)]     # noqa: E731
    with pytest.raises(tasks.Boom, match="mapper item 7") as info:
        gocore.map_reduce(gen, tasks.mapper_fail_on, _sum_reducer, workers=2, executor=ex)
    if kind in REMOTE:
        assert "in mapper_fail_on" in remote_text(info.value)
    with pytest.raises(tasks.Boom, match="mapper cancelled"):
        gocore.map_reduce(gen, tasks.mapper_cancel_on, _sum_reducer, workers=2, executor=ex)


def test_for_each_on_the_executor_runs_each_item_once(engine, tmp_path):
    kind, ex = engine
    gocore.for_each(lambda emit: [emit((str(tmp_path), i)) for i in range(50)], tasks.touch_item,
                    workers=3, executor=ex)
    assert all(len((tmp_path / f"i{i}").read_text().splitlines()) == 1 for i in range(50))
    with pytest.raises(tasks.Boom, match="item 5"):
        gocore.for_each(lambda emit: [emit(i) for i in range(20)], _partial_fail_on(5),
                        workers=2, executor=ex)


def test_mr_in_flight_bounded_by_workers():
    with CountingThreadPool(8) as ex:
        gocore.for_each(lambda emit: [emit(0.001) for _ in range(100)], tasks.sleep_then,
                        workers=3, executor=ex)
        assert ex.peak <= 3 and ex.submitted == 100
        ex.peak = 0
        gocore.map_reduce(lambda emit: [emit(i) for i in range(100)], tasks.mapper_square,
                          _sum_reducer, workers=2, executor=ex)
        assert ex.peak <= 2
    with pytest.raises(TypeError, match="executor"):
        gocore.for_each(lambda emit: None, tasks.square, executor=object())
