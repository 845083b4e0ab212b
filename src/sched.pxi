# ---- the scheduler: run queue, idle stack, worker loop, spawn (see goroutine_decls.pxi) ----
#
# The invariants (_navail, the spinning rule, the lost wake-up argument) are
# stated once in goroutine_decls.pxi; every function here keeps them.

# -- run queue --

cdef RunNode* _rq_node(object fn, tuple args, object kwargs, object label,
                      PyObject* code, int lasti, object group) except NULL:
    """A node owning references to the call (and taking over `code`'s); not
    yet queued.  `group`: a WaitGroup counted for it, or None."""
    cdef RunNode* n = <RunNode*>PyMem_RawMalloc(sizeof(RunNode))
    if n == NULL:
        Py_XDECREF(code)
        raise MemoryError()
    n.gid = gocore_add(&_next_gid, 1)
    Py_INCREF(label)
    n.label = <PyObject*>label
    n.code = code
    n.lasti = lasti
    Py_INCREF(fn)
    Py_INCREF(args)
    n.fn = <PyObject*>fn
    n.args = <PyObject*>args
    if kwargs:
        Py_INCREF(kwargs)
        n.kwargs = <PyObject*>kwargs
    else:
        n.kwargs = NULL
    if group is not None:
        Py_INCREF(group)
        n.group = <PyObject*>group
    else:
        n.group = NULL
    n.next = NULL
    n.queued_at = gocore_nanotime()
    return n


cdef void _rq_free(RunNode* n) noexcept:
    """Drop a node that was never queued (needs the GIL)."""
    Py_XDECREF(n.label)
    Py_XDECREF(n.code)
    Py_DECREF(<object>n.fn)
    Py_DECREF(<object>n.args)
    if n.kwargs != NULL:
        Py_DECREF(<object>n.kwargs)
    Py_XDECREF(n.group)
    PyMem_RawFree(n)


cdef inline void _rq_push(RunNode* n) noexcept nogil:
    global _rq_head, _rq_tail
    gocore_spin_lock(&_rq_lock)
    if _rq_tail == NULL:
        _rq_head = n
    else:
        _rq_tail.next = n
    _rq_tail = n
    gocore_add(&_rq_len, 1)
    gocore_spin_unlock(&_rq_lock)


cdef inline RunNode* _rq_pop() noexcept nogil:
    global _rq_head, _rq_tail
    cdef RunNode* n
    if gocore_load_seq(&_rq_len) == 0:
        return NULL
    gocore_spin_lock(&_rq_lock)
    n = _rq_head
    if n != NULL:
        _rq_head = n.next
        if _rq_head == NULL:
            _rq_tail = NULL
        gocore_add(&_rq_len, -1)
    gocore_spin_unlock(&_rq_lock)
    return n


# -- idle stack --

cdef inline void _idle_push(GoWorker* w) noexcept nogil:
    global _idle_top
    gocore_spin_lock(&_idle_lock)
    w.prev = NULL
    w.next = _idle_top
    if _idle_top != NULL:
        _idle_top.prev = w
    _idle_top = w
    w.on_stack = True
    gocore_spin_unlock(&_idle_lock)


cdef inline bint _idle_remove(GoWorker* w) noexcept nogil:
    """Take our own record off the stack; False if a waker popped it first
    (its wake-up is then on the way and must be collected)."""
    global _idle_top
    cdef bint was
    gocore_spin_lock(&_idle_lock)
    was = w.on_stack
    if was:
        if w.prev != NULL:
            w.prev.next = w.next
        else:
            _idle_top = w.next
        if w.next != NULL:
            w.next.prev = w.prev
        w.on_stack = False
    gocore_spin_unlock(&_idle_lock)
    return was


