"""Writing outputs atomically: into a temporary beside the target, then one rename.

An interrupted or failed run never leaves a half-written image or report behind, and a
reader never sees one. Temporaries are created with ``os.open``/``os.mkdir`` and mode 0o666 /
0o777, so the kernel applies the umask and the outputs get the permissions a plain ``open``
would give (no racy ``os.umask`` round trip). Paths are resolved first, so a symlink to a
file or a directory is written through (the link stays, its target is replaced), not replaced.

Temporaries have short hidden names (``.padlab-<hex>.tmp``, 24 characters), so any output
name the file system allows (255 bytes) can be written. While a temporary exists, SIGTERM is
handled like SIGINT (in the main thread, unless the program installed its own handler): the
temporary is removed and the process ends (status 143 for SIGTERM, ``KeyboardInterrupt`` for
SIGINT); the final renames are never interrupted half-way. Any ``OSError`` while writing (a
full disk, a read-only file system, a name too long) becomes a one-line
:class:`~padlab.errors.PadlabFileError` naming the output and the cause.

An output *directory* is replaced as a whole, so padlab only ever replaces a directory it
made: each one holds a marker file, :data:`MARKER`; an existing directory without it (your
home, the current directory) is refused, unless it is empty. If a file appears in such an
empty directory while padlab works, the directory is left alone and the run fails: padlab
never deletes what it did not write.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from padlab.errors import PadlabFileError

__all__ = [
    "MARKER",
    "TEMPORARY_PREFIX",
    "Terminated",
    "atomic_directory",
    "atomic_file",
    "atomic_path",
    "check_output_directory",
    "resolve_output",
    "same_file",
]

#: The file that marks a directory as padlab's output, which a new run may replace.
MARKER = ".padlab-output"
#: How every temporary's name starts (then 12 hex digits and ``.tmp``).
TEMPORARY_PREFIX = ".padlab-"


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM while padlab writes an output (exit status 143)."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)
        self.announced = False  # said once, by the innermost output being removed


def resolve_output(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with its symlinks followed, or a one-line error (symlink loop).

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.symlink("b", os.path.join(folder, "a")); os.symlink("a", os.path.join(folder, "b"))
    >>> resolve_output(os.path.join(folder, "a"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabFileError: .../a: a symlink loop; cannot write there
    """
    try:
        return Path(path).resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise PadlabFileError(f"{path}: a symlink loop; cannot write there") from None
    except OSError as err:  # Python >= 3.13 raises ELOOP as OSError
        if err.errno == errno.ELOOP:
            raise PadlabFileError(f"{path}: a symlink loop; cannot write there") from None
        raise PadlabFileError(f"{path}: cannot write there ({_cause(err)})") from None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if ``a`` and ``b`` are the same existing file (hard links and symlinks included).

    A path that cannot be looked up (missing, a name too long, a loop) is nobody's file: False,
    and the write that follows reports the cause in one line.

    Examples
    --------
    >>> import tempfile
    >>> name = tempfile.mkstemp()[1]
    >>> same_file(name, name), same_file(name, name + ".missing"), same_file("x" * 300, name)
    (True, False, False)
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _temporary_name(path: Path) -> Path:
    return path.parent / f"{TEMPORARY_PREFIX}{secrets.token_hex(6)}.tmp"


def _cause(err: OSError) -> str:
    cause = err.strerror or str(err) or type(err).__name__
    return cause if err.errno is None else f"{cause}, errno {errno.errorcode.get(err.errno, '?')}"


def _write_error(shown: object, err: OSError) -> PadlabFileError:
    name = str(err.filename or "")
    own = not name or name == str(shown) or Path(name).name.startswith(TEMPORARY_PREFIX)
    where = "" if own else f" (writing {name})"
    return PadlabFileError(f"{shown}: cannot write the output: {_cause(err)}{where}")


# -- signals: SIGTERM like SIGINT while temporaries exist; renames never interrupted -----------


class _Guard:
    """The main thread's signal state while outputs are written."""

    depth = 0  # nested atomic writes
    critical = 0  # inside the final renames
    pending: int | None = None  # a signal that arrived during the renames
    previous: dict[signal.Signals, Any] = {}  # noqa: RUF012 - the handlers to restore


_guard = _Guard()


def _handler(signum: int, frame: object) -> None:
    if _guard.critical:
        if _guard.pending != signal.SIGTERM:  # SIGTERM, the stronger, is kept
            _guard.pending = signum
        return
    _raise_for(signum)


def _raise_for(signum: int) -> None:
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt


