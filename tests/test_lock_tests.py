"""CPython's own definition of a lock (Lib/test/lock_tests.py), run against
gocore.Mutex: the README calls Mutex a drop-in for threading.Lock, and this
is the suite that says what that means.

The stdlib's `test` package is optional (some distributions split it out,
e.g. Debian's python3-test is not always installed): where it is missing
the whole module is skipped with that reason, nothing else is skipped.
"""
import pytest

import gocore

lock_tests = pytest.importorskip(
    "test.lock_tests", reason="this interpreter ships without the stdlib's test package")


class TestMutexAsLock(lock_tests.LockTests):
    # staticmethod: lock_tests calls self.locktype(), and a bare extension
    # type would do as well, but this keeps it an explicit factory.
    locktype = staticmethod(gocore.Mutex)


def test_the_suite_really_ran_against_mutex():
    # Guards against the class above silently testing something else.
    assert TestMutexAsLock.locktype().__class__ is gocore.Mutex
    names = [n for n in dir(TestMutexAsLock) if n.startswith("test_")]
    assert "test_at_fork_reinit" in names and "test_timeout" in names and len(names) >= 17
