"""Starting the threads of a row's call behind a barrier, so none gets a head start."""
from __future__ import annotations

import threading
from typing import Any, Callable, List


def run_threads(n: int, target: Callable[..., Any], *args: Any) -> None:
    """Start n threads behind a barrier, join them, re-raise the first error."""
    barrier = threading.Barrier(n)
    errors: List[BaseException] = []

    def body() -> None:
        barrier.wait()
        try:
            target(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
