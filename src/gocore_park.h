/* gocore_park.h: the parking primitive, the only way a gocore thread sleeps.
 *
 * A parker is one word plus whatever the platform needs to sleep on it.  It
 * lives inside a waiter record on the sleeping thread's own stack, so it is
 * created per wait and needs no thread-local cache.  Protocol:
 *
 *   waker:   finish every access to the waiter record, then gocore_unpark()
 *            as the very last touch (the sleeper may return and reuse its
 *            stack as soon as it sees the word set);
 *   sleeper: gocore_park() returns 1 once the word is set (an unpark that
 *            came first is remembered, never lost), 0 when the deadline
 *            passes first.  Spurious OS wake-ups are absorbed here.
 *
 * Waking a stale address is harmless with futex and WaitOnAddress (at worst a
 * spurious wake of the same thread's next parker, which re-checks its word).
 * The condition-variable fallback sets the word under the mutex, so the
 * sleeper cannot observe it before the waker has released that mutex.
 *
 * Time is CLOCK_MONOTONIC nanoseconds, the clock behind time.monotonic().
 * Deadlines are absolute; GOCORE_NO_DEADLINE waits forever.
 */
#ifndef GOCORE_PARK_H
#define GOCORE_PARK_H

#include <stdint.h>
#include "gocore_atomic.h"

#define GOCORE_NO_DEADLINE INT64_MAX

#if defined(_WIN32)
/* ---- Windows: WaitOnAddress (Windows 8+) ---- */
#include <windows.h>
#pragma comment(lib, "synchronization.lib")

static inline int64_t gocore_nanotime(void) {
    static LARGE_INTEGER freq;  /* benign race: every thread writes the same value */
    LARGE_INTEGER now;
    if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)((double)now.QuadPart * 1e9 / (double)freq.QuadPart);
}

typedef struct { volatile LONG word; } gocore_parker;

static inline void gocore_parker_init(gocore_parker *p) { p->word = 0; }
static inline void gocore_parker_destroy(gocore_parker *p) { (void)p; }

static inline int gocore_park(gocore_parker *p, int64_t deadline) {
    LONG zero = 0;
    for (;;) {
        if (InterlockedCompareExchange(&p->word, 0, 1) == 1) return 1;
        DWORD ms = INFINITE;
        if (deadline != GOCORE_NO_DEADLINE) {
            int64_t left = deadline - gocore_nanotime();
            if (left <= 0) return 0;
            ms = (DWORD)((left + 999999) / 1000000);
        }
        WaitOnAddress(&p->word, &zero, sizeof(LONG), ms);
    }
}
static inline void gocore_unpark(gocore_parker *p) {
    InterlockedExchange(&p->word, 1);
    WakeByAddressSingle((PVOID)&p->word);
}

#elif defined(__linux__) && !defined(GOCORE_PARK_CONDVAR)
/* ---- Linux: futex on the word ----
 * (GOCORE_PARK_CONDVAR selects the portable fallback below instead, so the
 * path macOS and the BSDs take can be tested on Linux too.) */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "gocore_spin.h"

static inline int64_t gocore_nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* word: 0 IDLE (nobody told us; the sleeper is about to futex-wait or is
 * waiting), 1 NOTIFIED, 2 SPINNING (the sleeper is watching the word and
 * needs no futex wake).  See gocore_spin.h for when and how long it spins.
 *
 * Memory-ordering argument.  The waker's only access is one seq_cst
 * exchange of the word to NOTIFIED (its release half publishes every write
 * to the waiter record made before it); it then issues FUTEX_WAKE only if
 * the old value was IDLE.  The sleeper leaves SPINNING by a CAS 2 -> 0 before
 * it futex-waits.  Both are read-modify-writes of one word, so the word's
 * modification order puts one first: exchange first, the CAS fails, the
 * sleeper sees NOTIFIED (acquire) and returns without sleeping, and no wake
 * was needed; CAS first, the exchange returns IDLE and wakes, and FUTEX_WAIT
 * re-checks word == 0 inside the kernel, so a wake that lands before the
 * sleeper enters the wait is not lost.  A sleeper that sees NOTIFIED in its
 * spin read it with acquire, pairing with the exchange.  The waker never
 * reads the record after the exchange, so "last touch" still holds (the
 * FUTEX_WAKE on a possibly reused address stays harmless, as before). */
#define GOCORE_PARK_IDLE 0
#define GOCORE_PARK_NOTIFIED 1
#define GOCORE_PARK_SPINNING 2

typedef struct { int32_t word; } gocore_parker;

static inline void gocore_parker_init(gocore_parker *p) { p->word = GOCORE_PARK_IDLE; }
static inline void gocore_parker_destroy(gocore_parker *p) { (void)p; }

/* Spin on the word for the learned budget (bounded by the deadline): 1 when
 * an unpark arrived meanwhile (consumed), 0 with the word back at IDLE. */
