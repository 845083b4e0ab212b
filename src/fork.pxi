# ---- after fork(): every reset of the core, registered once ----
#
# In a forked child only the forking thread exists.  Every record a parent
# thread had queued in the core (sleeping in the sema table, idle in the
# scheduler, parked on a channel or a Cond) belongs to a thread that is gone,
# on a stack the child's new threads will reuse, and any spin lock such a
# thread held stays held.  Each subsystem's reset forgets that state (leaking
# it is safe, freeing it is not); this is the one place that runs them, in
# the child, before any other Python code.

import os as _fork_os


cdef void _chan_reset_after_fork() noexcept:
    global _main_thread_ident
    # The thread that forked is the child's main thread: it is the one whose
    # channel waits must slice for signal handlers now.
    _main_thread_ident = PyThread_get_thread_ident()
    # Channel wait queues and Cond lists of the parent's threads: their reset
    # goes here (and a Cond reset beside it).


def _reset_after_fork():
    """The core's after-fork-in-child hook (also callable by tests)."""
    sema_reset_after_fork()
    sched_reset_after_fork()
    _chan_reset_after_fork()
    rec_reset_after_fork()       # after _chan_reset_after_fork: needs the new main ident


if hasattr(_fork_os, "register_at_fork"):
    _fork_os.register_at_fork(after_in_child=_reset_after_fork)
