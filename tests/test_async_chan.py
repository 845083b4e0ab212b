"""Chan's awaitable twins: asend/arecv/arecv_ok/async for/aselect, mixed with threads."""
import asyncio
import random
import sys
import threading
import time

import pytest

import gocore
from async_helpers import LoopThread, loop_kind, run, timeout_cm  # noqa: F401
from helpers import join_all, start_thread, wait_until


def finish_now(awaitable):
    """Drive an awaitable by hand: its result if it completes without
    suspending, else fail (it yielded a future)."""
    it = awaitable.__await__()
    try:
        yielded = next(it)
    except StopIteration as stop:
        return stop.value
    it.close()
    pytest.fail(f"suspended (yielded {yielded!r}) although the operation could complete")


# ---- basics ----

def test_fast_path_completes_without_suspending_or_a_loop():
    ch = gocore.Chan(2)
    assert finish_now(ch.asend("a")) is None
    assert finish_now(ch.asend("b")) is None
    assert finish_now(ch.arecv()) == "a"
    assert finish_now(ch.arecv_ok()) == ("b", True)
    ch.close()
    assert finish_now(ch.arecv()) is None
    assert finish_now(ch.arecv_ok()) == (None, False)
    with pytest.raises(gocore.ClosedChannelError):
        finish_now(ch.asend(1))
    with pytest.raises(StopAsyncIteration):
        finish_now(ch.__anext__())


def test_unbuffered_fast_path_with_a_waiting_thread():
    ch = gocore.Chan()
    got = []
    t = start_thread(lambda: got.append(ch.recv(timeout=10)))
    for _ in range(500):
        time.sleep(0.002)
        try:
            # Without a running loop the operation cannot suspend: it either
            # completes at once (the thread is queued) or raises RuntimeError.
            assert finish_now(ch.asend(5)) is None
            break
        except RuntimeError:
            continue
    join_all([t])
    assert got == [5]


def test_awaitable_twins_are_single_use(loop_kind):
    async def main():
        ch = gocore.Chan(1)
        op = ch.asend(1)
        await op
        with pytest.raises(RuntimeError):
            await op
    run(loop_kind, main())


def test_ping_pong_between_tasks(loop_kind):
    async def main():
        ping, pong = gocore.Chan(), gocore.Chan()

        async def echo():
            async for v in ping:
                await pong.asend(v + 1)
            pong.close()

        t = asyncio.create_task(echo())
        for i in range(200):
            await ping.asend(i)
            assert await pong.arecv() == i + 1
        ping.close()
        assert await pong.arecv_ok() == (None, False)
        await t
    run(loop_kind, main())


def test_async_for_drains_then_stops(loop_kind):
    async def main():
        ch = gocore.Chan(10)
        for i in range(5):
            await ch.asend(i)
        ch.close()
        assert [v async for v in ch] == [0, 1, 2, 3, 4]
        assert [v async for v in ch.recv_only()] == []
    run(loop_kind, main())


def test_views_have_their_side_only(loop_kind):
    ch = gocore.Chan(1)
    r, s = ch.recv_only(), ch.send_only()
    assert not hasattr(r, "asend") and not hasattr(s, "arecv") and not hasattr(s, "arecv_ok")
    assert not hasattr(s, "__aiter__")

    async def main():
        await s.asend(3)
        assert await r.arecv() == 3
        await s.asend(4)
        assert await r.arecv_ok() == (4, True)
        s.close()
        assert [v async for v in r] == []
    run(loop_kind, main())


def test_close_wakes_waiting_tasks(loop_kind):
    async def main():
        ch = gocore.Chan()
        recv = asyncio.create_task(ch.arecv_ok())
        send = asyncio.create_task(gocore.Chan().asend(1))
        ch2 = gocore.Chan()
        send = asyncio.create_task(ch2.asend(1))
        await asyncio.sleep(0.01)
        ch.close()
        ch2.close()
        assert await recv == (None, False)
        with pytest.raises(gocore.ClosedChannelError):
            await send
    run(loop_kind, main())


