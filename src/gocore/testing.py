"""Tools for testing code built on gocore.

``fake_clock()``: virtual time for every gocore timer, deadline and
``timeout=`` inside a ``with`` block (Go's ``testing/synctest``).
"""
from __future__ import annotations

from gocore._fakeclock import FakeClock, fake_clock

__all__ = ["FakeClock", "fake_clock"]
