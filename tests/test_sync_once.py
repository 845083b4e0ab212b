"""gocore.Once and once_func / once_value / once_values.

Ported in intent from Go's sync/once_test.go (TestOnce, TestOncePanic) and
sync/oncefunc_test.go (TestOnceFunc/Value/Values, the *Panic variants,
TestOnceFuncPanicTraceback, TestOnceXGC).
"""
import gc
import threading
import time
import traceback
import weakref

import pytest

import gocore
from helpers import join_all, start_thread


# ---- Once.do ----

@pytest.mark.timeout(60)
def test_once_runs_once_across_threads(race):
    once = gocore.Once()
    box = {"n": 0}
    seen = []

    def inc():
        box["n"] += 1

    def run(_):
        once.do(inc)
        seen.append(box["n"])                # do returned only after inc finished

    race(10, run)
    assert box["n"] == 1
    assert seen == [1] * 10
    assert once.done()


def test_once_panic_counts_as_done():
    once = gocore.Once()
    with pytest.raises(ZeroDivisionError):
        once.do(lambda: 1 / 0)
    assert once.done()
    once.do(lambda: None)                    # no exception the second time
    calls = []
    once.do(lambda: calls.append(1))
    assert calls == []


def test_once_done_flag():
    once = gocore.Once()
    assert once.done() is False
    once.do(lambda: None)
    assert once.done() is True


def test_once_non_callable_is_type_error_and_does_not_use_it_up():
    once = gocore.Once()
    with pytest.raises(TypeError):
        once.do(None)
    assert not once.done()
    calls = []
    once.do(lambda: calls.append(1))
    assert calls == [1]


@pytest.mark.timeout(60)
def test_concurrent_do_waits_for_the_first_call():
    once = gocore.Once()
    started = threading.Event()
    finished = []

    def slow():
        started.set()
        time.sleep(0.1)
        finished.append(True)

    t = start_thread(once.do, slow)
    assert started.wait(10)
    once.do(lambda: finished.append("second"))    # waits for slow(), runs nothing
    assert finished == [True]                     # slow() had finished when do returned
    join_all([t])


def test_once_fn_may_use_another_once():
    outer, inner = gocore.Once(), gocore.Once()
    calls = []
    outer.do(lambda: inner.do(lambda: calls.append("inner")))
    assert calls == ["inner"]


# ---- once_func / once_value / once_values ----

def test_once_func_calls_once():
    calls = []
    f = gocore.once_func(lambda: calls.append(1))
    for _ in range(10):
        assert f() is None
    assert calls == [1]


def test_once_value_returns_the_same_value():
    calls = []

    def make():
        calls.append(1)
        return object()

    f = gocore.once_value(make)
    v = f()
    assert all(f() is v for _ in range(10))
    assert calls == [1]


def test_once_values_returns_the_tuple():
    calls = []

    def make():
        calls.append(1)
        return len(calls), len(calls) + 1

    f = gocore.once_values(make)
    assert f() == (1, 2)
    v1, v2 = f()
    assert (v1, v2) == (1, 2)
    assert calls == [1]


@pytest.mark.parametrize("make", [gocore.once_func, gocore.once_value, gocore.once_values])
def test_panic_re_raises_the_same_exception_every_time(make):
    calls = []
    boom = ValueError("x")

    def fn():
        calls.append(1)
        raise boom

    f = make(fn)
    for _ in range(3):
        with pytest.raises(ValueError) as info:
            f()
        assert info.value is boom
    assert calls == [1]


@pytest.mark.parametrize("make", [gocore.once_func, gocore.once_value])
def test_base_exception_re_raised_too(make):
    calls = []

    def fn():
        calls.append(1)
        raise KeyboardInterrupt

    f = make(fn)
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            f()
    assert calls == [1]


def _origin():
    raise RuntimeError("x")


def test_panic_traceback_reaches_the_origin():
    f = gocore.once_func(_origin)
    for _ in range(3):
        try:
            f()
        except RuntimeError as exc:
            frames = [fr.name for fr in traceback.extract_tb(exc.__traceback__)]
        assert "_origin" in frames
    # re-raising does not grow the traceback without bound
    assert len(frames) < 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("make", [gocore.once_func, gocore.once_value])
def test_concurrent_first_callers_wait(make, race):
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.05)
        return "v"

    f = make(slow)
    results = []

    def call(_):
        results.append(f())

    race(8, call)
    assert calls == [1]
    expected = None if make is gocore.once_func else "v"
    assert results == [expected] * 8


@pytest.mark.timeout(60)
def test_concurrent_callers_all_see_the_exception(race):
    calls = []
    boom = OSError("once")

    def slow():
        calls.append(1)
        time.sleep(0.05)
        raise boom

    f = gocore.once_value(slow)
    caught = []

    def call(_):
        try:
            f()
        except OSError as exc:
            caught.append(exc)

    race(8, call)
    assert calls == [1]
    assert len(caught) == 8 and all(e is boom for e in caught)


def test_wrapper_keeps_name_and_doc():
    def config():
        """Load it."""
        return 1

    for make in (gocore.once_func, gocore.once_value, gocore.once_values):
        f = make(config)
        assert f.__name__ == "config"
        assert f.__doc__ == "Load it."


@pytest.mark.parametrize("make", [gocore.once_func, gocore.once_value, gocore.once_values])
def test_non_callable_is_type_error(make):
    with pytest.raises(TypeError):
        make(42)


# ---- Go's TestOnceXGC: the wrapped function is released after the call ----

@pytest.mark.parametrize("make", [gocore.once_func, gocore.once_value, gocore.once_values])
def test_wrapped_function_is_released_after_the_call(make):
    class Fn:
        def __call__(self):
            return None, None

    fn = Fn()
    ref = weakref.ref(fn)
    f = make(fn)
    del fn
    gc.collect()
    assert ref() is not None, "released too early"
    f()
    gc.collect()
    assert ref() is None, "the wrapped function is still alive after its call"
    f()
