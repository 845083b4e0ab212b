# ---- goroutine records: what each gocore thread is doing, for dumps and deadlock detection ----
#
# Every worker thread owns one GoRecord (on its own C stack, for the thread's
# whole life) that says which goroutine it runs and, while that goroutine
# waits inside gocore, what it waits on.  The main thread has a static record
# and gocore's timer thread a heap one.  A C thread-local pointer finds the
# current thread's record, so the park paths store into it without a lock or
# an allocation; threads without a record (plain threads) store nothing.
#
# Fields and who writes them:
#   gid, label, code, lasti   the goroutine running here (gid 0: none); written
#                             by the owner under `lock`, read by dumps under it
#   wait, since               the wait in progress (WAIT_* | WAIT_TIMED; 0 when
#                             running) and when it began; owner only, racy reads
#   gen                       odd while the owner is parked with no wake-up on
#                             the way.  The owner makes it odd once its waiter
#                             record is queued (under the queue's lock); whoever
#                             dequeues that record to wake it makes it even
#                             again before the unpark, and so does the owner
#                             when its park returns (a CAS from the odd value:
#                             exactly one of them bumps it).  gen only grows,
#                             so two equal odd readings mean "parked, untouched,
#                             the whole time in between" (the deadlock
#                             detector's consistent cut, see deadlock.pxi).

from cpython.mem cimport PyMem_RawMalloc
cdef extern from "pythread.h":
    unsigned long gocore_thread_ident "PyThread_get_thread_ident"() nogil
import threading as _threading_for_rec

cdef extern from *:
    """
    #if defined(_MSC_VER)
    #define GOCORE_REC_TLS __declspec(thread)
    #else
    #define GOCORE_REC_TLS _Thread_local
    #endif
    static GOCORE_REC_TLS void *gocore_cur_rec = NULL;
    static inline void *gocore_get_rec(void) { return gocore_cur_rec; }
    static inline void gocore_set_rec(void *r) { gocore_cur_rec = r; }
    """
    void* gocore_get_rec() nogil
    void gocore_set_rec(void* r) nogil

cdef extern from "gocore_frame.h":
    int gocore_caller(object skip, PyObject** code_out, int* lasti_out) except -1
    int gocore_code_line(object code, int lasti)

# What a thread waits on.  The names are Go's, as its goroutine dumps print them.
DEF WAIT_RUNNING = 0
DEF WAIT_RUNNABLE = 1       # queued, not started (synthesised for dumps)
DEF WAIT_IDLE = 2           # a worker waiting for a goroutine to run
DEF WAIT_CHAN_RECV = 3
DEF WAIT_CHAN_SEND = 4
DEF WAIT_SELECT = 5
DEF WAIT_CHAN_RECV_NIL = 6
DEF WAIT_CHAN_SEND_NIL = 7
DEF WAIT_SELECT_NO_CASES = 8
DEF WAIT_MUTEX = 9
DEF WAIT_RW_LOCK = 10
DEF WAIT_RW_RLOCK = 11
DEF WAIT_COND = 12
DEF WAIT_WAITGROUP = 13
DEF WAIT_SEMAPHORE = 14
DEF WAIT_TIMED = 256        # the wait has a deadline: it ends by itself
DEF WAIT_KIND_MASK = 255

_WAIT_NAMES = {
    WAIT_RUNNING: "running",
    WAIT_RUNNABLE: "runnable",
    WAIT_IDLE: "idle",
    WAIT_CHAN_RECV: "chan receive",
    WAIT_CHAN_SEND: "chan send",
    WAIT_SELECT: "select",
    WAIT_CHAN_RECV_NIL: "chan receive (nil chan)",
    WAIT_CHAN_SEND_NIL: "chan send (nil chan)",
    WAIT_SELECT_NO_CASES: "select (no cases)",
    WAIT_MUTEX: "Mutex.lock",
    WAIT_RW_LOCK: "RWMutex.lock",
    WAIT_RW_RLOCK: "RWMutex.rlock",
    WAIT_COND: "Cond.wait",
    WAIT_WAITGROUP: "WaitGroup.wait",
    WAIT_SEMAPHORE: "Semaphore.acquire",
}

DEF REC_WORKER = 0
DEF REC_MAIN = 1
DEF REC_SYSTEM = 2          # gocore's own helper threads (the timer thread)

cdef struct GoRecord:
    int64_t gid
    PyObject* label         # owned: the function a dump names
    PyObject* code          # owned: code object of the go() call site, or NULL
    int64_t lasti           # byte offset of that call in `code`
    int64_t wait
    int64_t since
    int64_t gen
    int64_t lock
    unsigned long ident
    int kind
    int64_t fork_gen        # _reg_fork_gen when linked (a record from before a fork is not linked)
    GoRecord* prev          # registry links, guarded by _reg_lock
    GoRecord* next


