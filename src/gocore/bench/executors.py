"""Executors: the same WorkerPool on threads, on a process pool, on dask.

The CPU step hashes a 64 KiB block as 64 SHA-256 records of 1 KiB each and
folds the digests in Python: hashlib keeps the GIL for inputs under 2 KiB,
so on a GIL build this step is CPU-bound Python that threads cannot spread
over cores, which is the case processes are for.

Rows (in ``python -m gocore.bench``; standalone as blocks/second, best of ROUNDS):
  threads        WorkerPool(2).map on gocore's threads
  gocore+pool    WorkerPool(2, executor=ProcessPoolExecutor(2)).map
  pool.map       ProcessPoolExecutor(2).map (no group semantics)
  gocore+dask    WorkerPool(2, executor=client).map on a 2-process LocalCluster
  client.map     client.map + client.gather on the same cluster
and the per-task cost of ErrGroup(executor=...).go over executor.submit for a
trivial task.  The standalone run also reports CPU seconds per block.

    python -m gocore.bench.executors [blocks] [--no-dask]
"""
import atexit
import functools
import hashlib
import importlib
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait
from typing import Any, Callable, Dict, List, Optional, Tuple

import gocore

from .harness import Row, Side
from .pipeline import BLOCK, make_block     # the same 64 KiB blocks as the pipeline rows

RECORD = 1024
ROUNDS = 7


def digest(block: bytes) -> int:
    acc = 0
    for off in range(0, BLOCK, RECORD):
        d = hashlib.sha256(block[off:off + RECORD]).digest()
        for b in d:
            acc = (acc * 31 + b) & 0xFFFFFFFF
    return acc


def noop(x: Any) -> Any:
    return x


def interleaved(variants: Dict[str, Callable[[], Any]], rounds: int = ROUNDS) -> Dict[str, float]:
    """Best time of each variant over `rounds`, the variants taking turns
    inside each round so a burst of load on the machine hits them alike."""
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


# ---- the scenarios, each a callable over a pool (or client) and its blocks ----

def threads_map(blocks: List[bytes]) -> Callable[[], Any]:
    return lambda: gocore.WorkerPool(2).map(digest, blocks)


def pool_map(ex: Any, blocks: List[bytes]) -> Callable[[], Any]:
    return lambda: list(ex.map(digest, blocks))


def gocore_pool_map(ex: Any, blocks: List[bytes]) -> Callable[[], Any]:
    pool = gocore.WorkerPool(2, executor=ex)
    return lambda: pool.map(digest, blocks)


def client_map(client: Any, blocks: List[bytes]) -> Callable[[], Any]:
    return lambda: client.gather(client.map(digest, blocks, pure=False))


def submit_wait(ex: Any, k: int) -> Callable[[], Any]:
    def bare() -> None:
        wait([ex.submit(noop, i) for i in range(k)])
    return bare


def errgroup_go(ex: Any, k: int) -> Callable[[], Any]:
    def group() -> None:
        g = gocore.ErrGroup(executor=ex)
        for i in range(k):
            g.go(noop, i)
        g.wait()
    return group


def process_rows(ex: Any, blocks: List[bytes], want: List[int]) -> Dict[str, float]:
    """Seconds for the three CPU-pipeline variants on pool `ex`."""
    assert gocore_pool_map(ex, blocks[:4])() == want
    return interleaved({
        "threads": threads_map(blocks),
        "pool.map": pool_map(ex, blocks),
        "gocore+pool": gocore_pool_map(ex, blocks),
    })


