"""Executors: WorkerPool(2, executor=...).map on processes and on dask,
against gocore's threads and the engines' own map (rows for `make bench`;
bench/executors.py prints the same comparison standalone)."""
import logging
from concurrent.futures import ProcessPoolExecutor

import pytest
from benchutil import compare
from executors import digest, make_block

import gocore

N = 256
BLOCKS = [make_block(i) for i in range(N)]
WANT = [digest(b) for b in BLOCKS]


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(digest, BLOCKS[:4]))
        yield ex


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def run(benchmark, fn):
    assert benchmark.pedantic(fn, rounds=3, iterations=1) == WANT


def test_processes_gocore(benchmark, pool):
    compare(benchmark, "CPU map on 2 processes", "WorkerPool(executor=)", per=N)
    p = gocore.WorkerPool(2, executor=pool)
    run(benchmark, lambda: p.map(digest, BLOCKS))


def test_processes_plain(benchmark, pool):
    compare(benchmark, "CPU map on 2 processes", "ProcessPoolExecutor.map", baseline=True, per=N)
    run(benchmark, lambda: list(pool.map(digest, BLOCKS)))


def test_processes_vs_threads(benchmark, pool):
    compare(benchmark, "CPU map on 2 processes", "gocore threads", baseline=True, per=N)
    run(benchmark, lambda: gocore.WorkerPool(2).map(digest, BLOCKS))


def test_dask_gocore(benchmark, client):
    compare(benchmark, "CPU map on dask (2 workers)", "WorkerPool(executor=client)", per=N)
    p = gocore.WorkerPool(2, executor=client)
    run(benchmark, lambda: p.map(digest, BLOCKS))


def test_dask_plain(benchmark, client):
    compare(benchmark, "CPU map on dask (2 workers)", "client.map+gather", baseline=True, per=N)
    run(benchmark, lambda: client.gather(client.map(digest, BLOCKS, pure=False)))
