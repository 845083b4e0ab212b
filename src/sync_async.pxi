# ---- the sync primitives' awaitable twins: a task waiting in the sema table ----
#
# A task that must wait for a unit of a sema word queues a SemaWaiter whose
# `task` names its awaitable (armed, see waiter_task.pxi) instead of a
# parker.  sema_release dequeues it, sets its ticket and wakes it exactly as
# it would a thread, except that the wake resolves a future.  The task then
# takes its unit (the ticket, or by competing) just as sema_acquire does
# after its park returns, and, having lost the unit to a newcomer, queues
# again, as sema_acquire loops.
#
# Cancellation: the record stays queued, marked cancelled, and the task
# leaves at once; whoever brings the unit finishes on the task's behalf,
# within its own call, and passes what that gave straight on:
#   Mutex (alock, and the writer mutex of RWMutex.alock): the rest of Go's
#   lockSlow runs for the cancelled waiter (_finish_cancelled); once that
#   holds the mutex it unlocks, which hands it to the next waiter; if it
#   needs another unit it queues again, still cancelled.  A thread whose
#   deadline passes withdraws instead (mutex_lock_expired), but that may
#   wait for a starvation hand-off in flight -- and if the hand-off's
#   recipient is a task on the same loop, waiting for it there would
#   deadlock the loop.  Finishing in the waker never waits.
#   RWMutex's reader and writer semas, WaitGroup: a counted waiter cannot
#   leave early (a reader counted in _reader_count is released for by the
#   writer's unlock; a WaitGroup's zeroing add releases one unit per counted
#   waiter), so the waker takes the unit and runs `then` (runlock, or the
#   unlock of the write lock just obtained; nothing for a WaitGroup).
# A word `_flag` (CAS 0 -> 1 by the cancelling task, 0 -> 2 by the waker)
# decides which of the two finishes, so exactly one does; if the waker won,
# the task finishes in its throw().  A closed loop is handled the same way
# (abandon()).  Nothing is held afterwards.

DEF SW_WAITING = 0
DEF SW_CANCELLED = 1        # the task left; whoever brings the unit finishes for it
DEF SW_WOKEN = 2            # a waker resolved the future; the task takes the unit


cdef bint sema_task_begin(SemaWaiter* w, int64_t* addr, bint lifo) noexcept nogil:
    """Take a unit of *addr now (True), or queue the task record w (False).
    The same handshake as sema_acquire: nwait is raised before the re-check."""
    cdef SemaBucket* b
    if sema_try_acquire(addr):
        return True
    b = _sema_bucket(addr)
    w.addr = addr
    w.ticket = False
    w.queued = False
    w.rec = NULL                     # a task blocks no thread: nothing to record
    gocore_spin_lock(&b.lock)
    gocore_add(&b.nwait, 1)
    if sema_try_acquire(addr):
        gocore_add(&b.nwait, -1)
        gocore_spin_unlock(&b.lock)
        return True
    _sema_enqueue(b, w, lifo)
    gocore_spin_unlock(&b.lock)
    return False


cdef inline bint sema_task_take(SemaWaiter* w) noexcept nogil:
    # Woken: by hand-off the unit is ours; otherwise compete for it.
    return w.ticket or sema_try_acquire(w.addr)


# ---- Mutex.alock ----

