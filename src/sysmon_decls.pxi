# ---- the spawn policy and the monitor (sysmon.pxi) ----
#
# A burst of short goroutines must not become a thread storm, and a goroutine
# that blocks where the core cannot see it must never starve the queue.  So a
# spawn that finds no free worker (nothing to reserve) does not always start
# a thread:
#
#   fewer than _ncpu workers     start one at once (the pool warms up with no
#                                added latency);
#   otherwise                    queue the goroutine *unserved*: _navail goes
#                                below zero by one (the invariant of
#                                goroutine_decls.pxi becomes: _navail = free
#                                workers - queued goroutines, of either sign),
#                                and the monitor decides.
#
# The monitor (Go's sysmon) is one thread, started on the first unserved
# spawn, asleep whenever _navail >= 0.  While _navail < 0 it looks again at
# the moment the rule below could first hold, and starts threads for the
# queue head when
#
#   fewer than 2 x _ncpu workers:  the head has waited SYSMON_SHORT_NS
#                                  (the queue is not draining fast enough);
#   otherwise:                     the head has waited SYSMON_LONG_NS and no
#                                  worker has taken a goroutine off the queue
#                                  for as long (every worker is blocked:
#                                  sleeping, in I/O, waiting on a lock or on a
#                                  goroutine queued behind it).  The wait is
#                                  stretched by 4 x how late the monitor's own
#                                  wake-ups run: on an overloaded machine (or
#                                  behind a GIL held for a switch interval)
#                                  stalls that long are everybody's lot.
#
# Each start pops the head and hands it to the new thread directly (_navail
# += 1: a goroutine left the queue and no free worker was used).  Starts come
# in batches that double while the stall lasts (1, 2, 4 ... 64), so a
# thousand blocked goroutines are served in a few dozen rounds, and reset to
# one as soon as a worker takes from the queue.
#
# Nothing is lost: an unserved goroutine is queued before the monitor can
# sleep (spawner: _navail -= 1, push, then read _sysmon_state; monitor:
# _sysmon_state = SLEEPING, then re-read _navail; all seq_cst, so one of them
# sees the other), and _navail only returns to >= 0 when a worker becomes
# free (it then looks at the queue, as before) or the monitor takes a
# goroutine off it.

DEF SYSMON_SHORT_NS = 100_000         # 100 us: below 2 x ncpu workers
DEF SYSMON_LONG_NS = 20_000_000       # 20 ms: every worker stuck, above that
DEF SYSMON_MAX_BATCH = 64

DEF SYSMON_OFF = 0                    # _sysmon_state: no monitor thread yet
DEF SYSMON_AWAKE = 1
DEF SYSMON_SLEEPING = 2               # parked until a spawn kicks it

cdef int64_t _sysmon_state = SYSMON_OFF
cdef gocore_parker _sysmon_parker
cdef int64_t _sched_progress = 0      # goroutines taken off the queue by workers
cdef int64_t _nstarted = 0            # worker threads ever started
