"""gocore's exception types (API.md, "Errors").

They are defined in the compiled core (``src/errors.pxi``), which raises them
without importing this package; this module is their public home.
"""
from gocore._gocore import (
    BreakerOpenError,
    Canceled,
    ClosedChannelError,
    DeadlineExceeded,
    DeadlockError,
)

__all__ = ["ClosedChannelError", "Canceled", "DeadlineExceeded", "BreakerOpenError", "DeadlockError"]
