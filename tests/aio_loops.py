"""Event loops for the asyncio tests of the groups and cancel_on: the
default loop and uvloop where it imports, run in the test's thread or in a
thread of their own."""
import asyncio
import threading

import pytest

try:
    import uvloop
except ImportError:         # not installed, or no wheel for this platform
    uvloop = None

KINDS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def make_loop(kind):
    return uvloop.new_event_loop() if kind == "uvloop" else asyncio.new_event_loop()


def run_on(kind, coro, timeout=60):
    """Run coro on a new loop of `kind` in this thread; a hang fails the test."""
    loop = make_loop(kind)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        loop.close()


class ThreadLoop:
    """A loop of `kind` running in a thread of its own."""

    def __init__(self, kind):
        self.loop = make_loop(kind)
        self.ident = None
        started = threading.Event()

        def main():
            self.ident = threading.get_ident()
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        started.wait(10)

    def call(self, coro, timeout=60):
        """Run coro on this loop, wait for its result here."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        assert not self.thread.is_alive(), "event loop thread did not stop"
        self.loop.close()


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def panics():
    """The exceptions that reach the panic handler during the test."""
    import gocore
    seen = []
    previous = gocore.set_panic_handler(seen.append)
    yield seen
    gocore.set_panic_handler(previous)
