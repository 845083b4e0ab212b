"""go-zero mr: finish, map_reduce, for_each (the cases of core/mr's tests:
results, errors, cancel, reducer misuse, ctx; nothing left running)."""
import threading
import time

import pytest

import gocore
from gocore import finish, for_each, map_reduce


def emit_range(n):
    def generate(emit):
        for i in range(n):
            emit(i)
    return generate


def settled(baseline, timeout=10.0):
    """num_goroutine() back to baseline (workers finish their bookkeeping
    right after the last statement we waited for)."""
    end = time.monotonic() + timeout
    while gocore.num_goroutine() > baseline and time.monotonic() < end:
        time.sleep(0.001)
    return gocore.num_goroutine() <= baseline


# ---- finish ----

def test_finish_runs_all():
    total = gocore.AtomicInt()
    assert finish(*(lambda i=i: total.add(i) for i in range(1, 11))) is None
    assert total.load() == 55


def test_finish_none():
    finish()


def test_finish_first_error_cancels_ctx_and_is_raised():
    err = ValueError("first")
    seen = []

    def bad():
        raise err

    def watcher(ctx):
        ctx.done().recv(timeout=10)
        seen.append(ctx.err())
    with pytest.raises(ValueError) as info:
        finish(bad, watcher)
    assert info.value is err
    assert isinstance(seen[0], gocore.Canceled)


def test_finish_passes_ctx_only_to_those_declaring_it():
    got = {}

    def plain():
        got["plain"] = True

    def keyword(*, ctx):
        got["kw"] = ctx

    def positional(ctx=None):
        got["pos"] = ctx
    finish(plain, keyword, positional)
    assert got["plain"] and got["kw"] is got["pos"] and got["kw"] is not None


def test_finish_parent_ctx_ends_first():
    ctx, cancel = gocore.with_cancel(gocore.background())
    gocore.after_func(0.02, cancel)

    def waits(ctx):
        ctx.done().recv(timeout=10)
    with pytest.raises(gocore.Canceled):
        finish(waits, ctx=ctx)


def test_finish_waits_for_everything():
    baseline = gocore.num_goroutine()
    done = []

    def slow():
        time.sleep(0.05)
        done.append(1)

    def bad():
        raise KeyError
    with pytest.raises(KeyError):
        finish(slow, bad)
    assert done == [1]                      # still ran to the end before finish returned
    assert settled(baseline)


def test_finish_rejects_non_callables():
    with pytest.raises(TypeError):
        finish(1)


# ---- map_reduce ----

def test_map_reduce_sum_of_squares():
    def mapper(x, emit, cancel):
        emit(x * x)

    def reducer(items, emit, cancel):
        emit(sum(items))
    assert map_reduce(emit_range(100), mapper, reducer) == sum(x * x for x in range(100))


def test_map_reduce_mapper_may_drop_items():
    def mapper(x, emit, cancel):
        if x % 2:
            emit(x)
    assert map_reduce(emit_range(10), mapper, lambda it, e, c: e(sorted(it)), workers=3) == [1, 3, 5, 7, 9]


def test_map_reduce_workers_bound():
    running, peak = gocore.AtomicInt(), gocore.AtomicInt()
    lock = threading.Lock()

    def mapper(x, emit, cancel):
        n = running.add(1)
        with lock:
            if n > peak.load():
                peak.store(n)
        time.sleep(0.002)
        running.add(-1)
        emit(x)
    result = map_reduce(emit_range(60), mapper, lambda it, e, c: e(len(list(it))), workers=3)
    assert result == 60
    assert 1 <= peak.load() <= 3


@pytest.mark.parametrize("stage", ["generate", "mapper", "reducer"])
def test_map_reduce_exception_anywhere_stops_and_is_raised(stage):
    baseline = gocore.num_goroutine()
    err = RuntimeError(stage)
    produced = gocore.AtomicInt()

    def generate(emit):
        for i in range(10**9):
            if stage == "generate" and i == 50:
                raise err
            produced.add(1)
            emit(i)

    def mapper(x, emit, cancel):
        if stage == "mapper" and x == 50:
            raise err
        emit(x)

    def reducer(items, emit, cancel):
        for x in items:
            if stage == "reducer" and x >= 50:
                raise err
        emit("never")
    with pytest.raises(RuntimeError) as info:
        map_reduce(generate, mapper, reducer, workers=4)
    assert info.value is err
    assert produced.load() < 10**6           # the generator was stopped
    assert settled(baseline)


