"""Big images from and to disk, lazily: TIFF, zarr and OME-Zarr in; zarr or TIFF out.

Reading opens the file without loading it (TIFF through tifffile's zarr view, so tiled and
striped TIFFs are read chunk by chunk). Writing computes and stores one block at a time into a
temporary beside the target and renames it at the end (:mod:`padlab._files`): a failure or
Ctrl-C leaves nothing half-written behind, and the previous output, if any, is untouched.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from padlab._files import atomic_directory
from padlab.dask._graph import from_store
from padlab.errors import PadlabFileError, PadlabValueError

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["open_image", "save"]

_TIFF = (".tif", ".tiff")


def _first_array(node: object) -> object:
    """An array, or level 0 of an OME-Zarr / multiscale group."""
    import zarr

    if isinstance(node, zarr.Array):
        return node
    attrs = dict(node.attrs)  # type: ignore[attr-defined]
    ome = attrs.get("ome", attrs)
    scales = ome.get("multiscales") if isinstance(ome, dict) else None
    if scales:
        return node[scales[0]["datasets"][0]["path"]]  # type: ignore[index]
    for name in ("0", "image", "data"):
        if name in node:  # type: ignore[operator]
            return _first_array(node[name])  # type: ignore[index]
    raise PadlabFileError(f"{node}: a zarr group with no image array (no multiscales, no '0')")


def open_image(
    path: str | os.PathLike[str], chunks: int | None = None
) -> tuple[da.Array, int | None]:
    """Open a TIFF, zarr or OME-Zarr image lazily, as ``(dask array, channel_axis)``.

    Singleton axes (OME-Zarr's t, c, z of length 1) are dropped. A remaining third axis is the
    channel axis: first for OME-Zarr (c, y, x), last for TIFF (y, x, samples).

    Parameters
    ----------
    path : path
    chunks : int, optional
        Chunk side in samples along the spatial axes (default: the file's own chunks or
        tiles).

    Examples
    --------
    >>> import tempfile, os, numpy as np, tifffile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.tif")
    >>> tifffile.imwrite(path, np.arange(12, dtype=np.uint8).reshape(3, 4))
    >>> image, channel_axis = open_image(path, chunks=2)
    >>> image.chunks, channel_axis
    (((2, 1), (2, 2)), None)
    """
    import zarr

    p = Path(path)
    if not p.exists():
        raise PadlabFileError(f"{path}: no such file or directory")
    ome = False
    array: object
    try:
        if p.suffix.lower() in _TIFF:
            array = _TiffRegions(p)
        else:
            node = zarr.open(p, mode="r")
            ome = not isinstance(node, zarr.Array)
            array = _first_array(node)
    except PadlabFileError:
        raise
    except Exception as err:
        raise PadlabFileError(f"{path}: cannot open as TIFF or zarr ({err})") from None
    shape = tuple(array.shape)  # type: ignore[attr-defined]
    ndim = len(shape)
    keep = [a for a in range(ndim) if shape[a] != 1 or a >= ndim - 2]
    if len(keep) not in (2, 3):
        kept = tuple(shape[a] for a in keep)
        raise PadlabValueError(f"{path}: an image needs 2 axes (+ channels), got shape {kept}")
    channel_axis = None if len(keep) == 2 else (0 if ome else -1)
    own = tuple(array.chunks)  # type: ignore[attr-defined]
    block = [own[a] for a in keep]
    if chunks is not None:
        if chunks < 1:
            raise PadlabValueError(f"chunks must be at least 1, got {chunks}")
        block = [chunks] * len(keep)
        if channel_axis is not None:
            block[channel_axis] = shape[keep[channel_axis]]
    squeeze = tuple(a for a in range(ndim) if a not in keep)
    # blocks filtered by padlab.dask read their windows straight from the file
    x = from_store(array, tuple(block), squeeze)
    return x, channel_axis


#: open TIFF handles no read is using, oldest first: (owner, zarr array, tifffile store)
_IDLE: list[tuple[object, Any, Any]] = []
_IDLE_LOCK = threading.Lock()
#: at most this many idle handles stay open, over all TIFFs (the oldest is closed first)
_IDLE_MAX = 8
_OWNERS = itertools.count()


class _TiffRegions:
    """A TIFF read region by region (level 0), through open handles that are reused.

    Opening the file costs more than reading a window from it (tiled 4096x4096 float32: a
    1024x1024 window in 6.7 ms with the open, most of it the open), so a read takes an idle
    handle of this TIFF if there is one and gives it back after; a read with none opens one.
    At most :data:`_IDLE_MAX` idle handles stay open over all TIFFs of the process (the oldest
    closes first), so a loop over many files does not run out of file descriptors. Picklable
    (it travels as its path), so workers of a cluster open their own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._owner = next(_OWNERS)
        handle = self._take()
        array = handle[0]
        self.shape = tuple(array.shape)
        self.dtype = array.dtype
        self.chunks = tuple(array.chunks)
        self.ndim = len(self.shape)
        self._give(handle)

    def _take(self) -> tuple[Any, Any]:
        with _IDLE_LOCK:
            for i in range(len(_IDLE) - 1, -1, -1):
                if _IDLE[i][0] == self._owner:
                    _, array, store = _IDLE.pop(i)
                    return array, store
        import tifffile
        import zarr

        store = tifffile.imread(self.path, aszarr=True)
        return _first_array(zarr.open(store, mode="r")), store

    def _give(self, handle: tuple[Any, Any]) -> None:
        with _IDLE_LOCK:
            _IDLE.append((self._owner, *handle))
            surplus = [_IDLE.pop(0) for _ in range(len(_IDLE) - _IDLE_MAX)]
        for _, _, store in surplus:
            store.close()

    def __getitem__(self, key: object) -> object:
        handle = self._take()
        try:
            return handle[0][key]
        finally:
            self._give(handle)

    def __getstate__(self) -> dict[str, object]:
        keep = ("path", "shape", "dtype", "chunks", "ndim")
        return {name: self.__dict__[name] for name in keep}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._owner = next(_OWNERS)


def _regular(x: da.Array) -> da.Array:
    """zarr needs regular chunks (all equal but a smaller last one)."""
    chunks = x.chunks
    if all(all(c == axis[0] for c in axis[:-1]) and axis[-1] <= axis[0] for axis in chunks):
        return x
    return x.rechunk(tuple(max(axis) for axis in chunks))


def save(
    array: da.Array,
    path: str | os.PathLike[str],
    *,
    scheduler: object = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Compute ``array`` block by block into ``path`` (``.zarr`` directory or ``.tif``).

    The output is written into a temporary beside ``path`` and renamed when complete, so a
    failure or Ctrl-C leaves nothing behind. ``scheduler`` is passed to ``dask.compute``
    (None: threads; an address or a ``distributed.Client`` runs it on that cluster);
    ``progress(done, total)`` is called as blocks are stored (threaded runs).

    Examples
    --------
    >>> import tempfile, os, numpy as np, dask.array as da, zarr
    >>> target = os.path.join(tempfile.mkdtemp(), "out.zarr")
    >>> _ = save(da.ones((5, 6), chunks=2), target)
    >>> zarr.open(target, mode="r")[:].sum()
    np.float64(30.0)
    """

    import dask

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".zarr", *_TIFF):
        raise PadlabValueError(f"{path}: write a .zarr directory or a .tif file")
    x = _regular(array) if suffix == ".zarr" else array
    callbacks = []
    if progress is not None:
        from dask.callbacks import Callback

        report = progress  # narrowed to not None, also inside the class

        class _Bar(Callback):
            def _start_state(self, dsk, state):
                self.total = sum(len(state[k]) for k in ("ready", "waiting", "running"))
                self.done = 0
                report(0, self.total)

            def _posttask(self, key, result, dsk, state, worker_id):
                self.done += 1
                report(self.done, self.total)

        callbacks.append(_Bar())
    client = None
    if isinstance(scheduler, str):
        from distributed import Client

        client = Client(scheduler, timeout="10s")
        scheduler = client
    pool = None
    if scheduler is None:
        # our own threads, so that a failure waits for every running write before the
        # temporary is removed (dask's default pool would keep writing into it)
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(os.cpu_count() or 1)
    try:
        with dask.config.set(pool=pool), _callbacks(callbacks):
            if suffix == ".zarr":
                import zarr

                with atomic_directory(target) as work:
                    store = zarr.open_array(
                        str(work / "image"),
                        mode="w-",
                        shape=x.shape,
                        chunks=tuple(c[0] for c in x.chunks),
                        dtype=x.dtype,
                    )
                    _store(x, store, scheduler, pool, progress)
                    _move_up(work / "image", work)
            else:
                _save_tiff(x, target, scheduler, pool, progress)
    finally:
        if client is not None:
            client.close()
        if pool is not None:
            pool.shutdown(wait=True)
    return target


def _move_up(inner: Path, work: Path) -> None:
    """The zarr array at the top of the output directory (next to padlab's marker)."""
    for item in inner.iterdir():
        os.replace(item, work / item.name)
    inner.rmdir()


def _store(
    x: da.Array,
    out: Any,
    scheduler: object,
    pool: object,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """``da.store``; on failure, wait for the writes still running before the caller cleans up.

    On a distributed cluster with ``progress``, the stored blocks are followed as they finish
    (the local callbacks that drive the threaded progress bar do not see a cluster's tasks).
    """
    import dask.array as da

    distributed = sys.modules.get("distributed")  # a Client exists only if it was imported
    if progress is not None and distributed and isinstance(scheduler, distributed.Client):
        from distributed import as_completed, futures_of

        client: Any = scheduler
        futures = futures_of(client.persist(da.store(x, out, lock=False, compute=False)))
        progress(0, len(futures))
        try:
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                progress(done, len(futures))
        except BaseException:
            client.cancel(futures)
            raise
        return
    try:
        da.store(x, out, lock=False, scheduler=scheduler)
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # type: ignore[attr-defined]
        raise


class _callbacks:
    def __init__(self, items: list) -> None:
        self.items = items

    def __enter__(self) -> None:
        for c in self.items:
            c.register()

    def __exit__(self, *exc: object) -> None:
        for c in self.items:
            c.unregister()


def _save_tiff(
    x: da.Array,
    target: Path,
    scheduler: object,
    pool: object,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """A BigTIFF written through a memory map: each block is stored where it belongs."""
    import tifffile

    from padlab._files import atomic_path

    if not target.resolve().parent.is_dir():
        raise PadlabFileError(f"{target}: the directory {target.parent} does not exist")
    with atomic_path(target) as tmp:
        mm = tifffile.memmap(
            tmp,
            shape=x.shape,
            dtype=x.dtype,
            bigtiff=True,
            photometric="minisblack",
        )
        try:
            _store(x, mm, scheduler, pool, progress)
            mm.flush()
        finally:
            del mm
