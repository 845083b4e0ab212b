"""Running test coroutines on the default asyncio loop and on uvloop (where it imports)."""
import asyncio
import sys
import threading

import pytest

try:
    import uvloop
except ImportError:      # not installed, or no wheel for this platform
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def new_loop(kind):
    if kind == "uvloop":
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(kind, coro, timeout=60):
    """Run `coro` to completion on a fresh loop of `kind` in this thread."""
    loop = new_loop(kind)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        loop.close()


class LoopThread:
    """A loop of `kind` running in its own thread; submit() coroutines to it."""

    def __init__(self, kind):
        self.loop = new_loop(kind)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        if self.thread.is_alive():
            pytest.fail("event loop thread did not stop")
        self.loop.close()


def timeout_cm(seconds):
    """asyncio.timeout on 3.11+; on 3.10 a minimal equivalent built on task.cancel."""
    if sys.version_info >= (3, 11):
        return asyncio.timeout(seconds)
    return _Timeout310(seconds)


class _Timeout310:
    def __init__(self, seconds):
        self.seconds = seconds

    async def __aenter__(self):
        task = asyncio.current_task()
        self.fired = False

        def fire():
            self.fired = True
            task.cancel()
        self.handle = asyncio.get_running_loop().call_later(self.seconds, fire)

    async def __aexit__(self, typ, exc, tb):
        self.handle.cancel()
        if self.fired and typ is asyncio.CancelledError:
            raise TimeoutError
        return False


@pytest.fixture(params=LOOPS)
def loop_kind(request):
    return request.param


async def cancelled_while_parked(aw, before_cancel=None):
    """Run `aw` as a task, let it park (10 ms), call before_cancel() if given
    (e.g. a release that hands it the resource), cancel it, and check that
    awaiting it raises CancelledError."""
    import pytest

    t = asyncio.ensure_future(aw)
    await asyncio.sleep(0.01)
    if before_cancel is not None:
        before_cancel()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
