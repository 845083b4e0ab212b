"""The sync primitives' awaitable twins: Mutex, RWMutex, Semaphore, WaitGroup, Pool."""
import asyncio
import random
import threading
import time

import pytest

import gocore
from async_helpers import LoopThread, cancelled_while_parked, loop_kind, new_loop, run, timeout_cm  # noqa: F401
from helpers import fast_switch, join_all, start_thread, wait_until  # noqa: F401
from test_async_chan import finish_now


# ---- Mutex ----

def test_mutex_fast_paths_do_not_suspend():
    mu = gocore.Mutex()
    assert finish_now(mu.alock()) is None and mu.locked()
    mu.unlock()
    assert finish_now(mu.__aenter__()) is None and mu.locked()
    assert finish_now(mu.__aexit__(None, None, None)) is None and not mu.locked()


def test_mutex_alock_is_lazy():
    mu = gocore.Mutex()
    op = mu.alock()
    assert not mu.locked()          # nothing happens until it is awaited
    op.close()


def test_mutex_async_with_waits_for_a_thread(loop_kind):
    mu = gocore.Mutex()
    mu.lock()

    async def main():
        threading.Timer(0.02, mu.unlock).start()
        async with mu:
            assert mu.locked()
        assert not mu.locked()
    run(loop_kind, main())
    assert mu._debug_state() == (0, 0)


def test_mutex_thread_waits_for_a_task(loop_kind):
    mu = gocore.Mutex()
    got = []

    async def main():
        async with mu:
            t = start_thread(lambda: (mu.lock(), got.append(1), mu.unlock()))
            await asyncio.sleep(0.02)
            assert got == []
        join_all([t])
        assert got == [1]
    run(loop_kind, main())


def test_mutex_cancelled_alock_holds_nothing(loop_kind):
    async def main():
        mu = gocore.Mutex()
        mu.lock()
        await cancelled_while_parked(mu.alock())
        mu.unlock()
        assert not mu.locked() and mu._debug_state() == (0, 0)
    run(loop_kind, main())


def test_mutex_hand_off_then_cancel_is_passed_on(loop_kind):
    # The unlock hands the mutex to the task's record, then the task is
    # cancelled before it runs: the mutex must be free (or go to the next).
    async def main():
        mu = gocore.Mutex()
        mu.lock()
        t1 = asyncio.create_task(mu.alock())
        await asyncio.sleep(0.01)
        t2 = asyncio.create_task(mu.alock())
        await asyncio.sleep(0.01)
        mu.unlock()                  # wakes t1 (its future resolved, not yet run)
        t1.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t1
        await t2                     # t2 gets the mutex
        assert mu.locked()
        mu.unlock()
        assert mu._debug_state() == (0, 0)
    run(loop_kind, main())


def test_mutex_closed_loop_waiter_is_withdrawn(loop_kind):
    mu = gocore.Mutex()
    mu.lock()
    loop = new_loop(loop_kind)
    task = loop.run_until_complete(_start(mu.alock()))
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    mu.unlock()                      # the orphaned waiter's wake fails: passed on
    assert not mu.locked()
    assert mu.acquire(timeout=5)
    mu.unlock()
    assert mu._debug_state() == (0, 0)
    del task


async def _start(aw):
    async def wrap():
        return await aw
    return asyncio.ensure_future(wrap())


def test_mutex_stress_threads_and_tasks_with_cancellation(loop_kind, fast_switch):
    mu = gocore.Mutex()
    inside = gocore.AtomicInt()
    count = [0]
    expected = gocore.AtomicInt()
    a, b = LoopThread(loop_kind), LoopThread(loop_kind)

    def check_in():
        assert inside.add(1) == 1, "two holders at once"

    async def tasks(seed):
        rng = random.Random(seed)
        for _ in range(300):
            try:
                async with timeout_cm(rng.choice([0.00005, 0.0005, 0.005])):
                    await mu.alock()
            except (TimeoutError, asyncio.TimeoutError):
                continue
            check_in()
            count[0] += 1
            expected.add(1)
            if rng.random() < 0.3:
                await asyncio.sleep(0)
            inside.add(-1)
            mu.unlock()

    def threads():
        for _ in range(300):
            with mu:
                check_in()
                count[0] += 1
                expected.add(1)
                inside.add(-1)

    try:
        futs = [a.submit(tasks(1)), a.submit(tasks(2)), b.submit(tasks(3))]
        ths = [start_thread(threads), start_thread(threads)]
        for f in futs:
            f.result(60)
        join_all(ths)
    finally:
        a.stop()
        b.stop()
    assert count[0] == expected.load()
    assert mu._debug_state() == (0, 0)


