# ---- Mutex (Go's sync/mutex.go) ----
#
# One atomic state word:
#   bit 0  MUTEX_LOCKED    held
#   bit 1  MUTEX_WOKEN     a waiter was woken (or is spinning) and is about to
#                          compete, so unlock need not wake another
#   bit 2  MUTEX_STARVING  hand-off mode: unlock passes ownership straight to
#                          the head waiter, newcomers queue behind it
#   bits 3+                number of threads sleeping (or about to) on _sema
#
# Normal mode lets a running thread barge in ahead of a woken sleeper, which is
# what makes a mutex fast; a sleeper that has waited more than 1 ms flips the
# mutex into starvation mode, which is FIFO.  The mode ends when the last
# waiter takes the lock, or one that waited less than 1 ms does.
#
# Accounting invariant (what makes timeouts safe): every thread between
# "counted as waiter" and "returned" is matched either by one unit of the
# waiter count or by one unit on _sema (released for it, or about to be).

cimport cython

DEF MUTEX_LOCKED = 1
DEF MUTEX_WOKEN = 2
DEF MUTEX_STARVING = 4
DEF MUTEX_WAITER_SHIFT = 3
DEF MUTEX_ONE_WAITER = 8
DEF STARVATION_THRESHOLD_NS = 1000000
DEF SPIN_ROUNDS = 4
DEF SPIN_ROUNDS_FREE = 64      # free-threaded, a spare CPU: see _may_spin_on
DEF SPIN_PAUSES = 30

cdef int _ncpu = _os.cpu_count() or 1    # spinning only helps with a second CPU


cdef inline void _spin_pause() noexcept nogil:
    cdef int i
    for i in range(SPIN_PAUSES):
        gocore_cpu_relax()


cdef bint _mutex_take_as_woken(int64_t* state, int64_t* sema) noexcept nogil:
    """Having been handed a unit on _sema after our deadline, settle it now:
    take the lock if it is ours (starvation hand-off) or free; otherwise clear
    WOKEN so the holder's unlock will wake somebody else.  Never sleeps."""
    cdef int64_t old, new
    while True:
        old = gocore_load_acquire(state)
        if old & MUTEX_STARVING:
            # The unit was a hand-off: ownership is ours.  Same fix-up as the
            # woken-in-starvation path of mutex_lock_slow.
            # Hand-off never takes a waiter's count, so ours is still there.
            new = MUTEX_LOCKED - MUTEX_ONE_WAITER
            if (old >> MUTEX_WAITER_SHIFT) <= 1:
                new -= MUTEX_STARVING
            gocore_add(state, new)
            return True
        if not (old & MUTEX_LOCKED):
            if gocore_cas(state, old, (old | MUTEX_LOCKED) & ~MUTEX_WOKEN):
                return True
        elif gocore_cas(state, old, old & ~MUTEX_WOKEN):
            return False


