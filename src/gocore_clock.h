/* gocore_clock.h: the clock the core's timeouts run on, real or a test clock.
 *
 * Normally gocore_now() is gocore_nanotime().  While a test clock is
 * installed (gocore.testing.fake_clock, which sets gocore_fake_now through
 * _gocore._fake_clock_set), every timeout= of the core is converted against
 * the virtual time and its wait ends when the virtual time passes the
 * deadline, which only the test clock moves.  Cost outside a test clock: one
 * relaxed load of gocore_fake_on per deadline computed and per timed park.
 *
 * A timed wait on the virtual clock parks in short real slices and re-checks
 * its virtual deadline after each (no waker has to know about it), and sits
 * in a list while it waits, so the test clock can ask for the earliest such
 * deadline (a pending "timer" for auto-advance) and for how many have come
 * due without noticing yet (advance waits for them).  The list is touched
 * only under a test clock.
 *
 * A wait still parked when the test clock is removed ends as timed out: its
 * deadline was on a clock that no longer exists ("no timer of the block
 * fires later" would otherwise mean it never ends).
 */
#ifndef GOCORE_CLOCK_H
#define GOCORE_CLOCK_H

#include <stdint.h>
#include <Python.h>                   /* PyThread_get_thread_native_id */
#include "gocore_atomic.h"
#include "gocore_park.h"

/* How long a virtual wait sleeps between looks at the virtual time (real ns). */
#define GOCORE_FAKE_SLICE_NS 1000000

static int64_t gocore_fake_on = 0;     /* 1 while a test clock is installed */
static int64_t gocore_fake_now = 0;    /* its time, ns on CLOCK_MONOTONIC's scale */
static int64_t gocore_fake_epoch = 0;  /* bumped at every install and removal */
/* Timed or untimed parks through the helpers below that returned while a
 * test clock was installed: a thread woken counts here as soon as it runs,
 * before it needs the GIL, so the test clock can tell "woken, not yet
 * running Python" from "blocked". */
static int64_t gocore_fake_wakes = 0;

typedef struct gocore_vwait {
    int64_t deadline;                 /* virtual ns */
    int64_t tid;                      /* the waiting thread's native id */
    struct gocore_vwait *prev, *next; /* guarded by gocore_vwait_lock */
} gocore_vwait;

static int64_t gocore_vwait_lock = 0;
static gocore_vwait *gocore_vwait_head = NULL;   /* guarded by gocore_vwait_lock */

/* Now, on the clock timeout= arguments are measured against. */
static inline int64_t gocore_now(void) {
    if (gocore_load_relaxed(&gocore_fake_on))
        return gocore_load_acquire(&gocore_fake_now);
    return gocore_nanotime();
}

/* The test clock's side.  Install publishes the time before the flag, and
 * removal clears the flag first, so nobody reads a time from another epoch
 * as the current one. */
static inline void gocore_fake_install(int64_t now) {
    gocore_store(&gocore_fake_now, now);
    gocore_add(&gocore_fake_epoch, 1);
    gocore_store(&gocore_fake_on, 1);
}
static inline void gocore_fake_remove(void) {
    gocore_store(&gocore_fake_on, 0);
    gocore_add(&gocore_fake_epoch, 1);
}
static inline void gocore_fake_advance(int64_t now) { gocore_store(&gocore_fake_now, now); }

/* Park until woken (1), until `deadline` on gocore_now()'s clock passes (0),
 * or until the real time `slice_end` passes first (-1; GOCORE_NO_DEADLINE:
 * no slice).  The slice is how a main thread wakes to run signal handlers. */
