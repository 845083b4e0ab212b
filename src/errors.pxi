# ---- gocore's exception types (API.md, "Errors") ----
#
# Defined here, in the extension, so the core raises its own errors without
# importing the Python layer (which is only half-initialised while the core
# loads); gocore.errors re-exports them.  Their __module__ stays the public
# home, so reprs, tracebacks and pickles name gocore.errors.


class ClosedChannelError(RuntimeError):
    """Send on a closed channel, or close of a closed channel.

    Example::

        ch = gocore.Chan(1); ch.close()
        try:
            ch.send(1)
        except gocore.ClosedChannelError:
            ...
    """
    __module__ = "gocore.errors"


class Canceled(Exception):
    """What ``ctx.err()`` returns once a context was cancelled (Go's ``context.Canceled``).

    Example::

        ctx, cancel = gocore.with_cancel(gocore.background())
        cancel()
        assert isinstance(ctx.err(), gocore.Canceled)
    """
    __module__ = "gocore.errors"

    def __init__(self, msg="context canceled"):
        super().__init__(msg)


class DeadlineExceeded(TimeoutError):
    """What ``ctx.err()`` returns once a context's deadline passed (Go's ``context.DeadlineExceeded``).

    Example::

        ctx, cancel = gocore.with_timeout(gocore.background(), 0.01)
        ctx.done().recv()
        assert isinstance(ctx.err(), gocore.DeadlineExceeded)
    """
    __module__ = "gocore.errors"

    def __init__(self, msg="context deadline exceeded"):
        super().__init__(msg)


class BreakerOpenError(RuntimeError):
    """A circuit breaker refused a call without running it.

    Example::

        try:
            breaker.call(fetch)
        except gocore.BreakerOpenError:
            ...                      # fail fast, try later
    """
    __module__ = "gocore.errors"


class DeadlockError(RuntimeError):
    """The main thread's blocking call can never return: every other thread
    is a gocore thread blocked or idle (deadlock detection, off by default).

    Example::

        gocore.set_deadlock_detection(True)
        try:
            gocore.Chan().recv()
        except gocore.DeadlockError as e:
            print(e)                 # carries the goroutine dump
    """
    __module__ = "gocore.errors"
