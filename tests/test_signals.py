"""Signals in the main thread during every blocking call.

A storm thread sends SIGUSR1 to the main thread every millisecond or so
while the main thread blocks in a channel operation and partner threads
complete it at random moments.  The handler either raises (as Ctrl-C's
KeyboardInterrupt does) or not.  The accounting is exact: every value a
send reported delivered is received exactly once, and no value whose send
raised is received.

How the main thread records results matters.  Python runs a pending
handler between bytecodes, so in ``v = ch.recv()`` a handler exception can
fire after recv returned and before v is stored; that is the language, not
the channel.  The main thread therefore makes its calls from C loops
(``got.extend(iter(ch.recv, None))``, ``done.extend(map(ch.send, ...))``):
a result is stored before any bytecode runs, and an exception that surfaces
between two calls finds the bookkeeping complete.
"""
import functools
import itertools
import os
import random
import signal
import sys
import threading
import time

import pytest

import gocore
from gocore import _gocore
from helpers import busy, join_all, start_thread

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

N = 150


class Interrupt(Exception):
    """What the raising handler raises (KeyboardInterrupt's stand-in, so a
    real Ctrl-C during the test run still stops pytest)."""


@pytest.fixture
def short_slices():
    # The core wakes a main thread blocked on a channel every slice to run
    # handlers; a short slice lets a test see hundreds of slice ends.
    setter = getattr(_gocore, "_set_signal_slice", None)
    if setter is None:
        yield
        return
    old = setter(0.001)
    try:
        yield
    finally:
        setter(old)


class Storm:
    def __init__(self, raising):
        self.raising = raising
        self.ran = 0
        self.stop = threading.Event()

    def handler(self, signum, frame):
        self.ran += 1
        busy(0.0003)            # a handler that takes a while widens the race
        # Raise only into a test's `step` function (the frame running when
        # the handler is called): never into pytest's code or the
        # bookkeeping between steps.
        if self.raising and frame is not None and frame.f_code.co_name == "step":
            raise Interrupt

    def calm(self):
        """Stop the storm and let a signal still pending run its handler,
        so the checks after the run see no stray exception."""
        self.stop.set()
        self.thread.join(10)
        for _ in range(3):
            try:
                time.sleep(0.005)
            except Interrupt:
                pass

    def run(self, main_ident):
        rnd = random.Random()
        while not self.stop.wait(rnd.random() * 0.002):
            signal.pthread_kill(main_ident, signal.SIGUSR1)


@pytest.fixture(params=[True, False], ids=["raising", "quiet"])
def storm(request, short_slices):
    st = Storm(request.param)
    old = signal.signal(signal.SIGUSR1, st.handler)
    st.thread = start_thread(st.run, threading.get_ident())
    try:
        yield st
    finally:
        st.calm()
        signal.signal(signal.SIGUSR1, old)


def pace(rnd):
    time.sleep(rnd.random() * 0.002)


def retry(storm, step, total, swallow=(Interrupt, TimeoutError)):
    """Run step(done) (which extends `done` from C) until len(done) == total,
    with the storm's handler armed."""
    done = []
    deadline = time.monotonic() + 60
    while len(done) < total and time.monotonic() < deadline:
        try:
            step(done)
        except swallow:
            pass
    assert len(done) == total, f"stuck at {len(done)} of {total}"
    return done


def feeder(ch, n, close=True):
    def run():
        rnd = random.Random()
        for i in range(n):
            pace(rnd)
            ch.send(i)
        if close:
            ch.close()
    return start_thread(run)


def drainer(ch, out):
    def run():
        rnd = random.Random()
        for v in ch:
            out.append(v)
            pace(rnd)
    return start_thread(run)


@pytest.mark.parametrize("cap", [0, 1, 4])
@pytest.mark.parametrize("how", ["recv", "recv_ok", "iterate", "recv_view", "recv_timeout"])
def test_receive_in_main_thread(storm, cap, how):
    ch = gocore.Chan(cap)
    t = feeder(ch, N)
    if how == "recv":
        def step(done):
            done.extend(iter(ch.recv, None))
    elif how == "recv_ok":
        def step(done):
            done.extend(iter(ch.recv_ok, (None, False)))
    elif how == "iterate":
        def step(done):
            done.extend(ch)
    elif how == "recv_view":
        view = ch.recv_only()

        def step(done):
            done.extend(view)
    else:
        def step(done):
            done.extend(iter(functools.partial(ch.recv, timeout=0.001), None))
    got = retry(storm, step, N)
    storm.calm()
    join_all([t])
    expected = list(range(N))
    assert got == ([(v, True) for v in expected] if how == "recv_ok" else expected)
    assert ch.recv_ok(timeout=0) == (None, False)
    assert storm.ran > 0


