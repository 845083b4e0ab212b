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
    uint64_t gocore_rand_digit(uint64_t* r, uint64_t k) nogil
    object gocore_steal(PyObject* o)

from cpython.mem cimport PyMem_Calloc, PyMem_Malloc, PyMem_Free
from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport PyThread_get_thread_ident
import operator as _operator
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
DEF PARK_RETRY = 2          # main thread: a signal slice ended, the records were
                            # withdrawn and the handlers ran without raising; redo the operation

# A main thread blocked on a channel wakes this often to run signal handlers
# (so Ctrl-C interrupts `for x in ch:`); other threads never get signals.
DEF SIGNAL_SLICE_NS = 50000000

# A wake-up of more thread sleepers than this (close() of a crowded channel)
# unparks this many and lets each pass the wake on (see chan_wake_all).
DEF WAKE_FANOUT = 16


cdef struct ChanSlot:
    int64_t seq             # sequence number minus 2 * the slot's index: zeroed
                            # memory means "every slot free for lap 0"
    PyObject* value         # owned reference while the slot holds an item

cdef struct ChanWaiter

cdef struct ChanSleeper:
    int64_t state           # 0 waiting; 1 claimed (by a waker or by the sleeper's timeout)
    ChanWaiter* fired       # the record that completed; written by the claimer before unpark
    GoRecord* rec           # the sleeping thread's record, or NULL (gorecord.pxi; NULL for a task)
    gocore_parker parker    # a thread's sleeper (task == NULL)
    PyObject* task          # a task's sleeper: its armed TaskWait (see waiter_task.pxi)
    ChanSleeper* relay      # a wide wake-up's next thread sleeper, unparked by this one
                            # once it runs again (chan_wake_all); NULL otherwise

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

cdef class Chan
cdef class RecvChan
cdef class SendChan


cdef struct ChanRet:         # a value given back by a cancelled task (chan_returned.pxi)
    ChanRet* next
    PyObject* value         # owned

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
    int64_t ret_len         # every pop takes the lock (see chan_async_decls.pxi)
    PyObject* close_exc     # owned; set (before TAIL_CLOSED) by Chan._close_with:
                            # what a receive raises once closed and drained
    int64_t gen             # the fork generation the queues belong to (fork.pxi)


# A main thread blocked on a channel slices its sleep to run signal handlers;
# this is that thread (reset in a forked child, see fork.pxi).
cdef unsigned long _main_thread_ident = <unsigned long>_threading.main_thread().ident

# Only a GIL makes a crowd of woken threads expensive: without one (a
# free-threaded build that runs with the GIL off, as decided at import) the
# relay would only add a wake-up latency per step, so everyone is unparked
# at once.
import sys as _sys
cdef Py_ssize_t _wake_fanout = WAKE_FANOUT if getattr(_sys, "_is_gil_enabled", lambda: True)() else (<Py_ssize_t>1) << 62

# Bumped in a forked child (fork.pxi): waiter lists stamped with an older
# generation hold records of the parent's threads and are reset on first use.
cdef int64_t _fork_gen = 0
DEF GEN_RESETTING = -1


# ---- the channel core's internal surface, by file ----
#
# Cython resolves module-level cdef functions over the whole module, so the
# bodies may come in any order; this list is the map a reader needs.
#
# chan_ring.pxi    ring_push, ring_pop (lock-free, `locked` lifts the divert
#                  flags), _ring_has_item, _ring_has_room, _ring_len,
#                  chan_push_fast / chan_pop_fast (ring op, then kick if waiters)
# chan_wait.pxi    waiter records and parking: _queue_append, _queue_unlink,
#                  _claim_first, _complete, chan_wake_all, chan_waiter_init,
#                  chan_sleeper_init, chan_park (signal slices), chan_withdraw,
#                  _may_block, chan_block_forever
# chan_locked.pxi  the slow path under c.lock: _update_flags, chan_settle,
#                  chan_kick, chan_send_locked, chan_recv_locked,
#                  chan_enqueue_locked, chan_close_locked
# chan_ops.pxi     the operations: chan_take, chan_offer / chan_poll (no waiting),
#                  chan_block (lock, queue, park), chan_send, chan_recv_raw,
#                  chan_recv, chan_recv_ok,
#                  chan_next, chan_close, chan_drained (R_CLOSED on receive)
# chan.pxi         Chan, the RecvChan/SendChan views, nilchan, GC slots
# chan_async*.pxi  the awaitable twins (asend, arecv, async for), the given-back
#                  ("returned") values, aselect: mapped in chan_async_decls.pxi
# select_cases.pxi select's cases: SelCase, default, _parse_case, sel_parse
#                  (the shuffle), the junk-case TypeError
# select.pxi       select() over all of the above: sel_poll, the pass 2/3
#                  helpers aselect shares (SelWait), _sel_block, the
#                  METH_FASTCALL entry (gocore_select.h)