# ---- RWMutex ----

def test_rwmutex_async_with_both_sides(loop_kind):
    rw = gocore.RWMutex()

    async def main():
        async with rw:
            assert not rw.try_rlock()
        async with rw.rlocker():
            assert rw.try_rlock()
            rw.runlock()
            assert not rw.try_lock()
        await rw.alock()
        rw.unlock()
        await rw.arlock()
        rw.runlock()
    run(loop_kind, main())
    assert rw._debug_state() == (0,) * 7


def test_rwmutex_tasks_wait_for_a_thread_writer(loop_kind):
    rw = gocore.RWMutex()
    rw.lock()

    async def main():
        threading.Timer(0.02, rw.unlock).start()
        await asyncio.gather(rw.arlock(), rw.arlock())
        rw.runlock()
        rw.runlock()
        rw.rlock()                   # before the timer: under load it may fire at once
        threading.Timer(0.02, rw.runlock).start()
        await rw.alock()             # waits for the thread's reader
        rw.unlock()
    run(loop_kind, main())
    assert rw._debug_state() == (0,) * 7


@pytest.mark.parametrize("side", ["read", "write_mutex", "write_readers"])
def test_rwmutex_cancelled_waits_hold_nothing(loop_kind, side):
    async def main():
        rw = gocore.RWMutex()
        if side == "read":
            rw.lock()
            waiting = rw.arlock()
        elif side == "write_mutex":
            rw.lock()
            waiting = rw.alock()
        else:
            rw.rlock()
            waiting = rw.alock()
        await cancelled_while_parked(waiting)
        if side == "write_readers":
            rw.runlock()             # the cancelled writer's lock passes straight on
        else:
            rw.unlock()
        assert rw.try_lock()
        rw.unlock()
        assert rw._debug_state() == (0,) * 7
    run(loop_kind, main())


def test_rwmutex_stress_with_cancellation(loop_kind):
    rw = gocore.RWMutex()
    state = {"readers": 0, "writer": False}
    guard = threading.Lock()
    a = LoopThread(loop_kind)

    def enter(write):
        with guard:
            assert not state["writer"]
            if write:
                assert state["readers"] == 0
                state["writer"] = True
            else:
                state["readers"] += 1

    def leave(write):
        with guard:
            if write:
                state["writer"] = False
            else:
                state["readers"] -= 1

    async def tasks(seed):
        rng = random.Random(seed)
        for _ in range(300):
            write = rng.random() < 0.4
            try:
                async with timeout_cm(rng.choice([0.0001, 0.001])):
                    await (rw.alock() if write else rw.arlock())
            except (TimeoutError, asyncio.TimeoutError):
                continue
            enter(write)
            await asyncio.sleep(0)
            leave(write)
            rw.unlock() if write else rw.runlock()

    def threads(seed):
        rng = random.Random(seed)
        for _ in range(300):
            write = rng.random() < 0.3
            rw.lock() if write else rw.rlock()
            enter(write)
            leave(write)
            rw.unlock() if write else rw.runlock()

    try:
        futs = [a.submit(tasks(s)) for s in range(3)]
        ths = [start_thread(threads, s) for s in range(2)]
        for f in futs:
            f.result(60)
        join_all(ths)
    finally:
        a.stop()
    assert rw._debug_state() == (0,) * 7


# ---- WaitGroup ----

def test_await_waitgroup(loop_kind):
    async def main():
        wg = gocore.WaitGroup()
        await wg                     # zero: at once
        wg.add(3)
        for _ in range(3):
            threading.Timer(0.01, wg.done).start()
        await wg
        assert wg._debug_state() == (0, 0, 0)
    run(loop_kind, main())


def test_cancelled_await_waitgroup(loop_kind):
    async def main():
        wg = gocore.WaitGroup()
        wg.add(1)
        await cancelled_while_parked(_await(wg))
        waiter = asyncio.create_task(_await(wg))
        await asyncio.sleep(0.01)
        wg.done()
        await waiter
        assert wg._debug_state() == (0, 0, 0)
        assert wg.wait(timeout=0)
    run(loop_kind, main())


async def _await(x):
    await x


