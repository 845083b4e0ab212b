# ---- the awaitable twins of Chan: declarations and the cancellation argument ----
#
#
# `await ch.arecv()` is one small object (_ChanAwait) that is its own
# iterator.  Its first __next__ tries the operation exactly as the blocking
# call does (the lock-free ring, then the locked path); if that completes,
# it finishes at once with StopIteration(value): no future, no loop round
# trip.  Only otherwise does it create a future, queue its record (a
# ChanWaiter whose sleeper names this object, see waiter_task.pxi) and yield
# the future to the task.  Whoever completes the record moves the value
# exactly as for a thread and wakes the task; the task's next __next__ reads
# the outcome from the record.
#
# Cancellation, and why nothing is lost or duplicated.  Cancelling the task
# (task.cancel(), asyncio.timeout, wait_for) throws CancelledError into this
# object (throw()).  The task then races any completer for its sleeper with
# the same CAS(state, 0 -> 1) a completer uses:
#   - the task wins: no completion happened or ever can (a completer claims
#     before it touches anything), so it withdraws its records and raises:
#     an arecv took nothing, an asend delivered nothing (it drops the
#     reference it had taken for the receiver);
#   - a completer won: it claimed under the channel's lock and finished the
#     record (moved the value, wrote the result) before releasing that lock,
#     so once the task has taken and released the same lock (chan_withdraw
#     does) the outcome is final and visible.  Then
#       * a receive got a value: the value is given back (chan_give_back),
#         to the first queued receiver or, if none, to the channel's
#         "returned" queue, which every receiver drains before the ring and
#         before concluding "closed" -- so it comes out ahead of later
#         values and is never dropped; the task raises CancelledError;
#       * a receive got "closed": it took nothing; it raises;
#       * a send was delivered (the receiver has the value, it cannot be
#         taken back): the send happened, so asend returns normally and the
#         cancellation is requested again for the task's next suspension
#         (rerequest_cancel, which keeps asyncio.timeout's count right);
#       * a send failed on close: nothing was delivered; it raises.
# The awaitable is itself the task's future (waiter_task.pxi): task.cancel()
# calls its cancel(), which decides nothing -- it only makes the task throw
# CancelledError in, and the race above is run there.  The completer still
# resolves the future afterwards; that finds it cancelled and does nothing.  A completer whose wake fails because the loop
# is closed calls abandon(), which applies the same rules (give the value
# back) unless the task has already settled the outcome itself.
# tests/test_async_chan.py::test_cancel_stress_* checks this with exact
# accounting: threads and tasks on two loops, random cancellation.

from libc.stdlib cimport malloc, free
from cpython.tuple cimport PyTuple_GET_SIZE as _tuple_size

# The ready path would spend most of its time allocating and freeing its
# awaitable.  A few are kept instead: one whose only reference is the pool's
# (refcount 1) is unreachable from anywhere else, so it can be handed out
# again.  Only an object that never waited is in the pool (_unpool), and a
# finished one holds no channel or value.  The refcount test needs the GIL:
# a free-threaded build allocates every time.
DEF AWAIT_POOL = 4
cdef PyObject* _chan_await_pool[AWAIT_POOL]

cdef extern from "Python.h":
    Py_ssize_t _refcnt "Py_REFCNT" (PyObject* o)


# ---- by file ----
#
# chan_returned.pxi  values given back by cancelled receivers: chan_ret_pop,
#                    chan_recv_returned, chan_ret_clear, chan_ret_traverse,
#                    chan_give_back
# chan_async.pxi     chan_wake_tasks, task_sleeper_init, _chan_finish, the
#                    _ChanAwait awaitable (asend, arecv, arecv_ok, async for),
#                    chan_op (the pooled constructor)
# chan_aselect.pxi   _SelectAwait and aselect()
