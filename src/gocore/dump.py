"""Seeing goroutines: ``goroutines()``, a Go-style ``dump_goroutines()`` and
``dump_on_signal()``.

The core keeps one record per worker thread (gorecord.pxi): the goroutine it
runs, where that goroutine was created, and what it waits on while parked in
gocore.  This module turns those records into ``GoroutineInfo`` values and
adds each one's live stack from ``sys._current_frames()``.
"""
from __future__ import annotations

import signal
import sys
import time
import traceback
from typing import IO, Any, Callable, List, Optional

from gocore import _gocore

__all__ = ["GoroutineInfo", "goroutines", "dump_goroutines", "dump_on_signal"]


class GoroutineInfo:
    """One live goroutine, as ``goroutines()`` saw it.

    ``id``: its number (in start order); ``name``: its function's
    ``__qualname__``; ``created_at``: ``"file:line"`` of the call that started
    it; ``state``: ``"running"``, ``"runnable"`` (queued, not started) or what
    it is blocked on, as Go names it (``"chan receive"``, ``"Mutex.lock"``,
    ...); ``waiting_since``: the ``time.monotonic()`` value when that wait
    began, or None; ``stack``: its stack, innermost call last.

    Example::

        for g in gocore.goroutines():
            print(g.id, g.name, g.state, g.created_at)
    """

    __slots__ = ("id", "name", "created_at", "state", "waiting_since", "stack",
                 "created_by", "_ident")

    def __init__(self, id: int, name: str, created_at: str, state: str,
                 waiting_since: Optional[float], stack: traceback.StackSummary,
                 created_by: str, ident: Optional[int] = None) -> None:
        self.id = id
        self.name = name
        self.created_at = created_at
        self.state = state
        self.waiting_since = waiting_since
        self.stack = stack
        self.created_by = created_by   # the function that made the go() call
        self._ident = ident            # the worker thread running it (None: queued)

    def __repr__(self) -> str:
        return (f"<GoroutineInfo {self.id} {self.name} [{self.state}] "
                f"created at {self.created_at}>")


def _name_of(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str):
        return name
    inner = getattr(fn, "func", None)          # functools.partial
    if inner is not None and inner is not fn:
        return _name_of(inner)
    return repr(fn)


def goroutines() -> List[GoroutineInfo]:
    """Every live goroutine (started by ``go()`` or anything built on it),
    running or queued, in id order.

    Example::

        blocked = [g for g in gocore.goroutines() if g.state == "chan receive"]
    """
    rows = _gocore._goroutine_table()
    frames = sys._current_frames()
    # waiting_since: the core stamps waits on its own monotonic clock; carry
    # them over to time.monotonic() through one pair of readings.
    offset = time.monotonic() - _gocore._nanotime() / 1e9
    out = []
    for gid, label, filename, line, state, since, ident, creator in rows:
        frame = frames.get(ident) if ident is not None else None
        stack = traceback.extract_stack(frame) if frame is not None else traceback.StackSummary()
        out.append(GoroutineInfo(
            gid, _name_of(label), f"{filename}:{line}", state,
            since + offset if since is not None else None, stack, creator, ident))
    return out


def _header(g: GoroutineInfo, now: float) -> str:
    state = g.state
    if g.waiting_since is not None:
        minutes = int((now - g.waiting_since) // 60)
        if minutes >= 1:                       # Go shows only waits of a minute or more
            state += f", {minutes} minutes"
    return f"goroutine {g.id} [{state}]:"


def format_goroutines(infos: Optional[List[GoroutineInfo]] = None) -> str:
    """The dump text of `infos` (default: ``goroutines()``), Go's layout:
    a header per goroutine, its stack innermost call first, ``created by``."""
    if infos is None:
        infos = goroutines()
    now = time.monotonic()
    parts = []
    for g in infos:
        lines = [_header(g, now)]
        for fs in reversed(g.stack):
            lines.append(f"{fs.name}(...)")
            lines.append(f"\t{fs.filename}:{fs.lineno}")
        if not g.stack:
            lines.append(f"{g.name}(...)")
        lines.append(f"created by {g.created_by} at {g.created_at}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + ("\n" if parts else "")


def dump_goroutines(file: Optional[IO[str]] = None) -> None:
    """Write a Go-style dump of every goroutine to `file` (default stderr)::

        goroutine 7 [chan receive, 2 minutes]:
        worker(...)
        \t/app/jobs.py:12
        created by main at /app/main.py:30

    Example::

        gocore.dump_goroutines()                  # to stderr
        gocore.dump_goroutines(open("g.txt", "w"))
    """
    out = sys.stderr if file is None else file
    if out is None:                            # pythonw, or interpreter shutdown
        return
    out.write(format_goroutines())
    flush = getattr(out, "flush", None)
    if flush is not None:
        flush()


_DEFAULT_SIGNAL = getattr(signal, "SIGQUIT", None)


def dump_on_signal(signum: Optional[int] = _DEFAULT_SIGNAL) -> Any:
    """Install ``dump_goroutines()`` (to stderr) as the handler of `signum`
    (default ``SIGQUIT``, Ctrl-\\ in a terminal, as Go's runtime does) and
    return the previous handler.  Call from the main thread.

    Example::

        gocore.dump_on_signal()          # then: kill -QUIT <pid>
    """
    if signum is None:
        raise ValueError("dump_on_signal: this platform has no SIGQUIT; pass signum")

    def _handler(signo: int, frame: Any) -> None:
        dump_goroutines()

    _handler._gocore_passive = True  # type: ignore[attr-defined]  # wakes nobody: the deadlock detector ignores it
    return signal.signal(signum, _handler)
