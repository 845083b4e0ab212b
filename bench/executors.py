"""Executors: the same WorkerPool on threads, on a process pool, on dask.

The CPU step hashes a 64 KiB block as 64 SHA-256 records of 1 KiB each and
folds the digests in Python: hashlib keeps the GIL for inputs under 2 KiB,
so on a GIL build this step is CPU-bound Python that threads cannot spread
over cores, which is the case processes are for.

Rows (blocks/second, best of ROUNDS):
  threads        WorkerPool(2).map on gocore's threads
  gocore+pool    WorkerPool(2, executor=ProcessPoolExecutor(2)).map
  pool.map       ProcessPoolExecutor(2).map (no group semantics)
  gocore+dask    WorkerPool(2, executor=client).map on a 2-process LocalCluster
  client.map     client.map + client.gather on the same cluster
and the per-task cost of ErrGroup(executor=...).go over executor.submit for a
trivial task.

    python bench/executors.py [blocks] [--no-dask]
"""
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import gocore  # noqa: E402

BLOCK = 64 * 1024
RECORD = 1024
ROUNDS = 7


def make_block(i):
    return i.to_bytes(8, "little") * (BLOCK // 8)


def digest(block):
    acc = 0
    for off in range(0, BLOCK, RECORD):
        d = hashlib.sha256(block[off:off + RECORD]).digest()
        for b in d:
            acc = (acc * 31 + b) & 0xFFFFFFFF
    return acc


def noop(x):
    return x


def interleaved(variants, rounds=ROUNDS):
    """Best time of each variant over `rounds`, the variants taking turns
    inside each round so a burst of load on the machine hits them alike."""
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def process_rows(ex, blocks, want):
    """Seconds for the three CPU-pipeline variants on pool `ex`."""
    pool = gocore.WorkerPool(2, executor=ex)
    assert pool.map(digest, blocks[:4]) == want
    return interleaved({
        "threads": lambda: gocore.WorkerPool(2).map(digest, blocks),
        "pool.map": lambda: list(ex.map(digest, blocks)),
        "gocore+pool": lambda: pool.map(digest, blocks),
    })


def cpu_rows(blocks, rounds=3):
    """CPU seconds per block, this process and the pool's workers apart, for
    plain pool.map and WorkerPool(executor=).map: unlike wall time, this
    does not move with the load other jobs put on the machine.  Each
    variant gets a fresh pool, since a worker's CPU time is only counted
    once it has exited."""
    import resource

    def used():
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime

    out = {}
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


def overhead_rows(ex, k=2000):
    """Per-task seconds of a trivial task: bare submit+wait vs ErrGroup."""
    def bare():
        wait([ex.submit(noop, i) for i in range(k)])

    def group():
        g = gocore.ErrGroup(executor=ex)
        for i in range(k):
            g.go(noop, i)
        g.wait()
    t = interleaved({"submit": bare, "ErrGroup.go": group})
    return {name: v / k for name, v in t.items()}


def dask_rows(client, blocks, want):
    dpool = gocore.WorkerPool(2, executor=client)
    assert dpool.map(digest, blocks[:4]) == want
    return interleaved({
        "client.map": lambda: client.gather(client.map(digest, blocks, pure=False)),
        "gocore+dask": lambda: dpool.map(digest, blocks),
    })


def main():
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
            from distributed import Client, LocalCluster
        except ImportError:
            print("dask.distributed not installed: dask rows skipped")
        else:
            import logging
            logging.getLogger("distributed").setLevel(logging.ERROR)
            with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                    Client(cluster) as client:
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
