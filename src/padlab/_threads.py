"""One thread pool for padlab's parallel work.

The compiled kernels release the GIL (numba ``nogil=True``), as do numpy copies and scipy's FFT,
so plain Python threads run them in parallel. This replaces numba's ``parallel=True``, whose
compilation alone took 10 s per kernel, and gives every engine (and :func:`padlab.pad`) one pool
and one notion of "how many threads": the CPUs this process may run on, or ``PADLAB_THREADS``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

__all__ = ["chunk_size", "pool", "run_chunks", "threads"]


@cache
def threads() -> int:
    """Worker threads: ``PADLAB_THREADS`` if set, else the CPUs available to this process.

    Examples
    --------
    >>> threads() >= 1
    True
    """
    env = os.environ.get("PADLAB_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@cache
def pool() -> ThreadPoolExecutor:
    """The shared pool (threads() - 1 workers: the calling thread works too)."""
    return ThreadPoolExecutor(max_workers=max(1, threads() - 1), thread_name_prefix="padlab")


def chunk_size(items: int, work: float) -> int:
    """Items per chunk: one chunk per thread for small jobs, four per thread for large ones
    (better balance), everything in the calling thread below ~50 us of work.

    ``work`` is in multiply-adds (about 20 per nanosecond on two cores).

    Examples
    --------
    >>> chunk_size(100, 1e3)
    100
    """
    if threads() == 1 or work < _SERIAL_WORK:
        return max(1, items)
    per_thread = 4 if work > _BALANCED_WORK else 1
    return max(1, -(-items // (per_thread * threads())))


# below this many multiply-adds, waking a thread costs more than it saves
_SERIAL_WORK = 300_000
# above this, cut finer so that uneven chunks (image borders) balance out
_BALANCED_WORK = 20_000_000


def run_chunks(fn: Callable[[int, int], None], items: int, *, per_chunk: int = 1) -> None:
    """Call ``fn(first, last)`` over ``range(items)`` cut into chunks, on all threads.

    Chunks are handed out dynamically (a thread that finishes early takes the next one), so
    uneven chunks, such as image borders, balance out. Small jobs run in the calling thread.

    Examples
    --------
    >>> seen = []
    >>> run_chunks(lambda a, b: seen.extend(range(a, b)), 10, per_chunk=3)
    >>> sorted(seen)
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    n_threads = threads()
    chunks = [(a, min(items, a + per_chunk)) for a in range(0, items, per_chunk)]
    if n_threads == 1 or len(chunks) <= 1:
        for first, last in chunks:
            fn(first, last)
        return
    counter = itertools.count()

    def worker() -> None:
        while (k := next(counter)) < len(chunks):
            fn(*chunks[k])

    helpers = [pool().submit(worker) for _ in range(min(n_threads, len(chunks)) - 1)]
    worker()
    for future in helpers:
        future.result()
