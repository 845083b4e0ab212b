"""What ErrGroup and WorkerPool share as scopes: ``with`` and ``async with``
enter by returning the group, and ``await group`` is ``wait()`` for a task
(the loop keeps running).  Their exits differ (ErrGroup re-raises the first
goroutine error, WorkerPool swallows a late one under the block's own), so
each class keeps its ``__exit__`` and ``__aexit__``.
"""
from __future__ import annotations

from typing import Any, Generator, TypeVar

from gocore._gocore import WaitGroup

_G = TypeVar("_G", bound="GroupScope")


class GroupScope:
    """A base with no state: the subclass owns ``_wg`` (its goroutines) and
    ``_waited()`` (what ``wait`` does once they are all done)."""

    __slots__ = ()
    _wg: WaitGroup

    def _waited(self) -> None:
        raise NotImplementedError

    def __enter__(self: _G) -> _G:
        return self

    async def _await(self) -> None:
        await self._wg
        self._waited()

    def __await__(self) -> Generator[Any, None, None]:
        """``await group``: ``wait()`` for a task (the loop keeps running)."""
        return self._await().__await__()

    async def __aenter__(self: _G) -> _G:
        return self
