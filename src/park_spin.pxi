# ---- spinning before parking: the run-time switch (policy in gocore_spin.h) ----


def _set_park_spin(int mode):
    """For tests and benchmarks: 0 parks at once, 1 spins first where the
    gate allows (more than one CPU, no runnable thread waiting for one), 2
    always spins first (so tests exercise the spinning states on a loaded
    box).  Returns the previous mode; always 0 on platforms whose parker
    never spins."""
    return gocore_park_set_spin(mode)
