# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible=True
# cython: embedsignature=True, embedsignature.format=clinic
"""gocore's compiled core: atomics, the semaphore sleep/wake table and the
sync primitives built on it.  Import the public names from ``gocore``.

Each concept lives in its own file beside this one; this file only stitches
them together.  Layout: first the declarations (C externs, structs,
constants, forward class declarations and the module's C state), then the
bodies.

Why declaration .pxi files rather than a .pxd: a ``_gocore.pxd`` would turn
every cdef function it declares into an exported C-API entry, require every
``inline`` helper (the fast paths) to have its body in the .pxd, and force
each class's attributes out of its own file; the subsystems here share one
module, so textual declarations give the same single place to read each
surface without those costs.  Cython resolves module-level cdef functions
and classes over the whole module, so with the types declared first the
order of the bodies below does not matter (each *_decls.pxi lists its
subsystem's functions by file).
"""

# ---- declarations ----
include "core_decls.pxi"
include "gorecord_decls.pxi"
include "sema_decls.pxi"
include "chan_decls.pxi"
include "goroutine_decls.pxi"
include "sysmon_decls.pxi"
include "hooks.pxi"
include "errors.pxi"
include "typeslots.pxi"
include "timeout.pxi"
include "waiter_task.pxi"         # the task sleeper kind (with the twins' constants)
include "chan_async_decls.pxi"

# ---- bodies (any order) ----
include "sema.pxi"
include "task_wake.pxi"
include "park_spin.pxi"
include "gorecord.pxi"
include "mainwait.pxi"
include "atomic.pxi"
include "mutex.pxi"
include "rwmutex.pxi"
include "waitgroup.pxi"
include "cond.pxi"
include "once.pxi"
include "semaphore.pxi"
include "sync_async.pxi"
include "chan_ring.pxi"
include "chan_wait.pxi"
include "chan_locked.pxi"
include "chan_ops.pxi"
include "chan.pxi"
include "select_cases.pxi"      # what a case may be, and how one is read
include "select.pxi"
include "chan_returned.pxi"
include "chan_async.pxi"
include "chan_aselect.pxi"
include "sched.pxi"
include "goroutine.pxi"
include "goroutine_dump.pxi"
include "sysmon.pxi"
include "go_coro.pxi"
include "fork.pxi"
include "ratelimit.pxi"
include "singleflight.pxi"
include "fakeclock.pxi"
include "ctx_locked.pxi"          # the context tree's critical sections (gocore/context.py)
include "ctx_walk.pxi"            # ... and its cancel walk
