# ---- spawn policy and monitor bodies (the rules: sysmon_decls.pxi) ----

gocore_parker_init(&_sysmon_parker)


cdef int _start_worker(RunNode* n) except -1:
    """A new worker thread whose first goroutine is `n`; the node is consumed
    whether or not the start succeeds.  The caller has already counted the
    thread in _nworkers (before the goroutine left its hands, so that a look
    at the registry never finds it in nobody's); a failed start uncounts it.
    The thread's record is registered now and shows the goroutine as
    runnable until the thread adopts it."""
    cdef GoRecord* rec = <GoRecord*>PyMem_RawMalloc(sizeof(GoRecord))
    if rec == NULL:
        _rq_free(n)
        gocore_add(&_nworkers, -1)
        raise MemoryError()
    rec_register(rec, REC_WORKER, 0)
    rec_start(rec, n.gid, n.label, n.code, n.lasti)     # takes over those two
    n.label = n.code = NULL
    rec.wait = WAIT_RUNNABLE
    try:
        # The new thread takes over the node (and frees it).
        _thread.start_new_thread(_worker_main, (<size_t>n, <size_t>rec))
    except BaseException:
        _rq_free(n)
        rec_unregister(rec)
        rec_finish(rec)
        PyMem_RawFree(rec)
        gocore_add(&_nworkers, -1)
        raise
    gocore_add(&_nstarted, 1)
    return 0


cdef inline bint _may_start_at_once() noexcept nogil:
    return gocore_load_acquire(&_nworkers) < _ncpu


cdef int _queue_unserved(RunNode* n) except -1:
    """No worker to reserve: queue `n` anyway (_navail below zero) and make
    sure the monitor is watching."""
    gocore_add(&_navail, -1)
    _rq_push(n)
    # A worker may have become free between the failed reservation and the
    # push (it then either saw the node or is parked idle): same wake rule as
    # a reserved spawn.
    if gocore_load_seq(&_nspinning) == 0:
        _wake_one()
    try:
        _sysmon_kick()
    except BaseException:
        # No thread for the monitor: the goroutine is queued all the same and
        # runs when a worker frees up; the next unserved spawn tries again.
        pass
    return 0


cdef int _sysmon_kick() except -1:
    cdef int64_t st = gocore_load_seq(&_sysmon_state)
    if st == SYSMON_SLEEPING:
        if gocore_cas(&_sysmon_state, SYSMON_SLEEPING, SYSMON_AWAKE):
            gocore_unpark(&_sysmon_parker)
    elif st == SYSMON_OFF and gocore_cas(&_sysmon_state, SYSMON_OFF, SYSMON_AWAKE):
        try:
            _thread.start_new_thread(_sysmon_main, ())
        except BaseException:
            gocore_store(&_sysmon_state, SYSMON_OFF)
            raise
    return 0


cdef int64_t _rq_head_stamp() noexcept nogil:
    """When the queue head was queued; INT64_MAX if the queue is empty."""
    cdef int64_t t = INT64_MAX
    gocore_spin_lock(&_rq_lock)
    if _rq_head != NULL:
        t = _rq_head.queued_at
    gocore_spin_unlock(&_rq_lock)
    return t


cdef int _sysmon_start(int batch) except -1:
    """Start up to `batch` threads, each for the goroutine at the queue head,
    while goroutines outnumber free workers; returns how many started."""
    cdef RunNode* n
    cdef int started = 0
    while started < batch and gocore_load_seq(&_navail) < 0:
        gocore_add(&_nworkers, 1)        # see _start_worker
        n = _rq_pop()
        if n == NULL:
            gocore_add(&_nworkers, -1)
            break
        gocore_add(&_navail, 1)         # it left the queue, no free worker used
        fn = <object>n.fn
        args = <tuple>n.args
        kwargs = <object>n.kwargs if n.kwargs != NULL else None
        label = <object>n.label
        group = <object>n.group if n.group != NULL else None
        try:
            _start_worker(n)
        except BaseException:
            # Out of threads: queue it again and retry on a later round.
            _queue_unserved(_rq_node(fn, args, kwargs, label, NULL, 0, group))
            break
        fn = args = kwargs = label = group = None    # never pin a goroutine's call here
        started += 1
    return started


cdef inline int64_t _sysmon_lag(int64_t lag, int64_t late) noexcept nogil:
    """How late the monitor's own wake-ups run (an eighth decays per tick):
    on an overloaded machine every thread waits that long for a CPU, so a
    stall of that order is no evidence that the workers are blocked."""
    lag -= lag // 8
    return late if late > lag else lag


def _sysmon_main():
    """Body of the monitor thread (see sysmon_decls.pxi)."""
    cdef int64_t now, head_at, since, threshold, p
    cdef int64_t last_progress = -1, last_change = 0
    cdef int64_t wake_at = 0, lag = 0
    cdef int batch = 1
    while True:
        if gocore_load_seq(&_navail) >= 0:
            gocore_store(&_sysmon_state, SYSMON_SLEEPING)
            if gocore_load_seq(&_navail) >= 0:
                with nogil:
                    gocore_park_nospin(&_sysmon_parker, GOCORE_NO_DEADLINE)
            gocore_store(&_sysmon_state, SYSMON_AWAKE)
            last_progress = -1
            wake_at = 0
            continue
        now = gocore_nanotime()
        lag = _sysmon_lag(lag, now - wake_at if wake_at else 0)
        wake_at = 0
        p = gocore_load_acquire(&_sched_progress)
        if p != last_progress:
            last_progress = p
            last_change = now
            batch = 1
        head_at = _rq_head_stamp()
        if gocore_load_acquire(&_nworkers) < 2 * _ncpu:
            threshold = SYSMON_SHORT_NS
            since = head_at
        else:
            threshold = SYSMON_LONG_NS + 4 * lag
            since = head_at if head_at > last_change else last_change
        if head_at != INT64_MAX and now - since >= threshold:
            try:
                _sysmon_start(batch)
            except BaseException:
                pass                    # out of memory: keep watching, retry next round
            batch = batch * 2 if batch < SYSMON_MAX_BATCH else SYSMON_MAX_BATCH
            last_change = now
            since = now
        elif head_at == INT64_MAX:
            since = now
        wake_at = since + threshold
        with nogil:
            gocore_park_nospin(&_sysmon_parker, wake_at)


cdef void sysmon_reset_after_fork() noexcept nogil:
    """The monitor thread is gone in a forked child: the next unserved spawn
    starts a new one."""
    gocore_store(&_sysmon_state, SYSMON_OFF)
    gocore_parker_init(&_sysmon_parker)
