# ---- goroutine records: the bodies (see gorecord_decls.pxi) ----


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
    gocore_store_release(&r.wait, what)     # owner-only word: no RMW, no fence


cdef inline void rec_wait_idle() noexcept nogil:
    """A worker waits for a goroutine to run (no timestamp: never shown)."""
    cdef GoRecord* r = rec_self()
    if r != NULL:
        gocore_store_release(&r.wait, WAIT_IDLE)


cdef inline void rec_wait_end() noexcept nogil:
    cdef GoRecord* r = rec_self()
    if r != NULL:
        gocore_store_release(&r.wait, WAIT_RUNNING)


cdef inline void rec_parked(GoRecord* r) noexcept nogil:
    """Owner: its waiter record is now queued (call under the queue's lock).
    No waker can touch gen now (its previous wake-up, if any, cleared gen
    before the unpark the owner waited for), so a plain store suffices; the
    release orders it after the wait code, which a reader of an odd gen
    therefore sees."""
    if r != NULL:
        gocore_store_release(&r.gen, gocore_load_relaxed(&r.gen) + 1)


cdef inline void rec_unparked(GoRecord* r) noexcept nogil:
    """A waker (before its unpark) or the owner (after its park returned)."""
    cdef int64_t g
    if r == NULL:
        return
    g = gocore_load_relaxed(&r.gen)
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
    rec_lock(&r.lock)
    r.gid = gid
    r.label = label
    r.code = code
    r.lasti = lasti
    rec_unlock(&r.lock)


cdef inline void rec_finish(GoRecord* r) noexcept:
    cdef PyObject* label
    cdef PyObject* code
    rec_lock(&r.lock)
    label = r.label
    code = r.code
    r.gid = 0
    r.label = r.code = NULL
    rec_unlock(&r.lock)
    Py_XDECREF(label)
    Py_XDECREF(code)
    gocore_store_release(&r.wait, WAIT_RUNNING)


cdef inline bint rec_on_main_thread() noexcept nogil:
    return gocore_thread_ident() == _main_thread_ident


cdef inline void rec_attach_main() noexcept nogil:
    """The main thread's record is made current lazily (the module may be
    imported by another thread), from its first wait in gocore."""
    if gocore_get_rec() == NULL:
        _main_rec.ident = _main_thread_ident
        gocore_set_rec(&_main_rec)


cdef void rec_reset_after_fork() noexcept nogil:
    """Only the forking thread survives, and it is the child's main thread
    (fork.pxi has set _main_thread_ident).  Every other record lived on a
    thread that is gone: forget them all.  Called from fork.pxi."""
    global _reg_head, _reg_fork_gen
    gocore_store(&_reg_lock, 0)
    _reg_head = NULL
    _reg_fork_gen += 1
    gocore_store(&_reg_workers, 0)
    _main_rec.gen = 0
    _main_rec.wait = WAIT_RUNNING
    _main_rec.ident = _main_thread_ident
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
    return gocore_load_acquire(&_next_gid)


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
    if gocore_load_acquire(&_rq_len) != 0 or gocore_load_acquire(&_nworkers) != gocore_load_acquire(&_reg_workers):
        return None
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        g = gocore_load_acquire(&r.gen)
        w = gocore_load_acquire(&r.wait)
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
            vals[2 * i + 1] = gocore_load_acquire(&r.gen)
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
    if gocore_load_acquire(&_rq_len) != 0 or gocore_load_acquire(&_nworkers) != gocore_load_acquire(&_reg_workers):
        return False
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        if r.kind == REC_WORKER and (r.ident == 0 or not (gocore_load_acquire(&r.gen) & 1)
                                     or gocore_load_acquire(&r.wait) == WAIT_RUNNING):
            ok = False
            break
        r = r.next
    gocore_spin_unlock(&_reg_lock)
    return ok


def _main_wait_state():
    """For tests: what the main thread is parked on (None unless parked in
    gocore with no wake-up on the way)."""
    if not (gocore_load_acquire(&_main_rec.gen) & 1):
        return None
    return _WAIT_NAMES.get(gocore_load_acquire(&_main_rec.wait) & WAIT_KIND_MASK, "waiting")
