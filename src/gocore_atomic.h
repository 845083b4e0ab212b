/* gocore_atomic.h: the only place in gocore that chooses a memory order.
 *
 * Every shared state word in the core is an int64_t reached only through these
 * helpers.  Read-modify-write operations are sequentially consistent: the sema
 * table and the channels rely on store->load ordering between two different
 * words (a Dekker-style "I published, now I look for you" handshake), which
 * acquire/release alone does not give.  Plain loads come in two strengths:
 * gocore_load_acquire (acquire) for reading a word whose writer published with a RMW,
 * gocore_load_seq where the load is the second half of such a handshake.
 * Unmarked names (gocore_store, gocore_add, gocore_cas...) are seq_cst: a
 * weaker order is always spelled out in the name.
 */
#ifndef GOCORE_ATOMIC_H
#define GOCORE_ATOMIC_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)
/* ---- MSVC: Interlocked intrinsics are full barriers ---- */
#include <intrin.h>
#include <windows.h>

static __forceinline int64_t gocore_load_acquire(int64_t *p) {
    return InterlockedOr64((volatile LONG64 *)p, 0);
}
#define gocore_load_seq gocore_load_acquire
#define gocore_load_relaxed(p) (*(volatile int64_t *)(p))
static __forceinline void gocore_store(int64_t *p, int64_t v) {
    InterlockedExchange64((volatile LONG64 *)p, v);
}
#define gocore_store_release gocore_store
static __forceinline int64_t gocore_add(int64_t *p, int64_t d) {  /* returns the new value */
    return (int64_t)((uint64_t)InterlockedExchangeAdd64((volatile LONG64 *)p, d) + (uint64_t)d);
}
static __forceinline int64_t gocore_swap(int64_t *p, int64_t v) {
    return InterlockedExchange64((volatile LONG64 *)p, v);
}
static __forceinline int gocore_cas(int64_t *p, int64_t expected, int64_t desired) {
    return InterlockedCompareExchange64((volatile LONG64 *)p, desired, expected) == expected;
}
static __forceinline int64_t gocore_and(int64_t *p, int64_t m) { return InterlockedAnd64((volatile LONG64 *)p, m); }
static __forceinline int64_t gocore_or(int64_t *p, int64_t m) { return InterlockedOr64((volatile LONG64 *)p, m); }
static __forceinline void gocore_cpu_relax(void) { YieldProcessor(); }

#else
/* ---- GCC / Clang: __atomic builtins (two's-complement wrap-around is defined) ---- */
static inline int64_t gocore_load_acquire(int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int64_t gocore_load_seq(int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline int64_t gocore_load_relaxed(int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void gocore_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline void gocore_store_release(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int64_t gocore_add(int64_t *p, int64_t d) { return __atomic_add_fetch(p, d, __ATOMIC_SEQ_CST); }
static inline int64_t gocore_swap(int64_t *p, int64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline int gocore_cas(int64_t *p, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE);
}
static inline int64_t gocore_and(int64_t *p, int64_t m) { return __atomic_fetch_and(p, m, __ATOMIC_SEQ_CST); }
static inline int64_t gocore_or(int64_t *p, int64_t m) { return __atomic_fetch_or(p, m, __ATOMIC_SEQ_CST); }
static inline void gocore_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}
#endif

/* ---- a spin-then-yield lock for critical sections of a few instructions ----
 * Held only by C code that neither blocks nor touches Python, so a holder is
 * always making progress; a waiter yields the CPU after a short spin so that a
 * preempted holder can run on a single core. */
#if defined(_WIN32)
#define gocore_os_yield() SwitchToThread()
#else
#include <sched.h>
#define gocore_os_yield() sched_yield()
#endif

static inline void gocore_spin_lock(int64_t *l) {
    int spins = 0;
    for (;;) {
        if (gocore_load_relaxed(l) == 0 && gocore_cas(l, 0, 1))
            return;
        if (++spins < 64)
            gocore_cpu_relax();
        else
            gocore_os_yield();
    }
}
static inline void gocore_spin_unlock(int64_t *l) { gocore_store_release(l, 0); }

#endif /* GOCORE_ATOMIC_H */
