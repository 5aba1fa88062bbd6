"""Compilation of the numba kernels: once per machine, all of them, and said out loud.

padlab's kernels are compiled by numba on first use and cached on disk (``cache=True``). numba
compiles one version per argument type signature, so a command that filters float64 (``padlab
report``) would leave the float32 version (``padlab filter`` on a photo) to be compiled, silently,
by the next command. Instead, the first filtering call of a process checks that every kernel any
command needs is in the cache and, if one is missing, compiles them all at once (float32 and
float64; the direct, separable and im2col kernels), printing a notice and one progress line per
kernel on stderr, driven by numba's own compile events (``numba.core.event``, event kind
``"numba:compile"``). After that, no command compiles again.

For that promise to hold, the argument types reaching the kernels must not depend on the
caller's arrays: the engines hand their compiled functions read-only C-contiguous views of the
input and the kernel (:func:`padlab._validate.readonly`), whatever the caller passed.

The check reads numba's index of cached signatures (a few small files) against a marker
written after the last full compilation (``padlab-warm-<version>.json``, next to numba's cache
files), so a cache emptied or made stale by a padlab or numba upgrade compiles again, with the
notice. numba keys each cached kernel by all of padlab's compiled sources
(:mod:`padlab._compiled`), not only by the file that defines it: a kernel never runs an old
version of a loop it inlines from another file. If numba cannot write a cache here, a one-line
hint says to set ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

__all__ = ["WARM_DTYPES", "cache_dir", "cached", "ensure", "notice", "required", "warm"]

#: The float types every kernel is compiled for (see :mod:`padlab.ops.dtypes`).
WARM_DTYPES = ("float32", "float64")
#: Where padlab's compiled (numba) functions live: the engines and the 16-bit PNG decoder.
COMPILED_MODULES = ("padlab.engine.", "padlab.io.pngfilter")

_lock = threading.RLock()
_state: dict[str, object] = {"ready": False, "owner": None}


def _after_fork() -> None:
    """A forked child starts with a free lock (the parent's holder thread is not there)."""
    global _lock
    _lock = threading.RLock()
    _state["owner"] = None


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork)


def _roots() -> dict[tuple[str, str], object]:
    """The numba functions the engines call from Python (compiled with ``nogil=True``)."""
    from numba.core.registry import CPUDispatcher

    import padlab.engine.direct
    import padlab.engine.gemm
    import padlab.engine.separable
    import padlab.io.pngfilter  # noqa: F401  (16-bit colour PNGs)

    found: dict[tuple[str, str], object] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(COMPILED_MODULES) or module is None:
            continue
        for attr, obj in vars(module).items():
            if (
                isinstance(obj, CPUDispatcher)
                and obj.targetoptions.get("nogil")
                and getattr(obj.py_func, "__module__", None) == name
            ):
                found[(name, attr)] = obj
    return found


def _cached_dtypes(dispatcher: object) -> set[str]:
    """The float dtypes of the signatures in ``dispatcher``'s disk cache index."""
    try:
        index = dispatcher._cache._cache_file._load_index()  # type: ignore[attr-defined]
    except Exception:  # numba internals changed: nothing known
        return set()
    dtypes = set()
    for key in index:
        found = [str(arg.dtype) for arg in key[0] if hasattr(arg, "dtype")]
        floats = [d for d in found if d in WARM_DTYPES]
        if floats or found:  # a float kernel by its float dtype, any other by its first array's
            dtypes.add(floats[0] if floats else found[0])
    return dtypes


def cache_dir() -> str | None:
    """The directory where numba caches padlab's compiled kernels (None if unknown).

    ``NUMBA_CACHE_DIR`` moves it; by default it is ``__pycache__`` next to padlab's engine
    sources, or numba's per-user cache when that is not writable.

    Examples
    --------
    >>> isinstance(cache_dir(), str)
    True
    """
    from padlab.engine.direct import conv_direct  # noqa: F401  (numba)

    for (module, _), dispatcher in sorted(_roots().items()):
        if not module.startswith("padlab.engine."):  # the engines' cache holds the marker
            continue
        path = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
        if path:
            return str(path)
    return None


def _marker() -> Path | None:
    from padlab import __version__

    directory = cache_dir()
    if directory is None:
        return None
    return Path(directory) / f"padlab-warm-{__version__}.json"


def required() -> list[tuple[str, str, str]]:
    """The (module, function, dtype) triples the last full compilation left in the cache."""
    marker = _marker()
    try:
        data = json.loads(marker.read_text()) if marker else None
        return [tuple(item) for item in data["kernels"]]  # type: ignore[index]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def cached() -> bool:
    """True if every kernel any padlab command needs is in numba's disk cache.

    Examples
    --------
    >>> isinstance(cached(), bool)
    True
    """
    needed = required()
    if not needed:
        return False
    roots = _roots()
    for module, name, dtype in needed:
        dispatcher = roots.get((module, name))
        if dispatcher is None or dtype not in _cached_dtypes(dispatcher):
            return False
    return True


