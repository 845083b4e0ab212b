"""Regenerate the README's benchmark blocks from real runs of `python -m gocore.bench`.

    PYTHONPATH=src .venv/bin/python tools/bench_readme.py [--threads 1,2,4,8,16] [--tag ft] [--only table|scaling]

Runs the row table and the scaling sweep (with its plot, docs/scaling.png) on
this interpreter and writes each output between its markers in README.md:
<!-- bench-table --> ... <!-- /bench-table --> and
<!-- bench-scaling --> ... <!-- /bench-scaling -->.  With --tag NAME the
markers are bench-table-NAME and bench-scaling-NAME and the plot
docs/scaling-NAME.png (e.g. a free-threaded interpreter's blocks).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def bench(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "gocore.bench", *args], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True, check=True)
    return proc.stdout.strip()


def replace_block(text: str, marker: str, body: str) -> str:
    block = f"<!-- {marker} -->\n```\n{body}\n```\n<!-- /{marker} -->"
    pattern = re.compile(rf"<!-- {marker} -->.*?<!-- /{marker} -->", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {marker} --> block")
    return pattern.sub(lambda m: block, text)


def main(argv: list) -> int:
    threads = argv[argv.index("--threads") + 1] if "--threads" in argv else "1,2,4,8,16"
    tag = "-" + argv[argv.index("--tag") + 1] if "--tag" in argv else ""
    os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    blocks = {}
    if only in (None, "table"):
        blocks[f"bench-table{tag}"] = bench()
    if only in (None, "scaling"):
        blocks[f"bench-scaling{tag}"] = bench("--scaling", "--threads", threads,
                                              "--plot", os.path.join("docs", f"scaling{tag}.png"))
    with open(README) as f:
        text = f.read()
    for marker, body in blocks.items():
        text = replace_block(text, marker, body)
    with open(README, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
