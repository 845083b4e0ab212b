"""go(), the panic handler and num_goroutine(): the Python side of the
scheduler whose run queue and workers live in the core (goroutine.pxi)."""
from __future__ import annotations

import sys
import threading
import traceback
from typing import Callable, Optional

from gocore import _gocore
from gocore._gocore import go, num_goroutine

__all__ = ["go", "set_panic_handler", "num_goroutine"]

PanicHandler = Callable[[BaseException], object]


def _default_panic_handler(exc: BaseException) -> None:
    """Print the goroutine's traceback to stderr, as threading.excepthook does."""
    stderr = sys.stderr
    if stderr is None:          # pythonw, or the interpreter is shutting down
        return
    print("panic: exception in goroutine:", file=stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=stderr)
    stderr.flush()


# The current handler lives in a one-element list: workers read it without a
# lock (a list item read is atomic, also on free-threaded builds); writers
# serialise on _handler_lock so set_panic_handler returns the true previous one.
_handler: list[PanicHandler] = [_default_panic_handler]
_handler_lock = threading.Lock()


def _dispatch(exc: BaseException) -> None:
    _handler[0](exc)


def set_panic_handler(fn: Optional[PanicHandler]) -> Optional[PanicHandler]:
    """Set the function that receives exceptions escaping goroutines (go-zero's
    GoSafe recover); ``None`` restores the default, which prints the traceback
    to stderr.  Returns the previous handler (``None`` for the default).

    Example::

        errors = []
        previous = gocore.set_panic_handler(errors.append)
        try:
            ...
        finally:
            gocore.set_panic_handler(previous)
    """
    if fn is not None and not callable(fn):
        raise TypeError(f"panic handler must be callable or None, not {type(fn).__name__}")
    with _handler_lock:
        previous = _handler[0]
        _handler[0] = _default_panic_handler if fn is None else fn
    return None if previous is _default_panic_handler else previous


_gocore._install_panic_dispatch(_dispatch)
