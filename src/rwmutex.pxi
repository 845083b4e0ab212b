# ---- RWMutex (Go's sync/rwmutex.go) ----
#
# _reader_count counts readers that hold or want the lock; a writer subtracts
# RW_MAX_READERS from it, so a negative count tells arriving readers that a
# writer is pending and they must queue on _reader_sem (writer preference: no
# writer starvation).  The writer then waits on _writer_sem until the
# _reader_wait readers that were inside when it arrived have left.

cimport cython

DEF RW_MAX_READERS = 1 << 30


cdef object _rw_pending = None     # the exception _rw_wait deferred (main thread only)


cdef bint _rw_wait(int64_t* sema, int64_t what) except -1:
    """Wait for a unit of an RWMutex's reader or writer sema, which no
    timeout can give back.  True once taken.  In the main thread, sleeps in
    slices; False means a signal handler raised (or a deadlock was found)
    and the caller must hand its place to a goroutine, then raise_pending()."""
    global _rw_pending
    cdef bint got
    if not rec_on_main_thread():
        with nogil:
            rec_wait_begin(what, GOCORE_NO_DEADLINE)
            sema_acquire(sema, False, GOCORE_NO_DEADLINE)
            rec_wait_end()
        return True
    rec_attach_main()
    while True:
        with nogil:
            rec_wait_begin(what, GOCORE_NO_DEADLINE)
            got = sema_acquire(sema, False, main_slice_until(GOCORE_NO_DEADLINE))
            rec_wait_end()
        if got:
            return True
        try:
            report = main_slice_end(GOCORE_NO_DEADLINE, what)
        except BaseException as exc:
            _rw_pending = exc
            return False
        if report is not None:
            # Nobody else can run (deadlock.py): a unit released between our
            # slice and the check is still there, and none will come later.
            if sema_try_acquire(sema):
                return True
            _rw_pending = DeadlockError(report)
            return False


cdef int raise_pending() except -1:
    global _rw_pending
    exc, _rw_pending = _rw_pending, None
    raise exc


