"""What a benchmark ran on (the table's header), and the --load busy processes."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import sysconfig
from typing import Any, Dict, List, Optional


def gil_enabled() -> Optional[bool]:
    """sys._is_gil_enabled() where it exists (3.13+): a free-threaded build
    can still run with the GIL on (PYTHON_GIL=1, or an extension that asked)."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return bool(is_enabled()) if is_enabled is not None else None


def gil_state() -> str:
    build = "free-threaded build" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL build"
    enabled = gil_enabled()
    if enabled is None:
        return build
    return f"{build}, GIL {'enabled' if enabled else 'disabled'}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):       # Windows has no load average
        return "n/a"


def header(load: int = 0) -> Dict[str, Any]:
    import gocore
    return {
        "interpreter": platform.python_implementation(),
        "version": platform.python_version(),
        "gil": gil_state(),
        "gil_enabled": gil_enabled(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": load_average(),
        "system": platform.system(),
        "gocore": getattr(gocore, "__version__", "?"),
        "busy_processes": load,
    }


def header_line(h: Dict[str, Any]) -> str:
    line = (f"gocore {h['gocore']} on {h['interpreter']} {h['version']} ({h['gil']}), "
            f"{h['cores']} cores, {h['cpu']}, {h['system']}, load average {h['load_average']}")
    if h["busy_processes"]:
        line += f"; under load: {h['busy_processes']} busy processes beside the rows"
    return line


class BusyLoad:
    """One spinning process per core for the duration of a ``with`` block: the
    rows then run against a scheduler with no idle CPU, where a primitive that
    spins instead of parking starves the thread it is waiting for."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: List["subprocess.Popen[bytes]"] = []

    # Each spinner also watches its parent: a benchmark killed by a signal
    # (no __exit__) must not leave processes spinning for ever beside
    # whatever the machine runs next.
    _SPIN = ("import os, sys\n"
             "parent = int(sys.argv[1])\n"
             "while os.getppid() == parent:\n"
             "    for _ in range(1000000): pass\n")

    def __enter__(self) -> "BusyLoad":
        for _ in range(self.count):
            self._procs.append(subprocess.Popen([sys.executable, "-c", self._SPIN, str(os.getpid())]))
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self._procs:
            p.kill()
        for p in self._procs:
            p.wait()
        self._procs.clear()
