"""Benchmark conventions (read by bench/run.py to build the ratio table).

Every benchmark belongs to a comparison ``group`` (one table row per
baseline) and says which side it is:

    def test_mutex_with_gocore(benchmark):
        compare(benchmark, "Mutex with-block", "gocore")
        benchmark(fn)

    def test_mutex_with_lock(benchmark):
        compare(benchmark, "Mutex with-block", "threading.Lock", baseline=True)
        benchmark(fn)

`per` optionally states how many operations one timed call performs, so
the table can show per-operation times.
"""
import sys
import os

sys.path.insert(0, os.path.dirname(__file__))