@cython.binding(False)
cdef class RWMutex:
    """A reader/writer mutual exclusion lock, Go's ``sync.RWMutex``.

    Many readers or one writer.  A waiting writer blocks new readers.
    ``with rw:`` takes the write lock; ``with rw.rlocker():`` a read lock.

    Example::

        rw = gocore.RWMutex()
        rw.rlock(); value = table[key]; rw.runlock()
        with rw:
            table[key] = value
    """
    cdef int64_t _w_state        # the writers' Mutex (see mutex.pxi)
    cdef int64_t _w_sema
    cdef int64_t _writer_sem     # the writer sleeps here waiting for readers to leave
    cdef int64_t _reader_sem     # readers sleep here while a writer is pending or holds
    cdef int64_t _reader_count   # see above
    cdef int64_t _reader_wait    # readers the pending writer still waits for
    cdef int64_t _writer_held    # 1 from the end of lock() to unlock(): misuse checks
    cdef object __weakref__

    def lock(self):
        """Take the write lock."""
        cdef int64_t r
        if not gocore_cas(&self._w_state, 0, MUTEX_LOCKED):
            mutex_lock_wait(&self._w_state, &self._w_sema, GOCORE_NO_DEADLINE, WAIT_RW_LOCK)
        # Announce the writer; r = readers inside right now.
        r = gocore_add(&self._reader_count, -RW_MAX_READERS) + RW_MAX_READERS
        if r != 0 and gocore_add(&self._reader_wait, r) != 0:
            if not _rw_wait(&self._writer_sem, WAIT_RW_LOCK):
                # Interrupted in the main thread while readers drain.  The
                # writer is announced and cannot take that back (the last
                # reader out will release _writer_sem for it), so a goroutine
                # finishes the lock on our behalf and unlocks at once.
                _spawn(self._finish_lock, (), None, self.lock)
                raise_pending()
        gocore_store(&self._writer_held, 1)

    def _finish_lock(self):
        with nogil:
            rec_wait_begin(WAIT_RW_LOCK, GOCORE_NO_DEADLINE)
            sema_acquire(&self._writer_sem, False, GOCORE_NO_DEADLINE)
            rec_wait_end()
        gocore_store(&self._writer_held, 1)
        self._unlock()

    def _finish_rlock(self):
        with nogil:
            rec_wait_begin(WAIT_RW_RLOCK, GOCORE_NO_DEADLINE)
            sema_acquire(&self._reader_sem, False, GOCORE_NO_DEADLINE)
            rec_wait_end()
        self._runlock()

    def unlock(self):
        """Release the write lock; RuntimeError if it is not held."""
        self._unlock()

    cdef inline int _unlock(self) except -1:
        cdef int64_t r, i
        if not gocore_cas(&self._writer_held, 1, 0):
            raise RuntimeError("unlock of unlocked RWMutex")
        r = gocore_add(&self._reader_count, RW_MAX_READERS)
        for i in range(r):
            sema_release(&self._reader_sem, False)
        if not gocore_cas(&self._w_state, MUTEX_LOCKED, 0):
            mutex_unlock_checked(&self._w_state, &self._w_sema)
        return 0

    def try_lock(self):
        """Take the write lock if that needs no waiting; return whether it did."""
        if not mutex_try_lock(&self._w_state):
            return False
        if not gocore_cas(&self._reader_count, 0, -RW_MAX_READERS):
            mutex_unlock_checked(&self._w_state, &self._w_sema)
            return False
        gocore_store(&self._writer_held, 1)
        return True

    def rlock(self):
        """Take a read lock."""
        if gocore_add(&self._reader_count, 1) < 0:
            if not _rw_wait(&self._reader_sem, WAIT_RW_RLOCK):
                # Interrupted in the main thread: we are counted as a reader
                # and the writer's unlock will release a unit for us, so a
                # goroutine takes our place, gets in and leaves at once.
                _spawn(self._finish_rlock, (), None, self.rlock)
                raise_pending()

    def runlock(self):
        """Release a read lock; RuntimeError if no read lock is held."""
        self._runlock()

    cdef inline int _runlock(self) except -1:
        cdef int64_t r
        while True:
            r = gocore_load_acquire(&self._reader_count)
            if r == 0 or r == -RW_MAX_READERS:
                raise RuntimeError("runlock of unlocked RWMutex")
            if gocore_cas(&self._reader_count, r, r - 1):
                break
        if r - 1 < 0 and gocore_add(&self._reader_wait, -1) == 0:
            sema_release(&self._writer_sem, False)   # last reader out lets the writer in
        return 0

    def try_rlock(self):
        """Take a read lock if that needs no waiting; return whether it did."""
        cdef int64_t c
        while True:
            c = gocore_load_acquire(&self._reader_count)
            if c < 0:
                return False
            if gocore_cas(&self._reader_count, c, c + 1):
                return True

    async def alock(self):
        """Awaitable ``lock`` (the write lock)."""
        cdef int64_t r
        await mutex_await(&self._w_state, &self._w_sema, self)
        r = gocore_add(&self._reader_count, -RW_MAX_READERS) + RW_MAX_READERS
        if r != 0 and gocore_add(&self._reader_wait, r) != 0:
            # Cancelled here, the lock is taken and released for us once the
            # readers have left (sync_async.pxi).
            await sema_await(&self._writer_sem, self, self._unlock_abandoned)
        gocore_store(&self._writer_held, 1)

    def _unlock_abandoned(self):
        gocore_store(&self._writer_held, 1)
        self._unlock()

    async def arlock(self):
        """Awaitable ``rlock``."""
        if gocore_add(&self._reader_count, 1) < 0:
            await sema_await(&self._reader_sem, self, self.runlock)

    def rlocker(self):
        """A locker whose ``lock``/``unlock`` (and ``with``) are this RWMutex's read side."""
        return _RLocker(self)

    @cython.binding(True)
    def __enter__(self):
        self.lock()
        return self

    @cython.binding(True)
    def __exit__(self, exc_type, exc, tb):
        self._unlock()

    @cython.binding(True)
    def __aenter__(self):
        return self.alock()

    @cython.binding(True)
    def __aexit__(self, exc_type, exc, tb):
        self._unlock()
        return _DONE

    def _debug_state(self):
        """Every state word, for tests that check a quiescent RWMutex is all zeros."""
        return (gocore_load_acquire(&self._w_state), gocore_load_acquire(&self._w_sema),
                gocore_load_acquire(&self._writer_sem), gocore_load_acquire(&self._reader_sem),
                gocore_load_acquire(&self._reader_count), gocore_load_acquire(&self._reader_wait),
                gocore_load_acquire(&self._writer_held))

    def __reduce__(self):
        return _refuse_copy(self)


@cython.binding(False)
cdef class _RLocker:
    """The read side of an RWMutex as a plain locker (Go's ``RWMutex.RLocker``)."""
    cdef readonly RWMutex rw

    def __cinit__(self, RWMutex rw not None):
        self.rw = rw

    def lock(self):
        self.rw.rlock()

    def unlock(self):
        self.rw._runlock()

    @cython.binding(True)
    def __enter__(self):
        self.rw.rlock()
        return self

    @cython.binding(True)
    def __exit__(self, exc_type, exc, tb):
        self.rw._runlock()

    @cython.binding(True)
    def __aenter__(self):
        return self.rw.arlock()

    @cython.binding(True)
    def __aexit__(self, exc_type, exc, tb):
        self.rw._runlock()
        return _DONE
