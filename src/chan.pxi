# ---- Chan: a lock-free ring for the fast path, waiter queues for the rest ----
#
# A channel is a ChanCore (embedded in the Chan object):
#
#   head, tail   ring positions, each shifted left by 2 with two flag bits
#                below.  tail carries TAIL_CLOSED and TAIL_SENDQ ("senders
#                are queued"), head carries HEAD_RECVQ ("receivers are
#                queued").  A flag is set under `lock` when a waiter is
#                queued and cleared under `lock` once its queue is empty.
#   slots        `cap` ring slots in the style of Vyukov's bounded MPMC queue:
#                a slot's sequence number says whose turn it is (seq == 2*pos:
#                free for the push at pos; seq == 2*pos + 1: holds the item
#                pushed at pos; a pop at pos sets seq = 2*(pos + cap), freeing
#                the slot for the push one lap later).  Vyukov's original uses
#                pos / pos + 1 / pos + cap, which cannot tell "full" from
#                "free for the next lap" when cap == 1; doubling keeps the
#                three states apart for every capacity.
#   lock         a core spin lock over both waiter queues, taken only on
#                the slow path and for a few pointer moves at a time.
#   recvq/sendq  FIFO queues of ChanWaiter records on the waiters' stacks.
#
# Fast path (buffered, nobody queued): a push claims a slot by CAS on tail,
# a pop by CAS on head; no lock, no GIL release.  The flags are how the
# slow path gets exclusivity without making the fast path pay for a lock:
# a fast push refuses when tail has TAIL_SENDQ (or TAIL_CLOSED) set, a fast
# pop refuses when head has HEAD_RECVQ set, and because the flags live in
# the very words the fast path CASes, a flag set between a fast op's load
# and its CAS makes that CAS fail.  So while receivers are queued, every
# pop happens under `lock`; while senders are queued, every push does.
# That is what lets `chan_settle` check "an item is there", claim a queued
# receiver, and then pop with the certainty that the pop succeeds (and the
# same for a queued sender and a free slot).
#
# The lost wake-up trap, and why it cannot happen here.  A receiver that
# will sleep does, under `lock`: enqueue itself, OR HEAD_RECVQ into head,
# set `waiters` to 1 (seq_cst store), then re-check the ring (seq_cst loads,
# in chan_settle).  A fast push does: CAS tail, store the value, publish the
# slot's seq (seq_cst store), then load `waiters` (seq_cst) and, if it is
# set, take `lock` and run chan_settle.  All four accesses are sequentially
# consistent, so in their single total order either the pusher's load comes
# after the receiver's store (the pusher settles under the lock, which it
# can only take once the receiver is fully queued), or the receiver's
# re-check comes after the publish (it sees the item and takes it).  The
# same argument, mirrored, covers a sender that sleeps on a full ring and a
# fast pop (publish the freed slot's seq, then load `waiters`).  `waiters`
# is a word of its own, rather than the flags in head/tail, so that the
# check after every fast operation reads a line nobody writes on the fast
# path; it is cleared under `lock` once both queues are empty (a stale 1
# only costs a needless settle).
# tests/test_chan.py::test_lost_wakeup_* keeps a stress test on both sides.
#
# Closing: close ORs TAIL_CLOSED into tail under `lock`, so no push can claim
# a slot afterwards (its CAS expects the flag clear).  A push that claimed
# its slot before still publishes, and a receiver only concludes "closed and
# drained" when tail's position equals head's: a claimed-but-unpublished
# slot makes it wait the few instructions until the item is published.  So
# nothing sent successfully is lost, and receivers drain the buffer first.
#
# Waiters and select.  Each blocked call has one ChanSleeper (its parker and
# a `state` word) and one ChanWaiter per channel it waits on (one for a
# send/recv, one per case for select).  Whoever completes a waiter first
# claims its sleeper by CAS(state, 0 -> 1) under the channel's lock; a claim
# that fails means another channel (or the sleeper's own timeout) got there
# first, and the record is just dropped from the queue.  The winner moves the
# value, records the result, and unparks the sleeper after releasing the
# lock, as its last touch of the record.  A sleeper whose deadline passes
# claims itself: success means nothing can complete it any more and it
# withdraws its records; failure means a completion is in flight and it
# waits for the unpark.  A withdrawn send or receive therefore never
# completes later.
#
# Values cross as moved references: the sender's INCREF'd pointer is stored
# in a slot or a waiter record and becomes the receiver's return value
# (gocore_steal), so the core never touches a refcount without the GIL.

cdef extern from "gocore_chan.h":
    uint64_t gocore_fastrand() nogil
    int64_t gocore_randn(int64_t n) nogil
    object gocore_steal(PyObject* o)

from cpython.mem cimport PyMem_Calloc, PyMem_Malloc, PyMem_Free
from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport PyThread_get_thread_ident
from gocore.errors import ClosedChannelError
import operator as _operator
import os as _os
import threading as _threading
import types as _types

DEF HEAD_RECVQ = 1          # in head: receivers are queued, pops take the lock
DEF TAIL_CLOSED = 1         # in tail: closed, no push may claim a slot
DEF TAIL_SENDQ = 2          # in tail: senders are queued, pushes take the lock
DEF POS_SHIFT = 2
DEF POS_ONE = 4             # one ring position, in head/tail units
DEF MAX_CAP = 1 << 48       # far below where positions could overflow

