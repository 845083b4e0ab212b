"""`make test-all`: run the suite on every CPython 3.10+ found, one venv each.

Interpreters come from pyenv (`pyenv root`/versions/*) and PATH
(python3.10 ... python3.14t), plus a free-threaded build named in
$GOCORE_FT_PYTHON.  Prints one line per interpreter and exits non-zero if any
failed.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def candidates():
    found = []
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        found += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
    except (OSError, subprocess.CalledProcessError):
        pass
    for minor in range(10, 16):
        for suffix in ("", "t"):
            exe = shutil.which(f"python3.{minor}{suffix}")
            if exe:
                found.append(exe)
    if os.environ.get("GOCORE_FT_PYTHON"):
        found.append(os.environ["GOCORE_FT_PYTHON"])
    return found


def describe(exe):
    code = ("import sys, sysconfig; v = sys.version_info; "
            "print(f'{v.major}.{v.minor}.{v.micro}', 't' if sysconfig.get_config_var('Py_GIL_DISABLED') else '')")
    try:
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out:
        return None
    version = out[0]
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) < (3, 10):
        return None
    return version + (out[1] if len(out) > 1 else "")


def main():
    seen = {}
    for exe in candidates():
        tag = describe(exe)
        if tag and tag not in seen:
            seen[tag] = exe
    if not seen:
        print("no CPython 3.10+ found")
        return 1
    failed = 0
    lines = []
    for tag, exe in sorted(seen.items(), key=lambda kv: [int(p) for p in re.findall(r"\d+", kv[0])]):
        venv = f".venv-{tag}"
        proc = subprocess.run(["make", "test", f"PYTHON={exe}", f"VENV={venv}"], cwd=ROOT,
                              capture_output=True, text=True)
        summary = [ln for ln in proc.stdout.splitlines() if re.search(r"\b(passed|failed|error)", ln)]
        status = "ok  " if proc.returncode == 0 else "FAIL"
        failed += proc.returncode != 0
        line = f"{status} CPython {tag:<8} {summary[-1].strip('= ') if summary else '(no summary)'}"
        lines.append(line)
        print(line, flush=True)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-2000:])
    print(f"{len(lines) - failed} of {len(lines)} interpreters passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
