"""pytest-benchmark over the rows of gocore.bench (one scenario, two runners).

    pytest bench/ --benchmark-only                    # per-row statistics
    pytest bench/ -k ping --benchmark-autosave        # then, after a change:
    pytest bench/ -k ping --benchmark-compare         # against the saved run

`python -m gocore.bench` (or `make bench`) is the interleaved table; this is
for per-side statistics and comparisons across commits.
"""
import os
import sys

# The in-place build under src/, as the test suite uses it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