# Outcome of a channel operation.
DEF R_OK = 0                # done (a value moved)
DEF R_CLOSED = 1            # the channel is closed (and, for a receive, drained)
DEF R_BLOCK = 2             # cannot complete now: ring empty/full or no partner
DEF R_DIVERT = 3            # fast path refused: waiters are queued, take the lock
DEF R_QUEUED = 4            # the caller's waiter record is queued, go to sleep

# Outcome of chan_park.
DEF PARK_WOKE = 0           # a waker claimed the sleeper and completed a record
DEF PARK_TIMEOUT = 1        # the deadline passed; the records were withdrawn

# A main thread blocked on a channel wakes this often to run signal handlers
# (so Ctrl-C interrupts `for x in ch:`); other threads never get signals.
DEF SIGNAL_SLICE_NS = 50000000


cdef struct ChanSlot:
    int64_t seq             # sequence number minus 2 * the slot's index: zeroed
                            # memory means "every slot free for lap 0"
    PyObject* value         # owned reference while the slot holds an item

cdef struct ChanWaiter

cdef struct ChanSleeper:
    int64_t state           # 0 waiting; 1 claimed (by a waker or by the sleeper's timeout)
    ChanWaiter* fired       # the record that completed; written by the claimer before unpark
    gocore_parker parker    # a thread's sleeper (task == NULL)
    PyObject* task          # a task's sleeper: its armed TaskWait (see waiter_task.pxi)

cdef struct ChanWaiter:
    ChanWaiter* prev        # queue links, guarded by the channel's lock; `next`
    ChanWaiter* next        # also links the wake list once the record is completed
    ChanSleeper* sleeper
    void* chan              # the ChanCore this record waits on (NULL: none)
    PyObject* value         # send: the owned value until moved; recv: the owned value received
    Py_ssize_t case_index   # select: which case this record is
    int result              # R_OK / R_CLOSED, written by the claimer
    bint is_send
    bint queued             # guarded by the channel's lock

cdef class RecvChan
cdef class SendChan


cdef struct ChanRet          # a value given back by a cancelled task (chan_async.pxi)

cdef struct WaitQueue:
    ChanWaiter* head
    ChanWaiter* tail

cdef struct ChanCore:
    # Each group on its own cache line: a producer writes tail, a consumer
    # head, and both only read the third group, which is written only when
    # waiters come and go, so the fast path does not bounce lines.
    int64_t head            # (pop position << 2) | HEAD_RECVQ
    char _pad0[56]
    int64_t tail            # (push position << 2) | TAIL_CLOSED | TAIL_SENDQ
    char _pad1[56]
    int64_t waiters         # nonzero while any waiter may be queued (see below)
    int64_t cap
    int64_t mask            # cap - 1 when cap is a power of two, else -1
    ChanSlot* slots         # NULL when cap == 0
    char _pad2[32]
    int64_t lock            # spin lock over recvq and sendq
    WaitQueue recvq         # guarded by lock
    WaitQueue sendq         # guarded by lock
    ChanRet* ret_head       # given-back values, received before the ring; guarded
    ChanRet* ret_tail       # by lock; while any is here HEAD_RECVQ stays set, so
    int64_t ret_len         # every pop takes the lock (see chan_async.pxi)


# ---- the ring ----

cdef inline int64_t _ring_index(ChanCore* c, int64_t pos) noexcept nogil:
    if c.mask >= 0:
        return pos & c.mask
    return pos % c.cap


cdef inline int ring_push(ChanCore* c, PyObject* v, bint locked) noexcept nogil:
    """Append v (an owned reference that the ring takes on success).

    R_OK, R_BLOCK (full), R_CLOSED, or R_DIVERT (fast path only: senders are
    queued).  `locked`: the caller holds c.lock and may push past TAIL_SENDQ.
    """
    cdef int64_t t = gocore_load_seq(&c.tail)
    cdef int64_t pos, idx, seq
    cdef ChanSlot* s
    while True:
        if t & (TAIL_CLOSED | TAIL_SENDQ):
            if t & TAIL_CLOSED:
                return R_CLOSED
            if not locked:
                return R_DIVERT
        pos = t >> POS_SHIFT
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        seq = gocore_load_seq(&s.seq) + 2 * idx
        if seq == 2 * pos:
            if gocore_cas(&c.tail, t, t + POS_ONE):
                s.value = v
                # seq_cst publish: first half of the handshake with a receiver
                # that queues itself (see the header comment).
                gocore_store(&s.seq, 2 * (pos - idx) + 1)
                return R_OK
            t = gocore_load_seq(&c.tail)
        elif seq < 2 * pos:
            # The slot still holds the item from one lap ago (or its pop is
            # between CAS and publish: that popper will settle after us).
            return R_BLOCK
        else:
            t = gocore_load_seq(&c.tail)      # another push took pos: look again


