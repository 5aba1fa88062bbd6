"""One thread pool for padlab's parallel work.

The compiled kernels release the GIL (numba ``nogil=True``), as do numpy copies and scipy's FFT,
so plain Python threads run them in parallel. This replaces numba's ``parallel=True``, whose
compilation alone took 10 s per kernel, and gives every engine (and :func:`padlab.pad`) one pool
and one notion of "how many threads". numba's own threading layer (OpenMP, TBB or workqueue) is
never started: no padlab kernel uses ``parallel=True`` or ``prange``.

How many threads, first match wins (see :func:`thread_config`):

1. ``PADLAB_NUM_THREADS`` (an invalid value is an error naming the variable);
2. ``NUMBA_NUM_THREADS``, then ``OMP_NUM_THREADS`` (an invalid value is a one-line warning and
   is skipped, since other libraries read them too);
3. the CPUs this process may use: its CPU affinity (``os.sched_getaffinity``), lowered to the
   container's CPU quota (cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us`` /
   ``cpu.cfs_period_us``) rounded up.

Fork safety: a process forked after the pool started (``multiprocessing``'s default on Linux,
PyTorch DataLoader workers, gunicorn) inherits the pool object but none of its threads. The
child drops it (``os.register_at_fork``) and creates its own on first use. Under 'spawn' and
'forkserver' the child imports padlab afresh and needs nothing special.
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from padlab.errors import PadlabValueError

__all__ = [
    "ThreadConfig",
    "cgroup_cpus",
    "pool",
    "reset",
    "run_chunks",
    "serial_here",
    "thread_config",
    "threads",
]

#: The variables read, in order of precedence.
THREAD_VARIABLES = ("PADLAB_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")
#: The variables that may make the pool's threads passive (sleep at once between jobs).
WAIT_VARIABLES = ("PADLAB_WAIT_POLICY", "OMP_WAIT_POLICY")
# the old, undocumented name: still honoured, after PADLAB_NUM_THREADS
_LEGACY_VARIABLE = "PADLAB_THREADS"
# a sanity bound on an explicit request (more threads than this is a typo, not a plan)
_MAX_THREADS = 4096


@dataclass(frozen=True)
class ThreadConfig:
    """How many threads padlab uses, and why.

    Attributes
    ----------
    threads : int
    source : str
        Where the number came from, e.g. ``"PADLAB_NUM_THREADS=4"``, ``"CPU affinity"`` or
        ``"cgroup v2 CPU quota (cpu.max: 150000 100000)"``.

    wait : str
        ``"active"``: the pool's threads watch for the next job for a while before they sleep;
        ``"passive"``: they sleep at once.
    wait_source : str
        Why, e.g. ``"PADLAB_WAIT_POLICY=passive"`` or ``"8 threads on 2 CPUs"``.
    """

    threads: int
    source: str
    wait: str = "active"
    wait_source: str = "default"


class _State:
    """The lazily created pool and thread count; replaced wholesale in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config: ThreadConfig | None = None
        self.pool: Team | None = None


_state = _State()


def reset() -> None:
    """Forget the pool and the thread count (re-read on next use); the old pool's threads
    return once idle. Tests call it after changing the environment variables.

    Examples
    --------
    >>> reset()
    >>> threads() >= 1
    True
    """
    global _state
    old, _state = _state, _State()
    if old.pool is not None:
        old.pool.close(timeout=0)


def _forked() -> None:
    """In a forked child: the parent's helper threads do not exist there, so work handed to
    the inherited pool would wait forever. The inherited pool is dropped, not closed (its
    locks may have been held by a thread of the parent at the fork)."""
    global _state
    _state = _State()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forked)


@atexit.register
def _close() -> None:
    team = _state.pool
    if team is not None:
        team.close()


def _parse(name: str, text: str) -> int:
    """A thread count from an environment variable; raises PadlabValueError naming it."""
    first = text.split(",")[0].strip()  # OMP_NUM_THREADS may list nested levels: "4,2"
    try:
        value = int(first)
    except ValueError:
        value = 0
    if not 1 <= value <= _MAX_THREADS:
        raise PadlabValueError(
            f"{name}={text!r} is not a number of threads; use an integer from 1 to "
            f"{_MAX_THREADS}, or unset it"
        )
    return value


