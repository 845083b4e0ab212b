"""SingleFlight: the cases of x/sync's singleflight_test.go, then threads and
asyncio tasks sharing calls, with exact accounting."""
import asyncio
import threading
import time

import pytest

import gocore
from helpers import fast_switch, join_all, start_thread  # noqa: F401
from gocore import Result, SingleFlight


def test_do():
    sf = SingleFlight()
    assert sf.do("key", lambda: "bar") == "bar"
    assert sf.do_shared("key", lambda: "bar") == ("bar", False)


def test_do_passes_arguments():
    sf = SingleFlight()
    assert sf.do("k", lambda a, b=0: a + b, 1, b=2) == 3


def test_do_err():
    sf = SingleFlight()
    err = ValueError("some error")

    def fn():
        raise err
    with pytest.raises(ValueError) as info:
        sf.do("key", fn)
    assert info.value is err


def test_do_dup_suppress(race):
    # Go's TestDoDupSuppress: n callers while the first is in fn share its call.
    sf = SingleFlight()
    n = 10
    calls = gocore.AtomicInt()
    entered = threading.Event()
    release = threading.Event()
    arrived = gocore.AtomicInt()

    def fn():
        calls.add(1)
        entered.set()
        release.wait(10)
        return "bar"

    results = []

    def caller(i):
        arrived.add(1)
        results.append(sf.do_shared("key", fn))

    def releaser():
        entered.wait(10)
        while arrived.load() < n:
            time.sleep(0.001)
        time.sleep(0.02)           # let the stragglers reach do()
        release.set()
    t = threading.Thread(target=releaser)
    t.start()
    race(n, caller)
    t.join()
    assert [v for v, _ in results] == ["bar"] * n
    assert 0 < calls.load() < n
    if calls.load() == 1:
        assert all(shared for _, shared in results)


def test_exactly_one_execution_16_threads(race):
    # 16 threads ask for one slow key: whoever runs it waits until the 15
    # others have joined, so there is exactly one execution.
    sf = SingleFlight()
    calls = gocore.AtomicInt()

    def slow():
        calls.add(1)
        while True:
            with sf._mu:
                if sf._calls["slow"].dups == 15:
                    break
            time.sleep(0.001)
        return object()

    got = []
    race(16, lambda i: got.append(sf.do_shared("slow", slow)))
    assert calls.load() == 1
    assert len(got) == 16 and all(v is got[0][0] and shared for v, shared in got)


def test_forget():
    # Go's TestForget: after forget, a new call runs while the old one is in flight.
    sf = SingleFlight()
    first_started = threading.Event()
    unblock_first = threading.Event()
    first_finished = threading.Event()

    def first():
        first_started.set()
        unblock_first.wait(10)
        first_finished.set()
        return 1

    t = threading.Thread(target=sf.do, args=("key", first))
    t.start()
    first_started.wait(10)
    sf.forget("key")

    unblock_second = threading.Event()

    def second():
        unblock_second.wait(10)
        return 2
    second_result = sf.do_chan("key", second)
    unblock_first.set()
    first_finished.wait(10)
    t.join(10)
    third_result = sf.do_chan("key", lambda: 3)
    unblock_second.set()
    assert second_result.recv(timeout=10).value == 2
    r = third_result.recv(timeout=10)
    assert r.value == 2 and r.shared


def test_do_chan():
    sf = SingleFlight()
    ch = sf.do_chan("key", lambda: "bar")
    assert isinstance(ch, gocore.RecvChan)
    r = ch.recv(timeout=10)
    assert isinstance(r, Result) and isinstance(r, tuple)
    assert r == ("bar", None, False)
    assert r.value == "bar" and r.error is None and r.shared is False
    assert SingleFlight.Result is Result


def test_do_chan_error_and_shared():
    sf = SingleFlight()
    release = threading.Event()
    err = KeyError("x")

    def fn():
        release.wait(10)
        raise err
    a = sf.do_chan("k", fn)
    b = sf.do_chan("k", fn)
    release.set()
    ra, rb = a.recv(timeout=10), b.recv(timeout=10)
    assert ra.error is err and rb.error is err
    assert ra.shared and rb.shared and ra.value is None


