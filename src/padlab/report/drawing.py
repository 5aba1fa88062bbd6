"""The report's figures, drawn in two processes: this one and a helper.

Drawing takes most of a report's time (matplotlib's layout and Agg rendering; about 8 of 11 s
for the sample photo), and it runs on one core: matplotlib holds the GIL. With two or more
threads allowed (:func:`padlab._threads.threads`), :class:`Drawing` starts one helper process
(:func:`padlab._process.python_helper`) and hands it each figure as soon as its data are ready,
while this process goes on measuring. The helper takes only the figures that do not filter
(:data:`padlab.report.figures.FILTERING` lists those that do), so it never loads numba or the
compiled kernels: it starts in about a second and peaks at about 110 MB. It starts with the
first figure that only draws, if that figure's arrays fit :data:`QUEUE_BYTES`; otherwise (a
large photo, whose maps would be copied) this process draws everything, as starting a helper
for the few small figures left costs more than it saves. This process draws the figures that
filter at once, as they come, and, when it has nothing else to do (:meth:`Drawing.finish`),
the others the helper has not started, from the last one back.

A figure the helper may draw is a call of a function of :mod:`padlab.report.figures`, pickled
when it is submitted (so the caller may free or change its arrays at once) and drawn from those
bytes by whichever process takes it: the same code on the same data, so the same PNG. A figure
whose arrays hold more than :data:`QUEUE_BYTES` is drawn here at once (a large photo's maps are
not copied to the helper), and while more than that waits, this process draws the oldest
itself. Without a helper (one thread, matplotlib settings changed by the caller, a frozen
application, a helper that fails to start, dies or hangs), this process draws everything
itself. A figure that fails raises its error at :meth:`Drawing.finish`, as drawing in this
process would; warnings the helper meets are raised again there.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = ["QUEUE_BYTES", "Drawing", "draw", "release"]

#: the most figure data for the helper: a figure whose arrays hold more is drawn here, and while
#: more than this waits for the helper, this process draws the oldest
QUEUE_BYTES = 64 * 2**20
#: a figure the helper has drawn for this long is stuck: the helper is stopped, this process
#: draws it (the sample photo's largest figure takes about a second)
HELPER_PATIENCE = 300.0
#: matplotlib settings a fresh helper would not share, but which do not change a PNG
_RC_IGNORED = frozenset({"backend", "backend_fallback", "interactive", "webagg.port"})

_QUEUED, _SENT, _LOCAL, _DONE = "queued", "sent", "local", "done"


def release() -> None:
    """Free what the last figure left: a closed figure is cyclic garbage, and glibc keeps freed
    heap pages unless asked to return them (the report's peak memory is what is kept plus the
    next figure).
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library: nothing to trim
            pass


def draw(function: Callable[..., Any], args: tuple, kwargs: dict, path: str) -> tuple[int, int]:
    """Draw ``function(*args, **kwargs)`` into the PNG ``path``; its size in pixels (width,
    height). Every figure it opened is closed, also when it fails."""
    from padlab.report import figures

    plt = figures.pyplot()
    before = set(plt.get_fignums())
    try:
        fig = function(*args, **kwargs)
        fig.savefig(path, format="png")
        width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        release()
    return width, height


def _draw_pickled(payload: bytes, path: str) -> tuple[int, int]:
    from padlab.report import figures

    name, args, kwargs = pickle.loads(payload)
    return draw(getattr(figures, name), args, kwargs, path)