def cgroup_cpus(
    root: str | os.PathLike[str] = "/sys/fs/cgroup",
    membership: str | os.PathLike[str] = "/proc/self/cgroup",
) -> tuple[float, str] | None:
    """The CPU quota of this process's control group (and its ancestors), in CPUs.

    Reads cgroup v2 ``cpu.max`` (``"max 100000"`` or ``"<quota> <period>"``) and cgroup v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1 means none), in the group named by
    ``membership`` and in each parent group up to ``root``; the smallest quota wins. None if no
    quota is set or the files are not there.

    Examples
    --------
    >>> cgroup_cpus("/nonexistent") is None
    True
    """
    root = Path(root)
    try:
        lines = Path(membership).read_text().splitlines()
    except OSError:
        lines = []
    candidates: list[tuple[Path, str]] = []  # (group directory, version)
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        rel = path.strip().lstrip("/")
        if controllers == "":
            bases = [root, root / "unified"]
            version = "v2"
        elif "cpu" in controllers.split(","):
            bases = [root / controllers, root / "cpu", root / "cpu,cpuacct"]
            version = "v1"
        else:
            continue
        for base in bases:
            group = base / rel if rel else base
            for directory in (group, *group.parents):
                candidates.append((directory, version))
                if directory == base:
                    break
    if not lines:
        candidates = [(root, "v2"), (root / "cpu", "v1"), (root / "cpu,cpuacct", "v1")]
    best: tuple[float, str] | None = None
    seen: set[Path] = set()
    for directory, version in candidates:
        if directory in seen:
            continue
        seen.add(directory)
        found = _quota_v2(directory) if version == "v2" else _quota_v1(directory)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best


def _quota_v2(directory: Path) -> tuple[float, str] | None:
    try:
        text = (directory / "cpu.max").read_text().strip()
    except OSError:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period, f"cgroup v2 CPU quota (cpu.max: {text})"


def _quota_v1(directory: Path) -> tuple[float, str] | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text().strip())
        period = int((directory / "cpu.cfs_period_us").read_text().strip())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period, f"cgroup v1 CPU quota (cpu.cfs_quota_us {quota} / period {period})"


def _available_cpus() -> ThreadConfig:
    try:
        cpus = len(os.sched_getaffinity(0))
        source = f"CPU affinity ({cpus} CPUs)"
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
        source = f"os.cpu_count() ({cpus} CPUs)"
    quota = cgroup_cpus()
    if quota is not None and math.ceil(quota[0]) < cpus:
        return ThreadConfig(max(1, math.ceil(quota[0])), quota[1])
    return ThreadConfig(max(1, cpus), source)


def _resolve() -> ThreadConfig:
    cpus = _available_cpus()  # read once: both the count and the wait policy look at it
    count = _thread_count(cpus)
    return ThreadConfig(count.threads, count.source, *_wait_policy(count.threads, cpus.threads))


def _thread_count(cpus: ThreadConfig) -> ThreadConfig:
    environ = os.environ
    for name in ("PADLAB_NUM_THREADS", _LEGACY_VARIABLE):
        text = environ.get(name, "").strip()
        if text:
            return ThreadConfig(_parse(name, text), f"{name}={text}")
    for name in THREAD_VARIABLES[1:]:
        text = environ.get(name, "").strip()
        if not text:
            continue
        try:
            return ThreadConfig(_parse(name, text), f"{name}={text}")
        except PadlabValueError as err:
            _ignore(err)
    return cpus


def _ignore(err: PadlabValueError) -> None:
    """A one-line warning about a variable other libraries read too, skipped."""
    # one line, whoever asked: no source line to quote
    warnings.warn_explicit(f"padlab: ignoring {err}", RuntimeWarning, "<padlab>", 0)


