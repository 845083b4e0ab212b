"""gocore.testing used the way test suites do; `mypy --strict` must accept it.

Never executed: tests/test_typing.py type-checks it.
"""
from __future__ import annotations

import gocore
from gocore.testing import FakeClock, fake_clock


def fake_clock_examples() -> float:
    with fake_clock() as clock:
        c = gocore.after(60)
        clock.advance(60)
        v = c.recv()
        assert v is not None
        idle: bool = clock.wait_idle(timeout=1.0)
        assert idle
    auto: FakeClock = fake_clock(auto_advance=True)
    with auto:
        ctx, cancel = gocore.with_timeout(gocore.background(), 3600)
        ctx.done().recv()
        cancel()
    return v + clock.now()