cdef bint _mutex_abandon(int64_t* state, int64_t* sema) noexcept nogil:
    """The deadline passed while we were counted as a waiter and sema_acquire
    withdrew us.  Either give our waiter-count unit back, or, if an unlocker
    already turned it into a unit on _sema, collect that unit and settle it."""
    cdef int64_t old, new
    while True:
        if sema_try_acquire(sema):
            return _mutex_take_as_woken(state, sema)
        race_window()
        old = gocore_load_acquire(state)
        if (old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_STARVING:
            # A starvation-mode unlock is in flight: LOCKED is already clear,
            # its hand-off unit is not yet taken (maybe not yet released), and
            # unlike a normal-mode wake it took no waiter count.  Leaving now
            # (possibly as the last waiter, clearing STARVING) would strand
            # that unit on _sema: a later waiter would take it for a hand-off
            # and "own" a mutex somebody else holds.  Wait until the unit is
            # ours or another waiter has taken it (LOCKED set again).
            gocore_os_yield()
            continue
        if (old >> MUTEX_WAITER_SHIFT) > 0:
            new = old - MUTEX_ONE_WAITER
            if (new >> MUTEX_WAITER_SHIFT) == 0:
                # Last waiter gone: starvation mode has nobody to serve, and
                # leaving it set would make try_lock fail on a free mutex.
                new &= ~MUTEX_STARVING
            if gocore_cas(state, old, new):
                return False
        else:
            # An unlocker took our count and is about to release a unit.
            gocore_os_yield()


cdef struct MutexLockState:
    # Go's lockSlow locals, kept in a struct so that a task (which cannot
    # sleep inside the loop) can resume the same algorithm after each wait.
    int64_t wait_start      # when the first sleep began (0: not yet)
    bint starving
    bint awoke              # we were woken (or set WOKEN while spinning)
    bint lifo               # how the coming sema wait queues (re-queued: first)
    bint may_spin           # threads spin; a task never holds its loop for that
    int spins               # rounds spun since the last wake-up (see _may_spin_on)


cdef inline void mutex_lock_init(MutexLockState* ls, bint may_spin) noexcept nogil:
    ls.wait_start = 0
    ls.starving = False
    ls.awoke = False
    ls.lifo = False
    ls.may_spin = may_spin
    ls.spins = 0


cdef inline bint _may_spin_on(MutexLockState* ls) noexcept nogil:
    """Whether another spin round may run.  Go spins SPIN_ROUNDS before it
    sleeps, with a goroutine's wake-up as the alternative.  A thread's
    wake-up through the kernel costs far more: with no GIL between the two
    threads and a CPU to spare (the gate of gocore_spin.h, asked when Go's
    rounds are spent, so a lock call that never spins that far never pays
    for it), a waiter that watches the holder for longer (about 40 us at
    most) takes the lock as it is released instead of queueing on the sema,
    and each unlock is then a CAS rather than a wake-up.  Two threads
    contending a short critical section on 3.14t: 0.73x of threading.Lock
    with 4 rounds, 1.1-1.2x with 64.  With a GIL, or on a loaded box, Go's
    4 stay."""
    if ls.spins == SPIN_ROUNDS and not (GOCORE_FREE_THREADED and gocore_spin_may(gocore_nanotime())):
        ls.spins = SPIN_ROUNDS_FREE      # no: spent, so the gate is asked once per phase
    return ls.spins < SPIN_ROUNDS_FREE


cdef bint mutex_lock_step(int64_t* state, int64_t* sema, MutexLockState* ls) noexcept nogil:
    """The top of Go's lockSlow loop, up to its sleep.  True: the mutex is
    ours.  False: we are counted as a waiter and must now take a unit of
    *sema (queueing with ls.lifo), then call mutex_lock_woken."""
    cdef int64_t old = gocore_load_acquire(state)
    cdef int64_t new
    while True:
        # Spin only in normal mode while the mutex is held: a holder running
        # on another CPU may release it within a few hundred cycles, cheaper
        # than a sleep and a wake.
        if (ls.may_spin and (old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED
                and _ncpu > 1 and _may_spin_on(ls)):
            # Set WOKEN so the unlocker does not wake a sleeper we would race.
            if (not ls.awoke and not (old & MUTEX_WOKEN) and (old >> MUTEX_WAITER_SHIFT) != 0
                    and gocore_cas(state, old, old | MUTEX_WOKEN)):
                ls.awoke = True
            _spin_pause()
            ls.spins += 1
            old = gocore_load_acquire(state)
            continue
        new = old
        if not (old & MUTEX_STARVING):
            new |= MUTEX_LOCKED            # barge in: newcomers never take a starving mutex
        if old & (MUTEX_LOCKED | MUTEX_STARVING):
            new += MUTEX_ONE_WAITER
        if ls.starving and (old & MUTEX_LOCKED):
            new |= MUTEX_STARVING
        if ls.awoke:
            new &= ~MUTEX_WOKEN           # we were the woken one; let unlock wake again
        if not gocore_cas(state, old, new):
            old = gocore_load_acquire(state)
            continue
        if not (old & (MUTEX_LOCKED | MUTEX_STARVING)):
            return True                    # took the free mutex with our CAS
        # Re-queued waiters go to the front (LIFO): they have waited longest.
        # The wait is measured from the first sleep, as Go does, so a waiter
        # that slept through 1 ms turns starving on its first lost race.
        ls.lifo = ls.wait_start != 0
        if ls.wait_start == 0:
            ls.wait_start = gocore_nanotime()
        return False


cdef bint mutex_lock_woken(int64_t* state, int64_t* sema, MutexLockState* ls) noexcept nogil:
    """Having taken a unit of *sema: True if that made the mutex ours (a
    starvation hand-off), else False (compete again: mutex_lock_step)."""
    cdef int64_t old, delta
    ls.starving = ls.starving or gocore_nanotime() - ls.wait_start > STARVATION_THRESHOLD_NS
    old = gocore_load_acquire(state)
    if old & MUTEX_STARVING:
        # Hand-off: the mutex is ours, but the state does not say so yet.
        delta = MUTEX_LOCKED - MUTEX_ONE_WAITER
        if not ls.starving or (old >> MUTEX_WAITER_SHIFT) == 1:
            delta -= MUTEX_STARVING        # last waiter, or the wait was short: back to normal
        gocore_add(state, delta)
        return True
    ls.awoke = True
    ls.spins = 0
    return False


cdef bint mutex_lock_slow(int64_t* state, int64_t* sema, int64_t deadline) noexcept nogil:
    """Go's lockSlow.  Call without the GIL.  False only when `deadline` passed."""
    cdef MutexLockState ls
    mutex_lock_init(&ls, True)
    while True:
        if mutex_lock_step(state, sema, &ls):
            return True
        if not sema_acquire(sema, ls.lifo, deadline):
            return _mutex_abandon(state, sema)
        if mutex_lock_woken(state, sema, &ls):
            return True


cdef bint mutex_lock_expired(int64_t* state, int64_t* sema, MutexLockState* ls, bint got) noexcept nogil:
    """Finish a lock attempt whose deadline has passed while it was counted
    as a waiter (a cancelled task): exactly what mutex_lock_slow does from
    there with an expired deadline.  `got`: a unit of *sema is ours.  True:
    it ended holding the mutex (the caller must unlock it)."""
    while True:
        if not got:
            return _mutex_abandon(state, sema)
        if mutex_lock_woken(state, sema, ls):
            return True
        if mutex_lock_step(state, sema, ls):
            return True
        got = sema_try_acquire(sema)


cdef int mutex_lock_wait(int64_t* state, int64_t* sema, int64_t deadline,
                         int64_t what) except -1:
    """The blocking path of every lock of a Mutex (`what`: how a dump names
    the wait).  Returns 1 once held, 0 if `deadline` passed first.  In the
    main thread it sleeps in slices (see mainwait.pxi): a slice that ends
    leaves through the timeout path above (so a signal handler that raises,
    or a deadlock report, finds the caller holding nothing and owing nothing)
    and then queues again."""
    cdef bint got
    cdef int64_t until
    if not rec_on_main_thread():
        with nogil:
            rec_wait_begin(what, deadline)
            got = mutex_lock_slow(state, sema, deadline)
            rec_wait_end()
        return got
    rec_attach_main()
    while True:
        until = main_slice_until(deadline)
        with nogil:
            rec_wait_begin(what, deadline)
            got = mutex_lock_slow(state, sema, until)
            rec_wait_end()
        if got or until == deadline:
            return got
        report = main_slice_end(deadline, what)
        # Everyone else is blocked for good (see deadlock.py), so the state
        # word can no longer change: one last try decides.
        if report is not None and not mutex_try_lock(state):
            raise_deadlock(report)


cdef void mutex_wake_after_unlock(int64_t* state, int64_t* sema, int64_t new) noexcept nogil:
    """Go's unlockSlow after the LOCKED bit was cleared, leaving `new`."""
    cdef int64_t old
    race_window()
    if new & MUTEX_STARVING:
        sema_release(sema, True)           # hand ownership to the head waiter
        return
    old = new
    while True:
        # Nobody to wake, or someone is already awake / has the lock.
        if (old >> MUTEX_WAITER_SHIFT) == 0 or (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)):
            return
        if gocore_cas(state, old, (old - MUTEX_ONE_WAITER) | MUTEX_WOKEN):
            race_window()
            sema_release(sema, False)
            return
        old = gocore_load_acquire(state)


cdef int mutex_unlock_checked(int64_t* state, int64_t* sema) except -1:
    """Unlock, refusing (without touching the state) if it is not locked."""
    cdef int64_t old
    while True:
        old = gocore_load_acquire(state)
        if not (old & MUTEX_LOCKED):
            raise RuntimeError("unlock of unlocked Mutex")
        if gocore_cas(state, old, old - MUTEX_LOCKED):
            break
    if old != MUTEX_LOCKED:
        mutex_wake_after_unlock(state, sema, old - MUTEX_LOCKED)
    return 0


cdef inline bint mutex_try_lock(int64_t* state) noexcept nogil:
    cdef int64_t old = gocore_load_acquire(state)
    if old & (MUTEX_LOCKED | MUTEX_STARVING):
        return False
    return gocore_cas(state, old, old | MUTEX_LOCKED)


# binding(False): plain method descriptors, called without the bound-method
# object a Cython function needs (acquire/release ~25% faster); the with-block
# hooks keep binding(True), which is the faster one for the special-method lookup.
@cython.binding(False)
cdef class Mutex:
    """Mutex()
--

    A mutual exclusion lock, Go's ``sync.Mutex``; a drop-in for ``threading.Lock``.

    Not reentrant; any thread may unlock it.  Uncontended lock/unlock is one
    compare-and-swap each; a contended waiter spins briefly, then sleeps with
    the GIL released.  A waiter starved for over 1 ms switches the mutex to
    FIFO hand-off until the queue drains.

    Example::

        mu = gocore.Mutex()
        with mu:
            counter += 1
    """
    # _state: see the bit layout above.  _sema: the sema-table word waiters sleep on.
    cdef int64_t _state
    cdef int64_t _sema
    cdef object __weakref__      # weak references work, as on threading.Lock

    cdef inline int _lock(self) except -1:
        if gocore_cas(&self._state, 0, MUTEX_LOCKED):
            return 0
        mutex_lock_wait(&self._state, &self._sema, GOCORE_NO_DEADLINE, WAIT_MUTEX)
        return 0

    cdef inline int _unlock(self) except -1:
        if gocore_cas(&self._state, MUTEX_LOCKED, 0):
            return 0
        return mutex_unlock_checked(&self._state, &self._sema)

    # The Python-visible methods below call the inline helpers, which the C
    # compiler folds back in: each stays one CAS on the uncontended path.
    def lock(self):
        """Block until the mutex is held by the caller."""
        self._lock()

    def unlock(self):
        """Release the mutex; RuntimeError if it is not locked."""
        self._unlock()

    def try_lock(self):
        """Take the mutex if that needs no waiting; return whether it did."""
        return mutex_try_lock(&self._state)

    def locked(self):
        """True while held (or being handed to a starving waiter)."""
        return (gocore_load_acquire(&self._state) & (MUTEX_LOCKED | MUTEX_STARVING)) != 0

    def acquire(self, bint blocking=True, timeout=-1):
        """``threading.Lock.acquire``: True once held, False if not in time.

        As on ``threading.Lock``, a finite timeout above ``threading.TIMEOUT_MAX``
        raises OverflowError; unlike it, ``timeout=math.inf`` waits for ever.
        """
        cdef double t = lock_timeout_seconds(timeout, blocking)
        if t == -1:
            if gocore_cas(&self._state, 0, MUTEX_LOCKED):
                return True
            if not blocking:
                return mutex_try_lock(&self._state)
            mutex_lock_wait(&self._state, &self._sema, GOCORE_NO_DEADLINE, WAIT_MUTEX)
            return True
        if mutex_try_lock(&self._state):
            return True
        return mutex_lock_wait(&self._state, &self._sema, deadline_in(t), WAIT_MUTEX) == 1

    def alock(self):
        """Awaitable ``lock``: ``await mu.alock()`` waits without blocking the
        event loop (cancellation leaves the mutex not held by the task)."""
        return mutex_await(&self._state, &self._sema, self)

    def release(self):
        """``threading.Lock.release``: unlock; RuntimeError if not locked."""
        self._unlock()

    @cython.binding(True)
    def __enter__(self):
        self._lock()
        return True

    @cython.binding(True)
    def __aenter__(self):
        # `async with` awaits this at once: take a free mutex right here.
        if gocore_cas(&self._state, 0, MUTEX_LOCKED):
            return _DONE
        return mutex_await(&self._state, &self._sema, self)

    @cython.binding(True)
    def __aexit__(self, exc_type, exc, tb):
        self._unlock()
        return _DONE

    @cython.binding(True)
    def __exit__(self, exc_type, exc, tb):
        self._unlock()

    def __repr__(self):
        # threading.Lock's shape ("<unlocked _thread.lock object at 0x...>"),
        # which code and CPython's lock_tests match on.
        state = 'locked' if self.locked() else 'unlocked'
        return f"<{state} gocore.Mutex object at {id(self):#x}>"

    def _at_fork_reinit(self):
        """threading.Lock's hook for a forked child: back to unlocked, as new.
        The sema table was already emptied by the core's after-fork hook, so
        no waiter record of a parent thread survives to take a wake-up."""
        gocore_store(&self._state, 0)
        gocore_store(&self._sema, 0)

    def _debug_state(self):
        """(state word, sema word): for tests that check a quiescent mutex is
        back to (0, 0), i.e. no waiter count, flag or wake-up unit leaked."""
        return gocore_load_acquire(&self._state), gocore_load_acquire(&self._sema)

    def __reduce__(self):
        return _refuse_copy(self)