cdef inline int ring_pop(ChanCore* c, PyObject** out, bint locked) noexcept nogil:
    """Take the oldest item into *out (an owned reference).

    R_OK, R_BLOCK (empty), R_CLOSED (closed and drained), or R_DIVERT (fast
    path only: receivers are queued).  Empty means tail's position equals
    head's: a push that claimed a slot but has not published yet is waited
    for (a few instructions), so "closed and drained" is never premature.
    """
    cdef int64_t h = gocore_load_seq(&c.head)
    cdef int64_t t, pos, idx, seq
    cdef ChanSlot* s
    cdef int spins = 0
    while True:
        if (h & HEAD_RECVQ) and not locked:
            return R_DIVERT
        pos = h >> POS_SHIFT
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        seq = gocore_load_seq(&s.seq) + 2 * idx
        if seq == 2 * pos + 1:
            if gocore_cas(&c.head, h, h + POS_ONE):
                out[0] = s.value
                # seq_cst publish of the free slot: first half of the handshake
                # with a sender that queues itself on a full ring.
                gocore_store(&s.seq, 2 * (pos + c.cap - idx))
                return R_OK
            h = gocore_load_seq(&c.head)
        elif seq < 2 * pos + 1:
            t = gocore_load_seq(&c.tail)
            if (t >> POS_SHIFT) == pos:
                return R_CLOSED if (t & TAIL_CLOSED) else R_BLOCK
            # A push claimed pos and is about to publish (or h is stale).
            spins += 1
            if spins < 64:
                gocore_cpu_relax()
            else:
                gocore_os_yield()
            h = gocore_load_seq(&c.head)
        else:
            h = gocore_load_seq(&c.head)      # another pop took pos: look again


cdef inline bint _ring_has_item(ChanCore* c) noexcept nogil:
    # Only meaningful under c.lock with HEAD_RECVQ set (we are the only popper).
    cdef int64_t pos = gocore_load_seq(&c.head) >> POS_SHIFT
    cdef int64_t idx = _ring_index(c, pos)
    return gocore_load_seq(&c.slots[idx].seq) + 2 * idx == 2 * pos + 1


cdef inline bint _ring_has_room(ChanCore* c) noexcept nogil:
    # Only meaningful under c.lock with TAIL_SENDQ set (we are the only pusher).
    cdef int64_t pos = gocore_load_seq(&c.tail) >> POS_SHIFT
    cdef int64_t idx = _ring_index(c, pos)
    return gocore_load_seq(&c.slots[idx].seq) + 2 * idx == 2 * pos


cdef inline int64_t _ring_len(ChanCore* c) noexcept nogil:
    cdef int64_t n = (gocore_load(&c.tail) >> POS_SHIFT) - (gocore_load(&c.head) >> POS_SHIFT)
    if n < 0:
        return 0
    return n if n < c.cap else c.cap


# ---- waiter queues (everything here runs under the channel's lock) ----

cdef inline void _queue_append(WaitQueue* q, ChanWaiter* w) noexcept nogil:
    w.next = NULL
    w.prev = q.tail
    if q.tail != NULL:
        q.tail.next = w
    else:
        q.head = w
    q.tail = w
    w.queued = True


cdef inline void _queue_unlink(WaitQueue* q, ChanWaiter* w) noexcept nogil:
    if w.prev != NULL:
        w.prev.next = w.next
    else:
        q.head = w.next
    if w.next != NULL:
        w.next.prev = w.prev
    else:
        q.tail = w.prev
    w.prev = w.next = NULL
    w.queued = False


cdef inline ChanWaiter* _claim_first(WaitQueue* q) noexcept nogil:
    """Dequeue the first waiter whose sleeper we manage to claim.  Records of
    sleepers already claimed elsewhere (a select that fired on another
    channel, a timed-out waiter) are dropped on the way."""
    cdef ChanWaiter* w
    while q.head != NULL:
        w = q.head
        _queue_unlink(q, w)
        if gocore_cas(&w.sleeper.state, 0, 1):
            return w
    return NULL


cdef inline void _complete(ChanWaiter* w, int result, ChanWaiter** wake) noexcept nogil:
    # The claimer's writes; the unpark (after the lock is released) publishes them.
    w.result = result
    w.sleeper.fired = w
    w.next = wake[0]
    wake[0] = w


cdef inline void chan_wake_all(ChanWaiter* w, ChanSleeper* skip) noexcept nogil:
    """Unpark every completed record in the wake list (call without any
    channel lock).  `skip`: the caller's own sleeper, completed by its own
    re-check, which is awake already."""
    cdef ChanWaiter* nxt
    cdef ChanSleeper* s
    cdef ChanWaiter* tasks = NULL
    while w != NULL:
        nxt = w.next                 # read first: after the unpark w may vanish
        s = w.sleeper
        if s != skip:
            if s.task != NULL:
                w.next = tasks       # a task's record: woken below, in one batch
                tasks = w
            else:
                gocore_unpark(&s.parker)
        w = nxt
    if tasks != NULL:
        chan_wake_tasks(tasks)


cdef inline void _update_flags(ChanCore* c) noexcept nogil:
    if c.recvq.head == NULL and c.ret_head == NULL and (gocore_load(&c.head) & HEAD_RECVQ):
        gocore_and(&c.head, ~(<int64_t>HEAD_RECVQ))
    if c.sendq.head == NULL and (gocore_load(&c.tail) & TAIL_SENDQ):
        gocore_and(&c.tail, ~(<int64_t>TAIL_SENDQ))
    if c.recvq.head == NULL and c.sendq.head == NULL and gocore_load(&c.waiters):
        gocore_store(&c.waiters, 0)