cdef void _wake_one() noexcept nogil:
    """Wake the most recently idle worker, if any is parked."""
    global _idle_top
    cdef GoWorker* w
    gocore_spin_lock(&_idle_lock)
    w = _idle_top
    if w != NULL:
        _idle_top = w.next
        if _idle_top != NULL:
            _idle_top.prev = NULL
        w.on_stack = False
    gocore_spin_unlock(&_idle_lock)
    if w != NULL:
        gocore_add(&_nspinning, 1)      # counted before it can run and uncount
        sema_release(&w.sema, False)    # last touch of w


# -- workers --

cdef inline void _run_call(GoRecord* rec, object fn, object args, object kwargs,
                           object group) noexcept:
    try:
        if kwargs is None:
            fn(*args)
        else:
            fn(*args, **kwargs)
    except BaseException as exc:
        # SystemExit and KeyboardInterrupt too: a goroutine cannot stop the
        # process or the pool, so they are reported like any other panic.
        _report_panic(exc)
    if group is not None:
        # WaitGroup.go's done(), after the report: once wait() returns, the
        # panic handler has seen every exception of the group's goroutines.
        try:
            (<WaitGroup>group)._add(-1)
        except BaseException as exc:
            _report_panic(exc)
    rec_finish(rec)
    gocore_add(&_ngoroutines, -1)


cdef void _run_node(GoRecord* rec, RunNode* n) noexcept:
    rec_start(rec, n.gid, n.label, n.code, n.lasti)     # takes over those two
    _run_node_call(rec, n)


cdef void _run_node_call(GoRecord* rec, RunNode* n) noexcept:
    # Take over the queue's references (the casts add one, the DECREFs drop
    # the queue's), then free the node.
    fn = <object>n.fn
    args = <object>n.args
    kwargs = <object>n.kwargs if n.kwargs != NULL else None
    group = <object>n.group if n.group != NULL else None
    Py_DECREF(fn)
    Py_DECREF(args)
    if n.kwargs != NULL:
        Py_DECREF(kwargs)
    if n.group != NULL:
        Py_DECREF(group)
    PyMem_RawFree(n)
    _run_call(rec, fn, args, kwargs, group)


cdef RunNode* _find_work(GoWorker* w) noexcept:
    """Called by a worker that has just become free (and counted itself in
    _navail): return the next goroutine, sleeping on the idle stack until one
    comes; NULL means retire (the unit in _navail has been taken back)."""
    cdef bint spinning = False
    cdef bint woken
    cdef RunNode* n
    cdef int64_t v, deadline
    while True:
        n = _rq_pop()
        if n != NULL:
            gocore_add(&_sched_progress, 1)     # the monitor's sign of life
            if spinning:
                gocore_add(&_nspinning, -1)
            # More queued and nobody looking: wake the next worker before we
            # run user code that might block.
            if gocore_load_seq(&_rq_len) > 0 and gocore_load_seq(&_nspinning) == 0:
                _wake_one()
            return n
        _idle_push(w)
        if spinning:
            gocore_add(&_nspinning, -1)
            spinning = False
        if gocore_load_seq(&_rq_len) > 0:
            # Work arrived while we were registering: take it ourselves.
            if not _idle_remove(w):
                with nogil:
                    sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
                spinning = True          # the waker counted us as spinning
            continue
        deadline = gocore_nanotime() + gocore_load_relaxed(&_idle_timeout_ns)
        with nogil:
            rec_wait_idle()
            woken = sema_acquire_real(&w.sema, False, deadline)   # a cache policy: never virtual
            rec_wait_end()
        if woken:
            spinning = True
            continue
        if not _idle_remove(w):
            with nogil:
                sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
            spinning = True
            continue
        # Idle for the whole timeout and off the stack: retire unless a
        # reservation is counting on us (then _navail is 0 and we stay).
        v = gocore_load_acquire(&_navail)
        while v > 0:
            if gocore_cas(&_navail, v, v - 1):
                return NULL
            v = gocore_load_acquire(&_navail)


