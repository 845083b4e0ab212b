# ---- what dumps read: the records of running goroutines and the queued ones ----
#
# _GoCopy is declared in goroutine_decls.pxi.

cdef Py_ssize_t _copy_running(_GoCopy** out) noexcept:
    """Copy every worker record that runs a goroutine into a new raw array
    (references INCREF'd; nothing allocated by Python while a lock is held,
    so no collection can run code that needs these spin locks).  -1: no memory.
    Called with the GIL, which the INCREFs need on a GIL build (and there
    every holder of these locks holds the GIL too, so this never spins)."""
    cdef GoRecord* r
    cdef Py_ssize_t n = 0, i = 0
    cdef _GoCopy* a
    gocore_spin_lock(&_reg_lock)
    r = _reg_head
    while r != NULL:
        n += 1
        r = r.next
    a = <_GoCopy*>PyMem_RawMalloc(sizeof(_GoCopy) * (n + 1))
    if a == NULL:
        gocore_spin_unlock(&_reg_lock)
        return -1
    r = _reg_head
    while r != NULL:
        rec_lock(&r.lock)
        if r.gid != 0 and r.kind == REC_WORKER:
            a[i].gid = r.gid
            a[i].label = r.label
            a[i].code = r.code
            a[i].lasti = r.lasti
            Py_INCREF(<object>r.label)
            Py_XINCREF(r.code)
            a[i].wait = gocore_load_acquire(&r.wait)
            a[i].since = r.since
            a[i].ident = r.ident
            i += 1
        rec_unlock(&r.lock)
        r = r.next
    gocore_spin_unlock(&_reg_lock)
    out[0] = a
    return i


cdef Py_ssize_t _copy_queued(_GoCopy** out) noexcept:
    """The same for goroutines still in the run queue ("runnable")."""
    cdef RunNode* q
    cdef Py_ssize_t n = 0, i = 0
    cdef _GoCopy* a
    gocore_spin_lock(&_rq_lock)
    q = _rq_head
    while q != NULL:
        n += 1
        q = q.next
    a = <_GoCopy*>PyMem_RawMalloc(sizeof(_GoCopy) * (n + 1))
    if a == NULL:
        gocore_spin_unlock(&_rq_lock)
        return -1
    q = _rq_head
    while q != NULL:
        a[i].gid = q.gid
        a[i].label = q.label
        a[i].code = q.code
        a[i].lasti = q.lasti
        Py_INCREF(<object>q.label)
        Py_XINCREF(q.code)
        a[i].wait = WAIT_RUNNABLE
        a[i].since = 0
        a[i].ident = 0
        i += 1
        q = q.next
    gocore_spin_unlock(&_rq_lock)
    out[0] = a
    return i


cdef int _append_copies(list rows, _GoCopy* a, Py_ssize_t n) except -1:
    """rows += (gid, label, file, line, wait name, since or None, thread ident
    or None, creator name); takes over the copies' references and frees `a`."""
    cdef Py_ssize_t i
    cdef int err = 0
    failure = None
    for i in range(n):
        label = gocore_steal(a[i].label)
        if a[i].code != NULL:
            code = gocore_steal(a[i].code)
        else:
            code = None
        if err:
            continue                 # only dropping references now
        try:
            if code is not None:
                where = (code.co_filename, gocore_code_line(code, <int>a[i].lasti),
                         getattr(code, "co_qualname", code.co_name))
            else:
                where = ("?", 0, "?")
            rows.append((a[i].gid, label, where[0], where[1],
                         _WAIT_NAMES.get(a[i].wait & WAIT_KIND_MASK, "waiting"),
                         a[i].since / 1e9 if a[i].wait != WAIT_RUNNING and a[i].wait != WAIT_RUNNABLE else None,
                         a[i].ident if a[i].ident != 0 else None, where[2]))
        except BaseException as e:
            err = 1
            failure = e
    PyMem_RawFree(a)
    if err:
        raise failure
    return 0


def _goroutine_table():
    """For gocore's dump: one tuple per live goroutine, running or queued:
    (id, function, file, line, state, waiting_since, thread ident, creator)."""
    cdef _GoCopy* a
    cdef Py_ssize_t n
    rows = []
    n = _copy_running(&a)
    if n < 0:
        raise MemoryError()
    _append_copies(rows, a, n)
    n = _copy_queued(&a)
    if n < 0:
        raise MemoryError()
    _append_copies(rows, a, n)
    rows.sort()
    return rows
