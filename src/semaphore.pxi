# ---- Semaphore (golang.org/x/sync/semaphore, weighted, FIFO) ----
#
# _cur and _waiters are guarded by _mu.  Waiters are served strictly in
# arrival order: a large request at the head is not overtaken by later small
# ones.  Each waiter sleeps on its own sema word; whoever removes it from
# _waiters (a release granting it, or its own timeout / context) decides its
# outcome under _mu, so a grant and a cancellation can never both happen.

cimport cython

from collections import deque as _deque

cdef inline int64_t _weight(object n) except? -1:
    cdef int64_t weight = as_int64(n, "weight")
    if weight < 0:
        raise ValueError(f"semaphore weight must be >= 0, got {weight}")
    return weight


cdef class _SemWaiter:
    cdef int64_t n
    cdef int64_t sema         # a thread sleeps here
    cdef TaskWait tw          # ... or a task awaiting this (aacquire)
    cdef bint queued          # guarded by the Semaphore's _mu
    cdef bint canceled        # guarded by the Semaphore's _mu

    cdef bint wake(self):
        """Wake the waiter; False if it is a task whose loop is closed (it
        can never take what it was given)."""
        if self.tw is None:
            sema_release(&self.sema, False)
            return True
        try:
            self.tw.resolve()
        except RuntimeError:
            return False
        return True


