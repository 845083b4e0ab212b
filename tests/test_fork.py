"""fork(): the child starts with only the forking thread.  Whatever the
parent's other threads were waiting on, the child must not see them as
waiters (a send must not "succeed" into a dead thread's record), and
everything that works in a fresh process works in the child: go(),
channels, select, timers, context deadlines and every primitive that was
unlocked in the parent."""
import os
import select as _select
import signal
import sys
import threading
import time
import traceback
import warnings

import pytest

import gocore
from helpers import join_all, start_thread, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="needs a fork() that is safe with threads")

HANG = 60


def in_child(check):
    """Run check() in a forked child; fail with its traceback if it raised
    or if it did not finish (no timing is asserted: a hang is a failure)."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        # 3.12+: "This process is multi-threaded, use of fork() may lead to
        # deadlocks in the child" -- which is what this file is testing.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:                                    # the child
        os.close(r)
        try:
            check()
            out = b"ok"
        except BaseException:
            out = traceback.format_exc().encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    try:
        ready, _, _ = _select.select([r], [], [], HANG)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the child hung")
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child died: status {status}\n{out}"
    assert out == "ok", out


def _everything_works():
    # goroutines and channels
    ch = gocore.Chan()
    gocore.go(ch.send, 42)
    assert ch.recv(timeout=10) == 42
    buf = gocore.Chan(4)
    wg = gocore.WaitGroup()
    for i in range(4):
        wg.go(buf.send, i)
    assert wg.wait(10)
    assert sorted(buf.recv(timeout=1) for _ in range(4)) == [0, 1, 2, 3]
    i, v = gocore.select(buf.recv, gocore.after(0.01).recv, timeout=10)
    assert i == 1
    # timers and deadlines
    assert gocore.after(0.01).recv(timeout=10) is not None
    t = gocore.Timer(0.01)
    assert t.c.recv(timeout=10) is not None
    tk = gocore.Ticker(0.005)
    assert tk.c.recv(timeout=10) is not None
    tk.stop()
    ctx, cancel = gocore.with_timeout(gocore.background(), 0.01)
    assert ctx.done().recv_ok(timeout=10) == (None, False)
    assert isinstance(ctx.err(), gocore.DeadlineExceeded)
    fired = gocore.Chan(1)
    gocore.after_func(0.01, lambda: fired.send(1))
    assert fired.recv(timeout=10) == 1
    # sync primitives, contended in the child
    mu = gocore.Mutex()
    counter = [0]

    def bump():
        for _ in range(1000):
            with mu:
                counter[0] += 1
    wg = gocore.WaitGroup()
    for _ in range(4):
        wg.go(bump)
    assert wg.wait(30) and counter[0] == 4000
    g = gocore.ErrGroup()
    for _ in range(4):
        g.go(time.sleep, 0.001)
    g.wait()
    assert gocore.WorkerPool(2).map(abs, [-1, -2, 3]) == [1, 2, 3]


def test_fresh_child_can_do_everything():
    in_child(_everything_works)


def test_child_of_a_busy_parent_can_do_everything():
    # The parent has workers, idle and blocked, a ticker running, and a
    # timer thread; none of it exists in the child.
    gate = gocore.Chan()
    for _ in range(4):
        gocore.go(gate.recv)
    tk = gocore.Ticker(0.001)
    keep = gocore.after(3600)
    try:
        in_child(_everything_works)
    finally:
        tk.stop()
        gate.close()
    del keep


def test_unbuffered_send_in_child_finds_no_dead_receiver():
    ch = gocore.Chan()
    recv_ok = gocore.Chan()
    started = threading.Event()

    def parent_receiver():
        started.set()
        try:
            ch.recv(timeout=30)
        except TimeoutError:
            pass
    t = start_thread(parent_receiver)
    started.wait(10)
    time.sleep(0.05)                # let it park (if not yet, the test is merely weaker)

    def check():
        # Nobody is alive to receive: the send must time out, not "succeed"
        # into the parent receiver's dead record.
        with pytest.raises(TimeoutError):
            ch.send("into the void", timeout=0.2)
        # And the channel works normally afterwards.
        gocore.go(ch.send, "real")
        assert ch.recv(timeout=10) == "real"
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0.05)
    try:
        in_child(check)
    finally:
        ch.send("release", timeout=10)
        join_all([t])


def test_buffered_channel_with_a_parent_sender_queued():
    ch = gocore.Chan(1)
    ch.send("buffered")
    started = threading.Event()

    def parent_sender():
        started.set()
        ch.send("queued in the parent", timeout=30)
    t = start_thread(parent_sender)
    started.wait(10)
    time.sleep(0.05)

    def check():
        assert ch.recv(timeout=1) == "buffered"
        # The parent's queued sender does not exist here: nothing more comes.
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0.2)
        ch.send("child", timeout=1)
        assert ch.recv(timeout=1) == "child"
    try:
        in_child(check)
    finally:
        assert ch.recv(timeout=10) == "buffered"
        assert ch.recv(timeout=10) == "queued in the parent"
        join_all([t])


def test_select_waiters_of_the_parent_are_gone_in_the_child():
    a, b = gocore.Chan(), gocore.Chan()
    started = threading.Event()

    def parent_select():
        started.set()
        gocore.select(a.recv, b.recv, timeout=30)
    t = start_thread(parent_select)
    started.wait(10)
    time.sleep(0.05)

    def check():
        for c in (a, b):
            with pytest.raises(TimeoutError):
                c.send("x", timeout=0.1)
        i, v = gocore.select(a.recv, (b.send, 1), gocore.default)
        assert i == 2
    try:
        in_child(check)
    finally:
        a.send("done", timeout=10)
        join_all([t])


def test_cond_waiters_of_the_parent_are_gone_in_the_child():
    mu = gocore.Mutex()
    cond = gocore.Cond(mu)
    started = threading.Event()
    stop = [False]

    def parent_waiter():
        with mu:
            started.set()
            while not stop[0]:
                cond.wait(30)
    t = start_thread(parent_waiter)
    started.wait(10)
    time.sleep(0.05)

    def check():
        # The parent's waiter is not here: a signal must reach the child's
        # own waiter, not a dead record ahead of it in the list.
        woke = gocore.Chan(1)

        def child_waiter():
            with mu:
                ready.send(None)
                woke.send(cond.wait(10))
        ready = gocore.Chan(1)
        gocore.go(child_waiter)
        ready.recv(timeout=10)
        with mu:
            cond.signal()
        assert woke.recv(timeout=10) is True
    try:
        in_child(check)
    finally:
        with mu:
            stop[0] = True
            cond.broadcast()
        join_all([t])


def test_primitives_unlocked_in_the_parent_work_in_the_child():
    mu, rw, sem, wg = gocore.Mutex(), gocore.RWMutex(), gocore.Semaphore(2), gocore.WaitGroup()
    # Used, and contended, in the parent before the fork.
    def churn():
        for _ in range(2000):
            with mu:
                pass
            rw.rlock()
            rw.runlock()
            sem.acquire()
            sem.release()
    ts = [start_thread(churn) for _ in range(3)]
    join_all(ts)

    def check():
        assert mu.try_lock()
        mu.unlock()
        with rw:
            pass
        assert sem.try_acquire(2)
        sem.release(2)
        wg.add(1)
        gocore.go(wg.done)
        assert wg.wait(10)
    in_child(check)


def test_mutex_at_fork_reinit_unlocks_in_the_child():
    mu = gocore.Mutex()
    mu.lock()

    def check():
        mu._at_fork_reinit()
        assert not mu.locked()
        assert mu.acquire(timeout=1)
        mu.release()
    try:
        in_child(check)
    finally:
        mu.unlock()


def test_timers_fire_in_a_child_forked_while_timers_are_reset():
    timers = [gocore.Timer(3600) for _ in range(3)]
    stop = threading.Event()

    def resetter(t):
        while not stop.is_set():
            t.reset(0)
            t.stop()
    ts = [start_thread(resetter, t) for t in timers]
    try:
        for _ in range(4):
            in_child(lambda: gocore.after(0.01).recv(timeout=5))
    finally:
        stop.set()
        join_all(ts)
