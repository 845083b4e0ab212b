"""Deadlock detection (opt-in): fires for a real deadlock of the main thread
with the dump in DeadlockError's message, and never otherwise.  Every case
runs in a fresh interpreter: the detector looks at every thread of the
process."""
import os
import subprocess
import sys
import textwrap

import pytest

import helpers

SRC = helpers.GOCORE_PATH


def run(*parts, env_on=False, timeout=60):
    code = "import gocore, threading, time\n"
    if not env_on:
        code += "gocore.set_deadlock_detection(True)\n"
    code += "".join(textwrap.dedent(p) for p in parts)
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC
    env.pop("GOCORE_DEADLOCK_DETECT", None)
    if env_on:
        env["GOCORE_DEADLOCK_DETECT"] = "1"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


EXPECT_DEADLOCK = """
    try:
        {call}
    except gocore.DeadlockError as e:
        print("DEADLOCK")
        print(e)
    else:
        print("returned")
"""


def deadlocks(setup, call, **kw):
    out = run(setup, EXPECT_DEADLOCK.format(call=call), **kw)
    assert out.startswith("DEADLOCK\nall goroutines are asleep - deadlock!"), out
    return out


@pytest.mark.parametrize("setup, call, state", [
    ("ch = gocore.Chan()\n", "ch.recv()", "chan receive"),
    ("ch = gocore.Chan(1); ch.send(0)\n", "ch.send(1)", "chan send"),
    ("a, b = gocore.Chan(), gocore.Chan()\n", "gocore.select(a.recv, (b.send, 1))", "select"),
    ("", "gocore.nilchan.recv()", "chan receive (nil chan)"),
    ("", "gocore.select()", "select (no cases)"),
    ("ch = gocore.Chan()\n", "list(ch)", "chan receive"),
    ("mu = gocore.Mutex(); mu.lock()\n", "mu.lock()", "Mutex.lock"),
    ("mu = gocore.Mutex(); mu.lock()\n", "mu.acquire()", "Mutex.lock"),
    ("wg = gocore.WaitGroup(); wg.add(1)\n", "wg.wait()", "WaitGroup.wait"),
    ("sem = gocore.Semaphore(1); sem.acquire()\n", "sem.acquire()", "Semaphore.acquire"),
    ("rw = gocore.RWMutex(); rw.rlock()\n", "rw.lock()", "RWMutex.lock"),
    ("rw = gocore.RWMutex(); rw.lock()\n", "rw.rlock()", "RWMutex.rlock"),
    ("mu = gocore.Mutex(); c = gocore.Cond(mu); mu.lock()\n", "c.wait()", "Cond.wait"),
])
def test_fires_for_the_main_thread_alone(setup, call, state):
    out = deadlocks(setup, call)
    assert f"main thread [{state}]:" in out


def test_fires_with_goroutines_blocked_and_carries_their_dump():
    out = deadlocks("""
        a, b = gocore.Mutex(), gocore.Mutex()
        a.lock()
        got_b = gocore.WaitGroup(); got_b.add(1)
        def takes_b_then_a():
            b.lock(); got_b.done(); a.lock()
        gocore.go(takes_b_then_a)
        got_b.wait()
    """, "b.lock()")
    assert "main thread [Mutex.lock]:" in out
    assert "[Mutex.lock]:\ntakes_b_then_a(...)" in out
    assert "created by <module> at <string>:" in out


def test_fires_for_a_pipeline_whose_producer_forgot_to_close():
    out = deadlocks("""
        jobs, results = gocore.Chan(), gocore.Chan(4)
        def worker():
            for j in jobs:
                results.send(j * 2)
        for _ in range(3):
            gocore.go(worker)
        for j in range(4):
            jobs.send(j)
        for _ in range(4):
            results.recv()
    """, "results.recv()")
    assert out.count("[chan receive]:\nworker(...)") == 3, out


def test_env_variable_switches_it_on():
    deadlocks("wg = gocore.WaitGroup(); wg.add(1)\n", "wg.wait()", env_on=True)


def test_off_by_default():
    out = run("""
        gocore.set_deadlock_detection(False)
        wg = gocore.WaitGroup(); wg.add(1)
        print(wg.wait(timeout=0.3))
    """)
    assert out.strip() == "False"