def _warm_calls(dtypes: tuple[str, ...] = WARM_DTYPES) -> None:
    """One small call of every engine in each dtype: compiles (or loads) every kernel."""
    import numpy as np

    from padlab.ops.cnn import conv_nd
    from padlab.ops.filtering import correlate

    rng = np.random.default_rng(0)
    for dtype in dtypes:
        x = rng.random((24, 24)).astype(dtype)
        correlate(x, rng.random((3, 3)).astype(dtype), mode="reflect", method="direct")
        correlate(x, np.outer([1, 2, 1], [1, 0, -1]).astype(dtype), method="separable")
        conv_nd(
            rng.random((1, 2, 12, 12)).astype(dtype),
            rng.random((8, 2, 3, 3)).astype(dtype),
            padding="same",
            method="gemm",
        )
    if WARM_DTYPES[0] in dtypes:  # the decoder of 16-bit colour PNGs (padlab filter, report)
        from padlab.engine.spin import warm_up
        from padlab.io.png import decode_png16, encode_png

        decode_png16(encode_png(np.zeros((2, 2, 3), np.uint16)))
        warm_up()  # the thread pool's compiled waits


class _Progress:
    """Prints a line as each engine kernel starts and ends compiling (numba compile events)."""

    def __init__(self, stream: TextIO) -> None:
        from numba.core import event

        class Listener(event.Listener):
            def on_start(inner, ev: event.Event) -> None:
                self.start(ev.data)

            def on_end(inner, ev: event.Event) -> None:
                self.end(ev.data)

        self.listener = Listener()
        self.stream = stream
        self.functions = 0
        self.started: dict[int, float] = {}

    @staticmethod
    def _is_root(data: dict) -> bool:
        dispatcher = data.get("dispatcher")
        return bool(getattr(dispatcher, "targetoptions", {}).get("nogil")) and str(
            getattr(getattr(dispatcher, "py_func", None), "__module__", "")
        ).startswith(COMPILED_MODULES)

    @staticmethod
    def _label(data: dict) -> str:
        dispatcher = data["dispatcher"]
        module = dispatcher.py_func.__module__.rsplit(".", 1)[-1]
        if module == "pngfilter":
            return "16-bit PNG decoder"
        if module == "spin":  # wait_change, wait_idle
            return f"thread pool's {dispatcher.py_func.__name__.replace('_', ' ')}"
        dtypes = (str(getattr(a, "dtype", "")) for a in data.get("args", ()))
        dtype = next((d for d in dtypes if d in WARM_DTYPES), "")
        return f"{module} engine, {dtype}" if dtype else f"{module} engine"

    def _say(self, text: str) -> None:
        print(f"padlab:   {text}", file=self.stream, flush=True)

    def start(self, data: dict) -> None:
        if self._is_root(data):
            self.started[id(data["dispatcher"])] = time.perf_counter()
            self._say(f"{self._label(data)}...")

    def end(self, data: dict) -> None:
        self.functions += 1
        if self._is_root(data):
            began = self.started.pop(id(data["dispatcher"]), time.perf_counter())
            self._say(f"{self._label(data)}: {time.perf_counter() - began:.1f} s")


