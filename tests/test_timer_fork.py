"""After fork, the child's timers keep working, even if a parent thread held
a timer's lock at fork time (threads calling Timer.reset(0) while forking)."""
import os
import subprocess
import sys
import textwrap

import pytest

import gocore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CHILD_CHECKS = textwrap.dedent(
    """
    import os, sys, threading, time, warnings
    warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads (3.12+)
    import gocore

    def child():
        # Every kind of timer must fire in the child.
        assert isinstance(gocore.after(0.01).recv(timeout=5), float)
        t = gocore.Timer(0.01)
        assert isinstance(t.c.recv(timeout=5), float)
        assert t.reset(0.01) is False
        assert isinstance(t.c.recv(timeout=5), float)
        tk = gocore.Ticker(0.005)
        tk.c.recv(timeout=5)
        tk.c.recv(timeout=5)
        tk.stop()
        ran = gocore.Chan(1)
        gocore.after_func(0.01, lambda: ran.send(1))
        assert ran.recv(timeout=5) == 1
        ctx, cancel = gocore.with_timeout(gocore.background(), 0.01)
        ctx.done().recv(timeout=5)
        assert isinstance(ctx.err(), gocore.DeadlineExceeded)
        # The timers the parent's threads were hammering work here too.
        for s in shared:
            s.reset(0)
            s.c.recv(timeout=5)

    shared = [gocore.Timer(0) for _ in range(3)]
    stop = threading.Event()

    def hammer(s):
        while not stop.is_set():
            s.reset(0)
            s.stop()

    threads = [threading.Thread(target=hammer, args=(s,), daemon=True) for s in shared]
    for th in threads:
        th.start()
    failures = 0
    for _ in range(FORKS):
        time.sleep(0.002)
        pid = os.fork()
        if pid == 0:
            try:
                child()
            except BaseException as exc:
                print("child failed:", repr(exc), file=sys.stderr, flush=True)
                os._exit(1)
            os._exit(0)
        # A child whose timers hang never exits: wait with a bound.
        end = time.monotonic() + 15
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > end:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                status = -1
                break
            time.sleep(0.005)
        if status != 0:
            failures += 1
            break                      # one failed child is enough
    stop.set()
    print("failures", failures)
    sys.exit(1 if failures else 0)
    """
)


def test_child_timers_fire_after_fork_while_parent_threads_reset_timers():
    code = CHILD_CHECKS.replace("FORKS", "8")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gocore.__file__)))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failures 0" in proc.stdout
