"""Helpers shared by the benchmark files: see bench/conftest.py."""
import threading


def compare(benchmark, group, impl, baseline=False, per=1):
    """Tag a benchmark as one side of a comparison row."""
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["baseline"] = baseline
    benchmark.extra_info["per"] = per


def run_threads(n, target, *args):
    """Start n threads behind a barrier, join them, re-raise the first error."""
    barrier = threading.Barrier(n)
    errors = []

    def body():
        barrier.wait()
        try:
            target(*args)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