def _wait_policy(threads: int, cpus: int) -> tuple[str, str]:
    """'active' or 'passive', and why: ``PADLAB_WAIT_POLICY`` (an invalid value is an error),
    then ``OMP_WAIT_POLICY`` (a warning), then passive with more threads than the CPUs this
    process may use (a thread that watches for work holds a core another one needs)."""
    for name in WAIT_VARIABLES:
        text = os.environ.get(name, "").strip()
        if not text:
            continue
        if text.lower() in ("active", "passive"):
            return text.lower(), f"{name}={text}"
        err = PadlabValueError(
            f"{name}={text!r} is not a wait policy; use active or passive, or unset it"
        )
        if name != WAIT_VARIABLES[0]:
            _ignore(err)
            continue
        raise err
    if threads > cpus:
        return "passive", f"{threads} threads on {cpus} CPUs"
    return "active", "default"


def thread_config() -> ThreadConfig:
    """The number of worker threads and where it came from (read once per process).

    Raises
    ------
    PadlabValueError
        ``PADLAB_NUM_THREADS`` is set but is not an integer from 1 to 4096, or
        ``PADLAB_WAIT_POLICY`` is set but is neither ``active`` nor ``passive``.

    Examples
    --------
    >>> config = thread_config()
    >>> config.threads >= 1 and isinstance(config.source, str)
    True
    """
    state = _state
    config = state.config
    if config is None:
        with state.lock:
            if state.config is None:
                state.config = _resolve()
            config = state.config
    return config


def threads() -> int:
    """Worker threads (see :func:`thread_config`).

    Examples
    --------
    >>> threads() >= 1
    True
    """
    return thread_config().threads


class _Job:
    """One :func:`run_chunks` call: its chunks, handed out in order to whoever asks next, and
    the seats for helpers (as many as there are chunks beyond the caller's first)."""

    __slots__ = ("args", "chunks", "counter", "error", "fn", "seats", "stop")

    def __init__(self, fn: Callable[..., None], chunks: list[tuple[int, int]], args: tuple) -> None:
        self.fn, self.chunks, self.args = fn, chunks, args
        self.counter = itertools.count()
        self.seats = itertools.count()  # a helper takes part if its ticket < len(chunks) - 1
        self.error: BaseException | None = None
        self.stop = False

    def run(self) -> None:
        chunks, fn, args = self.chunks, self.fn, self.args
        while not self.stop and (k := next(self.counter)) < len(chunks):
            fn(*chunks[k], *args)

    def fail(self, error: BaseException) -> None:
        """A helper's error: the first one is raised by the caller, and no chunk starts after."""
        if self.error is None:
            self.error = error
        self.stop = True