def test_map_reduce_cancel_from_mapper():
    err = ValueError("cancelled")

    def mapper(x, emit, cancel):
        if x == 3:
            cancel(err)
            return
        emit(x)
    with pytest.raises(ValueError) as info:
        map_reduce(emit_range(10**6), mapper, lambda it, e, c: e(sum(it)))
    assert info.value is err


def test_map_reduce_cancel_from_reducer_and_cancel_none():
    def reducer(items, emit, cancel):
        for x in items:
            if x == 5:
                cancel()
    with pytest.raises(gocore.Canceled):
        map_reduce(emit_range(10**6), lambda x, e, c: e(x), reducer)

    err = KeyError("r")

    def reducer2(items, emit, cancel):
        cancel(err)
        emit(1)
    with pytest.raises(KeyError) as info:
        map_reduce(emit_range(10), lambda x, e, c: e(x), reducer2)
    assert info.value is err


def test_map_reduce_reducer_writes_more_than_once():
    def reducer(items, emit, cancel):
        emit(1)
        emit(2)
    with pytest.raises(RuntimeError, match="more than one"):
        map_reduce(emit_range(3), lambda x, e, c: e(x), reducer)


def test_map_reduce_reducer_writes_nothing():
    with pytest.raises(RuntimeError, match="no result"):
        map_reduce(emit_range(3), lambda x, e, c: e(x), lambda it, e, c: list(it))


def test_map_reduce_reducer_returns_early():
    baseline = gocore.num_goroutine()

    def reducer(items, emit, cancel):
        for x in items:
            emit(x)
            return
    # The first item to reach the reducer is whichever mapper finished first
    # (two run at once on a free-threaded build), not necessarily item 0.
    first = map_reduce(emit_range(10**9), lambda x, e, c: e(x), reducer, workers=2)
    assert isinstance(first, int) and 0 <= first < 10**9
    assert settled(baseline)


def test_map_reduce_ctx():
    ctx, cancel = gocore.with_cancel(gocore.background())
    gocore.after_func(0.03, cancel)
    with pytest.raises(gocore.Canceled):
        map_reduce(emit_range(10**9), lambda x, e, c: e(x), lambda it, e, c: e(sum(it)), ctx=ctx)
    ctx, cancel = gocore.with_timeout(gocore.background(), 0.03)
    with pytest.raises(gocore.DeadlineExceeded):
        map_reduce(emit_range(10**9), lambda x, e, c: e(x), lambda it, e, c: e(sum(it)), ctx=ctx)
    cancel()
    done_ctx, c2 = gocore.with_cancel(gocore.background())
    c2()
    with pytest.raises(gocore.Canceled):
        map_reduce(emit_range(3), lambda x, e, c: e(x), lambda it, e, c: e(sum(it)), ctx=done_ctx)


def test_map_reduce_generator_catching_exception_still_stops():
    def generate(emit):
        i = 0
        while True:
            try:
                emit(i)
            except Exception:              # must not swallow the stop
                pass
            i += 1

    def mapper(x, emit, cancel):
        if x == 10:
            raise ValueError
        emit(x)
    with pytest.raises(ValueError):
        map_reduce(generate, mapper, lambda it, e, c: e(sum(it)))


def test_map_reduce_validation():
    with pytest.raises(ValueError):
        map_reduce(emit_range(1), lambda x, e, c: e(x), lambda it, e, c: e(0), workers=0)
    with pytest.raises(TypeError):
        for_each(emit_range(1), print, workers="2")


def test_map_reduce_stress_exact():
    # Every item mapped once and reduced once, through many workers.
    n = 5000
    seen = map_reduce(emit_range(n), lambda x, e, c: e(x), lambda it, e, c: e(sorted(it)), workers=8)
    assert seen == list(range(n))


# ---- for_each ----

def test_for_each():
    got = []
    lock = threading.Lock()

    def mapper(x):
        with lock:
            got.append(x)
    assert for_each(emit_range(200), mapper, workers=4) is None
    assert sorted(got) == list(range(200))


def test_for_each_error():
    baseline = gocore.num_goroutine()
    err = OSError("disk")

    def mapper(x):
        if x == 7:
            raise err
    with pytest.raises(OSError) as info:
        for_each(emit_range(10**9), mapper, workers=3)
    assert info.value is err
    assert settled(baseline)


def test_for_each_ctx():
    ctx, cancel = gocore.with_cancel(gocore.background())
    count = gocore.AtomicInt()

    def mapper(x):
        if count.add(1) == 20:
            cancel()
    with pytest.raises(gocore.Canceled):
        for_each(emit_range(10**9), mapper, workers=2, ctx=ctx)