@contextmanager
def _signals_guarded() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (main thread, default handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _guard.depth == 0:
        previous: dict[signal.Signals, Any] = {}
        for signum, default in (
            (signal.SIGTERM, signal.SIG_DFL),
            (signal.SIGINT, signal.default_int_handler),
        ):
            if signal.getsignal(signum) is default:
                previous[signum] = signal.signal(signum, _handler)
        _guard.previous = previous
    _guard.depth += 1
    try:
        yield
    finally:
        _guard.depth -= 1
        if _guard.depth == 0:
            for restored, handler in _guard.previous.items():
                signal.signal(restored, handler)
            _guard.previous = {}


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Signals handled by :func:`_handler` wait until the block is done (the final renames).

    Only the main thread counts: signal handlers run there, and a count shared with other
    threads could be lost in a race and defer a signal forever.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _guard.critical += 1
    try:
        yield
    finally:
        _guard.critical -= 1
        if _guard.critical == 0 and _guard.pending is not None:
            pending, _guard.pending = _guard.pending, None
            _raise_for(pending)


def _announce(err: BaseException, removed: bool) -> None:
    if isinstance(err, Terminated) and not err.announced:
        err.announced = True
        done = "; the unfinished output was removed" if removed else ""
        print(f"padlab: terminated (SIGTERM){done}", file=sys.stderr)


def _clean_up(temporary: Path, err: BaseException, shown: object) -> BaseException:
    """Remove ``temporary`` after ``err``, uninterrupted; the exception to raise then.

    A signal that arrives during the removal waits for it (a second Ctrl-C must not leave
    half a temporary behind); it is then raised, unless ``err`` already ends the run for a
    signal. An ``OSError`` becomes a one-line :class:`~padlab.errors.PadlabFileError`.
    """
    main = threading.current_thread() is threading.main_thread()
    if main:
        _guard.critical += 1
    try:
        removed = os.path.lexists(temporary)  # these never raise
        if os.path.isdir(temporary) and not os.path.islink(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif removed:
            with suppress(OSError):
                os.unlink(temporary)
    finally:
        pending = None
        if main:
            _guard.critical -= 1
            if _guard.critical == 0:
                pending, _guard.pending = _guard.pending, None
    if pending is not None and not isinstance(err, Terminated | KeyboardInterrupt):
        err = Terminated() if pending == signal.SIGTERM else KeyboardInterrupt()
    _announce(err, removed)
    if isinstance(err, OSError) and not isinstance(err, PadlabFileError):
        return _write_error(shown, err)
    return err


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary handle to a temporary file that becomes ``path`` when the block succeeds.

    Raises
    ------
    PadlabFileError
        The file cannot be written (full disk, read-only, name too long, symlink loop); the
        temporary is removed and ``path`` is unchanged.

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
    shown, path = path, resolve_output(path)
    with _signals_guarded():
        tmp = _temporary_name(path)
        try:
            # created inside the try: a signal just after creation still removes it
            while True:
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                    break
                except FileExistsError:  # pragma: no cover - 48 random bits collided
                    tmp = _temporary_name(path)
            with os.fdopen(fd, "wb") as handle:
                yield handle
            with _uninterrupted():
                os.replace(tmp, path)
        except BaseException as err:
            final = _clean_up(tmp, err, shown)
            if final is err:
                raise
            raise final from None


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
    :data:`MARKER`); see :func:`check_output_directory`. If a directory that was empty receives
    a file meanwhile, nothing is replaced and :class:`~padlab.errors.PadlabFileError` is raised.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "results")
    >>> with atomic_directory(target) as work:
    ...     _ = (work / "a.txt").write_text("a")
    >>> sorted(os.listdir(target))
    ['.padlab-output', 'a.txt']
    """
    shown, path = path, resolve_output(path)
    check_output_directory(shown)
    with _signals_guarded():
        work = _temporary_name(path)
        try:
            while True:
                try:
                    os.mkdir(work, 0o777)
                    break
                except FileExistsError:  # pragma: no cover - 48 random bits collided
                    work = _temporary_name(path)
            (work / MARKER).write_text("written by padlab; a new run may replace this directory\n")
            yield work
            with _uninterrupted():
                _commit(work, path, shown)
        except BaseException as err:
            final = _clean_up(work, err, shown)
            if final is err:
                raise
            raise final from None


def _commit(work: Path, path: Path, shown: object) -> None:
    """Move ``work`` to ``path``: over nothing, an empty directory, or an earlier output."""
    try:
        os.replace(work, path)  # atomic over nothing or over an empty directory
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if not (path / MARKER).is_file():
        raise PadlabFileError(
            f"{shown}: files appeared in this directory while padlab worked; padlab never "
            "replaces what it did not write, so nothing was written. Name a new directory"
        )
    old = _temporary_name(path)
    os.replace(path, old)
    try:
        os.replace(work, path)
    except BaseException:
        os.replace(old, path)  # the earlier output back where it was, never lost
        raise
    shutil.rmtree(old, ignore_errors=True)


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
    shown, path = path, resolve_output(path)
    try:
        _check_directory(shown, path)
    except PadlabFileError:
        raise
    except OSError as err:  # a name too long, a permission denied on the way, ...
        raise PadlabFileError(f"{shown}: cannot write there ({_cause(err)})") from None


def _check_directory(shown: object, path: Path) -> None:
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
