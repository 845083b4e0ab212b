"""Run every benchmark in bench/ and print one compact ratio table.

Each row compares gocore with one baseline measured in the same run; the
ratio is baseline time / gocore time, so > 1.00x means gocore is faster.
Extra arguments are passed to pytest (e.g. `-k mutex`); `--json FILE`
keeps pytest-benchmark's raw results; `--readme` also writes the table into
README.md between its bench-table markers.
"""
import json
import os
import re
import platform
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def gil_state():
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "GIL build"
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "free-threaded, GIL " + ("enabled" if enabled else "disabled")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def table(results):
    groups = {}
    for bench in results["benchmarks"]:
        info = bench.get("extra_info", {})
        if "impl" not in info:
            continue
        groups.setdefault(bench["group"], []).append(
            (info["impl"], info.get("baseline", False), bench["stats"]["median"] / info.get("per", 1))
        )
    rows = []
    for group, entries in groups.items():
        ours = [e for e in entries if not e[1]]
        if not ours:
            continue
        impl, _, t_ours = ours[0]
        for b_impl, is_base, t_base in entries:
            if is_base:
                rows.append((group, fmt_time(t_ours), b_impl, fmt_time(t_base), f"{t_base / t_ours:.2f}x"))
        if not any(e[1] for e in entries):
            rows.append((group, fmt_time(t_ours), "-", "-", "-"))
    head = ("benchmark", "gocore", "vs.", "time", "speed-up")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [f"gocore benchmarks: CPython {platform.python_version()} ({gil_state()}), "
           f"{os.cpu_count()} cores, {cpu_model()}, {platform.system()}; medians per operation",
           line,
           "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
           line]
    for r in rows:
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    out.append(line)
    return "\n".join(out)


def update_readme(text):
    path = os.path.join(os.path.dirname(HERE), "README.md")
    with open(path) as f:
        readme = f.read()
    block = "<!-- bench-table -->\n```\n" + text + "\n```\n<!-- /bench-table -->"
    readme = re.sub(r"<!-- bench-table -->.*?<!-- /bench-table -->", lambda m: block, readme, flags=re.S)
    with open(path, "w") as f:
        f.write(readme)


def main(argv):
    readme = "--readme" in argv
    if readme:
        argv.remove("--readme")
    keep = None
    if "--json" in argv:
        i = argv.index("--json")
        keep = argv[i + 1]
        del argv[i:i + 2]
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider",
               "--benchmark-only", "--benchmark-disable-gc", "--benchmark-warmup=on",
               "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name",
               f"--benchmark-json={path}", *argv]
        code = subprocess.call(cmd, cwd=os.path.dirname(HERE))
        if not os.path.exists(path):
            return code or 1
        with open(path) as f:
            results = json.load(f)
    text = table(results)
    print()
    print(text)
    if readme:
        update_readme(text)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