def cpu_rows(blocks: List[bytes], rounds: int = 3) -> Dict[str, Tuple[float, float]]:
    """CPU seconds per block, this process and the pool's workers apart, for
    plain pool.map and WorkerPool(executor=).map: unlike wall time, this
    does not move with the load other jobs put on the machine.  Each
    variant gets a fresh pool, since a worker's CPU time is only counted
    once it has exited."""
    import resource

    def used() -> Tuple[float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime

    out: Dict[str, Tuple[float, float]] = {}
    for name in ("pool.map", "gocore+pool"):
        me0, kids0 = used()
        with ProcessPoolExecutor(2) as ex:
            for _ in range(rounds):
                if name == "pool.map":
                    list(ex.map(digest, blocks))
                else:
                    gocore.WorkerPool(2, executor=ex).map(digest, blocks)
        me1, kids1 = used()
        n = rounds * len(blocks)
        out[name] = ((me1 - me0) / n, (kids1 - kids0) / n)
    return out


def overhead_rows(ex: Any, k: int = 2000) -> Dict[str, float]:
    """Per-task seconds of a trivial task: bare submit+wait vs ErrGroup."""
    t = interleaved({"submit": submit_wait(ex, k), "ErrGroup.go": errgroup_go(ex, k)})
    return {name: v / k for name, v in t.items()}


def dask_rows(client: Any, blocks: List[bytes], want: List[int]) -> Dict[str, float]:
    assert gocore_pool_map(client, blocks[:4])() == want
    return interleaved({
        "client.map": client_map(client, blocks),
        "gocore+dask": gocore_pool_map(client, blocks),
    })


def local_cluster() -> Tuple[Any, Any]:
    """A 2-process dask LocalCluster and its client, quiet."""
    distributed = importlib.import_module("distributed")   # optional: the type check must not need it
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 512
    blocks = [make_block(i) for i in range(n)]
    want = [digest(b) for b in blocks[:4]]
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(noop, range(4)))        # workers up
        t = process_rows(ex, blocks, want)
        o = overhead_rows(ex)
    c = cpu_rows(blocks) if sys.platform != "win32" else None
    d = None
    if "--no-dask" not in sys.argv:
        try:
            cluster, client = local_cluster()
        except ImportError:
            print("dask.distributed not installed: dask rows skipped")
        else:
            with cluster, client:
                d = dask_rows(client, blocks, want)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {n} blocks of 64 KiB, best of {ROUNDS}")
    print(f"{'variant':52} {'blocks/s':>9}")
    names = {
        "threads": "gocore threads   WorkerPool(2).map",
        "pool.map": "plain            ProcessPoolExecutor(2).map",
        "gocore+pool": "gocore+processes WorkerPool(2, executor=pool).map",
        "client.map": "plain dask       client.map + client.gather",
        "gocore+dask": "gocore+dask      WorkerPool(2, executor=client).map",
    }
    for key, seconds in list(t.items()) + list((d or {}).items()):
        print(f"{names[key]:52} {n / seconds:9.0f}")
    print(f"gocore+processes: {t['threads'] / t['gocore+pool']:.2f}x threads, "
          f"{t['pool.map'] / t['gocore+pool']:.2f}x plain pool.map")
    if d is not None:
        print(f"gocore+dask: {d['client.map'] / d['gocore+dask']:.2f}x plain client.map")
    if c is not None:
        for key in ("pool.map", "gocore+pool"):
            me, kids = c[key]
            print(f"CPU per block, {names[key].split(None, 1)[1]:40} this process {me * 1e6:4.0f} us, "
                  f"workers {kids * 1e6:4.0f} us")
    print(f"per trivial task: executor.submit {o['submit'] * 1e6:.0f} us, "
          f"ErrGroup(executor=).go {o['ErrGroup.go'] * 1e6:.0f} us")


if __name__ == "__main__":
    main()


# ---- the same scenarios as rows of `python -m gocore.bench` ----

N_BLOCKS = 256


@functools.lru_cache(maxsize=None)
def _blocks(n: int) -> List[bytes]:
    return [make_block(i) for i in range(n)]


@functools.lru_cache(maxsize=None)
def warm_pool() -> ProcessPoolExecutor:
    """ProcessPoolExecutor(2) with its workers started, one per process run."""
    ex = ProcessPoolExecutor(2)
    list(ex.map(noop, range(4)))
    atexit.register(ex.shutdown)
    return ex


@functools.lru_cache(maxsize=None)
def warm_client() -> Any:
    cluster, client = local_cluster()

    def close() -> None:
        client.close()
        cluster.close()
    atexit.register(close)
    return client


def checked(scenario: Callable[..., Callable[[], Any]],
            engine: Optional[Callable[[], Any]]) -> Callable[[int], Callable[[], None]]:
    """A side: `scenario` over the engine's pool and n blocks, its result checked."""
    def make(n: int) -> Callable[[], None]:
        blocks = _blocks(n)
        want = [digest(b) for b in blocks]
        fn = scenario(engine(), blocks) if engine is not None else scenario(blocks)

        def run() -> None:
            if list(fn()) != want:
                raise AssertionError("executor row: wrong digests")
        return run
    return make


ROWS: List[Row] = [
    Row("CPU map on 2 processes", "block", N_BLOCKS, [
        Side("gocore WorkerPool(2, executor=pool)", checked(gocore_pool_map, warm_pool)),
        Side("ProcessPoolExecutor(2).map", checked(pool_map, warm_pool)),
        Side("gocore threads WorkerPool(2)", checked(threads_map, None)),
    ], heavy=True, quick_n=16),
    Row("CPU map on dask (2 workers)", "block", N_BLOCKS, [
        Side("gocore WorkerPool(2, executor=client)", checked(gocore_pool_map, warm_client), requires="distributed"),
        Side("client.map + gather", checked(client_map, warm_client), requires="distributed"),
    ], heavy=True, quick_n=16),
    Row("ErrGroup(executor=pool).go per trivial task", "task", 2000, [
        Side("gocore ErrGroup.go", lambda n: errgroup_go(warm_pool(), n)),
        Side("pool.submit + wait", lambda n: submit_wait(warm_pool(), n)),
    ], heavy=True, quick_n=100),
]