cdef void chan_settle(ChanCore* c, ChanWaiter** wake) noexcept nogil:
    """Buffered channel, c.lock held: give buffered items to queued receivers
    and free slots to queued senders until neither can progress.

    Claim first, then move: the flags guarantee that the item (slot) seen
    here is still there when we pop (push), since nobody else may pop (push)
    while receivers (senders) are queued.
    """
    cdef ChanWaiter* w
    cdef bint progress = True
    while progress:
        progress = False
        while c.recvq.head != NULL and (c.ret_head != NULL or _ring_has_item(c)):
            w = _claim_first(&c.recvq)
            if w == NULL:
                break
            if not chan_ret_pop(c, &w.value):
                ring_pop(c, &w.value, True)
            _complete(w, R_OK, wake)
            progress = True
        while c.sendq.head != NULL and _ring_has_room(c):
            w = _claim_first(&c.sendq)
            if w == NULL:
                break
            ring_push(c, w.value, True)
            w.value = NULL
            _complete(w, R_OK, wake)
            progress = True
    _update_flags(c)


cdef void chan_kick(ChanCore* c) noexcept nogil:
    """A fast push/pop saw the other side's waiters flagged: settle under the lock."""
    cdef ChanWaiter* wake = NULL
    gocore_spin_lock(&c.lock)
    chan_settle(c, &wake)
    gocore_spin_unlock(&c.lock)
    chan_wake_all(wake, NULL)


cdef int chan_send_locked(ChanCore* c, PyObject* v, ChanWaiter** wake) noexcept nogil:
    """c.lock held: send v now if that needs no waiting.  R_OK (v moved to
    the channel), R_CLOSED or R_BLOCK (v still the caller's)."""
    cdef ChanWaiter* w
    if gocore_load(&c.tail) & TAIL_CLOSED:
        return R_CLOSED
    if c.cap == 0:
        w = _claim_first(&c.recvq)
        if w == NULL:
            return R_BLOCK
        w.value = v                  # direct hand-off to a waiting receiver
        _complete(w, R_OK, wake)
        return R_OK
    chan_settle(c, wake)             # queued senders first (FIFO)
    if ring_push(c, v, True) != R_OK:
        return R_BLOCK
    chan_settle(c, wake)             # then hand it on to a queued receiver
    return R_OK


cdef int chan_recv_locked(ChanCore* c, PyObject** out, ChanWaiter** wake) noexcept nogil:
    """c.lock held: receive now if that needs no waiting.  R_OK (*out is an
    owned reference), R_CLOSED (closed and drained) or R_BLOCK."""
    cdef ChanWaiter* w
    cdef int r
    if c.ret_head != NULL and chan_recv_returned(c, out, wake):
        return R_OK
    if c.cap == 0:
        w = _claim_first(&c.sendq)
        if w != NULL:
            out[0] = w.value         # direct hand-off from a waiting sender
            w.value = NULL
            _complete(w, R_OK, wake)
            return R_OK
        return R_CLOSED if (gocore_load(&c.tail) & TAIL_CLOSED) else R_BLOCK
    chan_settle(c, wake)             # queued receivers first (FIFO)
    r = ring_pop(c, out, True)
    if r == R_OK:
        chan_settle(c, wake)         # the freed slot goes to a queued sender
    return r


cdef void chan_enqueue_locked(ChanCore* c, ChanWaiter* w) noexcept nogil:
    """c.lock held: queue w and raise its flag.  For a buffered channel the
    caller must then run chan_settle: that is the re-check after the flag."""
    w.chan = c
    if w.is_send:
        _queue_append(&c.sendq, w)
        if c.cap > 0:
            gocore_or(&c.tail, TAIL_SENDQ)
    else:
        _queue_append(&c.recvq, w)
        if c.cap > 0:
            gocore_or(&c.head, HEAD_RECVQ)
    if c.cap > 0 and not gocore_load(&c.waiters):
        gocore_store(&c.waiters, 1)      # seq_cst, before the caller's re-check


cdef int chan_close_locked(ChanCore* c, ChanWaiter** wake) noexcept nogil:
    """c.lock held: close.  Every queued sender fails; every queued receiver
    gets a buffered item if one is left, else (None, False)."""
    cdef ChanWaiter* w
    if gocore_load(&c.tail) & TAIL_CLOSED:
        return R_CLOSED
    gocore_or(&c.tail, TAIL_CLOSED)
    while True:
        w = _claim_first(&c.sendq)
        if w == NULL:
            break
        _complete(w, R_CLOSED, wake)
    while True:
        w = _claim_first(&c.recvq)
        if w == NULL:
            break
        if chan_ret_pop(c, &w.value) or (c.cap > 0 and ring_pop(c, &w.value, True) == R_OK):
            _complete(w, R_OK, wake)
        else:
            _complete(w, R_CLOSED, wake)
    _update_flags(c)
    return R_OK


cdef void chan_withdraw(ChanWaiter* recs, Py_ssize_t n) noexcept nogil:
    """Take records off their queues (the sleeper is claimed: nothing can
    complete them any more).  One channel lock at a time suffices."""
    cdef Py_ssize_t i
    cdef ChanWaiter* w
    cdef ChanCore* c
    for i in range(n):
        w = &recs[i]
        c = <ChanCore*>w.chan
        if c == NULL:
            continue
        gocore_spin_lock(&c.lock)
        if w.queued:
            _queue_unlink(&c.sendq if w.is_send else &c.recvq, w)
            _update_flags(c)
        gocore_spin_unlock(&c.lock)


cdef inline void chan_waiter_init(ChanWaiter* w, ChanSleeper* sl, bint is_send,
                                  PyObject* value, Py_ssize_t case_index) noexcept nogil:
    w.prev = w.next = NULL
    w.sleeper = sl
    w.chan = NULL
    w.value = value
    w.case_index = case_index
    w.result = R_BLOCK
    w.is_send = is_send
    w.queued = False


