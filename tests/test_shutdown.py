"""Exiting with work in flight: a process whose main thread ends while
goroutines are blocked, timers are pending, a Mutex is held or a WorkerPool
is busy exits promptly with status 0 and writes nothing to stderr (Go's
rule: the program ends when main returns)."""
import os
import subprocess
import sys
import textwrap

import pytest

import helpers

SRC = helpers.GOCORE_PATH
# A hang is a failure, not a stall of the suite; no timing is asserted.
HANG = 60


def run(body):
    code = "import gocore, threading, time\n" + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONWARNINGS", None)
    try:
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=HANG)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit: a thread kept it alive or finalization hung")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert p.stderr == b"", p.stderr.decode(errors="replace")
    return p.stdout.decode()


SCENARIOS = {
    "goroutines blocked on channels": """
        ch = gocore.Chan()
        for _ in range(50):
            gocore.go(ch.recv)
            gocore.go(gocore.Chan().send, 1)
        gocore.go(gocore.select, ch.recv, gocore.Chan().recv)
        gocore.go(gocore.nilchan.recv)
        while gocore.num_goroutine() < 102:
            time.sleep(0.001)
    """,
    "timers pending": """
        keep = [gocore.after(3600), gocore.Timer(3600), gocore.Ticker(0.001)]
        gocore.after_func(3600, print)
        ctx, cancel = gocore.with_timeout(gocore.background(), 3600)
        gocore.after(0.0001)
        time.sleep(0.01)
    """,
    "a Mutex held with waiters": """
        mu = gocore.Mutex()
        mu.lock()
        for _ in range(20):
            gocore.go(mu.lock)
        rw = gocore.RWMutex()
        rw.lock()
        gocore.go(rw.rlock)
        while gocore.num_goroutine() < 21:
            time.sleep(0.001)
        time.sleep(0.01)
    """,
    "sync waits": """
        mu = gocore.Mutex()
        cond = gocore.Cond(mu)
        def wait_cond():
            with mu:
                cond.wait()
        wg = gocore.WaitGroup()
        wg.add(1)
        sem = gocore.Semaphore(0)
        ctx, cancel = gocore.with_cancel(gocore.background())
        once = gocore.Once()
        gocore.go(wait_cond)
        gocore.go(wg.wait)
        gocore.go(sem.acquire, 1, ctx=ctx)
        gocore.go(once.do, lambda: threading.Event().wait())
        gocore.go(once.do, lambda: None)   # blocked behind the first (whichever starts first)
        time.sleep(0.05)
    """,
    "a WorkerPool busy": """
        gate = threading.Event()
        p = gocore.WorkerPool(4)
        for _ in range(4):
            p.go(gate.wait)
        gocore.go(p.go, gate.wait)          # blocked waiting for a slot
        g = gocore.ErrGroup()
        g.set_limit(1)
        g.go(gate.wait)
        gocore.go(g.go, print)
        pool = gocore.Pool(object, limit=1)
        pool.get()
        gocore.go(pool.get)
        time.sleep(0.05)
    """,
    "goroutines busy in Python code": """
        def spin():
            x = 0
            while True:
                x += 1
        for _ in range(4):
            gocore.go(spin)
        time.sleep(0.02)
    """,
    "goroutines woken during finalization": """
        import atexit
        ch = gocore.Chan()
        mu = gocore.Mutex()
        mu.lock()
        def loop():
            for _ in ch:
                pass
            with mu:
                pass
        for _ in range(50):
            gocore.go(loop)
        # Wake everybody as the interpreter goes down.
        atexit.register(mu.unlock)
        atexit.register(ch.close)
        time.sleep(0.02)
    """,
    "sys.exit with goroutines blocked": """
        import sys
        ch = gocore.Chan()
        for _ in range(10):
            gocore.go(ch.recv)
        time.sleep(0.01)
        print('main done')
        sys.exit(0)
    """,
    "exit from inside a goroutine-heavy select loop": """
        chans = [gocore.Chan(1) for _ in range(8)]
        def pump(c):
            while True:
                try:
                    c.send(1, timeout=0.001)
                except TimeoutError:
                    pass
        for c in chans:
            gocore.go(pump, c)
        for _ in range(1000):
            gocore.select(*[c.recv for c in chans])
    """,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_exit_is_prompt_and_clean(name):
    body = textwrap.dedent(SCENARIOS[name])
    if "sys.exit" not in body:
        body += "\nprint('main done')\n"
    assert run(body) == "main done\n"


def test_panic_at_exit_is_reported_not_a_crash():
    # A goroutine that raises while the process exits: the panic handler's
    # report may or may not make it out, but the exit status stays 0.
    code = """
        def boom():
            time.sleep(0.01)
            raise ValueError("late")
        gocore.go(boom)
    """
    env = dict(os.environ, PYTHONPATH=SRC)
    p = subprocess.run([sys.executable, "-c", "import gocore, time\n" + textwrap.dedent(code)],
                       env=env, capture_output=True, timeout=HANG)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"Segmentation" not in p.stderr and b"Fatal Python error" not in p.stderr
