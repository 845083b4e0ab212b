"""Argument checks the pattern modules share, so that each rule (and its
message) exists once.  Timeouts and durations are not here: the core owns
that rule (timeout.pxi, ``_timeout_seconds`` / ``_duration_seconds``)."""
from __future__ import annotations

from typing import Any


def check_int(value: Any, what: str, least: int) -> int:
    """`value` as a count: an int (not a bool) >= `least`; else TypeError
    or ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < least:
        raise ValueError(f"{what} must be >= {least}, got {value}")
    return value
