"""The awaitables as their own futures and the ready path's recycled objects:
what asyncio sees of them, and that recycling never hands out an object
someone can still reach."""
import asyncio
import gc
import threading
import weakref

import pytest

import gocore
from async_helpers import loop_kind, run  # noqa: F401


def test_an_unawaited_twin_is_no_future_so_asyncio_wraps_it():
    ch = gocore.Chan(1)
    aw = ch.arecv()
    assert not asyncio.isfuture(aw)           # ensure_future/wait_for wrap it in a task

    async def main():
        ch.send(5)
        assert await asyncio.wait_for(ch.arecv(), 5) == 5
        task = asyncio.ensure_future(ch.arecv())
        assert isinstance(task, asyncio.Task)
        await ch.asend(6)
        assert await task == 6
    asyncio.run(main())
    aw.close()


def test_cancel_message_reaches_the_task(loop_kind):
    ch = gocore.Chan()

    async def main():
        task = asyncio.ensure_future(ch.arecv())
        await asyncio.sleep(0)                 # now waiting on ch
        task.cancel("stop here")
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        assert "stop here" in str(info.value) or info.value.args in ((), ("stop here",))
        assert task.cancelled()
        ch.close()
    run(loop_kind, main())


def test_held_awaitables_are_never_recycled():
    ch = gocore.Chan(16)
    held = [ch.asend(i) for i in range(10)]   # more than the pool holds
    assert len({id(a) for a in held}) == 10

    async def main():
        for a in held:
            await a
        assert [ch.recv() for _ in range(10)] == list(range(10))
        for _ in range(1000):                  # recycled: still one value each
            await ch.asend(1)
            assert await ch.arecv() == 1
    asyncio.run(main())


def test_recycled_awaitables_keep_no_channel_or_value_alive():
    class Box:
        pass

    async def main():
        ch = gocore.Chan(1)
        box = Box()
        await ch.asend(box)
        got = await ch.arecv()
        assert got is box
        return weakref.ref(ch), weakref.ref(box)
    ch_ref, box_ref = asyncio.run(main())
    gc.collect()
    assert ch_ref() is None and box_ref() is None


def test_thread_wakes_many_tasks_on_one_loop(loop_kind):
    ch = gocore.Chan()
    n = 50

    async def main():
        tasks = [asyncio.ensure_future(ch.arecv()) for _ in range(n)]
        await asyncio.sleep(0.01)
        t = threading.Thread(target=lambda: [ch.send(i, timeout=5) for i in range(n)])
        t.start()
        got = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        t.join()
        assert sorted(got) == list(range(n))
    run(loop_kind, main())
