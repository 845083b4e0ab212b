# ---- go() and the scheduler's Python-visible surface (see goroutine_decls.pxi) ----
#
# The bodies behind these live in sched.pxi; this file is what Python calls.

def go(fn, /, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` concurrently on one of gocore's worker
    threads (a goroutine).  An idle worker is reused; a new thread starts only
    when none is idle, so goroutines that block never hold up new ones.  An
    exception escaping `fn` goes to the panic handler (see
    ``set_panic_handler``); the process keeps running.  A coroutine function
    runs as a task on the calling thread's running loop, else under
    ``asyncio.run`` on a worker (go_coro.pxi).

    Example::

        wg = gocore.WaitGroup()
        wg.add(1)
        def work(n):
            print(n * n)
            wg.done()
        gocore.go(work, 7)
        wg.wait()
    """
    if not callable(fn):
        raise not_callable("go()", fn)
    if is_coro_fn(fn):                  # go_coro.pxi: a task, or asyncio.run on a worker
        _coro_go(None, fn, args, kwargs)
        return
    _spawn(fn, args, kwargs, None)


def _go_labeled(label, fn, *args):
    """go() for gocore's Python wrappers (ErrGroup.go, WorkerPool.go): runs
    fn(*args) but names `label` (the user's function) in dumps."""
    _spawn(fn, args, None, label)


def _install_frame_skip(prefixes, keep=()):
    """Called once by gocore.goroutine: the directory prefixes of gocore's
    Python layer (its co_filenames start with one), whose frames go() skips
    to find its caller, and those inside them whose frames it does not skip
    (the shipped benchmark, which calls go() as a user would)."""
    global _skip_files, _keep_files
    _keep_files = tuple(str(p) for p in keep)
    _skip_files = tuple(str(p) for p in prefixes)


def num_goroutine():
    """The number of goroutines started by ``go()`` that have not returned.

    Example::

        before = gocore.num_goroutine()
    """
    return gocore_load_acquire(&_ngoroutines)


def _scheduler_stats():
    """For tests: a snapshot of the scheduler counters (not atomic as a whole)."""
    return {
        "workers": gocore_load_acquire(&_nworkers),
        "available": gocore_load_acquire(&_navail),
        "spinning": gocore_load_acquire(&_nspinning),
        "queued": gocore_load_acquire(&_rq_len),
        "goroutines": gocore_load_acquire(&_ngoroutines),
        "started": gocore_load_acquire(&_nstarted),
    }


def _set_idle_timeout(double seconds):
    """For tests: how long an idle worker waits before retiring; returns the
    previous value.  Applies to waits that start after the call."""
    if not (seconds > 0):
        raise ValueError("idle timeout must be positive")
    cdef int64_t old = gocore_swap(&_idle_timeout_ns, <int64_t>(seconds * 1e9))
    return old / 1e9
