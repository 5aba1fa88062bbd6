"""Writing outputs atomically: into a temporary beside the target, then one rename.

An interrupted or failed run never leaves a half-written image or report behind, and a
reader never sees one. Temporaries are created with ``os.open``/``os.mkdir`` and mode 0o666 /
0o777, so the kernel applies the umask and the outputs get the permissions a plain ``open``
would give (no racy ``os.umask`` round trip). Paths are resolved first, so a symlink to a
directory is written through, not replaced.

An output *directory* is replaced as a whole, so padlab only ever replaces a directory it
made: each one holds a marker file, :data:`MARKER`; an existing directory without it (your
home, the current directory) is refused, unless it is empty.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["MARKER", "atomic_directory", "atomic_file", "atomic_path", "check_output_directory"]

#: The file that marks a directory as padlab's output, which a new run may replace.
MARKER = ".padlab-output"


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"


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
    path = Path(path).resolve()
    while True:
        tmp = _temporary_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The path of an empty temporary file that becomes ``path`` when the block succeeds.

    For writers that need a file name rather than a handle (memory-mapped TIFF, say).

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_bytes(b"done")
    >>> from pathlib import Path
    >>> Path(target).read_bytes()
    b'done'
    """
    path = Path(path).resolve()
    while True:
        tmp = _temporary_name(path)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary directory that replaces ``path`` (and all it held) when the block succeeds.

    ``path`` must not exist, be empty, or be an earlier padlab output (it holds
    :data:`MARKER`); see :func:`check_output_directory`.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "results")
    >>> with atomic_directory(target) as work:
    ...     _ = (work / "a.txt").write_text("a")
    >>> sorted(os.listdir(target))
    ['.padlab-output', 'a.txt']
    """
    path = Path(path).resolve()
    check_output_directory(path)
    while True:
        work = _temporary_name(path)
        try:
            os.mkdir(work, 0o777)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        (work / MARKER).write_text("written by padlab; a new run may replace this directory\n")
        yield work
        if path.exists():
            old = _temporary_name(path)
            os.replace(path, old)
            os.replace(work, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def check_output_directory(path: str | os.PathLike[str]) -> None:
    """Fail early, before any work, if ``path`` cannot become (or be replaced by) an output.

    Examples
    --------
    >>> check_output_directory("/no/where/out")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabFileError: /no/where/out: the directory /no/where does not exist
    >>> import os, tempfile
    >>> mine = tempfile.mkdtemp()
    >>> _ = open(os.path.join(mine, "notes.txt"), "w").close()
    >>> check_output_directory(mine)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabFileError: ...: a directory padlab did not write; ...
    """
    from padlab.errors import PadlabFileError

    shown, path = path, Path(path).resolve()
    if path.exists() and not path.is_dir():
        raise PadlabFileError(f"{shown}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise PadlabFileError(
            f"{shown}: a directory padlab did not write; it would be replaced with all it "
            "holds, so padlab refuses. Name a new directory (or an empty one)"
        )
    if path == path.parent:
        raise PadlabFileError(f"{shown}: cannot replace the root directory")
    parent = path.parent
    if not parent.is_dir():
        raise PadlabFileError(f"{shown}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PadlabFileError(f"{shown}: cannot write in {parent}")
