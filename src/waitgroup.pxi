# ---- WaitGroup (Go's sync/waitgroup.go) ----
#
# _state packs the counter (high 32 bits, signed) and the number of waiters
# (low 32 bits) into one word, so "counter reached zero" and "who must be
# woken" are decided by a single CAS.  Waiters sleep on _sema; the add that
# brings the counter to zero resets the word and releases one unit per waiter.

cdef extern from *:
    """
    #define GOCORE_WG_COUNTER_ONE ((int64_t)1 << 32)
    #define GOCORE_WG_WAITER_MASK ((int64_t)0xffffffff)
    #define GOCORE_WG_COUNTER_MAX ((int64_t)0x7fffffff)
    """
    int64_t WG_COUNTER_ONE "GOCORE_WG_COUNTER_ONE"
    int64_t WG_WAITER_MASK "GOCORE_WG_WAITER_MASK"
    int64_t WG_COUNTER_MAX "GOCORE_WG_COUNTER_MAX"

cimport cython

cdef bint _wg_wait_nogil(int64_t* state, int64_t* sema, int64_t deadline) noexcept nogil:
    cdef int64_t old
    while True:
        old = gocore_load_acquire(state)
        if (old >> 32) == 0:
            return True
        if gocore_cas(state, old, old + 1):
            break
    if sema_acquire(sema, False, deadline):
        return True
    # Timed out and withdrawn.  Give our waiter unit back, unless the counter
    # already hit zero: then the zeroing add has released (or is releasing) a
    # unit for us, and we collect it.
    while True:
        if sema_try_acquire(sema):
            return True
        race_window()
        old = gocore_load_acquire(state)
        if (old >> 32) > 0 and (old & WG_WAITER_MASK) > 0:
            if gocore_cas(state, old, old - 1):
                return False
        else:
            gocore_os_yield()


cdef int _wg_wait(int64_t* state, int64_t* sema, int64_t deadline) except -1:
    """WaitGroup.wait's blocking path: 1 once the counter is zero, 0 at the
    deadline.  The main thread waits in slices (mainwait.pxi), leaving
    through the timeout path above between two (its waiter unit given back)."""
    cdef bint ok
    cdef int64_t until
    if not rec_on_main_thread():
        with nogil:
            rec_wait_begin(WAIT_WAITGROUP, deadline)
            ok = _wg_wait_nogil(state, sema, deadline)
            rec_wait_end()
        return ok
    rec_attach_main()
    while True:
        until = main_slice_until(deadline)
        with nogil:
            rec_wait_begin(WAIT_WAITGROUP, deadline)
            ok = _wg_wait_nogil(state, sema, until)
            rec_wait_end()
        if ok or until == deadline:
            return ok
        report = main_slice_end(deadline, WAIT_WAITGROUP)
        # Nobody else can run any more (deadlock.py): the counter is final.
        if report is not None:
            if (gocore_load_acquire(state) >> 32) == 0:
                return 1
            raise_deadlock(report)


cdef int _wg_add_slow(int64_t* state, int64_t* sema, int64_t delta) except -1:
    """WaitGroup.add when the fast path did not apply: reports a negative or
    overflowing counter (leaving the state untouched), or brings the counter
    to zero with waiters and wakes them all."""
    cdef int64_t old, new, v, w, i
    if delta > WG_COUNTER_MAX or delta < -WG_COUNTER_MAX:
        raise OverflowError(f"WaitGroup delta {delta} is out of range")
    while True:
        old = gocore_load_acquire(state)
        v = (old >> 32) + delta
        w = old & WG_WAITER_MASK
        if v < 0:
            raise ValueError("negative WaitGroup counter")
        if v > WG_COUNTER_MAX:
            raise OverflowError("WaitGroup counter overflow")
        # Reaching zero with waiters resets the whole word: the waiters are
        # released below, and the group is ready for reuse at once.
        new = 0 if (v == 0 and w > 0) else old + delta * WG_COUNTER_ONE
        if gocore_cas(state, old, new):
            break
    if v == 0 and w > 0:
        race_window()
        for i in range(w):
            sema_release(sema, False)
    return 0