cdef int64_t _reg_lock = 0
cdef GoRecord* _reg_head = NULL     # guarded by _reg_lock
cdef int64_t _reg_workers = 0       # worker records registered (for the detector)
cdef int64_t _reg_fork_gen = 0      # bumped in a forked child, which forgets every record
cdef GoRecord _main_rec
_main_rec.kind = REC_MAIN


cdef inline GoRecord* rec_self() noexcept nogil:
    return <GoRecord*>gocore_get_rec()


cdef inline void rec_wait_begin(int64_t what, int64_t deadline) noexcept nogil:
    """The current thread starts waiting on `what` (a slow path only)."""
    cdef GoRecord* r = rec_self()
    if r == NULL:
        return
    if deadline != GOCORE_NO_DEADLINE:
        what |= WAIT_TIMED
    r.since = gocore_nanotime()
    gocore_store(&r.wait, what)


cdef inline void rec_wait_end() noexcept nogil:
    cdef GoRecord* r = rec_self()
    if r != NULL:
        gocore_store(&r.wait, WAIT_RUNNING)


cdef inline void rec_parked(GoRecord* r) noexcept nogil:
    """Owner: its waiter record is now queued (call under the queue's lock)."""
    if r != NULL:
        gocore_add(&r.gen, 1)


cdef inline void rec_unparked(GoRecord* r) noexcept nogil:
    """A waker (before its unpark) or the owner (after its park returned)."""
    cdef int64_t g
    if r == NULL:
        return
    g = gocore_load(&r.gen)
    if g & 1:
        gocore_cas(&r.gen, g, g + 1)


cdef void rec_register(GoRecord* r, int kind, unsigned long ident) noexcept nogil:
    """Initialise r and link it into the registry.  A worker's record is
    registered by the thread that starts the worker (ident 0 until the worker
    adopts it), so its first goroutine is never missing from a dump."""
    global _reg_head
    r.gid = 0
    r.label = r.code = NULL
    r.lasti = -1
    r.wait = WAIT_RUNNING
    r.since = 0
    r.gen = 0
    r.lock = 0
    r.kind = kind
    r.ident = ident
    gocore_spin_lock(&_reg_lock)
    r.fork_gen = _reg_fork_gen
    r.prev = NULL
    r.next = _reg_head
    if _reg_head != NULL:
        _reg_head.prev = r
    _reg_head = r
    if kind == REC_WORKER:
        gocore_add(&_reg_workers, 1)
    gocore_spin_unlock(&_reg_lock)


cdef inline void rec_adopt(GoRecord* r) noexcept nogil:
    """The calling thread takes r as its own record."""
    r.ident = gocore_thread_ident()
    gocore_set_rec(r)


cdef void rec_unregister(GoRecord* r) noexcept nogil:
    global _reg_head
    if gocore_get_rec() == r:
        gocore_set_rec(NULL)
    gocore_spin_lock(&_reg_lock)
    if r.fork_gen != _reg_fork_gen:
        # Registered before a fork, by the thread that forked (a goroutine
        # calling os.fork): the child's registry never had it.
        gocore_spin_unlock(&_reg_lock)
        return
    if r.prev != NULL:
        r.prev.next = r.next
    else:
        _reg_head = r.next
    if r.next != NULL:
        r.next.prev = r.prev
    if r.kind == REC_WORKER:
        gocore_add(&_reg_workers, -1)
    gocore_spin_unlock(&_reg_lock)


cdef inline void rec_start(GoRecord* r, int64_t gid, PyObject* label, PyObject* code,
                           int64_t lasti) noexcept nogil:
    """A goroutine starts on this worker; takes over the references."""
    gocore_spin_lock(&r.lock)
    r.gid = gid
    r.label = label
    r.code = code
    r.lasti = lasti
    gocore_spin_unlock(&r.lock)


cdef inline void rec_finish(GoRecord* r) noexcept:
    cdef PyObject* label
    cdef PyObject* code
    gocore_spin_lock(&r.lock)
    label = r.label
    code = r.code
    r.gid = 0
    r.label = r.code = NULL
    gocore_spin_unlock(&r.lock)
    Py_XDECREF(label)
    Py_XDECREF(code)
    gocore_store(&r.wait, WAIT_RUNNING)


cdef unsigned long _rec_main_ident = <unsigned long>_threading_for_rec.main_thread().ident


cdef inline bint rec_on_main_thread() noexcept nogil:
    return gocore_thread_ident() == _rec_main_ident


cdef inline void rec_attach_main() noexcept nogil:
    """The main thread's record is made current lazily (the module may be
    imported by another thread), from its first wait in gocore."""
    if gocore_get_rec() == NULL:
        _main_rec.ident = _rec_main_ident
        gocore_set_rec(&_main_rec)


