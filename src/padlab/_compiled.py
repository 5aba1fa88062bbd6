"""numba's disk cache, keyed by every compiled source a kernel is built from.

numba keys a cached function by a hash of the one file that defines it (and its own bytecode),
not by the files of the functions it calls or inlines: its documented limitation ("cache
invalidation fails to recognize changes in functions defined in a different file"). padlab's
engines inline the loops of :mod:`padlab.engine.loops`, so after a change to those loops alone,
or a padlab upgrade that changed only them, the engines would go on running the old loops from
the cache. Every compiled module of padlab therefore ends with ``stamp(globals())``: its cached
functions are keyed by a hash of all of :data:`SOURCES` at once, and any change to any of them
compiles every kernel again (with :mod:`padlab.ops.warmup`'s notice).

This module imports no numba: it only sets an attribute of the dispatchers it is given.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["SOURCES", "source_stamp", "stamp"]

#: Every padlab module that defines numba functions, relative to the package directory.
SOURCES = (
    "engine/direct.py",
    "engine/gemm.py",
    "engine/loops.py",
    "engine/separable.py",
    "engine/spin.py",
    "io/pngfilter.py",
)


def source_stamp(files: tuple[str, ...] | None = None) -> bytes | None:
    """A SHA-256 digest of ``files`` (default: :data:`SOURCES` in this package), names and
    contents; None if one cannot be read (a frozen or zipped install: numba's own stamp
    stays). Each compiled module asks for it: it is read once per state of the files (their
    modification times and sizes).

    Examples
    --------
    >>> len(source_stamp())
    32
    """
    root = Path(__file__).resolve().parent
    paths = [root / f for f in SOURCES] if files is None else [Path(f) for f in files]
    try:
        states = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError:
        return None
    return _digest(states)


@functools.lru_cache(maxsize=8)
def _digest(states: tuple[tuple[str, int, int], ...]) -> bytes | None:
    digest = hashlib.sha256()
    try:
        for path, _, _ in states:
            digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    except OSError:
        return None
    return digest.digest()


def stamp(namespace: dict[str, object], files: tuple[str, ...] | None = None) -> int:
    """Key the disk cache of every cached numba function in ``namespace`` by
    :func:`source_stamp` of ``files``; returns how many were keyed.

    A cache written under another stamp is ignored (numba compiles again and overwrites it).
    Functions without a disk cache, and any numba whose cache has no such key (its internals
    changed), are left as they are.

    Examples
    --------
    >>> stamp({"not_a_kernel": len})
    0
    """
    digest = source_stamp(files)
    if digest is None:
        return 0
    keyed = 0
    for value in list(namespace.values()):
        cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = digest
            keyed += 1
    return keyed
