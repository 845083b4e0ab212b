# ---- the semaphore sleep/wake table (Go's runtime/sema.go) ----
#
# Every blocking primitive in gocore sleeps here.  A "sema" is an int64 counter
# word owned by the primitive; sema_acquire waits until it can decrement the
# word, sema_release increments it and wakes one waiter queued on that word's
# address.  Waiters are hashed by address into SEMA_BUCKETS buckets, each with
# a spin lock held for a few instructions and a doubly linked list of waiter
# records.  A record lives on the waiting thread's C stack and carries that
# thread's parker, so sleeping costs no allocation.
#
# Lost wake-up argument: an acquirer increments bucket.nwait and only then
# re-checks the counter; a releaser increments the counter and only then reads
# bucket.nwait.  Both pairs are seq_cst, so at least one side sees the other:
# either the acquirer finds the released unit, or the releaser finds nwait > 0
# and takes the bucket lock, under which the acquirer is already queued.

DEF SEMA_BUCKETS = 251

# race_window(): nothing in a normal build.  A debug build (GOCORE_DEBUG=1,
# `make debug`) pauses for a short pseudo-random while (or yields the CPU) at
# the points marked with it: the gaps between two steps of a protocol where
# another thread's timeout or wake-up can slip in.  Those gaps are a few
# nanoseconds wide in a normal build, so the stress tests would almost never
# land in them; on a debug build the same tests do, often.
cdef extern from *:
    """
    #ifdef GOCORE_DEBUG
    #if defined(_MSC_VER)
    #define GOCORE_TLS __declspec(thread)
    #else
    #define GOCORE_TLS _Thread_local
    #endif
    static GOCORE_TLS uint32_t gocore_race_rng = 0;
    static void gocore_race_window(void) {
        uint32_t x = gocore_race_rng;
        if (x == 0) x = (uint32_t)(uintptr_t)&gocore_race_rng | 1u;
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;     /* xorshift32 */
        gocore_race_rng = x;
        if ((x & 7) == 0) {
            gocore_os_yield();
        } else {
            uint32_t i, n = (x >> 8) % 4096;
            for (i = 0; i < n; i++) gocore_cpu_relax();
        }
    }
    #else
    #define gocore_race_window() ((void)0)
    #endif
    """
    void race_window "gocore_race_window"() nogil


cdef struct SemaWaiter:
    int64_t* addr          # the sema word this record waits on
    SemaWaiter* prev       # links, valid while queued (guarded by bucket.lock)
    SemaWaiter* next
    bint queued            # guarded by bucket.lock; cleared by whoever dequeues
    bint ticket            # set (under bucket.lock) by a hand-off release
    GoRecord* rec          # the sleeping thread's record, or NULL (gorecord_decls.pxi; NULL for a task)
    gocore_parker parker   # a thread's sleeper (task == NULL)
    PyObject* task         # a task's sleeper: its armed TaskWait (sync_async.pxi)


cdef struct SemaBucket:
    int64_t lock
    int64_t nwait          # waiters queued in this bucket (any address)
    SemaWaiter* head
    SemaWaiter* tail
    char _pad[32]          # one bucket per 64-byte line, against false sharing


cdef SemaBucket _sema_table[SEMA_BUCKETS]


# ---- the sema table's surface (sema.pxi) ----
#
# sema_try_acquire(addr)                take a unit if there is one, never blocks
# sema_acquire(addr, lifo, deadline)    wait for a unit (GIL released); False on timeout
# sema_acquire_real(...)                the same with a deadline on the real clock (not a test clock's)
# sema_release(addr, handoff)           add a unit, wake one waiter (handoff: give it the unit)
# sema_reset_after_fork()               forget the parent's sleepers (fork.pxi)

