"""How many threads a kernel call uses: `kir.set_num_threads`, else `KIR_NUM_THREADS`, else
the cores this process may run on."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from kir.errors import KirError

_requested: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def set_num_threads(count: int | None) -> None:
    """Use `count` threads per kernel call (None: back to the default)."""
    global _requested
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise KirError(f"the number of threads must be an integer >= 1 or None, got {count!r}")
    _requested = count


def get_num_threads() -> int:
    """The number of threads a kernel call uses."""
    if _requested is not None:
        return _requested
    value = os.environ.get("KIR_NUM_THREADS")
    if value:
        try:
            count = int(value)
        except ValueError:
            raise KirError(f"KIR_NUM_THREADS must be an integer >= 1, got {value!r}") from None
        if count < 1:
            raise KirError(f"KIR_NUM_THREADS must be an integer >= 1, got {value!r}")
        return count
    return _usable_cores()


@cache
def _usable_cores() -> int:
    # Read once: a system call per kernel call would be a good part of a small call's cost.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pool(size: int) -> ThreadPoolExecutor:
    """A pool of `size` worker threads, kept between calls."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=size, thread_name_prefix="kir"), size
        return _pool