# ---- Semaphore ----

def test_semaphore_fast_path_and_async_with(loop_kind):
    sem = gocore.Semaphore(2)

    async def main():
        assert await sem.aacquire(2) is True
        sem.release(2)
        async with sem as s:
            assert s is sem and sem._debug_state() == (1, 0)
        assert sem._debug_state() == (0, 0)
    run(loop_kind, main())


def test_semaphore_fifo_mixed(loop_kind):
    sem = gocore.Semaphore(3)
    order = []

    async def main():
        sem.acquire(3)
        big = asyncio.create_task(_tag(sem.aacquire(3), order, "big"))
        await asyncio.sleep(0.01)
        small = asyncio.create_task(_tag(sem.aacquire(1), order, "small"))
        await asyncio.sleep(0.01)
        sem.release(1)
        await asyncio.sleep(0.01)
        assert order == []           # the big head is not overtaken
        sem.release(2)
        await big
        sem.release(3)
        await small
        sem.release(1)
    run(loop_kind, main())
    assert order == ["big", "small"]
    assert sem._debug_state() == (0, 0)


async def _tag(aw, order, name):
    await aw
    order.append(name)


def test_semaphore_ctx_and_cancellation(loop_kind):
    async def main():
        sem = gocore.Semaphore(1)
        sem.acquire()
        ctx, cancel = gocore.with_cancel(gocore.background())
        asyncio.get_running_loop().call_later(0.01, cancel)
        with pytest.raises(gocore.Canceled):
            await sem.aacquire(1, ctx=ctx)
        with pytest.raises(gocore.Canceled):
            await sem.aacquire(1, ctx=ctx)        # already done: at once
        # granted by the release, then cancelled before it runs
        await cancelled_while_parked(sem.aacquire(1), sem.release)
        assert sem._debug_state() == (0, 0)       # the raced grant was released again
        ctx2, cancel2 = gocore.with_cancel(gocore.background())
        asyncio.get_running_loop().call_later(0.01, cancel2)
        with pytest.raises(gocore.Canceled):
            await sem.aacquire(5, ctx=ctx2)        # larger than the semaphore
    run(loop_kind, main())


def test_semaphore_stress_weight_intact(loop_kind):
    sem = gocore.Semaphore(5)
    held = gocore.AtomicInt()
    a, b = LoopThread(loop_kind), LoopThread(loop_kind)

    async def tasks(seed):
        rng = random.Random(seed)
        for _ in range(300):
            n = rng.randint(1, 3)
            try:
                async with timeout_cm(rng.choice([0.0001, 0.001])):
                    await sem.aacquire(n)
            except (TimeoutError, asyncio.TimeoutError):
                continue
            assert held.add(n) <= 5
            await asyncio.sleep(0)
            held.add(-n)
            sem.release(n)

    def threads(seed):
        rng = random.Random(seed)
        for _ in range(300):
            n = rng.randint(1, 3)
            sem.acquire(n)
            assert held.add(n) <= 5
            held.add(-n)
            sem.release(n)

    try:
        futs = [a.submit(tasks(1)), b.submit(tasks(2)), b.submit(tasks(3))]
        ths = [start_thread(threads, 4)]
        for f in futs:
            f.result(60)
        join_all(ths)
    finally:
        a.stop()
        b.stop()
    assert sem._debug_state() == (0, 0)
    assert sem.try_acquire(5)


# ---- Pool ----

def test_pool_aget_waits_for_a_put(loop_kind):
    pool = gocore.Pool(object, limit=1)

    async def main():
        first = await pool.aget()
        t = asyncio.create_task(pool.aget())
        await asyncio.sleep(0.01)
        assert not t.done()
        threading.Timer(0.01, pool.put, (first,)).start()
        assert await t is first
        pool.put(first)
    run(loop_kind, main())


def test_pool_cancelled_aget_passes_the_wakeup_on(loop_kind):
    pool = gocore.Pool(object, limit=1)

    async def main():
        obj = await pool.aget()
        t1 = asyncio.create_task(pool.aget())
        await asyncio.sleep(0.01)
        t2 = asyncio.create_task(pool.aget())
        await asyncio.sleep(0.01)
        pool.put(obj)                # wakes t1 ...
        t1.cancel()                  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await t1
        assert await t2 is obj
        pool.close()
        with pytest.raises(RuntimeError):
            await pool.aget()
    run(loop_kind, main())
