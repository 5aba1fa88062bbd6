"""numba's disk cache, keyed by every compiled source a kernel is built from.

numba keys a cached function by a hash of the one file that defines it (and its own bytecode),
not by the files of the functions it calls or inlines: its documented limitation ("cache
invalidation fails to recognize changes in functions defined in a different file"). padlab's
engines inline the loops of :mod:`padlab.engine.loops`, so after a change to those loops alone,
or a padlab upgrade that changed only them, the engines would go on running the old loops from
the cache. Every compiled module of padlab therefore ends with ``stamp_kernels(globals())``:
its cached functions are keyed by a hash of all of :data:`SOURCES` at once, and any change to
any of them compiles every kernel again (with :mod:`padlab.ops.warmup`'s notice).

This module imports no numba: it only sets an attribute of the dispatchers it is given.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["SOURCES", "source_stamp", "stamp_kernels"]

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
    """A SHA-256 digest of ``files``, names and contents; None if one cannot be read (a
    frozen or zipped install: numba's own stamp stays).

    Without ``files``: of :data:`SOURCES` in this package, read once per process. The engine
    modules are imported one by one as they are first used; the ones imported later are
    compiled against the loops already imported, so they must carry the same stamp, even if
    the files changed on disk in between (an upgrade under a running process).

    Examples
    --------
    >>> len(source_stamp())
    32
    """
    if files is None:
        return _package_stamp()
    return _digest([Path(f) for f in files])


@functools.cache
def _package_stamp() -> bytes | None:
    root = Path(__file__).resolve().parent
    return _digest([root / f for f in SOURCES])


def _digest(paths: list[Path]) -> bytes | None:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.digest()


def stamp_kernels(namespace: dict[str, object], files: tuple[str, ...] | None = None) -> int:
    """Key the disk cache of every cached numba function in ``namespace`` by
    :func:`source_stamp` of ``files``; returns how many were keyed.

    A cache written under another stamp is ignored (numba compiles again and overwrites it).
    Functions without a disk cache, and any numba whose cache has no such key (its internals
    changed), are left as they are.

    Examples
    --------
    >>> stamp_kernels({"not_a_kernel": len})
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
