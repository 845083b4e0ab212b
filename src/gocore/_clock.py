"""The one clock gocore's Python layer reads.

Everything that asks "what time is it" (timers, context deadlines, pools, the
rate limiter, the breakers) calls ``_clock.now()`` through this module instead
of ``time.monotonic`` directly, so a test clock can replace the source in one
place (``gocore.testing.fake_clock``).  Call it as ``_clock.now()``: importing
the function by name would keep the real clock after a swap.
"""
import time

_source = time.monotonic


def now() -> float:
    """Seconds on the monotonic clock gocore currently runs on."""
    return _source()