cdef inline void chan_sleeper_init(ChanSleeper* sl) noexcept nogil:
    sl.state = 0
    sl.fired = NULL
    sl.task = NULL
    gocore_parker_init(&sl.parker)


cdef unsigned long _main_thread_ident = <unsigned long>_threading.main_thread().ident


def _chan_after_fork_in_child():
    # The thread that forked is the child's main thread.
    global _main_thread_ident
    _main_thread_ident = PyThread_get_thread_ident()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_chan_after_fork_in_child)


cdef int chan_park(ChanSleeper* sl, ChanWaiter* recs, Py_ssize_t n, int64_t deadline) except -1:
    """Sleep (GIL released) until a waker completes one of `recs`, or the
    deadline passes.  PARK_WOKE: sl.fired is set; PARK_TIMEOUT: the records
    are withdrawn and nothing completed.  In the main thread a signal
    handler that raises (KeyboardInterrupt) withdraws the records and
    propagates; if a completion won the race it is kept (its value dropped).
    """
    cdef bint main = PyThread_get_thread_ident() == _main_thread_ident
    cdef int64_t until
    cdef bint woke
    while True:
        until = deadline
        if main:
            until = gocore_nanotime() + SIGNAL_SLICE_NS
            if deadline < until:
                until = deadline
        with nogil:
            woke = gocore_park(&sl.parker, until)
        if woke:
            return PARK_WOKE
        if until == deadline:
            if gocore_cas(&sl.state, 0, 1):
                chan_withdraw(recs, n)
                return PARK_TIMEOUT
            # A waker claimed us first and is about to unpark: wait for it,
            # so it never touches a dead stack frame, then honour its result.
            with nogil:
                gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            return PARK_WOKE
        try:
            PyErr_CheckSignals()
        except BaseException:
            if gocore_cas(&sl.state, 0, 1):
                chan_withdraw(recs, n)
            else:
                with nogil:
                    gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            raise


cdef inline bint _may_block(int64_t deadline) noexcept nogil:
    return deadline == GOCORE_NO_DEADLINE or gocore_nanotime() < deadline


cdef int chan_block_forever(int64_t deadline, str what) except -1:
    """nilchan: nothing ever completes; wait for the deadline, then raise."""
    cdef ChanSleeper sl
    chan_sleeper_init(&sl)
    try:
        chan_park(&sl, NULL, 0, deadline)
    finally:
        gocore_parker_destroy(&sl.parker)
    raise TimeoutError(f"{what} on nil channel timed out")


# ---- the operations behind the Python methods (Chan and its views) ----

cdef int chan_send(Chan ch, object v, object timeout) except -1:
    """Send v: the general path (timeouts, blocking, closed channels)."""
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef ChanCore* c = &ch._c
    cdef PyObject* pv = <PyObject*>v
    cdef ChanWaiter* wake = NULL
    cdef ChanSleeper sl
    cdef ChanWaiter w
    cdef int r
    if ch._nil:
        return chan_block_forever(deadline, "send")
    Py_INCREF(v)                     # the reference that travels to the receiver
    if c.cap > 0:
        r = ring_push(c, pv, False)
        if r == R_OK:
            if gocore_load_seq(&c.waiters):
                chan_kick(c)
            return 0
        if r == R_CLOSED:
            Py_DECREF(v)
            raise ClosedChannelError("send on closed channel")
    chan_sleeper_init(&sl)
    chan_waiter_init(&w, &sl, True, pv, 0)
    gocore_spin_lock(&c.lock)
    r = chan_send_locked(c, pv, &wake)
    if r == R_BLOCK and _may_block(deadline):
        chan_enqueue_locked(c, &w)
        if c.cap > 0:
            chan_settle(c, &wake)    # the re-check after raising TAIL_SENDQ
        r = w.result if gocore_load(&sl.state) else R_QUEUED
    gocore_spin_unlock(&c.lock)
    chan_wake_all(wake, &sl)
    try:
        if r == R_QUEUED:
            try:
                if chan_park(&sl, &w, 1, deadline) == PARK_TIMEOUT:
                    raise TimeoutError("channel send timed out")
            except BaseException:
                Py_XDECREF(w.value)      # still ours unless it was delivered
                w.value = NULL
                raise
            r = w.result
    finally:
        gocore_parker_destroy(&sl.parker)
    if r == R_OK:
        return 0
    Py_DECREF(v)                     # not delivered: the reference is ours again
    if r == R_CLOSED:
        raise ClosedChannelError("send on closed channel")
    raise TimeoutError("channel send timed out")


