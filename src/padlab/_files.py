"""Writing outputs atomically: into a temporary beside the target, then one rename.

An interrupted or failed run never leaves a half-written image or report behind, and a
reader never sees one. The temporaries get the permissions a plain ``open`` would give
(``tempfile`` makes them private to the owner).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_directory", "atomic_file", "check_output_directory"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary handle to a temporary file that becomes ``path`` when the block succeeds.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_file(target) as handle:
    ...     _ = handle.write(b"done")
    >>> from pathlib import Path
    >>> Path(target).read_bytes()
    b'done'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary directory that replaces ``path`` (and all it held) when the block succeeds.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "results")
    >>> with atomic_directory(target) as work:
    ...     _ = (work / "a.txt").write_text("a")
    >>> os.listdir(target)
    ['a.txt']
    """
    path = Path(path)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        work.chmod(0o777 & ~_umask())
        yield work
        if path.exists():
            old = path.parent / f".{path.name}.old.{os.getpid()}"
            os.replace(path, old)
            os.replace(work, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def check_output_directory(path: str | os.PathLike[str]) -> None:
    """Fail early, before any work, if ``path`` cannot become an output directory.

    Examples
    --------
    >>> check_output_directory("/no/where/out")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabFileError: /no/where/out: the directory /no/where does not exist
    """
    from padlab.errors import PadlabFileError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PadlabFileError(f"{path}: exists and is not a directory")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise PadlabFileError(f"{path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PadlabFileError(f"{path}: cannot write in {parent}")
