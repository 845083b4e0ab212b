# ---- Cond (Go's sync.Cond) ----
#
# Waiters queue FIFO in a list guarded by _list_lock (a spin lock held for a
# few pointer moves, never across a call into Python).  Each record lives on
# its waiter's C stack and has its own sema word, so signal wakes exactly the
# oldest waiter and broadcast every waiter queued at the time of the call.

cimport cython

cdef struct CondWaiter:
    int64_t sema
    CondWaiter* next
    bint queued             # guarded by Cond._list_lock


@cython.binding(False)
cdef class Cond:
    """A condition variable, Go's ``sync.Cond``: ``wait`` atomically unlocks
    ``c.l``, sleeps until ``signal``/``broadcast`` (or `timeout`), and locks
    ``c.l`` again before returning.

    Example::

        mu = gocore.Mutex(); c = gocore.Cond(mu)
        with mu:
            while not ready:
                c.wait()
    """
    cdef readonly object l
    cdef object _lock_fn
    cdef object _unlock_fn
    cdef Mutex _mutex            # fast path when l is a gocore.Mutex
    cdef int64_t _list_lock
    cdef CondWaiter* _head
    cdef CondWaiter* _tail
    cdef int64_t _gen            # fork generation of the list (fork.pxi)
    cdef object __weakref__

    def __init__(self, locker):
        if self.l is not None:
            # Waiters queued now would wake to relock a different locker.
            raise RuntimeError("Cond.__init__ called twice")
        if isinstance(locker, Mutex):
            self._mutex = <Mutex>locker
        elif hasattr(locker, "lock") and hasattr(locker, "unlock"):
            self._lock_fn, self._unlock_fn = locker.lock, locker.unlock
        elif hasattr(locker, "acquire") and hasattr(locker, "release"):
            self._lock_fn, self._unlock_fn = locker.acquire, locker.release
        else:
            raise TypeError(
                f"Cond needs a locker with lock()/unlock() or acquire()/release(), "
                f"not {type(locker).__name__}")
        self.l = locker

    cdef inline void _lock_list(self) noexcept nogil:
        # A list stamped before a fork holds records of the parent's threads
        # (dead here, their stacks reused): forget them on first use.
        if gocore_load_acquire(&self._gen) != gocore_load_relaxed(&_fork_gen):
            if fork_claim_reset(&self._gen):
                self._list_lock = 0
                self._head = self._tail = NULL
                fork_reset_done(&self._gen)
        gocore_spin_lock(&self._list_lock)

    cdef int _relock(self) except -1:
        if self._mutex is not None:
            return self._mutex._lock()
        self._lock_fn()
        return 0

    cdef int _unlock_l(self) except -1:
        if self._mutex is not None:
            return self._mutex._unlock()
        if self._unlock_fn is None:
            raise TypeError("Cond has no locker: it was made without calling Cond(locker)")
        self._unlock_fn()
        return 0

    def wait(self, timeout=None):
        """Wait for a signal; False if `timeout` ran out first.  ``c.l`` must be held."""
        return self._wait(timeout, False)

    def _wait_real(self, timeout=None):
        """wait() on the real clock even under a test clock: for gocore's
        own timer thread, which serves real deadlines."""
        return self._wait(timeout, True)

    cdef bint _wait(self, object timeout, bint real) except? -1:
        cdef int64_t deadline = deadline_from_timeout(timeout)
        cdef CondWaiter w
        cdef bint ok
        w.sema = 0
        w.next = NULL
        w.queued = True
        self._lock_list()
        if self._tail != NULL:
            self._tail.next = &w
        else:
            self._head = &w
        self._tail = &w
        gocore_spin_unlock(&self._list_lock)
        try:
            self._unlock_l()
        except BaseException:
            self._abandon(&w)          # misuse: c.l not held
            raise
        if rec_on_main_thread():
            ok = self._sleep_main(&w, deadline)
        else:
            with nogil:
                rec_wait_begin(WAIT_COND, deadline)
                if real:
                    ok = sema_acquire_real(&w.sema, False, real_deadline(deadline))
                else:
                    ok = sema_acquire(&w.sema, False, deadline)
                rec_wait_end()
        with nogil:
            if not ok:
                race_window()
            if not ok and not self._withdraw(&w):
                # A signal dequeued us concurrently and its release is on the
                # way: take it, so the signal is not lost and w outlives it.
                sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
                ok = True
        self._relock()
        return ok

    cdef int _abandon(self, CondWaiter* w) except -1:
        """Leave the queue for good.  A signal may already have dequeued w
        and be about to release w.sema, which lives in the caller's frame:
        collect that wake-up before the frame goes, then pass it on."""
        if not self._withdraw(w):
            with nogil:
                sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
            self.signal()
        return 0

    cdef int _sleep_main(self, CondWaiter* w, int64_t deadline) except -1:
        """The main thread's sleep on w (mainwait.pxi): 1 when signalled, 0
        at the deadline.  Slices keep w queued; a signal handler that raises
        makes w leave (a signal that raced in is passed on) and the wait
        relock ``c.l`` before the exception propagates, as threading's
        Condition does."""
        cdef bint ok
        cdef int64_t until
        rec_attach_main()
        while True:
            until = main_slice_until(deadline)
            with nogil:
                rec_wait_begin(WAIT_COND, deadline)
                ok = sema_acquire(&w.sema, False, until)
                rec_wait_end()
            if ok or until == deadline:
                return ok
            try:
                report = main_slice_end(deadline, WAIT_COND)
            except BaseException:
                self._abandon(w)
                self._relock()
                raise
            if report is not None:
                if not self._withdraw(w):
                    # Signalled after all (before everyone else blocked).
                    with nogil:
                        sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
                    return 1
                self._relock()
                raise_deadlock(report)

    cdef bint _withdraw(self, CondWaiter* w) noexcept nogil:
        """Unlink w if still queued; return whether it was."""
        cdef CondWaiter* p
        cdef bint was = False
        self._lock_list()
        if w.queued:
            was = True
            w.queued = False
            if self._head == w:
                self._head = w.next
                if self._tail == w:
                    self._tail = NULL
            else:
                p = self._head
                while p.next != w:
                    p = p.next
                p.next = w.next
                if self._tail == w:
                    self._tail = p
        gocore_spin_unlock(&self._list_lock)
        return was

    def _debug_waiters(self):
        """How many waiters are queued: for tests that check nothing is left behind."""
        cdef CondWaiter* w
        cdef int n = 0
        self._lock_list()
        w = self._head
        while w != NULL:
            n += 1
            w = w.next
        gocore_spin_unlock(&self._list_lock)
        return n

    def signal(self):
        """Wake the longest-waiting waiter, if any."""
        cdef CondWaiter* w
        self._lock_list()
        w = self._head
        if w != NULL:
            self._head = w.next
            if self._head == NULL:
                self._tail = NULL
            w.queued = False
        gocore_spin_unlock(&self._list_lock)
        if w != NULL:
            race_window()
            sema_release(&w.sema, False)

    def broadcast(self):
        """Wake every waiter."""
        cdef CondWaiter* w
        cdef CondWaiter* nxt
        self._lock_list()
        w = self._head
        self._head = self._tail = NULL
        nxt = w
        while nxt != NULL:
            nxt.queued = False
            nxt = nxt.next
        gocore_spin_unlock(&self._list_lock)
        while w != NULL:
            nxt = w.next             # read before the release: w may vanish after it
            sema_release(&w.sema, False)
            w = nxt

    def __reduce__(self):
        return _refuse_copy(self)
