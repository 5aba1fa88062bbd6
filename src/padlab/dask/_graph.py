"""Gathering windows of a chunked array: the one graph primitive of :mod:`padlab.dask`.

An output block reads, along every axis, a list of source indices of the input (any order,
repeated, or -1 for "the constant"). At graph build time each list becomes an
:class:`AxisRead`: which input blocks it touches, the range it needs in each, and where every
entry sits in their concatenation. The task slices the touched blocks, joins them and takes the
entries; no block is merged with another in the graph and no chunk is read while building.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from padlab._memo import remember

if TYPE_CHECKING:
    import dask.array as da
    from dask.typing import Key

__all__ = ["AxisRead", "StoreSource", "assemble", "axis_reads", "build_array", "from_store"]


@dataclass(frozen=True)
class AxisRead:
    """What one output block reads along one axis.

    Attributes
    ----------
    touched : tuple of int
        Input block numbers along the axis, increasing.
    ranges : tuple of (int, int)
        The part of each touched block that is needed (block-local start, stop).
    idx : ndarray or None
        Positions in the concatenation of those parts, in reading order; None when the
        concatenation is read as it is.
    mask : ndarray of bool or None
        Entries that read the constant instead of a sample (their ``idx`` is 0).
    """

    touched: tuple[int, ...]
    ranges: tuple[tuple[int, int], ...]
    idx: np.ndarray | None
    mask: np.ndarray | None


def axis_reads(src: np.ndarray, bounds: np.ndarray) -> AxisRead:
    """The :class:`AxisRead` of global source indices ``src`` (-1: constant).

    ``bounds`` are the block starts along the axis followed by its length.

    Examples
    --------
    >>> r = axis_reads(np.array([4, 3, 2, 3, -1]), np.array([0, 3, 6]))
    >>> r.touched, r.ranges, r.idx.tolist(), r.mask.tolist()
    ((0, 1), ((2, 3), (0, 2)), [2, 1, 0, 1, 0], [False, False, False, False, True])
    """
    src = np.asarray(src, dtype=np.int64)
    mask = src < 0
    real = src[~mask]
    if real.size == 0:  # only the constant: read one sample to get the other axes' shape
        return AxisRead((0,), ((0, 1),), np.zeros(src.size, np.int64), mask)
    block = np.searchsorted(bounds, real, side="right") - 1
    touched = np.unique(block)
    ranges = []
    offsets = np.zeros(int(block.max()) + 1, np.int64)
    starts = np.zeros(int(block.max()) + 1, np.int64)
    total = 0
    for t in touched:
        part = real[block == t] - bounds[t]
        lo, hi = int(part.min()), int(part.max()) + 1
        ranges.append((lo, hi))
        offsets[t] = total
        starts[t] = lo
        total += hi - lo
    idx = np.zeros(src.size, np.int64)
    idx[~mask] = offsets[block] + real - bounds[block] - starts[block]
    has_mask = bool(mask.any())
    if not has_mask and idx.size == total and np.array_equal(idx, np.arange(total)):
        return AxisRead(tuple(int(t) for t in touched), tuple(ranges), None, None)
    return AxisRead(tuple(int(t) for t in touched), tuple(ranges), idx, mask if has_mask else None)


def assemble(
    nested: object, reads: Sequence[AxisRead], fills: Sequence[object] | None = None
) -> np.ndarray:
    """Join the needed parts of the touched blocks (nested lists, one level per axis), then
    take each axis's entries; masked entries get that axis's fill (later axes win, as in
    ``numpy.pad``)."""
    ndim = len(reads)

    def cut(node: Any, depth: int, index: tuple[slice, ...]) -> Any:
        if depth == ndim:
            return np.asarray(node)[index]
        return [
            cut(child, depth + 1, (*index, slice(*reads[depth].ranges[i])))
            for i, child in enumerate(node)
        ]

    parts = cut(nested, 0, ())
    if all(len(r.touched) == 1 for r in reads):
        arr = parts
        for _ in range(ndim):
            arr = arr[0]
        arr = np.asarray(arr)
    else:
        arr = np.block(parts)
    for axis, r in enumerate(reads):
        if r.idx is not None:
            arr = np.take(arr, r.idx, axis=axis)
        if r.mask is not None:
            assert fills is not None
            arr[(slice(None),) * axis + (r.mask,)] = fills[axis]
    return arr


@dataclass(frozen=True)
class StoreSource:
    """An array-like (zarr array, TIFF regions, numpy array, memory map) that blocks read
    directly: each output block reads its own window, halos included, from the store.

    Shared input chunks make the memory of a chunked filter grow with the image (a chunk stays
    in memory until the blocks on both sides of it are done: a whole row of chunks); reading
    every window from the store (through :class:`_Windows`, whose chunk cache is bounded)
    keeps the memory bounded by the chunk size.

    Attributes
    ----------
    store : array-like
        Anything sliced like a numpy array (``store[slices]``), with ``shape`` and ``dtype``.
    squeeze : tuple of int
        Axes of ``store`` of length 1 that the dask array leaves out (OME-Zarr's t, c, z).
    """

    store: Any
    squeeze: tuple[int, ...] = ()

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        full = list(key)
        for axis in self.squeeze:
            full.insert(axis, slice(None))
        part = np.asarray(self.store[tuple(full)])
        return part.reshape(tuple(n for a, n in enumerate(part.shape) if a not in self.squeeze))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n for a, n in enumerate(self.store.shape) if a not in self.squeeze)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.store.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)


#: a graph's chunk cache holds at least this many bytes of whole chunks (and at least
#: CHUNK_CACHE_MIN chunks): what the blocks of a row and their neighbours read again
CHUNK_CACHE_BYTES = 64 * 2**20
CHUNK_CACHE_MIN = 9
#: a graph's cache of chunk edges (the halos its neighbours read) holds at most this many bytes
BAND_CACHE_BYTES = 32 * 2**20


class _Windows:
    """What the tasks of one graph read their windows through: a :class:`StoreSource`, and the
    whole chunks recently read from it.

    A block's window is parts of up to ``3**ndim`` chunks, and a chunked store (a zarr array, a
    TIFF) decodes a whole chunk to hand out any part of it: a 1024x1024 window with a 7-sample
    halo read from an uncompressed zarr array cost 7.5 times its own chunk. The neighbouring
    blocks read the same chunks, so the chunks are kept, most recently used last, within
    ``max(CHUNK_CACHE_BYTES, CHUNK_CACHE_MIN * the largest chunk)`` (bounded by the chunk size,
    not the image); a part spanning several chunks is put together from them.

    The cache lives as long as a computation: it is emptied once every block of the graph has
    read its window, and when a block starts reading a second time (a new computation, after
    a partial or interrupted one), so that computing the graph again reads the store again. A
    cluster's worker keeps its own (the object is sent without it), freed with the graph.

    A chunk's edges, as wide as the halos its neighbours read (learnt from the windows asked
    for), are kept apart from the chunk, within :data:`BAND_CACHE_BYTES`: a neighbour that
    comes after the chunk left the cache reads its halo from them instead of the store
    (8192x8192 in 1024x1024 chunks, 15x15, dask's order on one worker: 174 reads of the 64
    chunks, each a few ms in zarr, then 106; the rest are chunks read for a halo before their
    own block, then again for it).

    A window is put together in a buffer that its thread reuses for its next block's window
    (:meth:`release`), unless the block's result shares memory with it: a new window of a few
    MiB for every block made the system zero fresh pages for each (4096x4096 zarr array,
    1024x1024 chunks, 3x3 circular, one thread: 10,500 to 25,000 -> 6,500 page faults per run).
    """

    def __init__(self, source: StoreSource, tasks: int) -> None:
        self.source = source
        self.tasks = tasks
        self._start()

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[object] = set()  # blocks that started reading in this computation
        self._finished = 0
        self._buffers: dict[int, np.ndarray] = {}  # per thread: the window buffer to reuse
        self._generation = 0  # one per computation
        self._readers: dict[int, int] = {}  # per thread: the generation of its read
        # (chunk, axis, 0 for its low edge or 1 for its high edge) -> that edge of the chunk
        self._bands = _Cache(BAND_CACHE_BYTES, keep=0)
        self._edges = self._bounds()
        self._widths = [0] * len(self.source.store.shape)  # the halos seen, per store axis
        limit = CHUNK_CACHE_BYTES
        if self._edges is not None:
            largest = math.prod(int(np.diff(e).max(initial=0)) for e in self._edges)
            itemsize = np.dtype(self.source.store.dtype).itemsize
            limit = max(CHUNK_CACHE_BYTES, CHUNK_CACHE_MIN * largest * itemsize)
        self._chunks = _Cache(limit, keep=1)  # chunk index -> the chunk

    def __getstate__(self) -> dict[str, object]:
        return {"source": self.source, "tasks": self.tasks}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._start()

    def _bounds(self) -> list[np.ndarray] | None:
        """The chunk edges of the store per axis (zarr's chunk sizes or dask's chunk tuples),
        or None for a store without chunks."""
        store = self.source.store
        grid = getattr(store, "chunks", None)
        if not (isinstance(grid, tuple) and len(grid) == len(store.shape)):
            return None
        bounds = []
        for size, n in zip(grid, store.shape, strict=True):
            if isinstance(size, int | np.integer) and size > 0:
                edges = np.minimum(np.arange(0, n + size, size), n)
            elif isinstance(size, tuple) and sum(size) == n:
                edges = np.cumsum((0, *size))
            else:
                return None
            bounds.append(edges)
        return bounds

    def _reset(self) -> None:
        """A new computation (the lock held): empty caches, and a new generation, so that the
        reads still running from an interrupted one neither count nor fill the caches."""
        self._seen.clear()
        self._chunks.clear()
        self._buffers.clear()
        self._bands.clear()
        self._finished = 0
        self._generation += 1

    def begin(self, block: object) -> None:
        """``block`` starts reading its window (a block seen before: a new computation)."""
        with self._lock:
            if block in self._seen:
                self._reset()
            self._seen.add(block)
            self._readers[threading.get_ident()] = self._generation

    def done(self) -> None:
        """A block has read its window; after the graph's last, the cache is emptied."""
        with self._lock:
            if self._readers.pop(threading.get_ident(), None) != self._generation:
                return  # a read left over from an interrupted computation
            self._finished += 1
            if self._finished >= self.tasks:
                self._reset()

    def __getitem__(self, key: tuple[slice | tuple[slice, ...], ...]) -> np.ndarray:
        """The window ``key``: per axis a slice, or a tuple of slices (runs joined in order,
        such as a wrap-around), put together in one copy."""
        source = self.source
        runs = [cut if isinstance(cut, tuple) else (cut,) for cut in key]
        if self._edges is None:
            return _joined(source, runs)  # not chunked (numpy, memory map): read as asked
        store = source.store
        for axis in source.squeeze:
            runs.insert(axis, (slice(None),))
        pieces: list[list[tuple[int, slice, slice]]] = []  # per axis: (chunk, in chunk, region)
        for cuts, edges, n in zip(runs, self._edges, store.shape, strict=True):
            along = []
            for cut in cuts:
                start, stop, step = cut.indices(n)
                if step != 1 or stop <= start:
                    return _joined(
                        source, [r for a, r in enumerate(runs) if a not in source.squeeze]
                    )
                first = int(np.searchsorted(edges, start, side="right")) - 1
                last = int(np.searchsorted(edges, stop - 1, side="right")) - 1
                for i in range(first, last + 1):
                    lo, hi = int(edges[i]), int(edges[i + 1])
                    inner = slice(max(start, lo) - lo, min(stop, hi) - lo)
                    along.append((i, inner, slice(lo, hi)))
            pieces.append(along)

        self._learn(pieces)
        # a copy (the caller may write into it, the chunk stays), in this thread's buffer
        lengths = [[cut.stop - cut.start for _, cut, _ in along] for along in pieces]
        part = self._buffer(tuple(sum(n) for n in lengths), np.dtype(store.dtype))
        starts = [np.cumsum([0, *n[:-1]]) for n in lengths]
        for combo in itertools.product(*(range(len(along)) for along in pieces)):
            index = tuple(pieces[a][j][0] for a, j in enumerate(combo))
            within = tuple(pieces[a][j][1] for a, j in enumerate(combo))
            region = tuple(pieces[a][j][2] for a, j in enumerate(combo))
            target = tuple(
                slice(int(starts[a][j]), int(starts[a][j]) + lengths[a][j])
                for a, j in enumerate(combo)
            )
            part[target] = self._piece(index, region, within)
        return part.reshape(tuple(n for a, n in enumerate(part.shape) if a not in source.squeeze))

    def _buffer(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of ``shape`` for this thread's window: the last one, if it fits."""
        thread = threading.get_ident()
        with self._lock:
            found = self._buffers.get(thread)
            if found is not None and found.dtype == dtype and found.size >= math.prod(shape):
                return found.ravel()[: math.prod(shape)].reshape(shape)
        buffer = np.empty(shape, dtype)
        with self._lock:
            self._buffers[thread] = buffer
        return buffer

    def release(self, result: object) -> None:
        """The calling thread's block is done with its window; a window whose memory the block's
        ``result`` shares (a pad block returns part of its window) is not reused."""
        thread = threading.get_ident()
        with self._lock:
            found = self._buffers.get(thread)
            if found is not None and (
                not isinstance(result, np.ndarray) or np.may_share_memory(result, found)
            ):
                del self._buffers[thread]

    def _learn(self, pieces: list[list[tuple[int, slice, slice]]]) -> None:
        """Widen the kept edges to the halos of this window: its parts that start or end at a
        chunk's edge and span at most a quarter of the chunk."""
        with self._lock:
            for axis, along in enumerate(pieces):
                for _, cut, whole in along:
                    n, length = whole.stop - whole.start, cut.stop - cut.start
                    if (cut.start == 0 or cut.stop == n) and 4 * length <= n:
                        self._widths[axis] = max(self._widths[axis], length)

    def _piece(
        self, index: tuple[int, ...], region: tuple[slice, ...], inner: tuple[slice, ...]
    ) -> np.ndarray:
        """``chunk[inner]``: from the cached chunk, else from a kept edge that holds it, else
        read (and kept)."""
        with self._lock:
            found = self._chunks.get(index)
            if found is not None:
                return found[inner]
            for axis, (cut, whole) in enumerate(zip(inner, region, strict=True)):
                n = whole.stop - whole.start
                for side in (0, 1):
                    band = self._bands.get((index, axis, side))
                    if band is None:
                        continue
                    width = band.shape[axis]
                    if side == 0 and cut.stop <= width:
                        local = cut
                    elif side == 1 and cut.start >= n - width:
                        local = slice(cut.start - (n - width), cut.stop - (n - width))
                    else:
                        continue
                    return band[(*inner[:axis], local, *inner[axis + 1 :])]
        return self._chunk(index, region)[inner]

    def _chunk(self, index: tuple[int, ...], region: tuple[slice, ...]) -> np.ndarray:
        with self._lock:
            found = self._chunks.get(index)
            if found is not None:
                return found
        chunk = np.asarray(self.source.store[region])
        with self._lock:
            if self._readers.get(threading.get_ident(), self._generation) != self._generation:
                return chunk  # read for an interrupted computation: not kept
            for axis, width in enumerate(self._widths):
                n = chunk.shape[axis]
                if 0 < width and 4 * width <= n:
                    for side, cut in ((0, slice(0, width)), (1, slice(n - width, n))):
                        where = (slice(None),) * axis + (cut,)
                        # a copy: a view (an edge along the first axis is contiguous) would
                        # keep the whole chunk alive past the chunk cache's bound
                        self._bands.put((index, axis, side), chunk[where].copy())
            self._chunks.put(index, chunk)
        return chunk


class _Cache:
    """Arrays by key within ``limit`` bytes, the least recently used evicted first (but never
    the last ``keep`` put). Not locked: its owner holds a lock.

    Examples
    --------
    >>> cache = _Cache(100, keep=1)
    >>> cache.put("a", np.zeros(10)); cache.put("b", np.zeros(10))  # 80 bytes each
    >>> cache.get("a") is None, cache.get("b").size, cache.nbytes
    (True, 10, 80)
    """

    def __init__(self, limit: float, keep: int) -> None:
        from collections import OrderedDict

        self.limit, self.keep = limit, keep
        self.items: OrderedDict[object, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def __bool__(self) -> bool:
        return bool(self.items)

    def values(self) -> Iterable[np.ndarray]:
        return self.items.values()

    def get(self, key: object) -> np.ndarray | None:
        """The array under ``key`` (now the most recently used), or None."""
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: object, array: np.ndarray) -> None:
        old = self.items.pop(key, None)
        self.nbytes += array.nbytes - (0 if old is None else old.nbytes)
        self.items[key] = array
        while self.nbytes > self.limit and len(self.items) > self.keep:
            self.nbytes -= self.items.popitem(last=False)[1].nbytes

    def clear(self) -> None:
        self.items.clear()
        self.nbytes = 0


def _joined(source: StoreSource, runs: Sequence[tuple[slice, ...]]) -> np.ndarray:
    """``source`` read run by run (per axis, a tuple of slices), joined in order."""
    if all(len(r) == 1 for r in runs):
        return source[tuple(r[0] for r in runs)]

    def nest(depth: int, key: tuple[slice, ...]) -> object:
        if depth == len(runs):
            return source[key]
        return [nest(depth + 1, (*key, cut)) for cut in runs[depth]]

    return np.block(nest(0, ()))  # type: ignore[call-overload]


#: dask arrays made by :func:`from_store`, by name: :mod:`padlab.dask` reads their windows
#: straight from the store (an array derived from them has another name and is read by chunks)
_STORES: dict[str, StoreSource] = {}


def from_store(store: object, chunks: object, squeeze: tuple[int, ...] = ()) -> da.Array:
    """A dask array over ``store`` whose filtered blocks read their windows from the store.

    Examples
    --------
    >>> x = from_store(np.arange(12.0).reshape(3, 4), chunks=2)
    >>> x.chunks, float(x.sum().compute()), store_of(x) is not None, store_of(x + 1) is None
    (((2, 1), (2, 2)), 66.0, True, True)
    """
    import dask.array as da
    from dask.base import tokenize

    source = StoreSource(store, tuple(squeeze))
    name = f"padlab-store-{tokenize(source, chunks)}"
    meta = np.empty((0,) * source.ndim, source.dtype)  # so that building reads nothing
    x = da.from_array(source, chunks=chunks, name=name, asarray=True, meta=meta)
    remember(_STORES, x.name, source, 256)
    return x


def store_of(x: da.Array) -> StoreSource | None:
    """The store ``x`` was made from by :func:`from_store`, or None."""
    return _STORES.get(x.name)


def _read_window(store: Any, key: tuple, channel: int | None, dtype: np.dtype) -> np.ndarray:
    """The window ``key`` (batch axis first: the store's ``channel`` axis, or a new axis for
    None) read from ``store`` in one piece, in ``dtype``."""
    if channel is None:
        part = np.asarray(store[key[1:]])[None]
    else:
        native = list(key[1:])
        native.insert(channel, key[0])
        part = np.moveaxis(np.asarray(store[tuple(native)]), channel, 0)
    return part.astype(dtype, copy=False)


def _from_store(func, windows, block, key, channel, dtype, reads, static, block_static, extra):
    windows.begin(block)
    try:
        part: object = _read_window(windows, key, channel, dtype)
    finally:
        windows.done()
    for _ in reads:  # one part: nested one level per axis, as the touched blocks would be
        part = [part]
    result = None
    try:
        result = func(part, reads, static, block_static, extra)
    finally:
        windows.release(result)  # after an error too: the window is not reused then
    return result


def build_array(
    name: str,
    source: da.Array,
    reads: Sequence[Sequence[AxisRead]],
    out_chunks: tuple[tuple[int, ...], ...],
    dtype: np.dtype,
    func: Callable[..., np.ndarray],
    static: object,
    block_static: Sequence[Sequence[object]],
    extra: object = None,
    store: tuple[StoreSource, int | None, np.dtype] | None = None,
) -> da.Array:
    """A dask array whose block ``J`` is ``func(blocks, reads_J, static, block_static_J, extra)``.

    ``reads[axis][j]`` and ``block_static[axis][j]`` describe output block ``j`` along
    ``axis``; ``blocks`` are the touched input blocks as nested lists. ``extra`` is passed to
    every task (it may be a dask key, e.g. a global flag computed once).

    ``store``: ``(store, channel axis, dtype)`` to read the needed part of every touched block
    straight from the store (see :func:`_read_window`) instead of depending on ``source``'s
    chunks, whose chunking then only describes the blocks.
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    src_name = source.name
    dsk: dict[Key, object] = {}
    grids = [range(len(c)) for c in out_chunks]
    deps: list[Any] = [source]  # dask collections
    extra_key = None
    if extra is not None and hasattr(extra, "__dask_graph__"):
        deps.append(extra)
        extra_key = extra.__dask_keys__()  # type: ignore[attr-defined]
        while isinstance(extra_key, list):
            extra_key = extra_key[0]

    def keys(prefix: tuple[int, ...], touched: Sequence[Sequence[int]]) -> object:
        depth = len(prefix)
        if depth == len(touched):
            return (src_name, *prefix)
        return [keys((*prefix, t), touched) for t in touched[depth]]

    bounds = [np.cumsum([0, *c]) for c in source.chunks]

    def spans(axis: int, r: AxisRead) -> tuple[tuple[int, int], ...]:
        """The store intervals an axis's window reads, runs that abut joined into one (a
        halo and its chunk are one read, one copy; a wrap-around stays two)."""
        joined: list[tuple[int, int]] = []
        for t, (lo, hi) in zip(r.touched, r.ranges, strict=True):
            start, stop = int(bounds[axis][t] + lo), int(bounds[axis][t] + hi)
            if joined and joined[-1][1] == start:
                joined[-1] = (joined[-1][0], stop)
            else:
                joined.append((start, stop))
        return tuple(joined)

    store_key = None
    if store is not None:
        deps = deps[1:]
        store_key = f"{name}-store"
        # once in the graph, not in every task; its chunk cache serves this graph's tasks
        dsk[store_key] = _Windows(store[0], math.prod(len(c) for c in out_chunks))
    for block in itertools.product(*grids):
        rs = tuple(reads[a][j] for a, j in enumerate(block))
        bs = tuple(block_static[a][j] for a, j in enumerate(block))
        flag = extra_key if extra_key else extra
        if store is None:
            nested = keys((), [list(r.touched) for r in rs])
            dsk[(name, *block)] = (func, nested, rs, static, bs, flag)
            continue
        # the window is read in one piece (its runs joined): one part, from 0 to its length
        cuts = [spans(a, r) for a, r in enumerate(rs)]
        read = tuple(
            AxisRead(r.touched[:1], ((0, sum(hi - lo for lo, hi in c)),), r.idx, r.mask)
            for r, c in zip(rs, cuts, strict=True)
        )
        key = tuple(tuple(slice(lo, hi) for lo, hi in c) for c in cuts)
        task = (_from_store, func, store_key, block, key, store[1], store[2])
        dsk[(name, *block)] = (*task, read, static, bs, flag)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=deps)
    return da.Array(graph, name, chunks=out_chunks, dtype=dtype)
