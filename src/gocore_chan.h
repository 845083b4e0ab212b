/* gocore_chan.h: the two small C helpers the channel core needs from C.
 *
 *   gocore_fastrand()   a per-thread xorshift64* generator for select's poll
 *                       order (statistical quality is all select needs: a
 *                       uniform choice among ready cases, not secrecy);
 *   gocore_steal()      hands an owned PyObject* to Cython as an `object`
 *                       without touching its reference count (Cython takes
 *                       a function returning `object` as returning a new
 *                       reference): how a value received from a channel
 *                       becomes the caller's without refcount traffic.
 */
#ifndef GOCORE_CHAN_H
#define GOCORE_CHAN_H

#include <Python.h>
#include <stdint.h>
#include "gocore_park.h"

/* ---- per-thread random numbers ---- */
#if defined(_MSC_VER) && !defined(__clang__)
#define GOCORE_THREAD_LOCAL __declspec(thread)
#else
#define GOCORE_THREAD_LOCAL __thread
#endif

static GOCORE_THREAD_LOCAL uint64_t gocore_rand_state;

static inline uint64_t gocore_fastrand(void) {
    uint64_t x = gocore_rand_state;
    if (x == 0) {
        /* Seed from the clock and this thread's stack address: different per
         * thread and per run; `| 1` keeps xorshift away from its fixed point. */
        x = ((uint64_t)gocore_nanotime() * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)(uintptr_t)&x;
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    gocore_rand_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A uniform index in [0, n) (Lemire's multiply-shift; the bias is below 2^-32). */
static inline int64_t gocore_randn(int64_t n) {
    return (int64_t)(((gocore_fastrand() >> 32) * (uint64_t)n) >> 32);
}

/* One digit in [0, k) of a random fraction r / 2^64: the integer part of
 * r * k, whose fractional part is left in *r for the next digit.  select's
 * shuffle takes one digit per case this way -- a multiply where dividing r
 * by k (twice) cost a 64-bit division each, tens of cycles apiece. */
static inline uint64_t gocore_rand_digit(uint64_t *r, uint64_t k) {
#if defined(__SIZEOF_INT128__)
    unsigned __int128 p = (unsigned __int128)*r * k;
    *r = (uint64_t)p;
    return (uint64_t)(p >> 64);
#else
    /* 64 x 64 -> 128 from 32-bit halves (k < 2^32: a case count). */
    uint64_t lo = (*r & 0xFFFFFFFFu) * k;
    uint64_t hi = (*r >> 32) * k + (lo >> 32);
    *r = (hi << 32) | (lo & 0xFFFFFFFFu);
    return hi >> 32;
#endif
}

/* ---- moving an owned reference into Cython ---- */
static inline PyObject *gocore_steal(PyObject *o) { return o; }

#endif /* GOCORE_CHAN_H */