@pytest.mark.parametrize("cap", [0, 1, 4])
@pytest.mark.parametrize("how", ["send", "send_view", "send_timeout"])
def test_send_in_main_thread(storm, cap, how):
    ch = gocore.Chan(cap)
    received = []
    t = drainer(ch, received)
    send = ch.send_only().send if how == "send_view" else ch.send
    if how == "send_timeout":
        send = functools.partial(ch.send, timeout=0.001)

    def step(done):
        done.extend(map(send, range(len(done), N)))

    retry(storm, step, N)
    storm.calm()
    ch.close()
    join_all([t])
    # Nothing reported failed was delivered (no duplicate from the retry),
    # nothing reported sent was lost.
    assert received == list(range(N))
    assert storm.ran > 0


@pytest.mark.parametrize("cap", [0, 2])
def test_select_receive_in_main_thread(storm, cap):
    chans = [gocore.Chan(cap) for _ in range(3)]
    per = N // 3
    feeders = [feeder(c, per, close=False) for c in chans]
    select_all = functools.partial(gocore.select, *[c.recv for c in chans])

    def step(done):
        done.extend(itertools.islice(iter(select_all, None), 3 * per - len(done)))

    got = retry(storm, step, 3 * per)
    storm.calm()
    join_all(feeders)
    for i in range(3):
        assert [v for k, v in got if k == i] == list(range(per))
    # The records select left on the other channels are gone: these sends
    # find no phantom receiver (a stale record would take them, or crash).
    for c in chans:
        for x in range(c.cap):
            c.send(x, timeout=1)
        with pytest.raises(TimeoutError):
            c.send("late", timeout=0.001)


@pytest.mark.parametrize("cap", [0, 2])
def test_select_send_in_main_thread(storm, cap):
    a, b = gocore.Chan(cap), gocore.Chan(cap)
    got_a, got_b = [], []
    drainers = [drainer(a, got_a), drainer(b, got_b)]

    def step(done):
        vals = range(len(done), N)
        done.extend(map(gocore.select, zip(itertools.repeat(a.send), vals), zip(itertools.repeat(b.send), vals)))

    results = retry(storm, step, N)
    storm.calm()
    a.close()
    b.close()
    join_all(drainers)
    assert sorted(got_a + got_b) == list(range(N))
    assert got_a == [i for i, (k, _) in enumerate(results) if k == 0]
    assert got_b == [i for i, (k, _) in enumerate(results) if k == 1]


def test_select_send_and_receive_with_timeout_in_main_thread(storm):
    inbox, outbox = gocore.Chan(), gocore.Chan()
    forwarded = []
    t_in = feeder(inbox, N, close=False)
    t_out = drainer(outbox, forwarded)

    def step(got):                           # (case, value) of every completed select
        nxt = sum(1 for k, _ in got if k == 1)
        cases = [inbox.recv] if nxt == N else [inbox.recv, (outbox.send, nxt)]
        one = functools.partial(gocore.select, *cases, timeout=0.002)
        got.extend(itertools.islice(iter(one, None), 1))

    got = retry(storm, step, 2 * N)
    storm.calm()
    outbox.close()
    join_all([t_in, t_out])
    assert [v for k, v in got if k == 0] == list(range(N))
    assert forwarded == list(range(N))


def test_nilchan_waits_run_handlers(storm):
    before = storm.ran
    for call in (functools.partial(gocore.nilchan.recv, timeout=0.05),
                 functools.partial(gocore.select, gocore.nilchan.recv, timeout=0.05)):
        def step(call=call):
            call()
        try:
            step()
        except (TimeoutError, Interrupt):
            pass
    storm.calm()
    assert storm.ran > before


# ---- waits built on the semaphore table ----
#
# The same rule for every other blocking call: a handler that raises
# interrupts the wait promptly, and the interrupted call holds nothing
# afterwards.  Each case: a holder thread keeps the resource until the main
# thread reports the interrupt (or a generous fallback passes, after which
# the main thread's call would succeed and the test fails).



def _setup_mutex():
    mu = gocore.Mutex()
    mu.lock()
    return mu.lock, mu.unlock, lambda: (mu.try_lock() and (mu.unlock() or True))


def _setup_mutex_acquire():
    mu = gocore.Mutex()
    mu.lock()
    return mu.acquire, mu.unlock, lambda: (mu.acquire(False) and (mu.release() or True))


def _setup_rwmutex_lock():
    rw = gocore.RWMutex()
    rw.rlock()
    return rw.lock, rw.runlock, lambda: (rw.try_lock() and (rw.unlock() or True))


def _setup_rwmutex_rlock():
    rw = gocore.RWMutex()
    rw.lock()
    return rw.rlock, rw.unlock, lambda: (rw.try_lock() and (rw.unlock() or True))


def _setup_waitgroup():
    wg = gocore.WaitGroup()
    wg.add(1)
    return wg.wait, wg.done, lambda: wg.wait(timeout=0) is True


