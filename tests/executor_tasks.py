"""Task functions for the executor tests: module-level, so process pools and
dask workers can import them by name (tests/ is put on their sys.path)."""
import os
import time


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def pid_of(_=None):
    return os.getpid()


class Boom(Exception):
    pass


def fail(msg="boom"):
    raise Boom(msg)


def fail_after(seconds, msg="boom"):
    time.sleep(seconds)
    raise Boom(msg)


def fail_on(x, bad):
    if x == bad:
        raise Boom(f"item {x}")
    return x


def sleep_then(seconds, value=None):
    time.sleep(seconds)
    return value


def touch(path, seconds=0.0):
    """Sleep, then leave a marker file: proof the task ran."""
    time.sleep(seconds)
    with open(path, "w") as f:
        f.write("ran")


def touch_and_count(path, seconds=0.0):
    """Append one line per run: proof of how many ran, and none twice."""
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")


def running_marker(dirname, name, seconds):
    """Record start and end in `dirname`, for in-flight accounting."""
    start = time.monotonic()
    time.sleep(seconds)
    end = time.monotonic()
    with open(os.path.join(dirname, name), "w") as f:
        f.write(f"{start} {end}")


def wait_for_cancel(path, ctx, limit=30.0):
    """Cooperative task: poll ctx.err() until the group is cancelled, then
    write what it saw."""
    deadline = time.monotonic() + limit
    while ctx.err() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    err = ctx.err()
    with open(path, "w") as f:
        f.write(type(err).__name__ if err is not None else "timeout")


def wait_for_cancel_kw(path, *, ctx, limit=30.0):
    wait_for_cancel(path, ctx, limit)


def square_with_ctx(x, ctx):
    return (x * x, ctx.err() is None)


def mapper_emit_twice(item, emit, cancel):
    emit(item)
    emit(-item)


def mapper_cancel_on(item, emit, cancel):
    if item == 3:
        cancel(Boom("mapper cancelled"))
    else:
        emit(item)


def mapper_square(item, emit, cancel):
    emit(item * item)


def mapper_fail_on(item, emit, cancel):
    if item == 7:
        raise Boom("mapper item 7")
    emit(item)


def touch_item(dirname_item):
    dirname, item = dirname_item
    touch_and_count(f"{dirname}/i{item}")
