"""A signal handler that raises interrupts every blocking wait of the main
thread in the sync primitives, and the interrupted wait holds nothing."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gocore
import helpers
from gocore import _gocore

from helpers import wait_until

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")


class Interrupted(Exception):
    pass


@pytest.fixture
def interrupt_when_parked():
    """interrupt(state): from another thread, once the main thread is parked
    on `state`, send SIGUSR1, whose handler raises Interrupted."""
    assert threading.current_thread() is threading.main_thread()

    def handler(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, handler)
    threads = []

    def interrupt(state):
        def body():
            end = time.monotonic() + 30
            while _gocore._main_wait_state() != state and time.monotonic() < end:
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGUSR1)
        t = threading.Thread(target=body, daemon=True)
        t.start()
        threads.append(t)

    try:
        yield interrupt
    finally:
        for t in threads:
            t.join(30)
        signal.signal(signal.SIGUSR1, previous)


def test_mutex_lock_and_acquire(interrupt_when_parked):
    mu = gocore.Mutex()
    mu.lock()
    for block in (mu.lock, mu.acquire, lambda: mu.acquire(timeout=60), lambda: mu.__enter__()):
        interrupt_when_parked("Mutex.lock")
        with pytest.raises(Interrupted):
            block()
        assert mu.locked()
    mu.unlock()
    assert mu._debug_state() == (0, 0)
    assert mu.try_lock()
    mu.unlock()


def test_once_do_waiting_for_another_call(interrupt_when_parked):
    once = gocore.Once()
    inside, leave = threading.Event(), threading.Event()

    def slow():
        inside.set()
        leave.wait(30)

    t = threading.Thread(target=once.do, args=(slow,))
    t.start()
    inside.wait(30)
    interrupt_when_parked("Mutex.lock")
    with pytest.raises(Interrupted):
        once.do(lambda: None)
    leave.set()
    t.join(30)
    assert once.done()


def test_rwmutex_lock_behind_a_writer_and_behind_readers(interrupt_when_parked):
    rw = gocore.RWMutex()
    rw.lock()                                   # phase 1: another writer holds it
    interrupt_when_parked("RWMutex.lock")
    with pytest.raises(Interrupted):
        rw.lock()
    rw.unlock()
    assert rw._debug_state() == (0,) * 7

    rw.rlock()                                  # phase 2: a reader is inside
    interrupt_when_parked("RWMutex.lock")
    with pytest.raises(Interrupted):
        rw.lock()
    assert not rw.try_rlock()                   # the announced writer still counts
    rw.runlock()                                # a goroutine finishes that lock and unlocks
    wait_until(lambda: rw._debug_state() == (0,) * 7)
    assert rw.try_lock()
    rw.unlock()


def test_rwmutex_rlock_behind_a_writer(interrupt_when_parked):
    rw = gocore.RWMutex()
    rw.lock()
    interrupt_when_parked("RWMutex.rlock")
    with pytest.raises(Interrupted):
        rw.rlock()
    rw.unlock()                                 # the goroutine standing in gets in and leaves
    wait_until(lambda: rw._debug_state() == (0,) * 7)
    assert rw.try_lock()
    rw.unlock()


def test_cond_wait_relocks_and_leaves_the_queue(interrupt_when_parked):
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    with mu:
        interrupt_when_parked("Cond.wait")
        with pytest.raises(Interrupted):
            c.wait()
        assert mu.locked()                      # held again, as threading.Condition does
        assert c._debug_waiters() == 0
    assert mu._debug_state() == (0, 0)


def test_waitgroup_wait(interrupt_when_parked):
    wg = gocore.WaitGroup()
    wg.add(1)
    interrupt_when_parked("WaitGroup.wait")
    with pytest.raises(Interrupted):
        wg.wait()
    assert wg._debug_state() == (1, 0, 0)
    wg.done()
    assert wg.wait(timeout=0)


def test_semaphore_acquire_keeps_the_weight_exact(interrupt_when_parked):
    sem = gocore.Semaphore(3)
    sem.acquire(2)
    for kwargs in ({}, {"timeout": 60}, {"ctx": gocore.background()}):
        interrupt_when_parked("Semaphore.acquire")
        with pytest.raises(Interrupted):
            sem.acquire(2, **kwargs)
        assert sem._debug_state() == (2, 0)
    sem.release(2)
    assert sem.try_acquire(3)
    sem.release(3)
    assert sem._debug_state() == (0, 0)


def test_semaphore_grant_racing_the_interrupt_is_given_back():
    # The handler releases the weight the main thread waits for, then
    # raises: the grant lands while the handler runs, and must be returned.
    sem = gocore.Semaphore(1)
    sem.acquire()

    def handler(signum, frame):
        sem.release()
        time.sleep(0.01)
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        t = threading.Thread(target=lambda: (
            wait_until(lambda: _gocore._main_wait_state() == "Semaphore.acquire"),
            os.kill(os.getpid(), signal.SIGUSR1)))
        t.start()
        try:
            sem.acquire()
        except Interrupted:
            assert sem._debug_state() == (0, 0)     # the raced grant was given back
        else:
            sem.release()                           # the grant won before the handler ran
        t.join(30)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert sem.try_acquire()
    sem.release()


def test_errgroup_and_workerpool_slots_survive_an_interrupt(interrupt_when_parked):
    g = gocore.ErrGroup()
    g.set_limit(1)
    gate = gocore.Chan()
    g.go(gate.recv)
    interrupt_when_parked("Semaphore.acquire")
    with pytest.raises(Interrupted):
        g.go(lambda: None)
    gate.close()
    g.wait()
    assert g.try_go(lambda: None)               # the slot was not lost
    g.wait()


def test_ctrl_c_interrupts_a_deadlocked_wait_in_a_subprocess():
    code = textwrap.dedent("""
        import os, signal, threading, time, gocore
        from gocore import _gocore
        wg = gocore.WaitGroup(); wg.add(1)
        def kill():
            while _gocore._main_wait_state() != "WaitGroup.wait":
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=kill, daemon=True).start()
        try:
            wg.wait()
        except KeyboardInterrupt:
            print("interrupted", wg._debug_state())
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = helpers.GOCORE_PATH
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "interrupted (1, 0, 0)"