cdef inline int wg_add(int64_t* state, int64_t* sema, int64_t delta) except -1:
    """Go's WaitGroup.Add.  The common case (the counter stays positive, or
    reaches zero with nobody waiting) is one load and one CAS, inlined into
    add() and done(); everything else goes to _wg_add_slow."""
    cdef int64_t old, v
    if -WG_COUNTER_MAX <= delta <= WG_COUNTER_MAX:      # keeps v below from overflowing
        old = gocore_load_acquire(state)
        v = (old >> 32) + delta
        if (0 < v <= WG_COUNTER_MAX or (v == 0 and (old & WG_WAITER_MASK) == 0)) \
                and gocore_cas(state, old, old + delta * WG_COUNTER_ONE):
            return 0
    return _wg_add_slow(state, sema, delta)


@cython.binding(False)
cdef class WaitGroup:
    """WaitGroup()
--

    Wait for a collection of tasks to finish, Go's ``sync.WaitGroup``.

    Example::

        wg = gocore.WaitGroup()
        for item in items:
            wg.go(process, item)     # add(1), run in a goroutine, done()
        wg.wait()
    """
    cdef int64_t _state
    cdef int64_t _sema
    cdef object __weakref__

    cdef int _add(self, int64_t delta) except -1:
        return wg_add(&self._state, &self._sema, delta)

    def add(self, delta=1):
        """Add `delta` (may be negative) to the counter; ValueError if it would go negative."""
        wg_add(&self._state, &self._sema, as_int64(delta, "delta"))

    @cython.always_allow_keywords(False)    # METH_NOARGS: the cheapest call
    def done(self):
        """Decrement the counter by one."""
        wg_add(&self._state, &self._sema, -1)

    def wait(self, timeout=None):
        """Block until the counter is zero; False if `timeout` ran out first."""
        cdef int64_t deadline = GOCORE_NO_DEADLINE
        if timeout is not None:
            deadline = deadline_from_timeout(timeout)    # checked even when done
        if (gocore_load_acquire(&self._state) >> 32) == 0:
            return True
        return _wg_wait(&self._state, &self._sema, deadline) == 1

    def __await__(self):
        """``await wg``: the awaitable ``wait()`` (no timeout: use asyncio.timeout)."""
        cdef int64_t old
        while True:
            old = gocore_load_acquire(&self._state)
            if (old >> 32) == 0:
                return _DONE
            if gocore_cas(&self._state, old, old + 1):
                break
        # Counted as a waiter: the zeroing add releases a unit for us.  A
        # cancelled task leaves its record to collect that unit (sync_async.pxi).
        return sema_await(&self._sema, self, None)

    def go(self, fn, /, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` in a goroutine, counted by this group
        (Go 1.25).  ``done`` runs even if `fn` raises; the exception goes to
        the panic handler.  A coroutine function runs as ``go()`` runs one."""
        if not callable(fn):
            raise not_callable("WaitGroup.go", fn)
        if is_coro_fn(fn):              # go_coro.pxi: a task, or asyncio.run on a worker
            _coro_go(self, fn, args, kwargs)
            return
        self._add(1)
        try:
            _spawn_counted(fn, args, kwargs, None, self)
        except BaseException:
            self._add(-1)
            raise

    def __repr__(self):
        return f"<gocore.WaitGroup counter={gocore_load_acquire(&self._state) >> 32}>"

    def _debug_state(self):
        """(counter, waiters, sema word): for tests of the quiescent state."""
        cdef int64_t s = gocore_load_acquire(&self._state)
        return s >> 32, s & WG_WAITER_MASK, gocore_load_acquire(&self._sema)

    def __reduce__(self):
        return _refuse_copy(self)
