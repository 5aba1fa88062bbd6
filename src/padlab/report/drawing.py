"""The report's figures, drawn in two processes: this one and a helper.

Drawing takes most of a report's time (matplotlib's layout and Agg rendering; about 8 of 11 s
for the sample photo), and it runs on one core: matplotlib holds the GIL. With two or more
threads allowed (:func:`padlab._threads.threads`), :class:`Drawing` starts one helper process
(:func:`padlab._process.python_helper`) and hands it each figure as soon as its data are ready,
while this process goes on measuring. The helper takes only the figures that do not filter
(:data:`padlab.report.figures.FILTERING` lists those that do), so it never loads numba or the
compiled kernels: it starts in about a second and holds about 100 MB. When this process has
nothing else to do (:meth:`Drawing.finish`), it draws the figures the helper has not started,
from the last one back, and waits for the rest.

A figure is a call of a function of :mod:`padlab.report.figures`, pickled when it is
submitted (so the caller may free or change its arrays at once) and drawn from those bytes by
whichever process takes it: the same code on the same data, so the same PNG. Without a helper
(one thread, a frozen application, a helper that fails to start or dies), this process draws
everything itself. A figure that fails raises its error here, as drawing in this process would;
warnings the helper meets are raised again here.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = ["Drawing", "draw", "release"]

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


def draw(payload: bytes, path: str) -> tuple[int, int]:
    """Draw one pickled figure call into the PNG ``path``; its size in pixels (width, height)."""
    from padlab.report import figures

    plt = figures.pyplot()
    name, args, kwargs = pickle.loads(payload)
    fig = getattr(figures, name)(*args, **kwargs)
    try:
        fig.savefig(path, format="png")
        width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    finally:
        plt.close(fig)
    release()
    return width, height


@dataclass
class _Job:
    path: str
    payload: bytes
    shared: bool  # the helper may draw it (it does not filter)
    state: str = _QUEUED
    size: tuple[int, int] | None = None
    error: BaseException | None = None
    warned: tuple[tuple[type[Warning], str], ...] = ()


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
        self._tried = False

    # -- the caller's side -------------------------------------------------------------------

    def __enter__(self) -> Drawing:
        self._start()
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._stop(kill=error is not None)

    def submit(
        self, path: str | os.PathLike[str], function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> int:
        """Queue ``function(*args, **kwargs)`` (a figure of :mod:`padlab.report.figures`), saved
        as the PNG ``path``; returns the job's number for :meth:`size`."""
        from padlab.report import figures

        name = function.__name__
        if getattr(figures, name, None) is not function:
            raise ValueError(f"{name} is not a figure of padlab.report.figures")
        payload = pickle.dumps((name, args, kwargs), pickle.HIGHEST_PROTOCOL)
        job = _Job(str(path), payload, shared=name not in figures.FILTERING)
        self._start()
        with self._cond:
            self._jobs.append(job)
            helped = self._process is not None
            if helped:
                self._cond.notify_all()
        if not helped:
            self._draw_here(job)
        return len(self._jobs) - 1

    def finish(self) -> None:
        """Draw what the helper has not started (last first), wait for the rest; raise the
        first figure's error, if one failed."""
        while True:
            with self._cond:
                queued = [job for job in self._jobs if job.state == _QUEUED]
                if queued:
                    job = queued[-1]
                    job.state = _LOCAL
                elif any(job.state == _SENT for job in self._jobs):
                    self._cond.wait()
                    continue
                else:
                    break
            self._draw_here(job)
        for job in self._jobs:
            for category, message in job.warned:
                warnings.warn(message, category, stacklevel=2)
            job.warned = ()
            if job.error is not None:
                raise job.error

    def size(self, job: int) -> tuple[int, int]:
        """The size in pixels (width, height) of a finished job's figure."""
        size = self._jobs[job].size
        if size is None:
            raise RuntimeError(f"figure {self._jobs[job].path} is not drawn yet")
        return size

    @property
    def helped(self) -> bool:
        """True while a helper process draws too."""
        return self._process is not None

    # -- the machinery ---------------------------------------------------------------------

    def _draw_here(self, job: _Job) -> None:
        try:
            job.size = draw(job.payload, job.path)
        except Exception as error:  # raised by finish(), in submission order
            job.error = error
        with self._cond:
            job.state = _DONE
            job.payload = b""

    def _start(self) -> None:
        if self._tried or not self._want_helper:
            return
        from padlab._process import python_helper
        from padlab._threads import threads

        self._tried = True
        if threads() < 2:
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

    def _next_shared(self) -> int | None:
        """The first queued job the helper may draw, if it is idle (call with the lock held)."""
        if any(job.state == _SENT for job in self._jobs):
            return None
        return next(
            (i for i, job in enumerate(self._jobs) if job.state == _QUEUED and job.shared), None
        )

    def _send(self, process: subprocess.Popen) -> None:
        """Hand the helper the first queued job it may draw, whenever it is idle."""
        stream: BinaryIO = process.stdin  # type: ignore[assignment]
        while True:
            with self._cond:
                index = self._next_shared()
                while self._process is process and index is None:
                    self._cond.wait()
                    index = self._next_shared()
                if self._process is not process or index is None:
                    return
                job = self._jobs[index]
                job.state = _SENT
            try:
                pickle.dump((index, job.path, job.payload), stream, pickle.HIGHEST_PROTOCOL)
                stream.flush()
            except (OSError, ValueError):  # the helper is gone: _receive hands its job back
                return

    def _receive(self, process: subprocess.Popen) -> None:
        stream: BinaryIO = process.stdout  # type: ignore[assignment]
        while True:
            try:
                index, size, error, warned = pickle.load(stream)
            except Exception:  # EOF or garbage: the helper died; this process draws the rest
                with self._cond:
                    for job in self._jobs:
                        if job.state == _SENT:
                            job.state = _QUEUED
                    if self._process is process:
                        self._process = None
                    self._cond.notify_all()
                return
            with self._cond:
                job = self._jobs[index]
                job.size, job.error, job.warned = size, error, tuple(warned)
                job.state = _DONE
                job.payload = b""
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
                stream.close()


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
                size = draw(payload, path)
            except Exception as exc:
                error = exc
        warned = [(w.category, str(w.message)) for w in caught]
        try:
            reply = pickle.dumps((index, size, error, warned), pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that does not pickle: its text
            plain = RuntimeError(f"{type(error).__name__}: {error}")
            reply = pickle.dumps((index, size, plain, []), pickle.HIGHEST_PROTOCOL)
        results.write(reply)
        results.flush()


def _main() -> int:
    """``python -m padlab.report.drawing``: the helper, talking pickles on stdin and stdout."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it stops this helper
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot garble the answers
    sys.stdout = sys.stderr
    return _serve(sys.stdin.buffer, results)


if __name__ == "__main__":  # pragma: no cover - run as the helper process
    from padlab.report import drawing as _module  # the imported module, not __main__'s copy

    sys.exit(_module._main())