def _nbytes(value: Any) -> int:
    """The bytes of the arrays in ``value`` (in its tuples, lists and dicts)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_nbytes(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_nbytes(item) for item in value)
    return 0


def _styled_as_a_fresh_process() -> bool:
    """True if matplotlib's settings here are those a fresh helper has (its rc file, padlab's
    style): a caller's own settings would not reach the helper's figures."""
    import matplotlib

    from padlab.report import figures

    figures.pyplot()  # padlab's style, as every figure is drawn with it
    fresh = matplotlib.rc_params()
    fresh.update(figures.STYLE)
    here = matplotlib.rcParams
    return all(here[key] == fresh[key] for key in fresh if key not in _RC_IGNORED)


@dataclass
class _Job:
    path: str
    payload: bytes
    nbytes: int = 0  # of its arrays: what the budget counts
    state: str = _QUEUED
    size: tuple[int, int] | None = None
    error: BaseException | None = None
    warned: tuple[tuple[type[Warning], str], ...] = ()
    by_helper: bool = False
    sent_at: float = 0.0


class Drawing:
    """Figures drawn here and in a helper process; use as a context manager.

    Parameters
    ----------
    helper : bool
        Use a helper process where one can run (see the module's text); False draws every
        figure in this process, at :meth:`submit`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from padlab.report import figures
    >>> out = Path(tempfile.mkdtemp())
    >>> with Drawing(helper=False) as drawing:
    ...     job = drawing.submit(out / "rules.png", figures.rules_figure, ["zeros", "reflect"])
    ...     drawing.finish()
    >>> drawing.size(job)[0] > 100
    True
    """

    def __init__(self, *, helper: bool = True) -> None:
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()
        self._process: subprocess.Popen | None = None  # while it draws
        self._started: subprocess.Popen | None = None  # until stopped
        self._threads: list[threading.Thread] = []
        self._want_helper = helper
        self._entered = False

    # -- the caller's side -------------------------------------------------------------------

    def __enter__(self) -> Drawing:
        self._entered = True
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._stop(kill=error is not None)

    def submit(
        self, path: str | os.PathLike[str], function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> int:
        """Draw ``function(*args, **kwargs)`` (a figure of :mod:`padlab.report.figures`) into
        the PNG ``path``, now or later; returns the job's number for :meth:`size`."""
        from padlab.report import figures

        name = function.__name__
        if getattr(figures, name, None) is not function:
            raise ValueError(f"{name} is not a figure of padlab.report.figures")
        nbytes = _nbytes((args, kwargs))
        drawing_only = name not in figures.FILTERING
        shared = drawing_only and nbytes <= QUEUE_BYTES
        if drawing_only and self._want_helper and self._entered:
            self._want_helper = False  # decided once, at the first figure that only draws
            if shared:
                self._start()
        if self._process is None or not shared:
            job = _Job(str(path), b"", state=_LOCAL)
            with self._cond:
                self._jobs.append(job)
                number = len(self._jobs) - 1
            self._run_here(job, lambda: draw(function, args, kwargs, job.path))
            return number
        payload = pickle.dumps((name, args, kwargs), pickle.HIGHEST_PROTOCOL)
        job = _Job(str(path), payload, nbytes)
        with self._cond:
            self._jobs.append(job)
            number = len(self._jobs) - 1
            self._cond.notify_all()
        while (oldest := self._over_budget()) is not None:
            self._draw_here(oldest)
        return number

    def finish(self) -> None:
        """Draw what the helper has not started (last first), wait for the rest; raise the
        first figure's error, if one failed."""
        while True:
            with self._cond:  # one look at both: a job handed back between two looks is seen
                queued = [job for job in self._jobs if job.state == _QUEUED]
                sent = [job for job in self._jobs if job.state == _SENT]
                if queued:
                    job = queued[-1]
                    job.state = _LOCAL
                elif not sent:
                    break
                else:
                    if time.monotonic() - sent[0].sent_at > HELPER_PATIENCE and self._started:
                        self._started.kill()  # stuck: _receive hands its job back at the EOF
                    self._cond.wait(timeout=1.0)
                    continue
            self._draw_here(job)
        for job in self._jobs:
            for category, message in job.warned:
                warnings.warn(message, category, stacklevel=2)
            job.warned = ()
        for job in self._jobs:
            if job.error is not None:
                raise job.error

    def size(self, job: int) -> tuple[int, int]:
        """The size in pixels (width, height) of a finished job's figure."""
        size = self._jobs[job].size
        if size is None:
            raise RuntimeError(f"figure {self._jobs[job].path} is not drawn yet")
        return size

    def by_helper(self, job: int) -> bool:
        """True if the helper drew this job's figure."""
        return self._jobs[job].by_helper

    @property
    def helped(self) -> bool:
        """True while a helper process draws too."""
        return self._process is not None

    # -- the machinery ---------------------------------------------------------------------

    def _over_budget(self) -> _Job | None:
        """While the queue holds more than QUEUE_BYTES, its oldest job, taken for this
        process."""
        with self._cond:
            queued = [job for job in self._jobs if job.state == _QUEUED]
            if sum(job.nbytes for job in queued) <= QUEUE_BYTES:
                return None
            queued[0].state = _LOCAL
            return queued[0]

    def _draw_here(self, job: _Job) -> None:
        self._run_here(job, lambda: _draw_pickled(job.payload, job.path))

    def _run_here(self, job: _Job, drawing: Callable[[], tuple[int, int]]) -> None:
        try:
            job.size = drawing()
        except Exception as error:  # raised by finish(), in submission order
            job.error = error
        with self._cond:
            job.state = _DONE
            job.payload = b""

    def _start(self) -> None:
        from padlab._process import python_helper
        from padlab._threads import threads

        if threads() < 2 or not _styled_as_a_fresh_process():
            return
        process = python_helper(
            "padlab.report.drawing", stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        if process is None:
            return
        self._process = self._started = process
        self._threads = [
            threading.Thread(target=self._send, args=(process,), daemon=True),
            threading.Thread(target=self._receive, args=(process,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _next_for_helper(self) -> int | None:
        """The first queued job, if the helper is idle (call with the lock held)."""
        if any(job.state == _SENT for job in self._jobs):
            return None
        return next((i for i, job in enumerate(self._jobs) if job.state == _QUEUED), None)

    def _send(self, process: subprocess.Popen) -> None:
        """Hand the helper the first queued job whenever it is idle."""
        stream: BinaryIO = process.stdin  # type: ignore[assignment]
        while True:
            with self._cond:
                index = self._next_for_helper()
                while self._process is process and index is None:
                    self._cond.wait()
                    index = self._next_for_helper()
                if self._process is not process or index is None:
                    return
                job = self._jobs[index]
                job.state, job.sent_at = _SENT, time.monotonic()
            try:
                pickle.dump((index, job.path, job.payload), stream, pickle.HIGHEST_PROTOCOL)
                stream.flush()
            except (OSError, ValueError):  # the helper is gone: _receive hands its job back
                return

    def _receive(self, process: subprocess.Popen) -> None:
        """Record the helper's answers; when it ends (EOF, garbage, an answer that makes no
        sense), hand its job back: this process draws the rest."""
        stream: BinaryIO = process.stdout  # type: ignore[assignment]
        try:
            while True:
                index, size, error, warned = pickle.load(stream)
                with self._cond:
                    job = self._jobs[index]
                    job.size, job.error, job.warned = size, error, tuple(warned)
                    job.state, job.by_helper = _DONE, True
                    job.payload = b""
                    self._cond.notify_all()
        except Exception:
            pass
        finally:
            with self._cond:
                for job in self._jobs:
                    if job.state == _SENT:
                        job.state = _QUEUED
                if self._process is process:
                    self._process = None
                self._cond.notify_all()

    def _stop(self, *, kill: bool) -> None:
        with self._cond:
            process, self._started, self._process = self._started, None, None
            self._cond.notify_all()
        if process is None:
            return
        try:
            if kill:  # never a figure written after the caller has cleaned up
                process.kill()
            else:
                process.stdin.close()  # type: ignore[union-attr]
            process.wait(timeout=None if kill else 60)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        for thread in self._threads:
            thread.join()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with suppress(OSError):  # a write the killed helper never read
                    stream.close()


def _portable(value: Any, fallback: Any) -> Any:
    """``value`` if it survives a pickle round trip here (so the caller can read it back),
    else ``fallback``."""
    try:
        pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        return value
    except Exception:
        return fallback


def _serve(jobs: BinaryIO, results: BinaryIO) -> int:
    """The helper: draw each job read from ``jobs``, answer on ``results``, until EOF."""
    from padlab.report import figures

    figures.pyplot()
    while True:
        try:
            index, path, payload = pickle.load(jobs)
        except EOFError:
            return 0
        size, error = None, None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                size = _draw_pickled(payload, path)
            except Exception as exc:
                exc.add_note("".join(traceback.format_exception(exc)).rstrip())  # the helper's
                error = _portable(exc, RuntimeError(f"{type(exc).__name__}: {exc}"))
        warned = [
            _portable((w.category, str(w.message)), (UserWarning, str(w.message))) for w in caught
        ]
        results.write(pickle.dumps((index, size, error, warned), pickle.HIGHEST_PROTOCOL))
        results.flush()


def _main() -> int:
    """``python -m padlab.report.drawing``: the helper, talking pickles on stdin and stdout."""
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot garble the answers
    sys.stdout = sys.stderr
    return _serve(sys.stdin.buffer, results)


if __name__ == "__main__":  # pragma: no cover - run as the helper process
    from padlab.report import drawing as _module  # the imported module, not __main__'s copy

    sys.exit(_module._main())
