"""gocore's exception types (API.md, "Errors")."""


class ClosedChannelError(RuntimeError):
    """Send on a closed channel, or close of a closed channel.

    Example::

        ch = gocore.Chan(1); ch.close()
        try:
            ch.send(1)
        except gocore.ClosedChannelError:
            ...
    """


class Canceled(Exception):
    """What ``ctx.err()`` returns once a context was cancelled (Go's ``context.Canceled``)."""

    def __init__(self, msg: str = "context canceled") -> None:
        super().__init__(msg)


class DeadlineExceeded(TimeoutError):
    """What ``ctx.err()`` returns once a context's deadline passed (Go's ``context.DeadlineExceeded``)."""

    def __init__(self, msg: str = "context deadline exceeded") -> None:
        super().__init__(msg)


class DeadlockError(RuntimeError):
    """The main thread's blocking call can never return (deadlock detection)."""