class Team:
    """The helper threads that work beside the calling thread (``threads() - 1`` of them).

    One job at a time (a second caller that finds the team busy does its work alone, in its
    own thread). A job is announced by bumping ``flags[0]``; a helper marks ``flags[1 + h]``
    while it takes part, and at most one helper per chunk beyond the caller's first takes part.
    When the engines have registered compiled waits (see :func:`set_spinner`) and the wait
    policy is active (see :class:`ThreadConfig`), a helper watches for the next job for
    :data:`SPIN_SECONDS` after each one before it sleeps on a condition, so that a run of calls
    (a loop over images, tiles, a benchmark) hands work over without waking a thread each
    time.
    Daemon threads: an idle team never keeps the interpreter alive.
    """

    def __init__(self, helpers: int) -> None:
        import numpy as np

        self.flags = np.zeros(1 + helpers, np.int64)
        self.job: _Job | None = None
        self.busy = threading.Lock()
        self.cond = threading.Condition()  # helpers sleep on it between jobs
        self.done = threading.Condition()  # the caller sleeps on it while helpers finish
        self.sleeping = 0
        self.waiting = False  # the caller sleeps on ``done``
        self.closed = False
        self.spins = thread_config().wait == "active"
        self.threads = [
            threading.Thread(target=self._serve, args=(h,), name=f"padlab-{h}", daemon=True)
            for h in range(helpers)
        ]
        for thread in self.threads:
            thread.start()

    def _watch(self, seen: int, slot: int) -> bool:
        """Clear this helper's slot and watch ``flags[0]`` for a new job, in compiled code
        (the slot is cleared once this thread has let go of the GIL); False when the spin ended
        without one, or without compiled waits."""
        flags, spinner = self.flags, _spinner
        if self.spins and spinner is not None and not self.waiting:
            try:
                spin, settle = spinner.rounds(SPIN_SECONDS), spinner.rounds(SETTLE_SECONDS)
                return bool(spinner.wait_change(flags, 0, seen, spin, settle, slot))
            except Exception:
                self.spins = False
        flags[slot] = 0
        if self.waiting:
            with self.done:
                self.done.notify_all()
        return bool(flags[0] != seen)

    def _serve(self, h: int) -> None:
        flags, slot = self.flags, 1 + h
        seen = int(flags[0])
        while True:
            if not self._watch(seen, slot):
                with self.cond:
                    self.sleeping += 1
                    while flags[0] == seen:
                        self.cond.wait()
                    self.sleeping -= 1
            if self.closed:
                return
            seen = int(flags[0])
            job = self.job
            if job is None or next(job.seats) >= len(job.chunks) - 1:
                continue  # no job, or enough helpers on it
            flags[slot] = 1
            try:
                job.run()
            except BaseException as err:
                job.fail(err)
            job = None  # the caller's arrays are the caller's again

    def run(self, job: _Job, brief: bool = False) -> None:
        """Run ``job`` on the calling thread and the helpers; returns once every chunk is done
        and no helper is in the job any more (raising the first error of any thread).

        A ``brief`` job that finds every helper asleep is done by the calling thread alone: a
        woken helper would start after most of it is done (waking a thread takes 60 to 100 us
        on a virtual machine) and hold the caller up with its last chunk. The helpers are
        woken all the same, with no job, so that they watch for the next one.
        """
        flags = self.flags
        if brief and self.sleeping == len(self.threads):
            flags[0] += 1  # self.job is None: they wake, find no job, and watch
            with self.cond:
                self.cond.notify_all()
            job.run()
            return
        self.job = job
        try:
            flags[0] += 1
            if self.sleeping:
                with self.cond:
                    self.cond.notify(len(job.chunks) - 1)
            job.run()
        except BaseException:
            job.stop = True
            raise
        finally:
            self._wait_idle()
            self.job = None  # its arrays are the caller's again
        if job.error is not None:
            raise job.error

    def close(self, timeout: float = 1.0) -> None:
        """Let the helpers return, waiting for them at most ``timeout`` seconds in all (at
        exit: none may still run compiled code while the interpreter tears numba down)."""
        self.closed = True
        with self.cond:
            self.flags[0] += 1
            self.cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _wait_idle(self) -> None:
        """Wait until no helper is in a job: spinning briefly, then asleep until the last
        helper wakes this thread. An interrupt (Ctrl-C) waits too: a helper may still be
        writing the caller's output."""
        flags, spinner = self.flags, _spinner
        interrupted = False
        if self.spins and spinner is not None:
            try:
                if spinner.wait_idle(flags, 1, spinner.rounds(WAIT_SECONDS)):
                    return
            except KeyboardInterrupt:
                interrupted = True
            except Exception:
                self.spins = False
        while flags[1:].any():
            try:
                with self.done:
                    self.waiting = True
                    if flags[1:].any():
                        self.done.wait(1e-3)  # a helper that saw waiting=False too late
            except KeyboardInterrupt:
                interrupted = True
            finally:
                self.waiting = False
        if interrupted:
            raise KeyboardInterrupt


def pool() -> Team:
    """The shared team (threads() - 1 helper threads: the calling thread works too)."""
    state = _state
    team = state.pool
    if team is None:
        n = threads()
        with state.lock:
            if state.pool is None:
                state.pool = Team(max(1, n - 1))
            team = state.pool
    return team


class _Spinner:
    """Compiled waits (:mod:`padlab.engine.spin`) and how many of their rounds last a second
    (measured on first use)."""

    def __init__(
        self,
        wait_change: Callable[..., bool],
        wait_idle: Callable[..., bool],
        per_second: Callable[[], float],
    ) -> None:
        self.wait_change, self.wait_idle = wait_change, wait_idle
        self._measure = per_second
        self._per_second: float | None = None

    def rounds(self, seconds: float) -> int:
        if self._per_second is None:
            self._per_second = self._measure()
        return max(1, int(seconds * self._per_second))


_spinner: _Spinner | None = None
#: how long a helper watches for the next job after one before it sleeps
SPIN_SECONDS = 5e-4
#: how long the caller watches for its helpers to finish before it sleeps (it holds a core
#: meanwhile, which a helper may need on a busy machine)
WAIT_SECONDS = 1e-4
#: how long a helper waits after seeing a new job before it takes the GIL (see
#: :func:`padlab.engine.spin.wait_change`)
SETTLE_SECONDS = 3e-6