static int gocore_park_virtual(gocore_parker *p, int64_t deadline, int64_t slice_end) {
    gocore_vwait w;
    int r;
    int64_t epoch = gocore_load_acquire(&gocore_fake_epoch);
    w.deadline = deadline;
    w.tid = (int64_t)PyThread_get_thread_native_id();
    w.prev = NULL;
    gocore_spin_lock(&gocore_vwait_lock);
    w.next = gocore_vwait_head;
    if (w.next) w.next->prev = &w;
    gocore_vwait_head = &w;
    gocore_spin_unlock(&gocore_vwait_lock);
    /* Ends as timed out when the virtual time reaches the deadline, or when
     * the test clock it was measured on is gone (the epoch moved on). */
    for (;;) {
        if (gocore_load_acquire(&gocore_fake_epoch) != epoch) { r = 0; break; }
        if (gocore_load_acquire(&gocore_fake_now) >= deadline) { r = 0; break; }
        int64_t until = gocore_nanotime() + GOCORE_FAKE_SLICE_NS;
        if (slice_end <= until) {
            r = gocore_park(p, slice_end) ? 1 : -1;
            break;
        }
        if (gocore_park(p, until)) { r = 1; break; }
    }
    gocore_spin_lock(&gocore_vwait_lock);
    if (w.prev) w.prev->next = w.next; else gocore_vwait_head = w.next;
    if (w.next) w.next->prev = w.prev;
    gocore_spin_unlock(&gocore_vwait_lock);
    return r;
}

static inline void gocore_fake_count_wake(void) {
    if (gocore_load_relaxed(&gocore_fake_on))
        gocore_add(&gocore_fake_wakes, 1);
}

static inline int gocore_park_sliced(gocore_parker *p, int64_t deadline, int64_t slice_end) {
    int r;
    if (deadline != GOCORE_NO_DEADLINE && gocore_load_relaxed(&gocore_fake_on)) {
        r = gocore_park_virtual(p, deadline, slice_end);
    } else {
        int64_t until = deadline < slice_end ? deadline : slice_end;
        r = gocore_park(p, until) ? 1 : (until == deadline ? 0 : -1);
    }
    gocore_fake_count_wake();
    return r;
}

/* gocore_park for a deadline on gocore_now()'s clock. */
static inline int gocore_park_until(gocore_parker *p, int64_t deadline) {
    int r;
    if (deadline == GOCORE_NO_DEADLINE || !gocore_load_relaxed(&gocore_fake_on))
        r = gocore_park(p, deadline);
    else
        r = gocore_park_virtual(p, deadline, GOCORE_NO_DEADLINE) == 1;
    gocore_fake_count_wake();
    return r;
}

/* Where a main thread's signal slice of a wait until `deadline` ends, for
 * code that slices by shortening the deadline it passes down (sema waits):
 * `slice_ns` of real time from now, or the deadline if that comes first.
 * Under a test clock such a wait does not slice: a real instant passed as a
 * deadline would read as a virtual one (and be taken for a pending timer).
 * Channel waits slice with gocore_park_sliced instead, on either clock. */
static inline int64_t gocore_slice_until(int64_t deadline, int64_t slice_ns) {
    if (gocore_load_relaxed(&gocore_fake_on)) return deadline;
    int64_t until = gocore_nanotime() + slice_ns;
    return deadline < until ? deadline : until;
}

/* For the test clock: the earliest virtual deadline waited for (INT64_MAX:
 * none), and how many waits are past their deadline without having left. */
static inline int64_t gocore_fake_next(void) {
    int64_t best = INT64_MAX;
    gocore_spin_lock(&gocore_vwait_lock);
    for (gocore_vwait *w = gocore_vwait_head; w; w = w->next)
        if (w->deadline < best) best = w->deadline;
    gocore_spin_unlock(&gocore_vwait_lock);
    return best;
}

/* Copy the native ids of up to `cap` threads in a virtual wait into `out`;
 * returns how many there are. */
static inline int64_t gocore_fake_waiters(int64_t *out, int64_t cap) {
    int64_t n = 0;
    gocore_spin_lock(&gocore_vwait_lock);
    for (gocore_vwait *w = gocore_vwait_head; w; w = w->next) {
        if (n < cap) out[n] = w->tid;
        n++;
    }
    gocore_spin_unlock(&gocore_vwait_lock);
    return n;
}

static inline int64_t gocore_fake_due(void) {
    int64_t n = 0, now = gocore_load_acquire(&gocore_fake_now);
    gocore_spin_lock(&gocore_vwait_lock);
    for (gocore_vwait *w = gocore_vwait_head; w; w = w->next)
        if (w->deadline <= now) n++;
    gocore_spin_unlock(&gocore_vwait_lock);
    return n;
}

#endif /* GOCORE_CLOCK_H */