static inline int gocore_park_spin(gocore_parker *p, int64_t deadline) {
    int64_t start = gocore_nanotime();
    if (deadline != GOCORE_NO_DEADLINE && start >= deadline)
        return 0;
    if (!gocore_spin_begin(start))
        return 0;
    int32_t expect = GOCORE_PARK_IDLE;
    if (!__atomic_compare_exchange_n(&p->word, &expect, GOCORE_PARK_SPINNING, 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
        gocore_spin_end(1, 0);   /* already NOTIFIED: consume it */
        __atomic_store_n(&p->word, GOCORE_PARK_IDLE, __ATOMIC_RELAXED);
        return 1;
    }
    int64_t until = start + gocore_spin_limit();
    if (deadline < until)
        until = deadline;
    int64_t now = start;
    for (;;) {
        for (int i = 0; i < GOCORE_SPIN_CHECK_EVERY; i++) {
            if (__atomic_load_n(&p->word, __ATOMIC_ACQUIRE) == GOCORE_PARK_NOTIFIED) {
                __atomic_store_n(&p->word, GOCORE_PARK_IDLE, __ATOMIC_RELAXED);
                gocore_spin_end(1, gocore_nanotime() - start);
                return 1;
            }
            gocore_cpu_relax();
        }
        now = gocore_nanotime();
        if (now >= until)
            break;
    }
    expect = GOCORE_PARK_SPINNING;
    if (!__atomic_compare_exchange_n(&p->word, &expect, GOCORE_PARK_IDLE, 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
        /* The unpark landed between our last look and the CAS: count it as
         * answered (the spin did its job), consume it. */
        __atomic_store_n(&p->word, GOCORE_PARK_IDLE, __ATOMIC_RELAXED);
        gocore_spin_end(1, now - start);
        return 1;
    }
    gocore_spin_end(0, now - start);
    return 0;
}

/* Park without spinning first: for sleeps that are rarely answered at once
 * (a periodic monitor's ticks), where a spin would only burn the CPU. */
static inline int gocore_park_nospin(gocore_parker *p, int64_t deadline) {
    for (;;) {
        int32_t one = GOCORE_PARK_NOTIFIED;
        /* consume the notification: 1 -> 0 */
        if (__atomic_compare_exchange_n(&p->word, &one, GOCORE_PARK_IDLE, 0, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return 1;
        struct timespec rel, *prel = NULL;
        if (deadline != GOCORE_NO_DEADLINE) {
            int64_t left = deadline - gocore_nanotime();
            if (left <= 0) return 0;
            rel.tv_sec = (time_t)(left / 1000000000);
            rel.tv_nsec = (long)(left % 1000000000);
            prel = &rel;
        }
        syscall(SYS_futex, &p->word, FUTEX_WAIT_PRIVATE, GOCORE_PARK_IDLE, prel, NULL, 0);
    }
}
static inline int gocore_park(gocore_parker *p, int64_t deadline) {
    return gocore_park_spin(p, deadline) || gocore_park_nospin(p, deadline);
}
static inline void gocore_unpark(gocore_parker *p) {
    /* A spinning sleeper sees the word change; only an IDLE one (asleep or
     * about to be) needs the kernel. */
    if (__atomic_exchange_n(&p->word, GOCORE_PARK_NOTIFIED, __ATOMIC_SEQ_CST) == GOCORE_PARK_IDLE)
        syscall(SYS_futex, &p->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#else
/* ---- other POSIX (macOS, BSDs): mutex + condition variable ---- */
#include <pthread.h>
#include <time.h>

static inline int64_t gocore_nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    int32_t word;          /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} gocore_parker;

static inline void gocore_parker_init(gocore_parker *p) {
    p->word = 0;
    pthread_mutex_init(&p->mu, NULL);
#if defined(__APPLE__)
    pthread_cond_init(&p->cv, NULL);
#else
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &a);
    pthread_condattr_destroy(&a);
#endif
}
static inline void gocore_parker_destroy(gocore_parker *p) {
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

static inline int gocore_park(gocore_parker *p, int64_t deadline) {
    int got;
    pthread_mutex_lock(&p->mu);
    while (!p->word) {
        if (deadline == GOCORE_NO_DEADLINE) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        int64_t left = deadline - gocore_nanotime();
        if (left <= 0) break;
#if defined(__APPLE__)
        struct timespec rel = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        pthread_cond_timedwait_relative_np(&p->cv, &p->mu, &rel);
#else
        struct timespec abs = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
        pthread_cond_timedwait(&p->cv, &p->mu, &abs);
#endif
    }
    got = p->word;
    p->word = 0;
    pthread_mutex_unlock(&p->mu);
    return got;
}
static inline void gocore_unpark(gocore_parker *p) {
    pthread_mutex_lock(&p->mu);
    p->word = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
#endif

#if !defined(__linux__) || defined(GOCORE_PARK_CONDVAR)
#define gocore_park_nospin gocore_park    /* these parkers never spin */
#endif

/* Spinning before parking: 0 off, 1 on where the gate allows, 2 always
 * (tests, so the spinning states are exercised on a loaded box); returns the
 * previous mode.  Platforms whose parker never spins report 0. */
static inline int64_t gocore_park_set_spin(int64_t mode) {
#if defined(__linux__) && !defined(GOCORE_PARK_CONDVAR)
    return gocore_swap(&gocore_spin_enabled, mode < 0 ? 0 : mode > 2 ? 2 : mode);
#else
    (void)mode;
    return 0;
#endif
}

#endif /* GOCORE_PARK_H */