@contextmanager
def _locked_saves() -> Iterator[None]:
    """Serialise numba's cache writes between processes (the parallel warm-up's two).

    numba saves a compiled overload by reading the function's index, picking a free data file
    name and rewriting the index: two processes compiling the same function for different
    dtypes at once could pick the same name. An exclusive ``flock`` around each save, on a
    lock file in the cache directory, prevents that.
    """
    try:
        import fcntl

        from numba.core import caching

        original = caching.IndexDataCacheFile.save
    except (ImportError, AttributeError):  # pragma: no cover - not POSIX, or numba changed
        yield
        return

    def save(self: Any, key: object, data: object) -> None:
        try:
            directory = self._cache_path
            lock = open(os.path.join(directory, ".padlab-save.lock"), "a")
        except (OSError, AttributeError):
            original(self, key, data)
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                original(self, key, data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    caching.IndexDataCacheFile.save = save  # type: ignore[method-assign]
    try:
        yield
    finally:
        caching.IndexDataCacheFile.save = original  # type: ignore[method-assign]


def _helper(dtypes: tuple[str, ...]) -> subprocess.Popen | None:
    """A second process compiling ``dtypes`` alongside this one (None if it cannot start)."""
    from padlab._process import python_helper

    # its progress lines go to our stderr
    return python_helper("padlab.ops.warmup", *dtypes, stdout=subprocess.DEVNULL)


# far beyond any compilation seen (2 min on a 2-core machine at load 14): only a stuck helper
_HELPER_TIMEOUT = 1800.0


def _wait(helper: subprocess.Popen, timeout: float = _HELPER_TIMEOUT) -> int:
    """The helper's exit status; a helper still running after ``timeout`` s is stopped (-1)."""
    try:
        return helper.wait(timeout)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
        return -1


def _compile(dtypes: tuple[str, ...], progress: _Progress) -> None:
    from numba.core import event

    owner = _state["owner"]
    _state["owner"] = threading.get_ident()  # our own filtering calls pass through ensure()
    try:
        with _locked_saves(), event.install_listener("numba:compile", progress.listener):
            _warm_calls(dtypes)
    finally:
        _state["owner"] = owner


def warm(stream: TextIO | None = None, *, parallel: bool = True) -> int:
    """Compile every kernel now (loading those already cached), with progress on ``stream``.

    With two or more threads (see :mod:`padlab._threads`) and ``parallel``, float64 compiles in
    a second process while this one compiles float32 (numba compiles one function at a time
    per process). Returns the number of functions compiled in this process. Writes the marker
    that :func:`cached` checks.
    """
    from padlab._threads import threads

    stream = stream or sys.stderr
    progress = _Progress(stream)
    started = time.perf_counter()
    helper = None
    with _lock:
        if parallel and threads() >= 2:
            helper = _helper(WARM_DTYPES[1:])
        try:
            _compile(WARM_DTYPES[:1] if helper else WARM_DTYPES, progress)
            failed = helper is not None and _wait(helper) != 0
        except BaseException:  # Ctrl-C, an error: the helper stops too
            if helper is not None:
                helper.kill()
                helper.wait()
            raise
        if failed:
            _compile(WARM_DTYPES[1:], progress)  # the helper failed: do its part here
    roots = _roots()
    kernels = sorted(
        (module, name, dtype)
        for (module, name), d in roots.items()
        for dtype in sorted(_cached_dtypes(d))
    )
    marker = _marker()
    if marker is not None and kernels:
        try:
            tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"kernels": kernels}))
            os.replace(tmp, marker)
        except OSError:
            pass
    print(
        f"padlab: kernels ready in {time.perf_counter() - started:.0f} s; later runs load them "
        f"from {cache_dir()}",
        file=stream,
        flush=True,
    )
    if not kernels or not cached():
        print(
            "padlab: numba could not cache the compiled kernels, so every process compiles "
            "them again; set NUMBA_CACHE_DIR to a writable directory",
            file=stream,
            flush=True,
        )
    return progress.functions


def ensure(stream: TextIO | None = None) -> bool:
    """Make sure every kernel is compiled; the first time on a machine, compile them all.

    Cheap after the first call in a process. Safe from several threads (the others wait) and
    re-entrant (the warm-up's own filtering calls pass straight through). Returns True if this
    call compiled (and printed the notice).
    """
    if _state["ready"] or _state["owner"] == threading.get_ident():
        return False
    with _lock:  # another thread compiling: wait for it
        if _state["ready"]:
            return False
        compiled = False
        if not cached():
            print(
                "padlab: compiling its kernels for this machine, once for every command "
                f"({' and '.join(WARM_DTYPES)}; about 20 s, up to a few minutes on a busy "
                "machine)...",
                file=stream or sys.stderr,
                flush=True,
            )
            warm(stream)
            compiled = True
        _state["ready"] = True
        return compiled


def notice(stream: TextIO | None = None) -> bool:
    """Compile the kernels now if they are not cached, saying so; True if it compiled.

    The command line calls it early. It also loads numba's typing and lowering registries now
    (about 1 s, imports included), which numba otherwise does when the first compiled kernel is
    loaded from the cache, and loads them without SciPy's BLAS (see :func:`_without_scipy_blas`).
    """
    compiled = ensure(stream)
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target

        # as numba itself does before loading a kernel
        with global_compiler_lock, _without_scipy_blas():
            cpu_target.target_context.refresh()
    except Exception:  # pragma: no cover - numba internals changed: the first call does it
        pass
    return compiled


@contextmanager
def _without_scipy_blas() -> Iterator[None]:
    """numba's registries import ``scipy.linalg`` (16 MB of resident memory: SciPy's BLAS and
    LAPACK) to choose between BLAS and a plain loop for ``np.vdot`` and friends in compiled
    code, which padlab's kernels never call; loaded within this block they take the loop for
    those. A command owns its process, so ``padlab report`` and ``padlab compare`` load the
    registries this way (a library call never does). Importing ``scipy.linalg`` afterwards
    works as usual, and numba still imports it when it compiles ``np.dot`` or ``np.linalg``.
    """
    name = "scipy.linalg.cython_blas"
    if "scipy.linalg" in sys.modules or name in sys.modules:
        yield  # already loaded: nothing to save
        return
    sys.modules[name] = None  # type: ignore[assignment]  # "import scipy.linalg.cython_blas" fails
    try:
        yield
    finally:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


def _main(argv: list[str]) -> int:
    """``python -m padlab.ops.warmup DTYPE...``: the parallel warm-up's helper process."""
    dtypes = tuple(d for d in argv if d in WARM_DTYPES)
    _compile(dtypes or WARM_DTYPES, _Progress(sys.stderr))
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the helper process
    from padlab.ops import warmup as _module  # the imported module: its state is shared

    sys.exit(_module._main(sys.argv[1:]))
