"""Compilation of the numba kernels: whether it is needed, and saying so.

The kernels are compiled once per machine and cached on disk (``cache=True``); the first
call after an install takes about 15 s, later processes load them in about a second. The
command line calls :func:`notice` so a new user knows why the first run is slow.
"""

from __future__ import annotations

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

    cache_file = getattr(getattr(_conv_tasks, "_cache", None), "_cache_file", None)
    try:
        # numba's index of compiled signatures; empty if missing or made for other source
        return bool(cache_file._load_index())
    except Exception:  # numba internals changed: assume cached, stay quiet
        return True


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
