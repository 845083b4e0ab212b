"""Shared test helpers: race harness (threads behind a barrier, errors re-raised)."""
import threading

import pytest


def run_threads(n, target, *args, timeout=60.0):
    """Run target(i, *args) in n threads started together behind a Barrier.

    Re-raises the first exception a worker raised; fails if a worker is still
    running after `timeout` seconds (a hang fails instead of stalling CI).
    """
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i, *args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            pytest.fail(f"worker still running after {timeout}s: deadlock or lost wake-up")
    if errors:
        raise errors[0]


@pytest.fixture
def race():
    return run_threads


@pytest.fixture(scope="session")
def dask_client():
    """One 2-process dask LocalCluster for the whole session (its start-up is
    the slow part), started only by the tests that ask for it."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed on this interpreter")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