def test_silent_with_a_plain_thread_in_time_sleep():
    out = run("""
        wg = gocore.WaitGroup(); wg.add(1)
        def later():
            time.sleep(0.5); wg.done()
        threading.Thread(target=later).start()
    """, EXPECT_DEADLOCK.format(call="wg.wait()"))
    assert out.strip() == "returned"


def test_silent_with_a_goroutine_in_time_sleep():
    out = run("""
        wg = gocore.WaitGroup()
        wg.go(time.sleep, 0.5)
    """, EXPECT_DEADLOCK.format(call="wg.wait()"))
    assert out.strip() == "returned"


def test_silent_with_a_thread_blocked_on_a_threading_lock_later_released():
    out = run("""
        lock = threading.Lock(); lock.acquire()
        mu = gocore.Mutex(); mu.lock()
        def waits_on_lock():
            lock.acquire()          # a wait gocore does not know
            mu.unlock()
        threading.Thread(target=waits_on_lock).start()
        gocore.go(lambda: (time.sleep(0.5), lock.release()))
    """, EXPECT_DEADLOCK.format(call="mu.lock()"))
    assert out.strip() == "returned"


def test_silent_with_a_pending_timer():
    out = run("""
        mu = gocore.Mutex(); mu.lock()
        gocore.after_func(0.5, mu.unlock)
    """, EXPECT_DEADLOCK.format(call="mu.lock()"))
    assert out.strip() == "returned"


def test_silent_with_a_context_deadline_pending():
    out = run("""
        ctx, cancel = gocore.with_timeout(gocore.background(), 0.5)
        sem = gocore.Semaphore(1); sem.acquire()
        try:
            sem.acquire(ctx=ctx)
        except gocore.DeadlineExceeded:
            print("deadline")
    """)
    assert out.strip() == "deadline"


def test_silent_with_a_custom_signal_handler_installed():
    out = run("""
        import signal, os
        wg = gocore.WaitGroup(); wg.add(1)
        signal.signal(signal.SIGUSR1, lambda *a: wg.done())
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        time.sleep(0.05)
        # the Timer thread is gone only once it fired; the handler alone keeps it silent
    """, EXPECT_DEADLOCK.format(call="wg.wait()"))
    assert out.strip() == "returned"


def test_silent_while_a_goroutine_will_send():
    out = run("""
        ch = gocore.Chan()
        def later():
            time.sleep(0.3)
            ch.send(7)
        gocore.go(later)
    """, EXPECT_DEADLOCK.format(call="ch.recv()"))
    assert out.strip() == "returned"


def test_no_false_alarm_under_channel_ping_pong():
    # Two goroutines hand a token back and forth over unbuffered channels
    # (each wakes the other, then parks at once) while main waits.
    out = run("""
        ping, pong, result = gocore.Chan(), gocore.Chan(), gocore.Chan()
        def a():
            for i in range(3000):
                ping.send(i)
                pong.recv()
            result.send("done")
        def b():
            for _ in range(3000):
                pong.send(ping.recv())
        gocore.go(a)
        gocore.go(b)
    """, EXPECT_DEADLOCK.format(call="result.recv()"))
    assert out.strip() == "returned"


def test_silent_for_a_wait_with_timeout():
    out = run("""
        mu = gocore.Mutex(); mu.lock()
        print(mu.acquire(timeout=0.3))
    """)
    assert out.strip() == "False"


def test_no_false_alarm_under_hand_offs():
    # The classic race: goroutines wake each other and park right after; the
    # main thread waits for them all the while.  Must never report.
    out = run("""
        n = 2000
        ping, pong = gocore.Mutex(), gocore.Mutex()
        wg = gocore.WaitGroup()
        c = gocore.Cond(gocore.Mutex())
        turn = [0]
        def player(me):
            for _ in range(n):
                with c.l:
                    while turn[0] != me:
                        c.wait()
                    turn[0] = 1 - me
                    c.broadcast()
        wg.go(player, 0)
        wg.go(player, 1)
    """, EXPECT_DEADLOCK.format(call="wg.wait()"))
    assert out.strip() == "returned"