def _rec_after_fork_in_child():
    # Called by the scheduler's after-fork hook.  Only the forking thread survives, and it is the child's main thread.
    # Every other record lived on a thread that is gone: forget them all.
    global _reg_head, _rec_main_ident, _reg_fork_gen
    gocore_store(&_reg_lock, 0)
    _reg_head = NULL
    _reg_fork_gen += 1
    gocore_store(&_reg_workers, 0)
    _rec_main_ident = gocore_thread_ident()
    _main_rec.gen = 0
    _main_rec.wait = WAIT_RUNNING
    _main_rec.ident = _rec_main_ident
    gocore_set_rec(&_main_rec)


def _register_system_thread():
    """For gocore's helper threads (the timer thread): give the calling thread
    a record, so the deadlock detector counts it as a gocore thread (blocked
    or not) instead of an unknown one.  The record lives as long as the
    thread; call once, first thing in the thread."""
    if gocore_get_rec() != NULL:
        return
    cdef GoRecord* r = <GoRecord*>PyMem_RawMalloc(sizeof(GoRecord))
    if r == NULL:
        raise MemoryError()
    rec_register(r, REC_SYSTEM, 0)
    rec_adopt(r)


def _wait_name(int64_t code):
    return _WAIT_NAMES.get(code & WAIT_KIND_MASK, "waiting")


def _nanotime():
    """The core's clock (what `waiting_since` is read on), in ns."""
    return gocore_nanotime()


def _last_goroutine_id():
    """The id of the most recently started goroutine (0: none yet); every
    goroutine started later has a larger one."""
    return gocore_load(&_next_gid)


def _blocked_snapshot():
    """For the deadlock detector (and the test clock): None unless every
    gocore thread other than the main thread is parked with no wake-up on
    the way, in a wait without deadline or idle, and no goroutine is queued
    or starting; then a tuple of (thread ident, gen) per record.  Two equal
    snapshots mean each of those threads stayed parked, untouched, from its
    reading in the first to its reading in the second (gen only grows), so at
    any instant between the two every one of them was parked at once."""
    cdef GoRecord* r
    cdef int64_t g, w
    cdef bint ok = True
    if gocore_load(&_rq_len) != 0 or gocore_load(&_nworkers) != gocore_load(&_reg_workers):
        return None
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        g = gocore_load(&r.gen)
        w = gocore_load(&r.wait)
        if r.ident == 0 or not (g & 1) or w == WAIT_RUNNING:
            ok = False               # running, woken, starting, or a wait we cannot judge
            break
        if (w & WAIT_TIMED) and (w & WAIT_KIND_MASK) != WAIT_IDLE:
            ok = False               # its deadline will wake it (a retiring idle worker wakes nobody)
            break
        r = r.next
    gocore_spin_unlock(&_reg_lock)
    if not ok:
        return None
    # Read the values in a second walk (no Python allocation under the spin
    # lock); whatever changed in between differs in the detector's second
    # snapshot, which then stays silent.
    return _snapshot_values()


cdef object _snapshot_values():
    """(ident, gen) of every record; a record added or removed since the
    check shows up as a difference between the detector's two snapshots."""
    cdef GoRecord* r
    cdef Py_ssize_t n = 0, i = 0
    cdef int64_t* vals
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        n += 1
        r = r.next
    vals = <int64_t*>PyMem_RawMalloc(sizeof(int64_t) * 2 * (n + 1))
    if vals != NULL:
        r = _reg_head
        while r != NULL:
            vals[2 * i] = <int64_t>r.ident
            vals[2 * i + 1] = gocore_load(&r.gen)
            i += 1
            r = r.next
    gocore_spin_unlock(&_reg_lock)
    if vals == NULL:
        raise MemoryError()
    try:
        return tuple(sorted((<unsigned long>vals[2 * k], vals[2 * k + 1]) for k in range(n)))
    finally:
        PyMem_RawFree(vals)


def _all_goroutines_blocked():
    """True when every goroutine (and idle worker) is parked in gocore with no
    wake-up on the way, none queued or starting; timed waits count as blocked
    here (a test clock decides when they end).  Cheap: one walk of the
    registry.  See also _goroutine_count()."""
    cdef GoRecord* r
    cdef bint ok = True
    if gocore_load(&_rq_len) != 0 or gocore_load(&_nworkers) != gocore_load(&_reg_workers):
        return False
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        if r.kind == REC_WORKER and (r.ident == 0 or not (gocore_load(&r.gen) & 1)
                                     or gocore_load(&r.wait) == WAIT_RUNNING):
            ok = False
            break
        r = r.next
    gocore_spin_unlock(&_reg_lock)
    return ok


def _main_wait_state():
    """For tests: what the main thread is parked on (None unless parked in
    gocore with no wake-up on the way)."""
    if not (gocore_load(&_main_rec.gen) & 1):
        return None
    return _WAIT_NAMES.get(gocore_load(&_main_rec.wait) & WAIT_KIND_MASK, "waiting")