def set_spinner(
    wait_change: Callable[..., bool],
    wait_idle: Callable[..., bool],
    per_second: Callable[[], float],
) -> None:
    """Let the pool's threads wait in compiled code, without the GIL or a system call.

    ``wait_change(flags, index, old, rounds, settle, done)`` sets ``flags[done]`` to 0, then
    waits until ``flags[index] != old``,
    ``wait_idle(flags, first, rounds)`` until ``flags[first:]`` are all 0; both give up after
    ``rounds`` spin rounds; ``per_second()`` measures how many last a second (called once, on
    first use). Without them (before the engines are imported) the threads sleep on a
    condition between jobs.
    """
    global _spinner
    _spinner = _Spinner(wait_change, wait_idle, per_second)


_LOCAL = threading.local()


@contextmanager
def serial_here() -> Iterator[None]:
    """Inside this block, :func:`run_chunks` works in the calling thread only.

    For the tasks of a scheduler that already runs tasks side by side (dask's threads): a
    task that also spread its work over padlab's pool would run more threads than cores.

    Examples
    --------
    >>> import threading
    >>> seen = set()
    >>> with serial_here():
    ...     run_chunks(lambda a, b: seen.add(threading.get_ident()), 100, per_chunk=1)
    >>> seen == {threading.get_ident()}
    True
    """
    before = getattr(_LOCAL, "serial", False)
    _LOCAL.serial = True
    try:
        yield
    finally:
        _LOCAL.serial = before


def run_chunks(
    fn: Callable[..., None],
    items: int,
    *args: object,
    per_chunk: int = 1,
    brief: bool = False,
) -> None:
    """Call ``fn(first, last, *args)`` over ``range(items)`` cut into chunks, on all threads.

    Chunks are handed out dynamically (a thread that finishes early takes the next one), so
    uneven chunks, such as image borders, balance out. Small jobs, and any job inside
    :func:`serial_here`, run in the calling thread. A ``brief`` job (see
    :func:`padlab.engine.choose.brief`) that finds every helper asleep runs in the calling
    thread too, and wakes them for the next job.

    Examples
    --------
    >>> seen = []
    >>> run_chunks(lambda a, b: seen.extend(range(a, b)), 10, per_chunk=3)
    >>> sorted(seen)
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    if items <= per_chunk or getattr(_LOCAL, "serial", False):
        if items > 0:  # one chunk (a small image's call, or serial_here): no bookkeeping
            fn(0, items, *args)
        return
    n_threads = threads()
    chunks = [(a, min(items, a + per_chunk)) for a in range(0, items, per_chunk)]
    if n_threads == 1:
        for first, last in chunks:
            fn(first, last, *args)
        return
    team = pool()
    job = _Job(fn, chunks, args)
    if not team.busy.acquire(blocking=False):
        job.run()  # the team works for another caller (or for this one: a nested call)
        return
    try:
        team.run(job, brief)
    finally:
        team.busy.release()


#: glibc's mallopt parameter for the number of heaps ("arenas") that threads allocate from
_M_ARENA_MAX = -8


def limit_heaps(count: int = 2) -> bool:
    """Let this process's threads share ``count`` malloc heaps (glibc only); True if set.

    glibc gives threads heaps of their own, up to eight per core, and a heap keeps the memory
    its freed arrays leave behind: a long chunked job whose threads each allocate and free
    chunk-sized arrays grows with the number of chunks, not with their size. Sharing two
    heaps keeps the peak flat (measured by ``bench/dask.py --memory``). ``padlab filter
    --chunks`` calls it, since the command owns its process; a library call never does.
    Must be called before the worker threads first allocate.

    Examples
    --------
    >>> import subprocess, sys
    >>> code = "from padlab._threads import limit_heaps; print(limit_heaps())"
    >>> run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    >>> run.stdout.strip() in ("True", "False")
    True
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:  # pragma: no cover - not a C library ctypes can find
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, int(count)))
    except (OSError, AttributeError):  # pragma: no cover - musl, macOS: no mallopt
        return False
