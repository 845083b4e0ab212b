"""Coroutine functions in every go(), and the awaitable ErrGroup / WorkerPool
(await, async with, ago), on real loops: the default one and uvloop."""
import asyncio
import functools
import inspect
import random
import sys
import threading

import pytest

import gocore
from aio_loops import KINDS, ThreadLoop, kind, make_loop, panics, run_on  # noqa: F401
from helpers import wait_until


async def noop():
    pass


async def boom(exc):
    await asyncio.sleep(0)
    raise exc


def where():
    """(thread ident, running loop or None) of the caller."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    return threading.get_ident(), loop


# -- the coroutine-function test itself --

class _Obj:
    async def am(self):
        pass

    def sm(self):
        pass


@pytest.mark.parametrize("fn, expected", [
    (noop, True), (_Obj().am, True), (_Obj.am, True), (functools.partial(noop), True),
    (functools.partial(functools.partial(_Obj().am)), True),
    (print, False), (_Obj().sm, False), (functools.partial(print), False), (dict, False),
    (functools.wraps(noop)(lambda: None), False), (_Obj(), False),
])
def test_coroutine_functions_are_classified_as_inspect_does(fn, expected):
    assert gocore._gocore._is_coro_fn(fn) is expected
    assert inspect.iscoroutinefunction(fn) is expected


@pytest.mark.skipif(sys.version_info < (3, 12), reason="inspect.markcoroutinefunction is 3.12+")
def test_a_function_marked_as_coroutine_function_runs_as_one(kind):
    ran = []

    async def real(x):
        ran.append((x, asyncio.current_task() is not None))

    def marked(x):
        return real(x)
    inspect.markcoroutinefunction(marked)

    async def main():
        wg = gocore.WaitGroup()
        wg.go(marked, 1)
        await asyncio.to_thread(wg.wait, 30)
    run_on(kind, main())
    assert ran == [(1, True)]


GO_CALLS = {
    "go": lambda f: gocore.go(f),
    "WaitGroup.go": lambda f: gocore.WaitGroup().go(f),
    "ErrGroup.go": lambda f: gocore.ErrGroup().go(f),
    "ErrGroup.try_go": lambda f: gocore.ErrGroup().try_go(f),
    "WorkerPool.go": lambda f: gocore.WorkerPool(1).go(f),
}


@pytest.mark.parametrize("name", sorted(GO_CALLS))
def test_a_coroutine_object_is_a_type_error_that_names_the_fix(name):
    coro = noop()
    try:
        with pytest.raises(TypeError, match=r"go\(fn, x\), not go\(fn\(x\)\)") as info:
            GO_CALLS[name](coro)
        assert name in str(info.value)
    finally:
        coro.close()
    with pytest.raises(TypeError, match="callable"):
        GO_CALLS[name](42)


@pytest.mark.parametrize("name", ["ErrGroup", "WorkerPool"])
def test_ago_refuses_a_coroutine_object_too(kind, name):
    group = gocore.ErrGroup() if name == "ErrGroup" else gocore.WorkerPool(1)
    coro = noop()

    async def main():
        with pytest.raises(TypeError, match=r"not go\(fn\(x\)\)"):
            await group.ago(coro)
    try:
        run_on(kind, main())
    finally:
        coro.close()


# -- gocore.go / WaitGroup.go --

def test_go_from_a_running_loop_runs_a_task_there_and_counts_it(kind):
    gate = asyncio.Event()
    seen = []

    async def body(tag, *, k):
        seen.append((tag, k, where(), asyncio.current_task() is not None))
        await gate.wait()

    async def main():
        base = gocore.num_goroutine()
        for i in range(5):
            gocore.go(body, i, k=i * 2)
        await asyncio.sleep(0)
        assert gocore.num_goroutine() == base + 5     # started, blocked, counted
        gate.set()
        for _ in range(100):
            if gocore.num_goroutine() == base:
                break
            await asyncio.sleep(0)
        assert gocore.num_goroutine() == base
        return where()
    here = run_on(kind, main())
    assert sorted((t, k) for t, k, _, _ in seen) == [(i, i * 2) for i in range(5)]
    assert all(w == here and in_task for _, _, w, in_task in seen)


def test_go_without_a_loop_runs_under_asyncio_run_on_a_worker():
    done = gocore.WaitGroup()
    seen = []

    async def body(x):
        await asyncio.sleep(0.001)
        seen.append((x, where(), asyncio.current_task() is not None))
        done.done()

    done.add(20)
    for i in range(20):
        gocore.go(body, i)
    assert done.wait(30)
    me = threading.get_ident()
    assert sorted(x for x, _, _ in seen) == list(range(20))
    for _, (ident, loop), in_task in seen:
        assert ident != me and loop is not None and in_task
    assert len({id(loop) for _, (_, loop), _ in seen}) == 20     # one asyncio.run each


def test_go_from_a_plain_thread_while_another_thread_runs_a_loop(kind):
    lt = ThreadLoop(kind)
    try:
        seen = []
        wg = gocore.WaitGroup()

        async def body():
            seen.append(where())
        wg.go(body)                  # this thread has no loop: a worker's asyncio.run
        assert wg.wait(30)
        assert seen[0][0] not in (lt.ident, threading.get_ident())
        assert seen[0][1] is not lt.loop
    finally:
        lt.close()


def test_each_loop_gets_its_own_tasks(kind):
    loops = [ThreadLoop(kind), ThreadLoop(kind)]
    try:
        seen = []
        wg = gocore.WaitGroup()

        async def body(i):
            seen.append((i, where()))

        async def spawn(i):
            for _ in range(10):
                wg.go(body, i)
        for i, lt in enumerate(loops):
            lt.call(spawn(i))
        assert wg.wait(30)
        assert len(seen) == 20
        for i, (ident, loop) in seen:
            assert ident == loops[i].ident and loop is loops[i].loop
    finally:
        for lt in loops:
            lt.close()


def test_an_exception_is_a_panic_on_a_loop_and_off_it(kind, panics):
    errs = [ValueError("on loop"), KeyError("off loop"), RuntimeError("wg on loop"), OSError("wg off")]
    wg = gocore.WaitGroup()

    async def main():
        gocore.go(boom, errs[0])
        wg.go(boom, errs[2])
        await asyncio.to_thread(wg.wait, 30)
    run_on(kind, main())
    gocore.go(boom, errs[1])
    wg.go(boom, errs[3])
    assert wg.wait(30)
    wait_until(lambda: len(panics) == 4)
    assert sorted(map(id, panics)) == sorted(map(id, errs))
    for exc in panics:      # the traceback reaches into the coroutine
        assert "boom" in [f.name for f in __import__("traceback").extract_tb(exc.__traceback__)]


def test_waitgroup_go_counts_a_task_until_it_ends(kind, panics):
    async def main():
        wg = gocore.WaitGroup()
        gate = asyncio.Event()

        async def body():
            await gate.wait()
        for _ in range(3):
            wg.go(body)
        wg.go(boom, ValueError("x"))
        await asyncio.sleep(0.01)
        assert wg._debug_state()[0] == 3      # the raising one is done already
        gate.set()
        assert await asyncio.to_thread(wg.wait, 30)
    run_on(kind, main())
    assert len(panics) == 1


def test_a_task_goroutine_cancelled_at_shutdown_is_not_a_panic(kind, panics):
    wg = gocore.WaitGroup()
    base = gocore.num_goroutine()

    async def forever():
        await asyncio.Event().wait()

    async def main():
        wg.go(forever)
        gocore.go(forever)
        await asyncio.sleep(0)
    loop = make_loop(kind)
    try:
        loop.run_until_complete(main())
        # What asyncio.run does on the way out: cancel what is left, run it down.
        pending = asyncio.all_tasks(loop)
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        loop.close()
    assert wg.wait(5)
    assert gocore.num_goroutine() == base
    assert panics == []


def test_tasks_cancelled_before_their_first_step_give_back_what_they_held(kind, panics):
    """asyncio.run cancels the tasks left at shutdown; one spawned just
    before never enters its coroutine, and still must not wedge its group."""
    base = gocore.num_goroutine()
    wg, g, p = gocore.WaitGroup(), gocore.ErrGroup(), gocore.WorkerPool(1)
    g.set_limit(1)
    ran = []

    async def body():
        ran.append(1)

    async def main():
        gocore.go(body)
        wg.go(body)
        g.go(body)
        p.go(body)
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        assert len(pending) == 4
        for t in pending:       # as shutdown does, before any of them has run
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    loop = make_loop(kind)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert ran == []
    assert wg.wait(5)
    g.wait()
    p.wait()
    assert g._sem._debug_state() == (0, 0) and p._sem._debug_state() == (0, 0)
    assert gocore.num_goroutine() == base
    assert panics == []


def test_an_asyncio_run_goroutine_waits_for_the_tasks_it_started():
    finished = []
    wg = gocore.WaitGroup()

    async def child():
        await asyncio.sleep(0.02)
        finished.append("child")

    async def parent():
        gocore.go(child)            # a task on the worker's private loop
        finished.append("parent")
        wg.done()

    wg.add(1)
    gocore.go(parent)
    assert wg.wait(30)
    wait_until(lambda: finished == ["parent", "child"])


# -- ErrGroup --

def test_errgroup_await_raises_the_first_exception_and_cancels_ctx(kind):
    first = ValueError("first")

    async def main():
        g, ctx = gocore.ErrGroup.with_context(gocore.background())
        gate = asyncio.Event()

        async def late():
            await gate.wait()
            raise KeyError("late")
        g.go(boom, first)
        g.go(late)
        g.go(lambda: None)                      # plain functions mix in
        await asyncio.sleep(0.01)
        assert gocore.cause(ctx) is first       # cancelled as soon as one failed
        gate.set()
        with pytest.raises(ValueError) as info:
            await g
        assert info.value is first
        with pytest.raises(ValueError):         # again on a repeated await
            await g
        with pytest.raises(ValueError):
            g.wait()
    run_on(kind, main())


def test_errgroup_async_with_awaits_on_exit(kind):
    async def main():
        out = []

        async def step(i):
            await asyncio.sleep(0.001 * i)
            out.append(i)
        async with gocore.ErrGroup() as g:
            for i in range(10):
                g.go(step, i)
        assert sorted(out) == list(range(10))
        with pytest.raises(KeyError):
            async with gocore.ErrGroup() as g:
                g.go(boom, KeyError("k"))
        # The block's own exception wins, after the goroutines are done.
        with pytest.raises(ZeroDivisionError):
            async with gocore.ErrGroup() as g:
                g.go(step, 20)
                g.go(boom, KeyError("k"))
                1 / 0
        assert 20 in out
        g, ctx = gocore.ErrGroup.with_context(gocore.background())
        async with g:
            g.go(step, 30)
        assert ctx.err() is not None            # and wait() returning cancels ctx (Go)
    run_on(kind, main())


def test_errgroup_await_does_not_block_the_loop(kind):
    async def main():
        g = gocore.ErrGroup()
        release = threading.Event()
        g.go(release.wait, 30)          # a thread goroutine the task waits for
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                if ticks == 20:
                    release.set()
                await asyncio.sleep(0)
        t = asyncio.ensure_future(ticker())
        await g
        t.cancel()
        assert ticks >= 20
    run_on(kind, main())


def test_errgroup_ago_at_the_limit_keeps_the_limit_and_the_loop(kind):
    async def main():
        g = gocore.ErrGroup()
        g.set_limit(3)
        running = peak = ran = 0

        async def work(i):
            nonlocal running, peak, ran
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1
            ran += 1
        for i in range(40):
            await g.ago(work, i)
        await g
        assert (ran, peak) == (40, 3)
        assert g._sem._debug_state() == (0, 0)
    run_on(kind, main())


def test_errgroup_try_go_with_coroutine_functions(kind):
    async def main():
        g = gocore.ErrGroup()
        g.set_limit(1)
        gate = asyncio.Event()
        assert g.try_go(gate.wait)
        assert not g.try_go(noop)
        gate.set()
        await g
        assert g.try_go(noop)
        await g
    run_on(kind, main())


async def _one_running_one_waiting(group, first, second):
    """Fill a limit-1 group with a task that waits on a gate, then start a
    second ago() that must wait for the slot: (gate, ran, waiting)."""
    gate = asyncio.Event()
    ran = []

    async def work(tag):
        ran.append(tag)
        await gate.wait()
    await group.ago(work, first)
    waiting = asyncio.ensure_future(group.ago(work, second))
    await asyncio.sleep(0.02)
    return gate, ran, waiting, work


def test_errgroup_ago_cancelled_while_waiting_holds_nothing(kind):
    async def main():
        g = gocore.ErrGroup()
        g.set_limit(1)
        gate, ran, waiting, work = await _one_running_one_waiting(g, "holder", "cancelled")
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        gate.set()
        await g
        await asyncio.wait_for(g.ago(work, "next"), 10)    # the slot is free again
        await g
        assert ran == ["holder", "next"]
        assert g._sem._debug_state() == (0, 0)
    run_on(kind, main())


def test_errgroup_of_coroutines_off_loop():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    seen = []

    async def work(i):
        seen.append((i, where()[1] is not None))
        if i == 3:
            raise LookupError(i)
    for i in range(6):
        g.go(work, i)
    with pytest.raises(LookupError):
        g.wait()
    assert sorted(seen) == [(i, True) for i in range(6)]
    assert isinstance(gocore.cause(ctx), LookupError)


# -- WorkerPool --

def test_workerpool_async_with_and_ago(kind):
    async def main():
        running = peak = ran = 0

        async def work():
            nonlocal running, peak, ran
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1
            ran += 1
        async with gocore.WorkerPool(2) as p:
            for _ in range(30):
                await p.ago(work)
        assert (ran, peak) == (30, 2)
        p.go(work)                      # reused, and go() takes coroutine functions too
        await p
        assert ran == 31
        assert p._sem._debug_state() == (0, 0)
    run_on(kind, main())


def test_workerpool_await_raises_then_resets(kind):
    async def main():
        p = gocore.WorkerPool(2)
        err = OSError("disk")
        await p.ago(boom, err)
        await p.ago(noop)
        with pytest.raises(OSError) as info:
            await p
        assert info.value is err
        await p.ago(noop)
        await p                         # reset: nothing to raise any more
    run_on(kind, main())


def test_workerpool_ctx_first_failure_skips_the_rest(kind):
    async def main():
        p = gocore.WorkerPool(1, ctx=gocore.background())
        ran = []

        async def work(i):
            ran.append(i)
            if i == 0:
                raise ValueError(i)
        for i in range(5):
            await p.ago(work, i)
        with pytest.raises(ValueError):
            await p
        assert ran == [0]               # one slot: the failure came before the others started
    run_on(kind, main())


def test_workerpool_ago_skips_when_the_parent_ends_while_waiting(kind):
    async def main():
        parent, cancel = gocore.with_cancel(gocore.background())
        p = gocore.WorkerPool(1, ctx=parent)
        gate, ran, waiting, _ = await _one_running_one_waiting(p, "first", "skipped")
        cancel()
        await asyncio.wait_for(waiting, 10)     # returns: skipped, not raised
        gate.set()
        with pytest.raises(gocore.Canceled):
            await p
        assert ran == ["first"]
        assert p._sem._debug_state() == (0, 0)
    run_on(kind, main())


def test_workerpool_async_with_keeps_the_blocks_exception(kind):
    async def main():
        with pytest.raises(ZeroDivisionError):
            async with gocore.WorkerPool(2) as p:
                p.go(boom, KeyError("k"))
                1 / 0
    run_on(kind, main())


# -- stress: tasks on two loops and threads share one limited group --

@pytest.mark.parametrize("limit", [1, 3])
def test_stress_ago_and_go_with_cancellations_exact_accounting(kind, limit):
    rng = random.Random(limit)
    g = gocore.ErrGroup()
    g.set_limit(limit)
    lock = threading.Lock()
    ran = {}
    returned = set()
    cancelled = set()
    inflight = [0, 0]       # now, peak

    def enter(tag):
        with lock:
            assert tag not in ran
            ran[tag] = True
            inflight[0] += 1
            inflight[1] = max(inflight[1], inflight[0])

    def leave():
        with lock:
            inflight[0] -= 1

    async def awork(tag):
        enter(tag)
        await asyncio.sleep(rng.random() * 0.002)
        leave()

    def twork(tag):
        enter(tag)
        leave()

    async def submitter(lid, n):
        async def one(i):
            tag = (lid, i)
            try:
                await g.ago(awork, tag)
            except asyncio.CancelledError:
                with lock:
                    cancelled.add(tag)
                return
            with lock:
                returned.add(tag)
        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        for t in tasks:
            if rng.random() < 0.3:
                await asyncio.sleep(0)
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    loops = [ThreadLoop(kind), ThreadLoop(kind)]
    try:
        futs = [asyncio.run_coroutine_threadsafe(submitter(i, 150), lt.loop) for i, lt in enumerate(loops)]
        for i in range(100):
            g.go(twork, ("thread", i))
        for f in futs:
            f.result(60)
        g.wait()
    finally:
        for lt in loops:
            lt.close()
    # Every ago either started its function exactly once (and returned) or
    # was cancelled and started nothing; nothing is left holding a slot.
    task_tags = {t for t in ran if t[0] != "thread"}
    assert task_tags == returned
    assert returned.isdisjoint(cancelled)
    assert len(returned) + len(cancelled) == 300
    assert sum(1 for t in ran if t[0] == "thread") == 100
    assert inflight[0] == 0 and 1 <= inflight[1] <= limit
    assert g._sem._debug_state() == (0, 0)


def finishes_without_suspending(coro):
    """Drive coro by hand: True if it completed on its first step (no future, no loop)."""
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


def test_what_can_complete_at_once_does_not_suspend():
    g = gocore.ErrGroup()
    g.set_limit(2)
    p = gocore.WorkerPool(2)
    done = gocore.WaitGroup()
    done.add(2)

    async def await_it(x):
        await x
    assert finishes_without_suspending(await_it(g))         # nothing to wait for
    assert finishes_without_suspending(await_it(p))
    assert finishes_without_suspending(g.ago(done.done))    # a free slot: taken at once
    assert finishes_without_suspending(p.ago(done.done))
    assert done.wait(30)
    g.wait()
    p.wait()


def test_ago_on_executor_groups_waits_for_a_slot_then_submits(kind):
    from concurrent.futures import ThreadPoolExecutor

    async def main(ex):
        out = []
        lock = threading.Lock()

        def work(i):
            with lock:
                out.append(i)
        async with gocore.WorkerPool(2, executor=ex) as p:
            for i in range(10):
                await p.ago(work, i)
        g = gocore.ErrGroup(executor=ex)
        g.set_limit(2)
        for i in range(10, 20):
            await g.ago(work, i)
        await g
        assert sorted(out) == list(range(20))
        assert p._sem._debug_state() == (0, 0) and g._sem._debug_state() == (0, 0)
    with ThreadPoolExecutor(4) as ex:
        run_on(kind, main(ex))