def _after_gate(gate, result=None, raises=None):
    """A slow flight function: once `gate` is set, raise `raises` if given,
    else return `result`."""
    def fn():
        gate.wait(10)
        if raises is not None:
            raise raises
        return result
    return fn


def _catching(sf, key, fn, exc_type, into):
    """A caller of sf.do(key, fn) that keeps the `exc_type` it gets in `into`."""
    def caller():
        try:
            sf.do(key, fn)
        except exc_type as exc:
            into.append(exc)
    return caller


def _open_after_start(gate, targets):
    """Start a thread per target, give them time to join the flight, open
    `gate`, and fail unless every thread then ends (no caller hangs)."""
    ts = [start_thread(target) for target in targets]
    time.sleep(0.05)
    gate.set()
    join_all(ts, 10)


def test_panic_do_reaches_every_caller():
    # Go's TestPanicDo: the "panic" (any exception) reaches all n callers, no hang.
    sf = SingleFlight()
    n = 5
    gate = threading.Event()
    boom = RuntimeError("invalid memory address or nil pointer dereference")

    fn = _after_gate(gate, raises=boom)
    caught = []
    caller = _catching(sf, "key", fn, RuntimeError, caught)
    _open_after_start(gate, [caller] * n)
    assert len(caught) == n
    assert all(e is boom for e in caught)


def test_base_exception_reaches_waiters():
    sf = SingleFlight()
    gate = threading.Event()

    fn = _after_gate(gate, raises=KeyboardInterrupt)
    out = []
    t = threading.Thread(target=_catching(sf, "k", fn, KeyboardInterrupt, out))
    t.start()
    time.sleep(0.02)
    ch = sf.do_chan("k", fn)
    gate.set()
    t.join(10)
    assert isinstance(ch.recv(timeout=10).error, KeyboardInterrupt)
    assert len(out) == 1


def test_next_call_after_completion_runs_again():
    sf = SingleFlight()
    n = gocore.AtomicInt()
    assert sf.do("k", n.add, 1) == 1
    assert sf.do("k", n.add, 1) == 2


def test_keys_are_independent():
    sf = SingleFlight()
    gate = threading.Event()
    a = sf.do_chan("a", gate.wait, 10)
    assert sf.do("b", lambda: "b") == "b"     # not held up by "a"
    gate.set()
    assert a.recv(timeout=10).value is True


def test_stress_exact_accounting(race, fast_switch):
    # Many threads on a few keys: every caller gets the value of exactly the
    # call it joined, and the calls' runs + duplicates equal the callers.
    sf = SingleFlight()
    runs = gocore.AtomicInt()
    callers, per = 8, 300
    results = []

    def fn(key):
        return (key, runs.add(1))

    def body(i):
        mine = []
        for j in range(per):
            key = j % 3
            value, shared = sf.do_shared(key, fn, key)
            assert value[0] == key
            mine.append((value, shared))
        results.extend(mine)
    race(callers, body)
    assert len(results) == callers * per
    by_run = {}
    for value, shared in results:
        by_run.setdefault(value[1], []).append(shared)
    assert len(by_run) == runs.load()
    for shareds in by_run.values():    # a run's callers agree on sharing
        assert all(shareds) if len(shareds) > 1 else shareds == [False]


# ---- asyncio ----

def test_ado():
    sf = SingleFlight()
    calls = []

    async def fetch(x):
        calls.append(x)
        await asyncio.sleep(0.02)
        return x * 2

    async def main():
        return await asyncio.gather(*(sf.ado("k", fetch, 21) for _ in range(10)))
    assert asyncio.run(main()) == [42] * 10
    assert calls == [21]


def test_ado_error_same_object():
    sf = SingleFlight()
    err = ValueError("x")

    async def fail():
        await asyncio.sleep(0.01)
        raise err

    async def main():
        return await asyncio.gather(*(sf.ado("k", fail) for _ in range(3)), return_exceptions=True)
    assert all(r is err for r in asyncio.run(main()))


