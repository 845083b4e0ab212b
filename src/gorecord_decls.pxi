# ---- goroutine records: what each gocore thread is doing (declarations; bodies in gorecord.pxi) ----
#
# Every worker thread owns one GoRecord (on its own C stack, for the thread's
# whole life) that says which goroutine it runs and, while that goroutine
# waits inside gocore, what it waits on.  The main thread has a static record
# and gocore's timer thread a heap one.  A C thread-local pointer finds the
# current thread's record, so the park paths store into it without a lock or
# an allocation; threads without a record (plain threads) store nothing.
#
# Fields and who writes them:
#   gid, label, code, lasti   the goroutine running here (gid 0: none); written
#                             by the owner under `lock`, read by dumps under it
#   wait, since               the wait in progress (WAIT_* | WAIT_TIMED; 0 when
#                             running) and when it began; owner only, racy reads
#   gen                       odd while the owner is parked with no wake-up on
#                             the way.  The owner makes it odd once its waiter
#                             record is queued (under the queue's lock); whoever
#                             dequeues that record to wake it makes it even
#                             again before the unpark, and so does the owner
#                             when its park returns (a CAS from the odd value:
#                             exactly one of them bumps it).  gen only grows,
#                             so two equal odd readings mean "parked, untouched,
#                             the whole time in between" (the deadlock
#                             detector's consistent cut, see gocore/deadlock.py).

from cpython.mem cimport PyMem_RawMalloc
cdef extern from "pythread.h":
    unsigned long gocore_thread_ident "PyThread_get_thread_ident"() nogil

cdef extern from *:
    """
    /* initial-exec: one register-relative load instead of a call into the
       dynamic linker per access (the park paths read this on every wait).
       glibc keeps spare static TLS for dlopen()ed modules; elsewhere the
       default model is kept. */
    #if defined(_MSC_VER)
    #define GOCORE_REC_TLS __declspec(thread)
    #elif defined(__GNUC__) && defined(__GLIBC__)
    #define GOCORE_REC_TLS _Thread_local __attribute__((tls_model("initial-exec")))
    #else
    #define GOCORE_REC_TLS _Thread_local
    #endif
    static GOCORE_REC_TLS void *gocore_cur_rec = NULL;
    static inline void *gocore_get_rec(void) { return gocore_cur_rec; }
    static inline void gocore_set_rec(void *r) { gocore_cur_rec = r; }
    """
    void* gocore_get_rec() nogil
    void gocore_set_rec(void* r) nogil

# The per-record lock guards gid/label/code/lasti between the owner and a
# dump.  With the GIL both hold the GIL around every access (and hold no
# other lock meanwhile), so the lock is compiled in only where there is none.
cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define gocore_rec_lock(l) gocore_spin_lock(l)
    #define gocore_rec_unlock(l) gocore_spin_unlock(l)
    #else
    #define gocore_rec_lock(l) ((void)(l))
    #define gocore_rec_unlock(l) ((void)(l))
    #endif
    """
    void rec_lock "gocore_rec_lock"(int64_t* l) nogil
    void rec_unlock "gocore_rec_unlock"(int64_t* l) nogil

cdef extern from "gocore_frame.h":
    int gocore_caller(object skip, object keep, PyObject** code_out, int* lasti_out) except -1
    int gocore_code_line(object code, int lasti)

# What a thread waits on.  The names are Go's, as its goroutine dumps print them.
DEF WAIT_RUNNING = 0
DEF WAIT_RUNNABLE = 1       # queued, not started (synthesised for dumps)
DEF WAIT_IDLE = 2           # a worker waiting for a goroutine to run
DEF WAIT_CHAN_RECV = 3
DEF WAIT_CHAN_SEND = 4
DEF WAIT_SELECT = 5
DEF WAIT_CHAN_RECV_NIL = 6
DEF WAIT_CHAN_SEND_NIL = 7
DEF WAIT_SELECT_NO_CASES = 8
DEF WAIT_MUTEX = 9
DEF WAIT_RW_LOCK = 10
DEF WAIT_RW_RLOCK = 11
DEF WAIT_COND = 12
DEF WAIT_WAITGROUP = 13
DEF WAIT_SEMAPHORE = 14
DEF WAIT_TIMED = 256        # the wait has a deadline: it ends by itself
DEF WAIT_KIND_MASK = 255

_WAIT_NAMES = {
    WAIT_RUNNING: "running",
    WAIT_RUNNABLE: "runnable",
    WAIT_IDLE: "idle",
    WAIT_CHAN_RECV: "chan receive",
    WAIT_CHAN_SEND: "chan send",
    WAIT_SELECT: "select",
    WAIT_CHAN_RECV_NIL: "chan receive (nil chan)",
    WAIT_CHAN_SEND_NIL: "chan send (nil chan)",
    WAIT_SELECT_NO_CASES: "select (no cases)",
    WAIT_MUTEX: "Mutex.lock",
    WAIT_RW_LOCK: "RWMutex.lock",
    WAIT_RW_RLOCK: "RWMutex.rlock",
    WAIT_COND: "Cond.wait",
    WAIT_WAITGROUP: "WaitGroup.wait",
    WAIT_SEMAPHORE: "Semaphore.acquire",
}

# The main thread's waits sleep in slices this long (mainwait.pxi).
DEF MAIN_SLICE_NS = 50000000

DEF REC_WORKER = 0
DEF REC_MAIN = 1
DEF REC_SYSTEM = 2          # gocore's own helper threads (the timer thread)

cdef struct GoRecord:
    int64_t gid
    PyObject* label         # owned: the function a dump names
    PyObject* code          # owned: code object of the go() call site, or NULL
    int64_t lasti           # byte offset of that call in `code`
    int64_t wait
    int64_t since
    int64_t gen
    int64_t lock
    unsigned long ident
    int kind
    int64_t fork_gen        # _reg_fork_gen when linked (a record from before a fork is not linked)
    GoRecord* prev          # registry links, guarded by _reg_lock
    GoRecord* next


cdef int64_t _reg_lock = 0
cdef GoRecord* _reg_head = NULL     # guarded by _reg_lock
cdef int64_t _reg_workers = 0       # worker records registered (for the detector)
cdef int64_t _reg_fork_gen = 0      # bumped in a forked child, which forgets every record
cdef GoRecord _main_rec             # the main thread's (made current lazily)
_main_rec.kind = REC_MAIN