@cython.binding(False)
cdef class Semaphore:
    """Semaphore(n)
--

    A weighted semaphore, as ``golang.org/x/sync/semaphore``.

    Example::

        sem = gocore.Semaphore(4)
        sem.acquire(2, timeout=1.0)
        try:
            ...
        finally:
            sem.release(2)
        with sem:           # weight 1
            ...
    """
    cdef readonly int64_t size
    cdef int64_t _cur
    cdef Mutex _mu
    cdef object _waiters      # deque of _SemWaiter
    cdef bint _initialized    # __init__ ran: size is final
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        # The typed state exists before any method can run, so a Semaphore
        # made with __new__ alone is a valid (size 0) semaphore, never a
        # dereference of None.
        self._mu = Mutex.__new__(Mutex)
        self._waiters = _deque()

    def __init__(self, n):
        cdef int64_t size = as_int64(n, "size")
        if size < 0:
            raise ValueError(f"semaphore size must be >= 0, got {size}")
        if self._initialized:
            # Resizing under queued waiters or held weight would break the
            # accounting they rely on.
            raise RuntimeError("Semaphore.__init__ called twice")
        self.size = size
        self._initialized = True

    cdef void _notify_waiters(self):
        # Grant from the head while the head fits: FIFO, no overtaking.  _mu held.
        cdef _SemWaiter w
        while self._waiters:
            w = <_SemWaiter>self._waiters[0]
            if self.size - self._cur < w.n:
                break
            self._cur += w.n
            self._waiters.popleft()
            w.queued = False
            if not w.wake():
                self._cur -= w.n      # an orphaned task: the weight goes to the next one

    cdef bint _withdraw(self, _SemWaiter w, bint canceled):
        """Take w off the queue if it is still there; return whether it was."""
        self._mu._lock()
        try:
            if not w.queued:
                return False
            w.queued = False
            w.canceled = canceled
            is_head = self._waiters[0] is w
            self._waiters.remove(w)
            if is_head and self.size > self._cur:
                # A failed head must not leave those behind it waiting on weight that is free.
                self._notify_waiters()
            return True
        finally:
            self._mu._unlock()

    def acquire(self, n=1, ctx=None, timeout=None):
        """Acquire weight `n`, waiting as needed.  Raises ``ctx.err()`` if the
        context ends first, TimeoutError if `timeout` runs out first."""
        cdef int64_t weight = _weight(n)
        cdef int64_t deadline = deadline_from_timeout(timeout)
        if ctx is not None:
            err_fn = getattr(ctx, "err", None)
            if not callable(err_fn):
                raise TypeError(f"ctx must be a context or None, not {type(ctx).__name__}")
            err = err_fn()
            if err is not None:
                # A context already done fails even if weight is free.  The
                # error instance is shared by a whole cancelled subtree (Go's
                # sentinel), so drop any traceback an earlier raise left on it.
                raise err.with_traceback(None)
        cdef _SemWaiter w
        self._mu._lock()
        try:        # a MemoryError below must not leave _mu locked
            if self.size - self._cur >= weight and not self._waiters:
                self._cur += weight
                return True
            w = _SemWaiter.__new__(_SemWaiter)
            w.n = weight
            if weight <= self.size:
                self._waiters.append(w)
                w.queued = True         # only once it really is queued
            # else: a request larger than the semaphore never queues (it would
            # block everyone behind it forever); it only waits for ctx/timeout.
        finally:
            self._mu._unlock()

        stop = None
        if ctx is not None:
            try:
                if _ctx_on_done is None:
                    raise RuntimeError("gocore.context is not available")
                stop = _ctx_on_done(ctx, lambda: self._cancel(w))
            except BaseException:
                self._give_up(w)    # never leave a queued waiter behind
                raise
        cdef bint got
        try:
            if rec_on_main_thread():
                got = self._sleep_main(w, deadline)
            else:
                with nogil:
                    rec_wait_begin(WAIT_SEMAPHORE, deadline)
                    got = sema_acquire(&w.sema, False, deadline)
                    rec_wait_end()
        finally:
            if stop is not None:
                stop()
        if not got:
            if weight <= self.size and not self._withdraw(w, False):
                # Granted or cancelled while we timed out: its wake-up is on the
                # way; collect it and honour it (x/sync keeps a late grant).
                with nogil:
                    sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
                got = True
            elif not w.canceled:
                raise TimeoutError(f"semaphore acquire of weight {weight} timed out")
        if w.canceled:
            raise ctx.err().with_traceback(None)
        return True

    cdef int _sleep_main(self, _SemWaiter w, int64_t deadline) except -1:
        """The main thread's sleep on w (mainwait.pxi): 1 when granted or
        cancelled, 0 at the deadline.  Slices keep w's place in the FIFO; a
        signal handler that raises withdraws w, or gives back the weight a
        grant that raced in brought, before the exception propagates."""
        cdef bint got
        cdef int64_t until
        rec_attach_main()
        while True:
            until = main_slice_until(deadline)
            with nogil:
                rec_wait_begin(WAIT_SEMAPHORE, deadline)
                got = sema_acquire(&w.sema, False, until)
                rec_wait_end()
            if got or until == deadline:
                return got
            try:
                report = main_slice_end(deadline, WAIT_SEMAPHORE)
            except BaseException:
                self._give_up(w)
                raise
            if report is not None:
                if w.n <= self.size and not self._withdraw(w, False):
                    # Granted or cancelled after all: collect the wake-up.
                    with nogil:
                        sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
                    return 1
                raise_deadlock(report)

    cdef int _give_up(self, _SemWaiter w) except -1:
        """Leave without waiting: withdraw w, or return weight already granted to it."""
        if w.n > self.size or self._withdraw(w, False):
            return 0
        if w.tw is None:          # a thread: collect the wake-up that is on its way
            with nogil:
                sema_acquire(&w.sema, False, GOCORE_NO_DEADLINE)
        if not w.canceled:
            self._release(w.n)
        return 0

    def _cancel(self, _SemWaiter w):
        if self._withdraw(w, True) or w.n > self.size:
            w.canceled = True
            w.wake()

    async def aacquire(self, n=1, ctx=None):
        """Awaitable ``acquire`` (no timeout: use asyncio.timeout).  Raises
        ``ctx.err()`` if the context ends first; a cancelled aacquire holds
        nothing (weight granted as it was cancelled is released again)."""
        cdef int64_t weight = _weight(n)
        cdef _SemWaiter w
        cdef TaskWait tw = _Park.__new__(_Park)
        cdef int attempt
        if ctx is not None:
            err = ctx.err()
            if err is not None:
                raise err.with_traceback(None)
        for attempt in range(2):
            self._mu._lock()
            if self.size - self._cur >= weight and not self._waiters:
                self._cur += weight
                self._mu._unlock()
                return True
            if attempt == 1:
                break
            self._mu._unlock()
            tw.prepare()              # bound to the loop outside the lock
        w = _SemWaiter.__new__(_SemWaiter)
        w.n = weight
        w.tw = tw
        if weight <= self.size:
            w.queued = True
            self._waiters.append(w)
        self._mu._unlock()
        stop = None
        try:
            if ctx is not None:
                if _ctx_on_done is None:
                    raise RuntimeError("gocore.context is not available")
                stop = _ctx_on_done(ctx, lambda: self._cancel(w))
            await tw
        except BaseException:
            if stop is not None:
                stop()
            self._give_up(w)          # withdraw, or pass on a grant that raced in
            raise
        if stop is not None:
            stop()
        if w.canceled:
            raise ctx.err().with_traceback(None)
        return True

    def try_acquire(self, n=1):
        """Acquire weight `n` only if that needs no waiting; return whether it did."""
        cdef int64_t weight = _weight(n)
        cdef bint ok
        self._mu._lock()
        try:
            ok = self.size - self._cur >= weight and not self._waiters
            if ok:
                self._cur += weight
        finally:
            self._mu._unlock()
        return ok

    def release(self, n=1):
        """Release weight `n`; ValueError if that is more than is held."""
        self._release(_weight(n))

    cdef int _release(self, int64_t weight) except -1:
        self._mu._lock()
        try:
            if weight > self._cur:
                raise ValueError(f"semaphore: released {weight} but only {self._cur} held")
            self._cur -= weight
            self._notify_waiters()
        finally:
            self._mu._unlock()
        return 0

    @cython.binding(True)
    def __enter__(self):
        self.acquire(1)
        return self

    @cython.binding(True)
    def __exit__(self, exc_type, exc, tb):
        self._release(1)

    async def __aenter__(self):
        await self.aacquire(1)
        return self

    @cython.binding(True)
    def __aexit__(self, exc_type, exc, tb):
        self._release(1)
        return _DONE

    def _debug_state(self):
        """(weight held, waiters queued): for tests of the quiescent state."""
        self._mu._lock()
        try:
            return self._cur, len(self._waiters)
        finally:
            self._mu._unlock()

    def __reduce__(self):
        return _refuse_copy(self)