def test_task_waits_for_thread_call_and_thread_for_task_call():
    sf = SingleFlight()
    gate = threading.Event()
    runs = gocore.AtomicInt()

    def slow():
        runs.add(1)
        gate.wait(10)
        return "thread"

    async def main():
        t = threading.Thread(target=sf.do, args=("k", slow))
        t.start()
        while runs.load() == 0:
            await asyncio.sleep(0.001)
        task = asyncio.ensure_future(sf.ado("k", _never))
        await asyncio.sleep(0.01)
        gate.set()
        value = await task
        t.join(10)
        return value
    assert asyncio.run(main()) == "thread"

    # A task runs the call, a thread joins it.
    got = []

    async def by_task():
        await asyncio.sleep(0.05)
        return "task"

    async def main2():
        joined = threading.Event()

        def thread_side():
            while not sf._calls:
                time.sleep(0.001)
            joined.set()
            got.append(sf.do("k2", lambda: "thread ran it"))
        t = threading.Thread(target=thread_side)
        t.start()
        value = await sf.ado("k2", by_task)
        t.join(10)
        return value, joined.is_set()
    assert asyncio.run(main2()) == ("task", True)
    assert got == ["task"]


async def _never():
    raise AssertionError("a duplicate ran its function")


def test_tasks_on_two_loops_share_a_call():
    sf = SingleFlight()
    gate = threading.Event()
    ch = sf.do_chan("k", _after_gate(gate, 7))
    out = []

    def loop_thread():
        out.append(asyncio.run(sf.ado("k", _never)))
    _open_after_start(gate, [loop_thread] * 2)
    assert out == [7, 7]
    assert ch.recv(timeout=10) == (7, None, True)


def test_cancelled_waiter_withdraws():
    sf = SingleFlight()
    gate = threading.Event()
    ch = sf.do_chan("k", _after_gate(gate, 1))

    async def main():
        task = asyncio.ensure_future(sf.ado("k", _never))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
    asyncio.run(main())
    assert ch.recv(timeout=10).value == 1


def test_mixed_waiters_stress_exact(race):
    # Threads (do), channels (do_chan) and tasks on two loops (ado) pile onto
    # the same keys; every one of them gets the result of the call it
    # joined, and calls + duplicates account for every caller.
    sf = SingleFlight()
    runs = gocore.AtomicInt()
    joined = gocore.AtomicInt()

    def fn(key):
        time.sleep(0.0005)
        return (key, runs.add(1))

    async def afn(key):
        await asyncio.sleep(0.0005)
        return (key, runs.add(1))

    results = []
    lock = threading.Lock()

    def record(kind, value, shared):
        with lock:
            results.append((kind, value, shared))
        if shared:
            joined.add(1)

    def thread_body(i):
        for j in range(60):
            key = j % 4
            if i % 2:
                value, shared = sf.do_shared(key, fn, key)
            else:
                r = sf.do_chan(key, fn, key).recv(timeout=10)
                value, shared = r.value, r.shared
            assert value[0] == key
            record("thread", value, shared)

    async def task_body():
        for j in range(60):
            key = j % 4
            value = await sf.ado(key, afn, key)
            assert value[0] == key
            record("task", value, None)

    def loop_body(i):
        async def main():
            await asyncio.gather(*(task_body() for _ in range(3)))
        asyncio.run(main())

    def body(i):
        (thread_body if i < 4 else loop_body)(i)
    race(6, body)
    assert len(results) == 4 * 60 + 2 * 3 * 60
    runs_seen = {value[1] for _, value, _ in results}
    assert runs_seen <= set(range(1, runs.load() + 1))
    # Every run that produced a value was handed to at least one caller.
    assert len(runs_seen) == runs.load()


def test_unhashable_key_raises_and_leaves_the_group_usable():
    sf = SingleFlight()
    for call in (sf.do, sf.do_shared, sf.do_chan):
        with pytest.raises(TypeError):
            call(["not", "hashable"], lambda: 1)
    assert sf.do("k", lambda: 2) == 2           # the lock was not left held
    assert not sf._calls
