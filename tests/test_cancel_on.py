"""async with cancel_on(ctx): a Go context cancels the task running the block,
which then leaves it as ctx.err(), as asyncio.timeout leaves as TimeoutError."""
import asyncio
import gc
import random
import sys
import threading

import pytest

import gocore
from aio_loops import ThreadLoop, kind, make_loop, panics, run_on  # noqa: F401

HAS_UNCANCEL = sys.version_info >= (3, 11)


def cancelling(task):
    return task.cancelling() if HAS_UNCANCEL else 0


def test_cancel_raises_canceled_not_cancelled_error(kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        asyncio.get_running_loop().call_later(0.01, cancel)
        with pytest.raises(gocore.Canceled) as info:
            async with gocore.cancel_on(ctx):
                await asyncio.sleep(30)
        assert info.value is ctx.err()
        assert isinstance(info.value.__cause__, asyncio.CancelledError)
        task = asyncio.current_task()
        assert cancelling(task) == 0           # the request was taken back
        await asyncio.sleep(0)                 # and the task runs on normally
        return "after"
    assert run_on(kind, main()) == "after"


def test_deadline_raises_deadline_exceeded_a_timeout_error(kind):
    async def main():
        ctx, cancel = gocore.with_timeout(gocore.background(), 0.02)
        try:
            with pytest.raises(TimeoutError) as info:
                async with gocore.cancel_on(ctx):
                    await asyncio.Event().wait()
            assert isinstance(info.value, gocore.DeadlineExceeded)
        finally:
            cancel()
    run_on(kind, main())


def test_cancelled_from_another_thread(kind):
    async def main(ctx):
        async with gocore.cancel_on(ctx):
            await asyncio.sleep(30)
    ctx, cancel = gocore.with_cancel(gocore.background())
    lt = ThreadLoop(kind)
    try:
        fut = asyncio.run_coroutine_threadsafe(main(ctx), lt.loop)
        gocore.after_func(0.02, cancel)
        with pytest.raises(gocore.Canceled):
            fut.result(30)
    finally:
        lt.close()


def test_a_block_that_ends_first_is_untouched_and_leaves_nothing_registered(kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        for _ in range(200):
            async with gocore.cancel_on(ctx):
                await asyncio.sleep(0)
        assert not ctx._children                # every registration was stopped
        cancel()
        await asyncio.sleep(0.05)               # a stray fire would cancel us now
        assert cancelling(asyncio.current_task()) == 0
        return "ok"
    assert run_on(kind, main()) == "ok"


def test_an_exception_of_the_block_passes_through(kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        with pytest.raises(KeyError):
            async with gocore.cancel_on(ctx):
                await asyncio.sleep(0)
                raise KeyError("k")
        assert not ctx._children
    run_on(kind, main())


def test_a_context_done_at_entry_cancels_at_the_first_suspension(kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        cancel()
        reached = []
        with pytest.raises(gocore.Canceled):
            async with gocore.cancel_on(ctx):
                reached.append(1)
                await asyncio.sleep(0)
                reached.append(2)
        assert reached == [1]
    run_on(kind, main())


def test_a_cancel_from_elsewhere_stays_cancelled_error(kind):
    async def main():
        ctx, cancel = gocore.with_cancel(gocore.background())
        entered = asyncio.Event()

        async def victim():
            async with gocore.cancel_on(ctx):
                entered.set()
                await asyncio.sleep(30)
        t = asyncio.ensure_future(victim())
        await entered.wait()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert ctx.err() is None and not ctx._children
    run_on(kind, main())


@pytest.mark.skipif(not HAS_UNCANCEL, reason="3.10 cannot count cancellation requests")
def test_both_at_once_the_outside_cancel_wins(kind):
    run_on(kind, _both_at_once())


async def _both_at_once():
    ctx, cancel = gocore.with_cancel(gocore.background())
    cancel()
    outcome = []

    async def victim():
        try:
            async with gocore.cancel_on(ctx):       # fires on the next loop turn
                asyncio.current_task().cancel()     # and someone else cancels too
                await asyncio.sleep(30)
        except BaseException as exc:
            outcome.append(type(exc))
            raise
    t = asyncio.ensure_future(victim())
    with pytest.raises(asyncio.CancelledError):
        await t
    assert outcome == [asyncio.CancelledError]


def test_nested_scopes_each_answer_for_their_own_context(kind):
    async def main():
        outer, cancel_outer = gocore.with_cancel(gocore.background())
        inner, cancel_inner = gocore.with_cancel(gocore.background())
        loop = asyncio.get_running_loop()
        # The inner context fires: only the inner block is left.
        loop.call_later(0.01, cancel_inner)
        async with gocore.cancel_on(outer):
            with pytest.raises(gocore.Canceled) as info:
                async with gocore.cancel_on(inner):
                    await asyncio.sleep(30)
            assert info.value is inner.err()
            await asyncio.sleep(0)          # the outer scope is untouched
        # The outer one fires inside the inner block: the inner block lets
        # the CancelledError through, the outer turns it into its error.
        inner2, _ = gocore.with_cancel(gocore.background())
        loop.call_later(0.01, cancel_outer)
        seen = []
        with pytest.raises(gocore.Canceled) as info:
            async with gocore.cancel_on(outer):
                try:
                    async with gocore.cancel_on(inner2):
                        await asyncio.sleep(30)
                except BaseException as exc:
                    seen.append(type(exc))
                    raise
        assert info.value is outer.err()
        assert seen == [asyncio.CancelledError]
        assert cancelling(asyncio.current_task()) == 0
    run_on(kind, main())


def test_cancel_on_around_gocore_awaits(kind):
    async def main():
        ctx, cancel = gocore.with_timeout(gocore.background(), 0.02)
        g = gocore.ErrGroup()
        g.set_limit(1)
        gate = threading.Event()
        g.go(gate.wait, 30)
        try:
            with pytest.raises(gocore.DeadlineExceeded):
                async with gocore.cancel_on(ctx):
                    await g.ago(asyncio.sleep, 0)     # at the limit: waits, then cancelled
        finally:
            cancel()
            gate.set()
        await g
        assert g._sem._debug_state() == (0, 0)
    run_on(kind, main())


def test_misuse(kind):
    with pytest.raises(TypeError, match="context"):
        gocore.cancel_on(None)
    with pytest.raises(TypeError, match="context"):
        gocore.cancel_on(42)

    async def outside():
        scope = gocore.cancel_on(gocore.background())
        await scope.__aenter__()

    async def twice():
        scope = gocore.cancel_on(gocore.background())
        async with scope:
            pass
        with pytest.raises(RuntimeError, match="once"):
            async with scope:
                pass
    run_on(kind, twice())
    # No current task: a bare coroutine driven by hand.
    coro = outside()
    with pytest.raises(RuntimeError, match="inside a task"):
        coro.send(None)
    coro.close()


def test_a_closed_loop_under_a_waiting_scope_is_not_an_error(kind, panics):
    ctx, cancel = gocore.with_cancel(gocore.background())
    loop = make_loop(kind)
    entered = []

    async def victim():
        async with gocore.cancel_on(ctx):
            entered.append(1)
            await asyncio.sleep(30)
    task = loop.create_task(victim())
    task._log_destroy_pending = False       # abandoned on purpose: no "destroyed but pending" log
    loop.run_until_complete(asyncio.sleep(0.01))
    assert entered == [1]
    loop.close()            # the task is abandoned with the loop
    cancel()                # the after-func then finds the loop closed
    gc.collect()
    import time
    time.sleep(0.05)
    assert panics == []
    del task


def test_stress_two_loops_threads_cancel_exact_outcomes(kind):
    """Tasks on two loops each run a block under their own context; threads
    cancel a random half at random moments.  Each block either finished
    (its context maybe cancelled too late) or raised its ctx.err(); no
    CancelledError escapes, no request is left on a task, no registration
    is left on a context."""
    rng = random.Random(7)
    n = 150
    ctxs = [gocore.with_cancel(gocore.background()) for _ in range(2 * n)]
    outcomes = [None] * (2 * n)

    async def block(i):
        ctx = ctxs[i][0]
        try:
            async with gocore.cancel_on(ctx):
                for _ in range(rng.randrange(1, 6)):
                    await asyncio.sleep(rng.random() * 0.002)
            outcomes[i] = "finished"
        except gocore.Canceled as exc:
            assert exc is ctx.err()
            outcomes[i] = "canceled"
        assert cancelling(asyncio.current_task()) == 0

    async def run_half(lid):
        await asyncio.gather(*(block(i) for i in range(lid * n, (lid + 1) * n)))

    loops = [ThreadLoop(kind), ThreadLoop(kind)]
    try:
        futs = [asyncio.run_coroutine_threadsafe(run_half(i), lt.loop) for i, lt in enumerate(loops)]
        victims = rng.sample(range(2 * n), n)

        def canceller(part):
            for i in part:
                ctxs[i][1]()
        ts = [threading.Thread(target=canceller, args=(victims[k::2],)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        for f in futs:
            f.result(60)
    finally:
        for lt in loops:
            lt.close()
    victim_set = set(victims)
    for i, outcome in enumerate(outcomes):
        assert outcome in ("finished", "canceled")
        if outcome == "canceled":
            assert i in victim_set
        assert not ctxs[i][0]._children
