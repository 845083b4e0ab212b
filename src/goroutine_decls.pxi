# ---- go(): the goroutine scheduler ----
#
# A cached pool of worker threads fed by a run queue in the core.
#
#   run queue   FIFO of RunNode (fn, args, kwargs as owned references), guarded
#               by _rq_lock; _rq_len mirrors its length for lock-free peeks.
#   idle stack  LIFO of GoWorker records (each on its worker's C stack) for the
#               workers parked waiting for work; the most recently idle, and
#               so the warmest, is woken first.  Guarded by _idle_lock.
#
# The starvation trap: a goroutine may block where the core cannot see it
# (time.sleep, I/O, a threading.Lock, or waiting for a goroutine spawned
# after it).  So no queued goroutine may ever wait for a *busy* worker to
# finish.  The scheduler keeps this exact with one counter:
#
#   _navail = (workers not running a goroutine)
#             - (goroutines reserved a worker but not yet taken off the queue)
#
# A spawn first reserves a worker (CAS _navail from v > 0 to v - 1) and only
# then queues the goroutine; with nothing to reserve it starts a new thread
# and hands it the goroutine directly.  A worker adds 1 when it finishes a
# goroutine; taking one off the queue changes nothing (one free worker and one
# reservation disappear together); a worker may retire only by taking a unit
# (CAS from v > 0).  So _navail >= 0 always: every queued goroutine is matched
# by a worker that is not running user code, and which will look at the queue
# before it sleeps.  Reservations are not tied to particular workers, so a
# worker that has just finished may take the next queued goroutine at once
# (batching, no sleep/wake per goroutine); the worker that was woken for it
# then finds the queue empty and goes back to sleep.
#
# Wake-ups (Go's "spinning M" rule): _nspinning counts workers woken from the
# idle stack that have not yet either taken a goroutine or gone back on the
# stack.  A spawn wakes an idle worker only when nobody is spinning, and a
# worker that takes a goroutine while more are queued wakes the next one
# before it runs user code, so wake-ups cascade instead of costing every
# spawn a syscall.  Lost wake-up argument (every step below is seq_cst):
#   spawner:  push to queue;          then read _nspinning, wake if 0
#   worker:   push self on the stack; then _nspinning -= 1 if spinning;
#             then re-read _rq_len before sleeping
#   spinner:  take from the queue;    then _nspinning -= 1; then re-read
#             _rq_len and wake if more are queued and nobody spins.
# If a spawner saw _nspinning > 0, the spinner's decrement comes later and so
# does its re-read, which sees the goroutine.  If it saw 0, it locks the idle
# stack: a worker already on it is woken; one not yet on it re-reads the queue
# after pushing itself.  A worker that finds work after pushing itself removes
# itself, or, if a waker already popped it, collects that wake-up first (the
# waker touches the record until its sema_release).

import _thread
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawFree


cdef struct RunNode:
    PyObject* fn           # owned references, moved by pointer through the queue
    PyObject* args         # a tuple
    PyObject* kwargs       # a dict, or NULL for no keyword arguments
    PyObject* group        # owned: the WaitGroup whose done() follows the call, or NULL
    RunNode* next          # guarded by _rq_lock
    int64_t queued_at      # gocore_nanotime() when made: the monitor's queue age (sysmon_decls.pxi)
    int64_t gid            # the goroutine's id
    PyObject* label        # owned: the function its record names (see gorecord_decls.pxi)
    PyObject* code         # owned: code object of the go() call site, or NULL
    int64_t lasti


cdef struct GoWorker:
    int64_t sema           # the idle worker sleeps on this word; a waker releases it
    GoWorker* prev         # idle-stack links, guarded by _idle_lock
    GoWorker* next
    bint on_stack          # guarded by _idle_lock; cleared by whoever unlinks


cdef int64_t _rq_lock = 0
cdef RunNode* _rq_head = NULL       # guarded by _rq_lock
cdef RunNode* _rq_tail = NULL       # guarded by _rq_lock
cdef int64_t _rq_len = 0            # written under _rq_lock, read lock-free

cdef int64_t _idle_lock = 0
cdef GoWorker* _idle_top = NULL     # guarded by _idle_lock

cdef int64_t _navail = 0            # see the invariant above
cdef int64_t _nspinning = 0         # woken workers still looking for work
cdef int64_t _ngoroutines = 0       # spawned by go() and not yet returned
cdef int64_t _nworkers = 0          # worker threads alive (or starting)
cdef int64_t _next_gid = 0          # the last goroutine id handed out

# Where the code files start whose frames go() skips to find its user's call
# site: gocore's own Python layer (a tuple of str, set once by gocore.goroutine;
# None until then).
cdef object _skip_files = None
cdef tuple _keep_files = ()     # ... but not these (see _install_frame_skip)

# An idle worker retires after this long without work.  A few seconds keeps a
# warm pool across bursts without holding threads forever.
cdef int64_t _idle_timeout_ns = 5_000_000_000


# One record a dump copies out of a worker record or a queued RunNode while
# holding that list's spin lock (goroutine_dump.pxi).
cdef struct _GoCopy:
    int64_t gid
    PyObject* label         # owned by the copy
    PyObject* code          # owned by the copy, or NULL
    int64_t lasti
    int64_t wait
    int64_t since
    unsigned long ident


# ---- the scheduler's surface, by file ----
#
# sched.pxi           the run queue, the idle stack, the worker loop and
#   _spawn(fn, args, kwargs, label)  run fn(*args, **kwargs) on a worker (go());
#                                dumps name `label` (None: fn)
#   _spawn_counted(..., group)   the same, then group's done() (WaitGroup.go)
#   sched_reset_after_fork()     forget the parent's workers and queue (fork.pxi)
# hooks.pxi
#   _report_panic(exc)           hand an escaped exception to the panic handler
# goroutine.pxi       go(), num_goroutine() and the test knobs Python calls
# goroutine_dump.pxi  _goroutine_table(): the rows gocore.dump prints