def test_nilchan_blocks_until_cancelled(loop_kind):
    async def main():
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            async with timeout_cm(0.02):
                await gocore.nilchan.arecv()
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            async with timeout_cm(0.02):
                await gocore.nilchan.asend(1)
    run(loop_kind, main())


# ---- threads and tasks together ----

@pytest.mark.parametrize("cap", [0, 1, 64])
def test_thread_to_task_and_back(loop_kind, cap):
    n = 3000
    to_task, to_thread = gocore.Chan(cap), gocore.Chan(cap)
    got = []

    def producer():
        for i in range(n):
            to_task.send(i)
        to_task.close()

    def consumer():
        for v in to_thread:
            got.append(v)

    async def relay():
        async for v in to_task:
            await to_thread.asend(v)
        to_thread.close()

    threads = [start_thread(producer), start_thread(consumer)]
    run(loop_kind, relay())
    join_all(threads)
    assert got == list(range(n))


def test_two_loops_in_two_threads_share_a_channel(loop_kind):
    ch = gocore.Chan(4)
    n = 2000
    a, b = LoopThread(loop_kind), LoopThread(loop_kind)

    async def produce(base):
        for i in range(n):
            await ch.asend(base + i)

    async def consume():
        out = []
        for _ in range(2 * n):
            out.append(await ch.arecv())
        return out

    try:
        fc = b.submit(consume())
        fa = a.submit(produce(0))
        fb = b.submit(produce(n))
        fa.result(60)
        fb.result(60)
        got = fc.result(60)
    finally:
        a.stop()
        b.stop()
    assert sorted(got) == list(range(2 * n))
    assert [v for v in got if v < n] == list(range(n))       # FIFO per sender


# ---- aselect ----

def test_aselect_ready_and_default():
    ch = gocore.Chan(1)
    assert finish_now(gocore.aselect(ch.arecv, gocore.default)) == (1, None)
    assert finish_now(gocore.aselect((ch.asend, 9))) == (0, None)
    assert finish_now(gocore.aselect(gocore.nilchan.recv, ch.recv_ok)) == (1, (9, True))
    assert finish_now(gocore.aselect((ch.send, 1), ch.arecv)) == (0, None)
    assert finish_now(gocore.aselect(ch.recv_only().arecv_ok)) == (0, (1, True))
    # the same cases are accepted by the blocking select
    assert gocore.select((ch.send_only().asend, 2)) == (0, None)
    assert gocore.select(ch.arecv) == (0, 2)


def test_aselect_bad_cases():
    with pytest.raises(TypeError):
        gocore.aselect(lambda: None)
    with pytest.raises(TypeError):
        gocore.aselect(gocore.default, gocore.default)
    with pytest.raises(TypeError):
        gocore.aselect(gocore.Chan().asend)


def test_aselect_waits_for_a_thread(loop_kind):
    a, b = gocore.Chan(), gocore.Chan(1)

    async def main():
        t = threading.Timer(0.02, lambda: b.send("x"))
        t.start()
        res = await gocore.aselect(a.arecv, b.arecv_ok)
        t.join()
        return res

    assert run(loop_kind, main()) == (1, ("x", True))


def test_aselect_send_case_and_closed(loop_kind):
    async def main():
        a = gocore.Chan()
        got = []
        t = start_thread(lambda: got.append(a.recv(timeout=10)))
        assert await gocore.aselect((a.asend, 1), gocore.nilchan.arecv) == (0, None)
        join_all([t])
        assert got == [1]
        c = gocore.Chan()
        asyncio.get_running_loop().call_later(0.01, c.close)
        with pytest.raises(gocore.ClosedChannelError):
            await gocore.aselect((c.asend, 1))
    run(loop_kind, main())


