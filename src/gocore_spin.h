/* gocore_spin.h: when a thread about to park may spin first, and for how long.
 *
 * A hand-off through the kernel (futex wait, then a wake from the partner)
 * costs tens of microseconds on a loaded VM; when the partner is running on
 * another CPU and will unpark us within a few microseconds, watching the word
 * instead wins.  Spinning only burns CPU otherwise, so it is gated (Go's rule:
 * spin only when it can win) and bounded by a budget each thread learns from
 * its own recent waits (glibc's adaptive mutex):
 *
 *   gate    more than one CPU; fewer runnable threads system-wide than CPUs
 *           (the running count of /proc/loadavg, re-read at most every
 *           GOCORE_LOAD_REFRESH_NS by whichever spinner finds it stale); fewer
 *           gocore threads spinning than CPUs minus one, so a spinner never
 *           takes the last CPU from the thread it is waiting for.
 *   budget  per thread, in nanoseconds: a spin that was answered after t ns
 *           moves the budget an eighth of the way to 2t (so it tracks the
 *           typical answer time with head-room); a spin that ran out takes a
 *           quarter off it, and every 8th spin probes the full maximum.
 *           Never below GOCORE_SPIN_MIN_NS (a cheap probe that lets a thread
 *           rediscover short waits), never above GOCORE_SPIN_MAX_NS.
 *
 * The caller spins with the GIL released: spinning with it held would stall
 * the very partner it waits for.  On builds with a GIL the woken thread must
 * still take the GIL, so whether spinning pays there is a measured default
 * (gocore_spin_enabled), switchable at run time for tests and benchmarks.
 * Only the Linux futex parker spins; the other platforms park at once.
 */
#ifndef GOCORE_SPIN_H
#define GOCORE_SPIN_H

#include <stdint.h>
#include "gocore_atomic.h"

#if defined(__linux__)
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#define GOCORE_SPIN_MIN_NS 1000
#define GOCORE_SPIN_INIT_NS 10000
#define GOCORE_SPIN_MAX_NS 50000
#define GOCORE_LOAD_REFRESH_NS 10000000
#define GOCORE_SPIN_PROBE_EVERY 8
#define GOCORE_SPIN_CHECK_EVERY 16     /* cpu_relax rounds between clock reads */

#define GOCORE_SPIN_FORCED 2    /* gocore_spin_enabled: 0 off, 1 gated, 2 ungated (tests) */

/* Default per build, from measurements on a 2-core VM: free-threaded, gated
 * spinning costs nothing measurable and can only catch a partner that runs;
 * with a GIL the caught hand-off still waits for the GIL (a kernel wake
 * behind the GIL's condition variable), so spinning there only burns CPU. */
#if defined(Py_GIL_DISABLED)
static int64_t gocore_spin_enabled = 1;
#else
static int64_t gocore_spin_enabled = 0;
#endif

static int64_t gocore_spin_ncpu = 0;         /* CPUs this process may use; 0 = not yet read */
static int64_t gocore_spin_nspinners = 0;    /* threads inside a spin right now */
static int64_t gocore_load_stamp = INT64_MIN / 2;  /* when gocore_load_running was read */
static int64_t gocore_load_running = 0;      /* runnable threads system-wide at that time */
static __thread int64_t gocore_spin_budget = GOCORE_SPIN_INIT_NS;
static __thread uint32_t gocore_spin_rounds = 0;   /* spins by this thread, for the probe */

static inline int64_t gocore_spin_cpus(void) {
    int64_t n = gocore_load_relaxed(&gocore_spin_ncpu);
    if (n == 0) {
        cpu_set_t set;
        n = 1;
        if (sched_getaffinity(0, sizeof set, &set) == 0)
            n = CPU_COUNT(&set);
        if (n < 1)
            n = 1;
        gocore_store(&gocore_spin_ncpu, n);   /* benign race: every thread writes the same value */
    }
    return n;
}

