# ---- the only calls from the core up into the Python layer ----
#
# The core never imports gocore.* (the package is half-initialised while the
# core loads, and a cycle there is fragile).  Where a core type must reach a
# layer concept, the layer hands in one function at its own import, here and
# nowhere else:
#
#   _panic_dispatch(exc)    the goroutine panic handler (gocore.goroutine owns
#                           set_panic_handler and its default; the core only
#                           knows "an exception escaped a goroutine").  Until
#                           it is installed, a panic prints its traceback.
#   _ctx_on_done(ctx, cb)   Semaphore.acquire(ctx=): run cb() synchronously
#                           once ctx is done, return stop().  Contexts are a
#                           Python-layer type (and users may write their own),
#                           so only gocore.context knows how to watch one.
#   _coro_go(wg, fn, args, kwargs)   go() / WaitGroup.go (wg None for go())
#                           given a coroutine function: gocore.goroutine
#                           runs it as a task or under asyncio.run
#                           (go_coro.pxi decides which calls come here).
#   _deadlock_probe(state)  deadlock detection (gocore.deadlock), None while
#                           off: between two slices of a main-thread wait with
#                           no deadline, the report if no other thread can
#                           ever run again, else None (mainwait.pxi).

cdef object _panic_dispatch = None
cdef object _ctx_on_done = None
cdef object _coro_go = None


def _install_panic_dispatch(fn):
    """Called once by gocore.goroutine: fn(exc) reports a goroutine's panic."""
    global _panic_dispatch
    _panic_dispatch = fn


def _install_ctx_hook(fn):
    """Called once by gocore.context: fn(ctx, cb) runs cb() synchronously
    when ctx is done and returns a stop() that unregisters cb."""
    global _ctx_on_done
    _ctx_on_done = fn


def _install_coro_go(fn):
    """Called once by gocore.goroutine: fn(wg, fn, args, kwargs) starts a
    goroutine made of a coroutine function (counted by wg unless None)."""
    global _coro_go
    _coro_go = fn


cdef object _deadlock_probe = None


def _install_deadlock_probe(probe):
    """Called by gocore.deadlock: `probe`, or None to switch detection off."""
    global _deadlock_probe
    _deadlock_probe = probe


# -- the panic path: how an escaped exception reaches _panic_dispatch --

cdef void _report_panic(BaseException exc) noexcept:
    """Hand an exception that escaped a goroutine to the panic handler; the
    handler failing is reported to stderr, never allowed to kill the worker."""
    try:
        if _panic_dispatch is not None:
            _panic_dispatch(exc)
        else:
            import traceback
            traceback.print_exception(type(exc), exc, exc.__traceback__)
    except BaseException:
        try:
            import sys, traceback
            if sys.stderr is not None:
                sys.stderr.write("gocore: the panic handler raised:\n")
                traceback.print_exc()
        except BaseException:
            pass