def test_aselect_with_ctx_done(loop_kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        jobs = gocore.Chan()
        asyncio.get_running_loop().call_later(0.01, cancel)
        i, _ = await gocore.aselect(jobs.arecv, ctx.done().arecv)
        assert i == 1 and ctx.err() is not None
    run(loop_kind, main())


# ---- cancellation: nothing lost, nothing duplicated ----

@pytest.mark.parametrize("cap", [0, 1])
def test_cancelled_arecv_takes_nothing(loop_kind, cap):
    async def main():
        ch = gocore.Chan(cap)
        t = asyncio.create_task(ch.arecv())
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        # the withdrawn receiver is gone: unbuffered, nobody takes a value
        assert ch._try_send(1) == (cap > 0)
        assert ch._try_recv() == ((1, True) if cap else (None, None))
    run(loop_kind, main())


@pytest.mark.parametrize("cap", [0, 1, 4])
@pytest.mark.parametrize("op", ["arecv", "arecv_ok", "anext", "aselect"])
def test_value_handed_to_a_cancelled_task_goes_back_first(loop_kind, cap, op):
    # The classic trap: the value is handed to the task's record, then the
    # task is cancelled before it runs.  The value must come back, ahead of
    # later values.
    async def main():
        ch = gocore.Chan(cap)
        coro = {"arecv": ch.arecv, "arecv_ok": ch.arecv_ok, "anext": ch.__anext__,
                "aselect": lambda: gocore.aselect(gocore.nilchan.arecv, ch.arecv)}[op]()

        async def waiter():
            return await coro
        t = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        assert ch._try_send("first")     # completes the task's record (wake scheduled)
        t.cancel()                       # ... and the task is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await t
        assert len(ch) == 1
        if cap:
            assert ch._try_send("second")
        assert ch.recv(timeout=1) == "first"
        if cap:
            assert ch.recv(timeout=1) == "second"
        assert len(ch) == 0
    run(loop_kind, main())


def test_value_given_back_goes_to_a_waiting_receiver(loop_kind):
    async def main():
        ch = gocore.Chan()
        t1 = asyncio.create_task(ch.arecv())
        await asyncio.sleep(0.01)
        t2 = asyncio.create_task(ch.arecv())
        await asyncio.sleep(0.01)
        assert ch._try_send("v")         # goes to t1
        t1.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t1
        assert await t2 == "v"
    run(loop_kind, main())


@pytest.mark.parametrize("via_select", [False, True])
def test_cancelled_asend_that_was_delivered_returns(loop_kind, via_select):
    async def main():
        ch = gocore.Chan()
        steps = []

        async def sender():
            if via_select:
                steps.append(await gocore.aselect((ch.asend, "v"), gocore.nilchan.arecv))
            else:
                steps.append(await ch.asend("v"))
            await asyncio.sleep(0)           # the cancellation arrives here
            steps.append("not reached")

        t = asyncio.create_task(sender())
        await asyncio.sleep(0.01)
        assert ch._try_recv() == ("v", True)     # delivered
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert steps == [(0, None) if via_select else None]
    run(loop_kind, main())


def test_cancelled_asend_not_delivered_raises(loop_kind):
    async def main():
        ch = gocore.Chan()
        t = asyncio.create_task(ch.asend("v"))
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert ch._try_recv() == (None, None)
    run(loop_kind, main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
def test_timeout_around_a_delivered_asend_still_cancels_later(loop_kind):
    async def main():
        ch = gocore.Chan()
        got = []
        t = start_thread(lambda: (time.sleep(0.05), got.append(ch.recv(timeout=10))))
        try:
            async with asyncio.timeout(10):
                await ch.asend(1)
        finally:
            join_all([t])
        assert got == [1]
        assert asyncio.current_task().cancelling() == 0
    run(loop_kind, main())


def test_closed_loop_withdraws_and_hands_on(loop_kind):
    from async_helpers import new_loop
    ch = gocore.Chan()
    loop = new_loop(loop_kind)

    async def start():
        return asyncio.ensure_future(ch.arecv())
    task = loop.run_until_complete(start())
    loop.run_until_complete(asyncio.sleep(0.01))      # the task is now queued on ch
    loop.close()                                       # ... and its loop is gone
    ch.send("v", timeout=5)          # completes the orphaned record, whose wake fails
    assert ch.recv(timeout=5) == "v"                   # the value was handed on
    del task


def test_cancel_stress_two_loops_and_threads(loop_kind):
    """Threads and tasks on two loops send and receive with random
    cancellation on every kind of task wait; every value arrives exactly once."""
    n_items = 600
    ch = gocore.Chan(random.choice([0, 0, 1, 3]))
    other = gocore.Chan()                    # never ready: a second aselect case
    received = []
    recv_lock = threading.Lock()
    sent = gocore.AtomicInt()
    a, b = LoopThread(loop_kind), LoopThread(loop_kind)
    rng_seed = random.randrange(1 << 30)

    async def task_sender(base, count, seed):
        rng = random.Random(seed)
        i = 0
        while i < count:
            v = base + i
            kind = rng.random()
            try:
                async with timeout_cm(rng.choice([0.0001, 0.001, 0.01])):
                    if kind < 0.5:
                        await ch.asend(v)
                    else:
                        await gocore.aselect((ch.asend, v), other.arecv)
            except (TimeoutError, asyncio.TimeoutError):
                continue                     # not delivered: try again
            i += 1                           # delivered exactly once
            sent.add(1)
            try:
                # A send delivered as its timeout fired returned normally;
                # the cancellation it re-requested lands at this suspension.
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if hasattr(task, "uncancel"):
                    task.uncancel()

    async def task_receiver(seed, stop):
        rng = random.Random(seed)
        while not stop.is_set():
            kind = rng.random()
            try:
                async with timeout_cm(rng.choice([0.0001, 0.001, 0.01])):
                    if kind < 0.4:
                        v, ok = await ch.arecv_ok()
                    elif kind < 0.8:
                        i, r = await gocore.aselect(ch.arecv_ok, other.arecv)
                        v, ok = r
                    else:
                        v = await ch.__anext__()
                        ok = True
            except (TimeoutError, asyncio.TimeoutError):
                continue
            except StopAsyncIteration:
                return
            if not ok:
                return
            with recv_lock:
                received.append(v)

    def thread_sender(base, count):
        for i in range(count):
            ch.send(base + i)
            sent.add(1)

    def thread_receiver():
        while True:
            try:
                v, ok = ch.recv_ok(timeout=0.005)
            except TimeoutError:
                continue
            if not ok:
                return
            with recv_lock:
                received.append(v)

    stop_a, stop_b = threading.Event(), threading.Event()
    per = n_items // 4
    futs = [a.submit(task_sender(0, per, rng_seed)), b.submit(task_sender(per, per, rng_seed + 1)),
            a.submit(task_receiver(rng_seed + 2, stop_a)), b.submit(task_receiver(rng_seed + 3, stop_b))]
    threads = [start_thread(thread_sender, 2 * per, per), start_thread(thread_sender, 3 * per, per),
               start_thread(thread_receiver)]
    try:
        for f in futs[:2]:
            f.result(60)
        join_all(threads[:2])
        wait_until(lambda: sent.load() == n_items)
        ch.close()
        for f in futs[2:]:
            f.result(60)
        join_all(threads[2:])
    finally:
        a.stop()
        b.stop()
    assert sorted(received) == list(range(n_items)), f"seed {rng_seed}"
    assert len(ch) == 0


def test_aselect_claimed_by_a_thread_as_it_queues(loop_kind):
    """A sending thread claims the aselect's record in the moment after its
    channel locks are released (make test-debug widens that gap): the
    aselect must still wait for that thread's wake-up, which owns the
    waiter's reference.  Every value arrives exactly once and nothing crashes."""
    n = 20000
    ch, other = gocore.Chan(random.choice([0, 1])), gocore.Chan()

    def sender():
        for i in range(n):
            ch.send(i, timeout=30)

    async def main():
        total = 0
        for _ in range(n):
            i, v = await gocore.aselect(ch.arecv, other.arecv)
            assert i == 0
            total += v
        return total

    t = start_thread(sender)
    try:
        assert run(loop_kind, main()) == n * (n - 1) // 2
    finally:
        join_all([t])