cdef int chan_recv_raw(Chan ch, object timeout, PyObject** out) except -1:
    """Receive into *out (owned).  R_OK, or R_CLOSED once closed and drained."""
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef ChanCore* c = &ch._c
    cdef ChanWaiter* wake = NULL
    cdef ChanSleeper sl
    cdef ChanWaiter w
    cdef int r
    if ch._nil:
        return chan_block_forever(deadline, "receive")
    if c.cap > 0:
        r = ring_pop(c, out, False)
        if r == R_OK:
            if gocore_load_seq(&c.waiters):
                chan_kick(c)
            return R_OK
        if r == R_CLOSED:
            return R_CLOSED
    chan_sleeper_init(&sl)
    chan_waiter_init(&w, &sl, False, NULL, 0)
    gocore_spin_lock(&c.lock)
    r = chan_recv_locked(c, out, &wake)
    if r == R_BLOCK and _may_block(deadline):
        chan_enqueue_locked(c, &w)
        if c.cap > 0:
            chan_settle(c, &wake)    # the re-check after raising HEAD_RECVQ
        r = w.result if gocore_load(&sl.state) else R_QUEUED
    gocore_spin_unlock(&c.lock)
    chan_wake_all(wake, &sl)
    try:
        if r == R_QUEUED:
            try:
                if chan_park(&sl, &w, 1, deadline) == PARK_TIMEOUT:
                    raise TimeoutError("channel receive timed out")
            except BaseException:
                Py_XDECREF(w.value)      # a value that raced in with a signal is dropped
                w.value = NULL
                raise
            r = w.result
        elif r == R_BLOCK:
            raise TimeoutError("channel receive timed out")
    finally:
        gocore_parker_destroy(&sl.parker)
    if r == R_OK and w.sleeper.fired == &w:
        out[0] = w.value
    return r


cdef object chan_recv(Chan ch, object timeout):
    cdef PyObject* p
    if chan_recv_raw(ch, timeout, &p) == R_OK:
        return gocore_steal(p)
    return None


cdef object chan_recv_ok(Chan ch, object timeout):
    cdef PyObject* p
    if chan_recv_raw(ch, timeout, &p) == R_OK:
        return (gocore_steal(p), True)
    return (None, False)


cdef object chan_next(Chan ch):
    cdef PyObject* p
    if chan_recv_raw(ch, None, &p) == R_OK:
        return gocore_steal(p)
    raise StopIteration


cdef int chan_close(Chan ch) except -1:
    cdef ChanWaiter* wake = NULL
    cdef int r
    if ch._nil:
        raise ClosedChannelError("close of nil channel")
    gocore_spin_lock(&ch._c.lock)
    r = chan_close_locked(&ch._c, &wake)
    gocore_spin_unlock(&ch._c.lock)
    chan_wake_all(wake, NULL)
    if r == R_CLOSED:
        raise ClosedChannelError("close of closed channel")
    return 0


cdef bint chan_try_send(Chan ch, object v) except -1:
    """Send without waiting; False if that would block.  Raises if closed."""
    cdef ChanCore* c = &ch._c
    cdef ChanWaiter* wake = NULL
    cdef int r = R_BLOCK
    if ch._nil:
        return False
    Py_INCREF(v)
    if c.cap > 0:
        r = ring_push(c, <PyObject*>v, False)
        if r == R_OK and gocore_load_seq(&c.waiters):
            chan_kick(c)
    if r == R_DIVERT or c.cap == 0:
        gocore_spin_lock(&c.lock)
        r = chan_send_locked(c, <PyObject*>v, &wake)
        gocore_spin_unlock(&c.lock)
        chan_wake_all(wake, NULL)
    if r == R_OK:
        return True
    Py_DECREF(v)
    if r == R_CLOSED:
        raise ClosedChannelError("send on closed channel")
    return False


cdef int chan_try_recv(Chan ch, PyObject** out) except -1:
    """Receive without waiting: R_OK (*out owned), R_CLOSED or R_BLOCK."""
    cdef ChanCore* c = &ch._c
    cdef ChanWaiter* wake = NULL
    cdef int r = R_BLOCK
    if ch._nil:
        return R_BLOCK
    if c.cap > 0:
        r = ring_pop(c, out, False)
        if r == R_OK and gocore_load_seq(&c.waiters):
            chan_kick(c)
    if r == R_DIVERT or c.cap == 0:
        gocore_spin_lock(&c.lock)
        r = chan_recv_locked(c, out, &wake)
        gocore_spin_unlock(&c.lock)
        chan_wake_all(wake, NULL)
    return r


