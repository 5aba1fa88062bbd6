"""Compilation of the numba kernels: whether it is needed, and saying so.

The kernels are compiled once per machine and cached on disk (``cache=True``); the first
call after an install takes about 15 s, later processes load them in about a second. The
command line calls :func:`notice` so a new user knows why the first run is slow.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["cached", "notice"]


def cached() -> bool:
    """True if the direct engine's compiled code is in numba's disk cache.

    Examples
    --------
    >>> isinstance(cached(), bool)
    True
    """
    from padlab.engine.direct import _conv_tasks

    cache = getattr(_conv_tasks, "_cache", None)
    index = getattr(cache, "_index_path", None)
    return index is None or os.path.exists(index)


def notice(stream: TextIO | None = None) -> bool:
    """Print a one-line notice if the kernels are about to be compiled; True if it printed."""
    if cached():
        return False
    print(
        "padlab: compiling its kernels for this machine (first run only, about 15 s)...",
        file=stream or sys.stderr,
        flush=True,
    )
    return True
