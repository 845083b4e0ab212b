"""Command line of ``python -m gocore.bench``."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import List, Optional

from . import all_rows
from .environment import BusyLoad, header, header_line
from .harness import progress, run_row
from .report import format_table


def parse(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gocore.bench",
                                description="gocore beside the stdlib and its peers, interleaved round by round.")
    p.add_argument("--rows", metavar="PATTERN", help="only rows whose name matches this regular expression")
    p.add_argument("--rounds", type=int, help="interleaved rounds per row (default 7; 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds: a smoke run, not a measurement")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    p.add_argument("--load", action="store_true", help="run one busy process per core beside the rows")
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    p.add_argument("--scaling", action="store_true", help="run the CPU-bound pipeline at each worker count instead")
    p.add_argument("--threads", default="1,2,4,8,16", help="worker counts for --scaling (default 1,2,4,8,16)")
    p.add_argument("--plot", metavar="FILE.png", help="with --scaling: draw the curves (needs matplotlib)")
    args = p.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        p.error("--rounds must be at least 1")
    try:
        args.counts = sorted({int(x) for x in args.threads.split(",") if x.strip()})
    except ValueError:
        p.error(f"--threads takes comma-separated integers, not {args.threads!r}")
    if not args.counts or args.counts[0] < 1:
        p.error("--threads needs positive worker counts")
    if args.plot and not args.scaling:
        p.error("--plot goes with --scaling")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    rounds = args.rounds or (3 if args.quick else 7)
    rows = all_rows()
    if args.rows:
        pattern = re.compile(args.rows, re.I)
        rows = [r for r in rows if pattern.search(r.name)]
        if not rows and not args.scaling:
            print(f"no row matches {args.rows!r} (see --list)", file=sys.stderr)
            return 2
    if args.list:
        for row in rows:
            print(f"{row.area:8s} {row.name}")
        return 0
    load = (os.cpu_count() or 1) if args.load else 0
    with BusyLoad(load):
        if args.scaling:
            return scaling(args, rounds, load)
        results = []
        for k, row in enumerate(rows, 1):
            progress(k, len(rows), row.name)
            results.append(run_row(row, rounds=rounds, quick=args.quick))
    # The header is taken after the run, so its load average covers it.
    h = header(load)
    if args.json:
        json.dump({"header": h, "rounds": rounds, "quick": args.quick,
                   "rows": [r.to_json() for r in results]}, sys.stdout, indent=1)
        print()
    else:
        print(format_table(results, header_line(h), rounds))
    return 0


def scaling(args: argparse.Namespace, rounds: int, load: int) -> int:
    from .scaling import format_scaling, plot_scaling, run_scaling
    if args.plot:                   # fail before the run, not after it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("--plot needs matplotlib: pip install 'gocore[plot]'", file=sys.stderr)
            return 2
    result = run_scaling(args.counts, rounds, args.quick,
                         lambda k, total, _: print(f"scaling round {k} of {total}", file=sys.stderr, flush=True))
    h = header(load)
    if args.json:
        json.dump({"header": h, "scaling": result}, sys.stdout, indent=1)
        print()
    else:
        print(header_line(h))
        print(format_scaling(result))
    if args.plot:
        plot_scaling(result, args.plot, header_line(h))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0