def _setup_semaphore():
    sem = gocore.Semaphore(2)
    assert sem.try_acquire(2)
    return sem.acquire, lambda: sem.release(2), lambda: (sem.try_acquire(2) and (sem.release(2) or True))


def _setup_semaphore_ctx():
    sem = gocore.Semaphore(1)
    assert sem.try_acquire(1)
    ctx, cancel = gocore.with_cancel(gocore.background())
    return (lambda: sem.acquire(1, ctx=ctx)), (lambda: (sem.release(1), cancel())), \
        lambda: (sem.try_acquire(1) and (sem.release(1) or True))


def _setup_cond():
    mu = gocore.Mutex()
    cond = gocore.Cond(mu)

    def wait():
        with mu:
            cond.wait()
    return wait, cond.broadcast, lambda: mu.try_lock() and (mu.unlock() or True)


def _setup_pool():
    pool = gocore.Pool(object, limit=1)
    obj = pool.get()
    return pool.get, lambda: pool.put(obj), lambda: pool.put(pool.get(timeout=1)) is None


def _setup_workerpool():
    p = gocore.WorkerPool(1)
    gate = threading.Event()
    p.go(gate.wait)
    ran = []
    return (lambda: p.go(ran.append, 1)), gate.set, lambda: (p.wait() is None and len(ran) <= 1)


def _setup_errgroup_wait():
    g = gocore.ErrGroup()
    gate = threading.Event()
    g.go(gate.wait)
    return g.wait, gate.set, lambda: g.wait() is None


def _setup_once():
    once = gocore.Once()
    gate = threading.Event()
    started = threading.Event()

    def slow():
        started.set()
        gate.wait()
    start_thread(once.do, slow)
    started.wait(10)
    return (lambda: once.do(lambda: None)), gate.set, lambda: once.do(lambda: None) is None


SEMA_CASES = {
    "Mutex.lock": _setup_mutex,
    "Mutex.acquire": _setup_mutex_acquire,
    "RWMutex.lock": _setup_rwmutex_lock,
    "RWMutex.rlock": _setup_rwmutex_rlock,
    "WaitGroup.wait": _setup_waitgroup,
    "Semaphore.acquire": _setup_semaphore,
    "Semaphore.acquire(ctx)": _setup_semaphore_ctx,
    "Cond.wait": _setup_cond,
    "Pool.get": _setup_pool,
    "WorkerPool.go": _setup_workerpool,
    "ErrGroup.wait": _setup_errgroup_wait,
    "Once.do": _setup_once,
}


@pytest.mark.parametrize("name", list(SEMA_CASES))
def test_raising_handler_interrupts_a_sema_wait(name, short_slices):
    block, release, holds_nothing = SEMA_CASES[name]()
    interrupted = threading.Event()

    def handler(signum, frame):
        raise Interrupt

    fallback = []

    def holder():
        # Keep the resource until the main thread reports the interrupt;
        # the fallback only keeps a failing run from hanging (and fails it:
        # the wait ended because the resource came free, not by the signal).
        if not interrupted.wait(1.5):
            fallback.append(True)
        release()

    old = signal.signal(signal.SIGUSR1, handler)
    main = threading.get_ident()
    t = start_thread(holder)
    # The delay counts from just before block(), not from the kicker's start:
    # on a loaded machine t.start() alone can outlast it.
    armed = threading.Event()
    kicker = start_thread(lambda: [armed.wait(10), time.sleep(0.05),
                                   signal.pthread_kill(main, signal.SIGUSR1)])
    try:
        with pytest.raises(Interrupt):
            armed.set()
            block()
    finally:
        interrupted.set()
        signal.signal(signal.SIGUSR1, old)
        join_all([t, kicker])
    assert not fallback, f"{name}: the handler's exception came only after the wait ended"
    # A wait that cannot back out at once (an RWMutex writer already counted
    # in) hands its place to a goroutine that finishes and releases it: give
    # that goroutine a moment, but it must come free.
    deadline = time.monotonic() + 5.0
    while not holds_nothing():
        assert time.monotonic() < deadline, f"{name}: the interrupted wait kept what it was granted"
        time.sleep(0.005)


def test_quiet_handler_runs_during_channel_wait(short_slices):
    ran = []
    old = signal.signal(signal.SIGUSR1, lambda s, f: ran.append(s))
    ch = gocore.Chan()
    main = threading.get_ident()

    def later():
        signal.pthread_kill(main, signal.SIGUSR1)
        # Deliver only once the handler has run: proves it ran mid-wait.
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.001)
        ch.send("after the handler")
    t = start_thread(later)
    try:
        assert ch.recv(timeout=20) == "after the handler"
    finally:
        signal.signal(signal.SIGUSR1, old)
        join_all([t])
    assert ran == [signal.SIGUSR1]


if os.name != "posix":          # pragma: no cover
    pytest.skip("POSIX only", allow_module_level=True)