cdef class Chan:
    """A Go channel: ``Chan(cap=0)``; ``cap == 0`` is unbuffered (a send
    waits for its receiver), ``cap > 0`` buffers up to `cap` values.

    ``send(v, timeout=None)``, ``recv(timeout=None)``, ``recv_ok(timeout=None)
    -> (v, ok)``, ``close()``, ``len(ch)``, ``ch.cap``, ``for v in ch:``
    (receives until closed and drained), ``recv_only()`` / ``send_only()``
    views, and ``ch.recv`` / ``ch.recv_ok`` / ``(ch.send, v)`` as
    ``select`` cases.

    Example::

        ch = gocore.Chan(8)
        gocore.go(lambda: [ch.send(i) for i in range(3)] and ch.close())
        for v in ch:
            print(v)
    """
    cdef ChanCore _c
    cdef bint _nil                   # nilchan: every operation blocks forever
    cdef bint _initialized
    cdef object __weakref__
    cdef object _gc_anchor           # always None: makes the type GC-tracked (see _chan_traverse)

    def __init__(self, cap=0):
        cdef int64_t n
        if self._initialized:
            raise RuntimeError("Chan.__init__ called twice")
        try:
            index = _operator.index(cap)
        except TypeError:
            raise TypeError(f"channel capacity must be an int, not {type(cap).__name__}") from None
        if index < 0:
            raise ValueError(f"channel capacity must be >= 0, got {index}")
        if index > MAX_CAP:
            raise ValueError(f"channel capacity {index} is too large")
        n = index
        if n > 0:
            self._c.slots = <ChanSlot*>PyMem_Calloc(<size_t>n, sizeof(ChanSlot))
            if self._c.slots == NULL:
                raise MemoryError(f"cannot allocate a channel buffer of {n} values")
        self._c.cap = n
        self._c.mask = n - 1 if n > 0 and (n & (n - 1)) == 0 else -1
        self._initialized = True

    def __dealloc__(self):
        cdef int64_t pos, end
        if self._c.slots != NULL:
            pos = self._c.head >> POS_SHIFT
            end = self._c.tail >> POS_SHIFT
            while pos < end:         # the values still buffered are ours to drop
                Py_XDECREF(self._c.slots[_ring_index(&self._c, pos)].value)
                pos += 1
            PyMem_Free(self._c.slots)
            self._c.slots = NULL
        chan_ret_clear(&self._c)

    def __class_getitem__(cls, item):
        """``Chan[int]`` for annotations."""
        return _types.GenericAlias(cls, item)

    def send(self, v, timeout=None):
        """Send `v`, waiting while the buffer is full (unbuffered: until a
        receiver takes it).  ClosedChannelError if the channel is or gets
        closed; TimeoutError if `timeout` seconds pass first (the value is
        then never delivered)."""
        cdef ChanCore* c = &self._c
        cdef int r
        if timeout is None and c.cap > 0:
            Py_INCREF(v)
            r = ring_push(c, <PyObject*>v, False)
            if r == R_OK:
                if gocore_load_seq(&c.waiters):
                    chan_kick(c)
                return
            Py_DECREF(v)
        chan_send(self, v, timeout)

    def recv(self, timeout=None):
        """Receive a value, waiting for one; None once closed and drained.
        TimeoutError if `timeout` seconds pass first (nothing is taken)."""
        cdef ChanCore* c = &self._c
        cdef PyObject* p
        cdef int r
        if timeout is None and c.cap > 0:
            r = ring_pop(c, &p, False)
            if r == R_OK:
                if gocore_load_seq(&c.waiters):
                    chan_kick(c)
                return gocore_steal(p)
            if r == R_CLOSED:
                return None
        return chan_recv(self, timeout)

    def recv_ok(self, timeout=None):
        """Receive as ``(value, ok)``; ``ok`` is False once closed and drained."""
        cdef ChanCore* c = &self._c
        cdef PyObject* p
        cdef int r
        if timeout is None and c.cap > 0:
            r = ring_pop(c, &p, False)
            if r == R_OK:
                if gocore_load_seq(&c.waiters):
                    chan_kick(c)
                return (gocore_steal(p), True)
            if r == R_CLOSED:
                return (None, False)
        return chan_recv_ok(self, timeout)

    def asend(self, v):
        """Awaitable ``send``: ``await ch.asend(v)`` (see chan_async.pxi)."""
        return chan_op(self, AOP_SEND, v)

    def arecv(self):
        """Awaitable ``recv``: ``v = await ch.arecv()``."""
        return chan_op(self, AOP_RECV, None)

    def arecv_ok(self):
        """Awaitable ``recv_ok``: ``v, ok = await ch.arecv_ok()``."""
        return chan_op(self, AOP_RECV_OK, None)

    def __aiter__(self):
        return self

    def __anext__(self):
        return chan_op(self, AOP_NEXT, None)

    def close(self):
        """Close: buffered values can still be received, then receivers get
        ``(None, False)``; waiting and later senders raise ClosedChannelError.
        Closing twice raises ClosedChannelError."""
        chan_close(self)

    def __iter__(self):
        return self

    def __next__(self):
        cdef ChanCore* c = &self._c
        cdef PyObject* p
        cdef int r
        if c.cap > 0:
            r = ring_pop(c, &p, False)
            if r == R_OK:
                if gocore_load_seq(&c.waiters):
                    chan_kick(c)
                return gocore_steal(p)
            if r == R_CLOSED:
                raise StopIteration
        return chan_next(self)

    def __len__(self):
        if self._c.cap == 0:
            return gocore_load(&self._c.ret_len)
        return _ring_len(&self._c) + gocore_load(&self._c.ret_len)

    def __bool__(self):
        # A channel is not a container: an empty one is still "a channel".
        # Only nilchan is false, like a nil channel in Go's `if ch != nil`.
        return not self._nil

    @property
    def cap(self):
        """The buffer capacity (0: unbuffered)."""
        return self._c.cap

    def recv_only(self):
        """A view that can only receive (Go's ``<-chan T``)."""
        cdef RecvChan view = RecvChan.__new__(RecvChan)
        view._ch = self
        return view

    def send_only(self):
        """A view that can only send and close (Go's ``chan<- T``)."""
        cdef SendChan view = SendChan.__new__(SendChan)
        view._ch = self
        return view

    def _try_send(self, v):
        """Send only if that needs no waiting; return whether it did."""
        return chan_try_send(self, v)

    def _try_recv(self):
        """Receive only if that needs no waiting: ``(value, ok)``, or
        ``(None, None)`` when nothing is ready."""
        cdef PyObject* p
        cdef int r = chan_try_recv(self, &p)
        if r == R_OK:
            return (gocore_steal(p), True)
        if r == R_CLOSED:
            return (None, False)
        return (None, None)

    def __repr__(self):
        if self._nil:
            return "gocore.nilchan"
        state = " closed" if gocore_load(&self._c.tail) & TAIL_CLOSED else ""
        return f"<gocore.Chan cap={self._c.cap} len={len(self)}{state}>"


