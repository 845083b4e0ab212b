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
ROUNDS = 3


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


def best(fn, *args):
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def per_task(submit_all, n):
    return best(submit_all, n) / n


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 512
    blocks = [make_block(i) for i in range(n)]
    want = [digest(b) for b in blocks[:4]]
    rows = []

    def row(name, seconds, base=None):
        rows.append((name, seconds, base))

    t_threads = best(lambda: gocore.WorkerPool(2).map(digest, blocks))
    row("threads  WorkerPool(2).map", t_threads)
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(noop, range(4)))        # workers up
        pool = gocore.WorkerPool(2, executor=ex)
        assert pool.map(digest, blocks[:4]) == want
        t_plain = best(lambda: list(ex.map(digest, blocks)))
        t_ours = best(lambda: pool.map(digest, blocks))
        row("pool.map  ProcessPoolExecutor(2).map", t_plain)
        row("gocore+pool  WorkerPool(2, executor=pool).map", t_ours)

        def bare(k):
            wait([ex.submit(noop, i) for i in range(k)])

        def group(k):
            g = gocore.ErrGroup(executor=ex)
            g.set_limit(64)
            for i in range(k):
                g.go(noop, i)
            g.wait()
        o_bare, o_group = per_task(bare, 2000), per_task(group, 2000)
    t_dask = t_client = None
    if "--no-dask" not in sys.argv:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("dask.distributed not installed: dask rows skipped")
        else:
            with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.run(lambda: sys.path.insert(0, os.path.join(ROOT, "bench")))
                dpool = gocore.WorkerPool(2, executor=client)
                assert dpool.map(digest, blocks[:4]) == want
                t_client = best(lambda: client.gather(client.map(digest, blocks, pure=False)))
                t_dask = best(lambda: dpool.map(digest, blocks))
    print(f"{sys.version.split()[0]}  {os.cpu_count()} cores  {n} blocks of 64 KiB")
    print(f"{'':48} {'blocks/s':>9}")
    for name, seconds, _ in rows:
        print(f"{name:48} {n / seconds:9.0f}")
    print(f"gocore+pool vs threads: {t_threads / t_ours:.2f}x   vs pool.map: {t_plain / t_ours:.2f}x")
    if t_dask is not None:
        print(f"{'client.map + client.gather':48} {n / t_client:9.0f}")
        print(f"{'gocore+dask  WorkerPool(2, executor=client).map':48} {n / t_dask:9.0f}")
        print(f"gocore+dask vs client.map: {t_client / t_dask:.2f}x")
    print(f"per task, trivial fn: executor.submit {o_bare * 1e6:.0f} us, "
          f"ErrGroup(executor=).go {o_group * 1e6:.0f} us (+{(o_group - o_bare) * 1e6:.0f} us)")


if __name__ == "__main__":
    main()