@cython.final
@cython.no_gc_clear
cdef class _MutexAwait(TaskWait):
    """``await mu.alock()``: Go's lockSlow (mutex.pxi) resumed after each wait."""
    cdef object _owner           # keeps the object holding the words alive
    cdef int64_t* _state
    cdef int64_t* _sema
    cdef MutexLockState _ls
    cdef SemaWaiter _w
    cdef int64_t _flag           # SW_*: see the cancellation rule at the top

    cdef object _step(self):
        if self._phase == PH_NEW:
            self._phase = PH_DONE
            if gocore_cas(self._state, 0, MUTEX_LOCKED):
                return None
            mutex_lock_init(&self._ls, False)
            return self._run(0)
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            return self._run(2 if sema_task_take(&self._w) else 1)
        raise RuntimeError("cannot reuse an already awaited lock operation")

    cdef object _run(self, int where):
        # where: 0 at the top of the lockSlow loop, 1 counted and needing a
        # unit of the sema, 2 holding that unit.
        while True:
            if where == 0:
                if mutex_lock_step(self._state, self._sema, &self._ls):
                    return None
            if where <= 1:
                try:
                    self.arm()
                except BaseException:
                    self._leave(False)       # counted as a waiter: give that back
                    raise
                self._w.task = <PyObject*>self
                self._flag = SW_WAITING
                if not sema_task_begin(&self._w, self._sema, self._ls.lifo):
                    self._phase = PH_QUEUED
                    return self.suspend()
                self.disarm()
            if mutex_lock_woken(self._state, self._sema, &self._ls):
                return None
            where = 0

    cdef int _leave(self, bint got) except -1:
        """Give up as a waiter whose deadline passed; unlock what that left us."""
        cdef bint held
        with nogil:
            held = mutex_lock_expired(self._state, self._sema, &self._ls, got)
        if held:
            mutex_unlock_checked(self._state, self._sema)
        return 0

    cdef int resolve(self) except -1:
        if gocore_cas(&self._flag, SW_WAITING, SW_WOKEN):
            return TaskWait.resolve(self)
        return self._finish_cancelled()

    cdef object _throw(self, object typ, object val, object tb):
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            if not gocore_cas(&self._flag, SW_WAITING, SW_CANCELLED):
                self._finish_cancelled()     # already woken: finish it here
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        try:
            self._throw(GeneratorExit, None, None)
        except GeneratorExit:
            pass
        return 0

    cdef int abandon(self) except -1:
        # The loop is closed: the releaser dequeued us and cannot wake us.
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            self._finish_cancelled()
        return 0

    cdef int _finish_cancelled(self) except -1:
        """The rest of lockSlow for a waiter nobody awaits any more, never
        waiting: holding the mutex, unlock it; needing a unit, queue again
        (still cancelled: the next waker continues here)."""
        cdef bint got = sema_task_take(&self._w)
        while True:
            if got and mutex_lock_woken(self._state, self._sema, &self._ls):
                break
            if got and mutex_lock_step(self._state, self._sema, &self._ls):
                break
            self._flag = SW_CANCELLED        # counted as a waiter, needing a unit
            Py_INCREF(self)
            self._w.task = <PyObject*>self
            if not sema_task_begin(&self._w, self._sema, self._ls.lifo):
                return 0
            Py_DECREF(self)
            got = True
        mutex_unlock_checked(self._state, self._sema)
        return 0


install_await_slots(_MutexAwait)


cdef object mutex_await(int64_t* state, int64_t* sema, object owner):
    cdef _MutexAwait a = _MutexAwait.__new__(_MutexAwait)
    a._owner = owner
    a._state = state
    a._sema = sema
    return a


# ---- a plain wait for one unit (RWMutex's reader/writer semas, WaitGroup) ----

@cython.final
@cython.no_gc_clear
cdef class _SemaAwait(TaskWait):
    """Await one unit of a sema word; see the cancellation rule at the top."""
    cdef object _owner
    cdef int64_t* _addr
    cdef object _then            # run once the unit arrives for a cancelled waiter
    cdef SemaWaiter _w
    cdef int64_t _flag

    cdef object _step(self):
        if self._phase == PH_NEW or self._phase == PH_QUEUED:
            woken = self._phase == PH_QUEUED
            self._phase = PH_DONE
            if (woken and sema_task_take(&self._w)) or self._wait():
                return None
            return self.suspend()
        raise RuntimeError("cannot reuse an already awaited wait")

    cdef bint _wait(self) except -1:
        """True: a unit was taken at once; False: queued (armed)."""
        self.arm()
        self._flag = SW_WAITING
        self._w.task = <PyObject*>self
        if sema_task_begin(&self._w, self._addr, False):
            self.disarm()
            return True
        self._phase = PH_QUEUED
        return False

    cdef int resolve(self) except -1:
        if gocore_cas(&self._flag, SW_WAITING, SW_WOKEN):
            return TaskWait.resolve(self)
        return self._finish_cancelled()

    cdef int abandon(self) except -1:
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            self._finish_cancelled()
        return 0

    cdef object _throw(self, object typ, object val, object tb):
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            if not gocore_cas(&self._flag, SW_WAITING, SW_CANCELLED):
                self._finish_cancelled()     # already woken: the unit is ours to pass on
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        try:
            self._throw(GeneratorExit, None, None)
        except GeneratorExit:
            pass
        return 0

    cdef int _finish_cancelled(self) except -1:
        if not sema_task_take(&self._w):
            # A newcomer took the unit: wait for the next one, still
            # cancelled (no future: nobody awaits it; the waker finishes).
            self._flag = SW_CANCELLED
            Py_INCREF(self)
            self._w.task = <PyObject*>self
            if not sema_task_begin(&self._w, self._addr, False):
                return 0
            Py_DECREF(self)
        if self._then is not None:
            self._then()
        return 0


install_await_slots(_SemaAwait)


cdef object sema_await(int64_t* addr, object owner, object then):
    cdef _SemaAwait a = _SemaAwait.__new__(_SemaAwait)
    a._owner = owner
    a._addr = addr
    a._then = then
    return a