cdef class RecvChan:
    """The receiving side of a channel (Go's ``<-chan T``), from
    ``ch.recv_only()``: ``recv``, ``recv_ok``, iteration, ``len``, ``cap``,
    usable in ``select``; no ``send``, no ``close``.

    Example::

        def consume(inbox: gocore.RecvChan):
            for v in inbox:
                ...
    """
    cdef Chan _ch

    def __class_getitem__(cls, item):
        return _types.GenericAlias(cls, item)

    def recv(self, timeout=None):
        """See ``Chan.recv``."""
        return chan_recv(self._ch, timeout)

    def recv_ok(self, timeout=None):
        """See ``Chan.recv_ok``."""
        return chan_recv_ok(self._ch, timeout)

    def recv_only(self):
        return self

    def arecv(self):
        """See ``Chan.arecv``."""
        return chan_op(self._ch, AOP_RECV, None)

    def arecv_ok(self):
        """See ``Chan.arecv_ok``."""
        return chan_op(self._ch, AOP_RECV_OK, None)

    def __aiter__(self):
        return self

    def __anext__(self):
        return chan_op(self._ch, AOP_NEXT, None)

    def __iter__(self):
        return self

    def __next__(self):
        return chan_next(self._ch)

    def __len__(self):
        return len(self._ch)

    def __bool__(self):
        return not self._ch._nil

    @property
    def cap(self):
        """The buffer capacity of the underlying channel."""
        return self._ch._c.cap

    def __eq__(self, other):
        return isinstance(other, RecvChan) and (<RecvChan>other)._ch is self._ch

    def __hash__(self):
        return hash((RecvChan, id(self._ch)))

    def __repr__(self):
        return f"<gocore.RecvChan of {self._ch!r}>"


cdef class SendChan:
    """The sending side of a channel (Go's ``chan<- T``), from
    ``ch.send_only()``: ``send``, ``close``, ``len``, ``cap``, usable in
    ``select``; no receiving.

    Example::

        def produce(out: gocore.SendChan):
            out.send(1)
            out.close()
    """
    cdef Chan _ch

    def __class_getitem__(cls, item):
        return _types.GenericAlias(cls, item)

    def send(self, v, timeout=None):
        """See ``Chan.send``."""
        chan_send(self._ch, v, timeout)

    def asend(self, v):
        """See ``Chan.asend``."""
        return chan_op(self._ch, AOP_SEND, v)

    def close(self):
        """See ``Chan.close``."""
        chan_close(self._ch)

    def send_only(self):
        return self

    def __len__(self):
        return len(self._ch)

    def __bool__(self):
        return not self._ch._nil

    @property
    def cap(self):
        """The buffer capacity of the underlying channel."""
        return self._ch._c.cap

    def __eq__(self, other):
        return isinstance(other, SendChan) and (<SendChan>other)._ch is self._ch

    def __hash__(self):
        return hash((SendChan, id(self._ch)))

    def __repr__(self):
        return f"<gocore.SendChan of {self._ch!r}>"


cdef Chan _make_nilchan():
    cdef Chan ch = Chan.__new__(Chan)
    ch._nil = True
    ch._initialized = True
    return ch


nilchan = _make_nilchan()


# ---- the cyclic garbage collector and buffered values ----
#
# Values sitting in a ring are references the collector must see, or a
# channel holding a value that refers back to the channel (a closure that
# closes it, a request carrying its own reply channel) would never be
# freed.  Cython cannot traverse a C ring, so the type's tp_traverse and
# tp_clear are replaced here.  Consistency: every ring operation runs with
# the GIL held (free-threaded: attached, and a stop-the-world collection
# only pauses threads between operations), so a collection never sees a
# half-done push or pop.


cdef Py_ssize_t _core_offset     # where ChanCore sits inside a Chan object


cdef int _chan_traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    cdef ChanCore* c = <ChanCore*>((<char*>o) + _core_offset)
    cdef int64_t pos, end, idx
    cdef ChanSlot* s
    cdef int r = chan_ret_traverse(c, visit, arg)
    if r or c.slots == NULL:
        return r
    pos = c.head >> POS_SHIFT
    end = c.tail >> POS_SHIFT
    while pos < end:
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        if s.seq + 2 * idx == 2 * pos + 1 and s.value != NULL:
            r = visit(s.value, arg)
            if r:
                return r
        pos += 1
    return 0


cdef int _chan_clear(PyObject* o) noexcept:
    # Garbage: drop the buffered values (popping keeps the ring consistent
    # for anything that still looks at the channel, e.g. a finalizer).
    cdef ChanCore* c = <ChanCore*>((<char*>o) + _core_offset)
    cdef PyObject* v
    chan_ret_clear(c)
    if c.slots == NULL:
        return 0
    while ring_pop(c, &v, True) == R_OK:
        Py_XDECREF(v)
    return 0


cdef _install_gc_hooks():
    global _core_offset
    cdef Chan probe = Chan.__new__(Chan)
    _core_offset = <char*>&probe._c - <char*><PyObject*>probe
    (<PyTypeObject*>Chan).tp_traverse = <traverseproc>_chan_traverse
    (<PyTypeObject*>Chan).tp_clear = <inquiry>_chan_clear


_install_gc_hooks()