def _worker_main(size_t first, size_t rec_addr):
    """Body of a worker thread: run the goroutine it was started for (a
    RunNode passed by address), then serve the run queue until idle for the
    idle timeout.  `rec_addr`: the record the spawner registered for this
    thread, already started with that goroutine (it owns it from now on).

    Only addresses travel in start_new_thread's argument tuple, which
    CPython keeps alive until this function returns: passing the call itself
    would pin the first goroutine's function and arguments (and all they
    reference) for the worker's whole life."""
    cdef GoWorker w
    cdef GoRecord* rec = <GoRecord*>rec_addr
    cdef RunNode* n = <RunNode*>first
    w.sema = 0
    w.prev = w.next = NULL
    w.on_stack = False
    rec_adopt(rec)
    gocore_store(&rec.wait, WAIT_RUNNING)
    _run_node_call(rec, n)
    while True:
        gocore_add(&_navail, 1)
        n = _find_work(&w)
        if n == NULL:
            break
        _run_node(rec, n)
    rec_unregister(rec)
    PyMem_RawFree(rec)
    gocore_add(&_nworkers, -1)


# -- spawning --

cdef inline int _spawn(object fn, tuple args, object kwargs, object label) except -1:
    """Start fn(*args, **kwargs); `label` is the function dumps name (the
    user's, when fn is a wrapper of gocore's own; None: fn itself)."""
    return _spawn_counted(fn, args, kwargs, label, None)


cdef int _spawn_counted(object fn, tuple args, object kwargs, object label,
                        object group) except -1:
    """_spawn, and then `group`'s done() (a WaitGroup that has counted the
    goroutine already, or None): WaitGroup.go without a wrapper call, bound
    method or argument tuple per goroutine."""
    cdef RunNode* n
    cdef int64_t v
    cdef PyObject* code
    cdef int lasti
    gocore_caller(_skip_files, _keep_files, &code, &lasti)     # created_at: one frame lookup
    # before reserving: MemoryError leaves no trace
    n = _rq_node(fn, args, kwargs, fn if label is None else label, code, lasti, group)
    gocore_add(&_ngoroutines, 1)
    cdef int attempt
    for attempt in range(2):
        v = gocore_load_acquire(&_navail)
        while v > 0:
            if gocore_cas(&_navail, v, v - 1):
                _rq_push(n)
                if gocore_load_seq(&_nspinning) == 0:
                    _wake_one()
                return 0
            v = gocore_load_acquire(&_navail)
        if attempt == 0 and gocore_load_acquire(&_rq_len) > 0 and _may_start_at_once():
            # Every free worker is reserved for queued goroutines that have
            # not started, typically because this thread has been spawning
            # while holding the GIL.  Give them the CPU (and the GIL) once:
            # running trivial goroutines frees workers far sooner than a new
            # thread could start.  Only a heuristic: correctness never
            # depends on it, the new thread below is still started if needed.
            # (Past the point where it would start one, the goroutine is
            # queued instead, and yielding would only slow the spawner.)
            with nogil:
                gocore_os_yield()
        else:
            break
    # Every worker is busy (or reserved): a new thread at once while the pool
    # is small, else queue and let the monitor judge (sysmon_decls.pxi).
    if not _may_start_at_once():
        return _queue_unserved(n)
    gocore_add(&_nworkers, 1)
    try:
        _start_worker(n)
    except BaseException:
        gocore_add(&_ngoroutines, -1)
        raise
    return 0


cdef void sched_reset_after_fork() noexcept nogil:
    """In a forked child only the forking thread exists: forget the parent's
    workers and queued goroutines (their records and nodes are leaked, which
    is safe; freeing them could touch state another thread held mid-update).
    Called from fork.pxi."""
    global _rq_head, _rq_tail, _idle_top
    gocore_store(&_rq_lock, 0)
    gocore_store(&_idle_lock, 0)
    _rq_head = _rq_tail = NULL
    _idle_top = NULL
    gocore_store(&_rq_len, 0)
    gocore_store(&_navail, 0)
    gocore_store(&_nspinning, 0)
    gocore_store(&_ngoroutines, 0)
    gocore_store(&_nworkers, 0)
    sysmon_reset_after_fork()