/* The 4th field of /proc/loadavg is "running/total"; running counts the
 * reading thread.  -1 if it cannot be read (the gate then ignores load). */
static int64_t gocore_read_running(void) {
    char buf[128];
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = 0;
    int fields = 0;
    for (char *c = buf; *c; c++) {
        if (*c == ' ' && ++fields == 3) {
            int64_t r = 0;
            for (c++; *c >= '0' && *c <= '9'; c++)
                r = r * 10 + (*c - '0');
            return r;
        }
    }
    return -1;
}

/* Runnable threads beside us, from a snapshot at most GOCORE_LOAD_REFRESH_NS
 * old.  One refresher at a time: the stamp is claimed by CAS first. */
static inline int64_t gocore_spin_load(int64_t now) {
    int64_t stamp = gocore_load_relaxed(&gocore_load_stamp);
    if (now - stamp > GOCORE_LOAD_REFRESH_NS && gocore_cas(&gocore_load_stamp, stamp, now))
        gocore_store(&gocore_load_running, gocore_read_running());
    return gocore_load_relaxed(&gocore_load_running);
}

/* 1 and counted as a spinner (call gocore_spin_end after), or 0: park now. */
static inline int gocore_spin_begin(int64_t now) {
    int64_t mode = gocore_load_relaxed(&gocore_spin_enabled);
    if (mode == 0)
        return 0;
    if (mode == GOCORE_SPIN_FORCED) {
        /* tests: exercise the spinning state machine whatever the load */
        gocore_add(&gocore_spin_nspinners, 1);
        return 1;
    }
    int64_t ncpu = gocore_spin_cpus();
    if (ncpu < 2)
        return 0;
    /* The running count includes this thread and the partner we wait for:
     * more than ncpu means someone is queued for a CPU already. */
    if (gocore_spin_load(now) > ncpu)
        return 0;
    if (gocore_add(&gocore_spin_nspinners, 1) > ncpu - 1) {
        gocore_add(&gocore_spin_nspinners, -1);
        return 0;
    }
    return 1;
}

static inline void gocore_spin_end(int answered, int64_t spent) {
    int64_t b = gocore_spin_budget;
    gocore_add(&gocore_spin_nspinners, -1);
    if (answered)
        b += (2 * spent - b) / 8;
    else
        b -= b / 4;
    if (b < GOCORE_SPIN_MIN_NS)
        b = GOCORE_SPIN_MIN_NS;
    if (b > GOCORE_SPIN_MAX_NS)
        b = GOCORE_SPIN_MAX_NS;
    gocore_spin_budget = b;
}

/* Every GOCORE_SPIN_PROBE_EVERY-th spin of a thread runs the full
 * GOCORE_SPIN_MAX_NS whatever the budget: a budget that shrank below the
 * partner's answer time could otherwise never learn it back (every short
 * spin would fail and shrink it further).  Costs at most 1/8 of the time of
 * waits too long to be caught. */
static inline int64_t gocore_spin_limit(void) {
    if ((++gocore_spin_rounds % GOCORE_SPIN_PROBE_EVERY) == 0)
        return GOCORE_SPIN_MAX_NS;
    return gocore_spin_budget;
}

/* Whether a spin could win now (the gate of gocore_spin_begin, without
 * counting a spinner): for a caller that picks how long to spin. */
static inline int gocore_spin_may(int64_t now) {
    int64_t mode = gocore_load_relaxed(&gocore_spin_enabled);
    if (mode == GOCORE_SPIN_FORCED)
        return 1;
    if (mode == 0)
        return 0;
    int64_t ncpu = gocore_spin_cpus();
    return ncpu >= 2 && gocore_spin_load(now) <= ncpu;
}

#else
static inline int gocore_spin_may(int64_t now) { (void)now; return 0; }
#endif /* __linux__ */
#endif /* GOCORE_SPIN_H */
