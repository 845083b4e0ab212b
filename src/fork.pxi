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
    # Channel wait queues and Cond lists: there are too many to find here, so
    # each is reset lazily, by the first thread that locks it in the child
    # and sees an old generation stamp (chan_lock, Cond._lock_list).
    gocore_add(&_fork_gen, 1)


# ---- lazy resets, by fork generation ----
#
# A structure stamped `gen` != _fork_gen was last used before a fork.  One
# thread claims the reset (CAS gen -> GEN_RESETTING), clears the structure
# (its spin lock too: a parent thread may have died holding it) and stamps
# the current generation; a thread that finds GEN_RESETTING waits the few
# instructions that takes.  Only the child's first touches pay: afterwards
# the stamp matches and the check is one load and compare.

cdef bint fork_claim_reset(int64_t* gen) noexcept nogil:
    """True: the caller must reset the structure, then call fork_reset_done.
    False: it is current (somebody else reset it)."""
    cdef int64_t cur = gocore_load_acquire(&_fork_gen)
    cdef int64_t g
    while True:
        g = gocore_load_acquire(gen)
        if g == cur:
            return False
        if g != GEN_RESETTING and gocore_cas(gen, g, GEN_RESETTING):
            return True
        gocore_cpu_relax()


cdef void fork_reset_done(int64_t* gen) noexcept nogil:
    gocore_store(gen, gocore_load_acquire(&_fork_gen))


cdef void chan_reset_for_fork(ChanCore* c) noexcept nogil:
    """Forget a channel's queued waiters (all the parent's) and its lock."""
    if not fork_claim_reset(&c.gen):
        return
    c.lock = 0
    c.recvq.head = c.recvq.tail = NULL
    c.sendq.head = c.sendq.tail = NULL
    gocore_and(&c.head, ~(<int64_t>HEAD_RECVQ))
    gocore_and(&c.tail, ~(<int64_t>TAIL_SENDQ))
    gocore_store(&c.waiters, 0)
    fork_reset_done(&c.gen)


def _reset_after_fork():
    """The core's after-fork-in-child hook (also callable by tests)."""
    sema_reset_after_fork()
    sched_reset_after_fork()
    _chan_reset_after_fork()
    rec_reset_after_fork()       # after _chan_reset_after_fork: needs the new main ident


if hasattr(_fork_os, "register_at_fork"):
    _fork_os.register_at_fork(after_in_child=_reset_after_fork)
