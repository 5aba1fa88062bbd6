"""padlab.dask: chunked correlate/convolve/pad equal the in-memory functions, bitwise.

Oracles: padlab's in-memory path (itself tested against numpy, scipy, OpenCV and torch) and
numpy.pad; Hypothesis draws shapes, chunkings (1-sample chunks, chunks smaller than the halo),
kernels larger than the axis, every rule, every geometry, strides and dilations.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import padlab
import padlab.dask as pdd
from padlab.dask._graph import from_store

pytestmark = pytest.mark.dask

RULES = [
    "zeros",
    "constant",
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "partial",
    "reflect_odd",
    "symmetric_odd",
    "linear_ramp",
    "mean",
    "median",
    "minimum",
    "maximum",
]
INDEX_RULES = ["zeros", "constant", "reflect", "symmetric", "replicate", "circular", "partial"]


@pytest.fixture(autouse=True, scope="module")
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


@st.composite
def chunkings(draw, n: int) -> tuple[int, ...]:
    """Random cut points; often 1-sample chunks."""
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 6)))) if n > 1 else []
    edges = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def cases(draw, rules=RULES):
    ndim = draw(st.integers(1, 3))
    top = {1: 30, 2: 14, 3: 7}[ndim]
    shape = tuple(draw(st.integers(1, top)) for _ in range(ndim))
    chunks = tuple(draw(chunkings(n)) for n in shape)
    ksize = tuple(draw(st.integers(1, {1: 9, 2: 6, 3: 3}[ndim])) for _ in range(ndim))
    kind = draw(st.sampled_from(["same", "valid", "full", "int", "pairs"]))
    if kind == "int":
        padding = draw(st.integers(0, 12))
    elif kind == "pairs":
        padding = tuple((draw(st.integers(0, 30)), draw(st.integers(0, 30))) for _ in range(ndim))
    else:
        padding = kind
    if draw(st.booleans()):
        mode = draw(st.sampled_from(rules))
    else:
        mode = tuple(draw(st.sampled_from(rules)) for _ in range(ndim))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 3))
    convention = draw(st.sampled_from(["tf", "scipy"]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8]))
    seed = draw(st.integers(0, 2**16))
    return shape, chunks, ksize, padding, mode, stride, dilation, convention, dtype, seed


def _options(mode) -> dict:
    modes = [mode] if isinstance(mode, str) else list(mode)
    kw: dict = {}
    if "constant" in modes:
        kw["value"] = 2.5
    if "linear_ramp" in modes:
        kw["end_values"] = (1.0, -3.0)
    if {"mean", "median", "minimum", "maximum"} & set(modes):
        kw["stat_length"] = 3
    return kw


def _data(shape, ksize, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        x = rng.integers(0, 256, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    k = rng.standard_normal(ksize).astype(np.float64)
    return x, k


class Chunked:
    """An array-like store with chunks, as a zarr array is (blocks read windows from it)."""

    def __init__(self, array: np.ndarray, chunks: tuple) -> None:
        self.array, self.chunks = array, chunks
        self.shape, self.dtype = array.shape, array.dtype
        self.reads: list = []

    def __getitem__(self, key):
        self.reads.append(key)
        return self.array[key].copy()  # decoded anew, as a zarr array's chunks are


def _source(x, chunks, store: bool):
    """The input as a dask array (blocks read shared chunks) or as a store (windows)."""
    return Chunked(x, chunks) if store else da.from_array(x, chunks=chunks)


def _both(func, case, method, store=False):
    shape, chunks, ksize, padding, mode, stride, dilation, convention, dtype, seed = case
    x, k = _data(shape, ksize, dtype, seed)
    kw = dict(
        padding=padding,
        mode=mode,
        stride=stride,
        dilation=dilation,
        convention=convention,
        method=method,
        **_options(mode),
    )
    try:
        expected = getattr(padlab, func)(x, k, **kw)
    except padlab.PadlabError as err:
        with pytest.raises(type(err)) as chunked:
            getattr(pdd, func)(_source(x, chunks, store), k, **kw)
        assert str(chunked.value) == str(err)
        return None, None, None
    lazy = getattr(pdd, func)(_source(x, chunks, store), k, **kw)
    return expected, lazy, chunks


@settings(max_examples=60)
@given(cases(), st.sampled_from(["correlate", "convolve"]), st.booleans())
def test_direct_bitwise(case, func, store):
    expected, lazy, chunks = _both(func, case, "direct", store)
    if expected is None:
        return
    got = lazy.compute()
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert lazy.chunks == pdd.output_chunks(
        chunks, case[2], padding=case[3], stride=case[5], dilation=case[6]
    )


@pytest.mark.parametrize("ksize", [(3, 3), (9, 9), (2, 9), (5, 9), (9, 3)])
@pytest.mark.parametrize("padding", ["same", "valid", ((3, 5), (4, 4))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_bitwise_with_row_pairs(ksize, padding, dtype):
    """3x3 kernels and kernels with rows of nine taps: the in-memory band computes two rows
    at a time where rows are wide enough; a full-width block whose rows start at an odd row
    pairs the rows the other way (row 6 alone in a block of 7, paired with row 7 in memory),
    a narrow block pairs none; every output is the same."""
    x, k = _data((31, 420), ksize, dtype, seed=sum(ksize))
    expected = padlab.correlate(x, k, padding=padding, mode="reflect", method="direct")
    chunkings = (
        ((7, 11, 13), (150, 270)),
        ((31,), (420,)),
        ((7, 11, 13), (420,)),
        ((6, 25), (420,)),
    )
    for chunks in (*chunkings, ((1, 30), (40, 380))):  # full-width blocks pair other rows
        got = pdd.correlate(
            da.from_array(x, chunks=chunks), k, padding=padding, mode="reflect", method="direct"
        )
        np.testing.assert_array_equal(got.compute(), expected)


@settings(max_examples=12)
@given(cases(), st.booleans())
def test_reference_bitwise(case, store):
    expected, lazy, _ = _both("correlate", case, "reference", store)
    if expected is not None:
        np.testing.assert_array_equal(lazy.compute(), expected)


def test_reference_pads_the_channels_as_one_stack():
    """A channel whose ramp is flat (its edge is the end value) changes numpy's linspace
    formula for the whole stack: the in-memory reference pads the channels at once, as the fast
    engines and padlab.dask do, so all three agree bitwise (per channel it differed by 1e-13)."""
    rng = np.random.default_rng(49)
    x = rng.integers(0, 100, size=(9, 2, 2)).astype(float)
    assert (x == 1.0).any()  # some edge sample equals the end value: a flat ramp
    k = rng.normal(size=(15, 3))
    kw = dict(mode="linear_ramp", end_values=1.0, channel_axis=2)
    memory = padlab.correlate(x, k, method="reference", **kw)
    chunked = pdd.correlate(da.from_array(x, chunks=(4, 1, 1)), k, method="reference", **kw)
    np.testing.assert_array_equal(chunked.compute(), memory)
    np.testing.assert_allclose(padlab.correlate(x, k, method="direct", **kw), memory, rtol=1e-12)


@st.composite
def separable_cases(draw):
    case = list(draw(cases()))
    if len(case[0]) != 2:
        case[0] = (draw(st.integers(1, 14)), draw(st.integers(1, 14)))
        case[1] = (draw(chunkings(case[0][0])), draw(chunkings(case[0][1])))
        case[2] = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
        case[4] = draw(st.sampled_from(RULES))
    return tuple(case)


@settings(max_examples=15)
@given(separable_cases())
def test_separable_bitwise(case):
    shape, chunks, ksize, padding, mode, stride, dilation, _convention, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    k = np.outer(rng.standard_normal(ksize[0]), rng.standard_normal(ksize[1]))
    kw = dict(padding=padding, mode=mode, stride=stride, dilation=dilation, **_options(mode))
    try:
        expected = padlab.correlate(x, k, method="separable", **kw)
    except padlab.PadlabError:
        return
    got = pdd.correlate(da.from_array(x, chunks=chunks), k, method="separable", **kw)
    np.testing.assert_array_equal(got.compute(), expected)


@settings(max_examples=15)
@given(cases(rules=INDEX_RULES))
def test_fft_and_auto_within_tolerance(case):
    for method in ("fft", "auto"):
        expected, lazy, _ = _both("correlate", case, method)
        if expected is None:
            return
        got = lazy.compute()
        scale = max(1.0, float(np.abs(expected).max()))
        tol = 2e-4 if got.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol * scale)


@settings(max_examples=25)
@given(
    st.integers(1, 9),
    st.integers(1, 7),
    st.data(),
    st.sampled_from([r for r in RULES if r != "partial"]),
)
def test_pad_bitwise_any_width(n, m, data, mode):
    rng = np.random.default_rng(n * 31 + m)
    x = rng.standard_normal((n, m))
    width = tuple((data.draw(st.integers(0, 25)), data.draw(st.integers(0, 25))) for _ in range(2))
    chunks = (data.draw(chunkings(n)), data.draw(chunkings(m)))
    kw = _options(mode)
    expected = padlab.pad(x, width, mode, **kw)
    got = pdd.pad(da.from_array(x, chunks=chunks), width, mode, **kw)
    np.testing.assert_array_equal(got.compute(), expected)
    if mode in ("constant", "reflect", "symmetric", "replicate", "linear_ramp", "minimum"):
        numpy_mode = {"replicate": "edge", "constant": "constant"}.get(mode, mode)
        np.testing.assert_allclose(
            got.compute(),
            np.pad(
                x,
                width,
                numpy_mode,
                **(
                    {"constant_values": 2.5}
                    if mode == "constant"
                    else {"end_values": (1.0, -3.0)}
                    if mode == "linear_ramp"
                    else {"stat_length": 3}
                    if mode == "minimum"
                    else {}
                ),
            ),
            rtol=0,
            atol=1e-12,
        )


def test_channels_and_dtype_policy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 23, 3)).astype(np.uint8)
    k = rng.standard_normal((5, 4))
    for axis in (-1, 0):
        img = np.moveaxis(x, -1, axis)
        lazy = pdd.correlate(
            da.from_array(img, chunks=7), k, mode="reflect", channel_axis=axis, method="direct"
        )
        expected = padlab.correlate(img, k, mode="reflect", channel_axis=axis, method="direct")
        assert lazy.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(lazy.compute(), expected)


def test_output_chunks_rule():
    chunks = ((30, 30, 40), (7, 41, 42))
    assert pdd.output_chunks(chunks, (5, 5)) == chunks
    assert pdd.output_chunks(chunks, (5, 5), stride=2) == ((15, 15, 20), (4, 20, 21))
    assert pdd.output_chunks(chunks, (5, 5), stride=3, dilation=2) == ((10, 10, 14), (3, 13, 14))
    assert pdd.output_chunks(chunks, (5, 5), padding="valid") == ((30, 30, 36), (7, 41, 38))
    assert pdd.output_chunks(chunks, (5, 5), padding="full") == ((30, 30, 44), (7, 41, 46))
    # a stride larger than a chunk drops the blocks left empty
    assert pdd.output_chunks(((1, 1, 1, 5),), (3,), stride=4) == ((1, 1),)
    # channel axis keeps its chunks
    assert pdd.output_chunks(((5, 5), (2, 1)), (3,), channel_axis=1, stride=2) == ((3, 2), (2, 1))


class _Exploding(Exception):
    pass


def _explode(block):
    raise _Exploding("a chunk was read")


def _untouchable(shape, chunks):
    base = da.zeros(shape, chunks=chunks, dtype=np.float32)
    return base.map_blocks(_explode, dtype=np.float32)


@pytest.mark.parametrize("mode", RULES)
def test_building_the_graph_reads_no_chunk(mode):
    x = _untouchable((40, 50), (7, 9))
    y = pdd.correlate(x, np.ones((5, 3)), mode=mode, stride=2, **_options(mode))
    p = pdd.pad(x, 9, "zeros" if mode == "partial" else mode, **_options(mode))
    assert y.shape == (20, 25) and p.shape == (58, 68)
    for lazy in (y, p):
        with pytest.raises(_Exploding):
            lazy.compute()


@pytest.mark.parametrize(
    ("kwargs", "kernel"),
    [
        ({"mode": "nope"}, (3, 3)),
        ({"padding": "valid"}, (50, 3)),
        ({"stride": 0}, (3, 3)),
        ({"mode": "reflect", "value": 3}, (3, 3)),
        ({"method": "separable"}, "random"),
        ({"method": "magic"}, (3, 3)),
        ({"convention": "left"}, (3, 3)),
        ({"mode": ("reflect",)}, (3, 3)),
    ],
)
def test_errors_at_build_with_in_memory_messages(kwargs, kernel):
    x = _untouchable((40, 50), (7, 9))
    k = np.random.default_rng(1).standard_normal((3, 3)) if kernel == "random" else np.ones(kernel)
    with pytest.raises(padlab.PadlabError) as in_memory:
        padlab.correlate(np.zeros((40, 50), np.float32), k, **kwargs)
    with pytest.raises(type(in_memory.value)) as chunked:
        pdd.correlate(x, k, **kwargs)
    assert str(chunked.value) == str(in_memory.value)


def test_pad_errors_and_laziness():
    x = _untouchable((4, 5), 2)
    with pytest.raises(padlab.PadlabValueError, match="partial"):
        pdd.pad(x, 1, "partial")
    with pytest.raises(padlab.PadlabValueError) as chunked:
        pdd.pad(x, 1, "reflect", value=2)
    with pytest.raises(padlab.PadlabValueError) as in_memory:
        padlab.pad(np.zeros((4, 5)), 1, "reflect", value=2)
    assert str(chunked.value) == str(in_memory.value)


def test_not_imported_by_padlab():
    import subprocess
    import sys

    code = "import padlab, sys; print('dask' in sys.modules, 'padlab.dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _methods(lazy) -> set[str]:
    """The engine recorded in every block task of a padlab.dask graph."""
    graph = dict(lazy.__dask_graph__())
    return {
        str(task[3].method)
        for key, task in graph.items()
        if isinstance(key, tuple) and str(key[0]).startswith("padlab-correlate")
    }


def test_auto_decides_once_for_the_whole_image():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 280)).astype(np.float32)
    k = rng.standard_normal((31, 31)).astype(np.float32)
    chunks = ((1, 50, 249), (7, 13, 260))  # blocks of very different sizes: one decision
    lazy = pdd.correlate(da.from_array(x, chunks=chunks), k, mode="reflect")
    methods = _methods(lazy)
    assert methods == {"auto:fft:direct"}  # the in-memory cost model picks the FFT here
    expected = padlab.correlate(x, k, mode="reflect")
    np.testing.assert_allclose(lazy.compute(), expected, rtol=0, atol=2e-4 * np.abs(expected).max())
    # a NaN anywhere: the FFT is refused for the whole image, as in memory (bitwise direct)
    x[299, 0] = np.nan
    lazy = pdd.correlate(da.from_array(x, chunks=chunks), k, mode="reflect")
    expected = padlab.correlate(x, k, mode="reflect")
    np.testing.assert_array_equal(lazy.compute(), expected)
    np.testing.assert_array_equal(expected, padlab.correlate(x, k, mode="reflect", method="direct"))


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_blocks_run_in_dask_threads_alone(monkeypatch, method):
    """With as many blocks as threads, dask's threads run the blocks side by side and a
    block's engine uses no thread of padlab's pool (no second layer of threads); with one
    block, the engine still spreads its work over the pool."""
    import padlab._threads as threads_module

    if threads_module.threads() < 2:
        monkeypatch.setattr(threads_module, "threads", lambda: 2)
        monkeypatch.setattr(pdd.filtering, "threads", lambda: 2)
    submitted = []
    real_pool = threads_module.pool

    class Recording:
        """The pool's team, recording the threads that hand it a job."""

        def __init__(self) -> None:
            self.team = real_pool()
            self.busy = self.team.busy

        def run(self, job: object, brief: bool = False) -> None:
            submitted.append(threading.get_ident())
            self.team.run(job, brief)  # type: ignore[arg-type]

    monkeypatch.setattr(threads_module, "pool", Recording)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1200, 1200)).astype(np.float32)  # work well above SERIAL_WORK
    k = rng.standard_normal((31, 31) if method == "fft" else (5, 5)).astype(np.float32)
    expected = padlab.correlate(x, k, mode="reflect", method=method)
    submitted.clear()
    with dask.config.set(scheduler="threads", num_workers=2):
        lazy = pdd.correlate(da.from_array(x, chunks=600), k, mode="reflect", method=method)
        got = lazy.compute()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert submitted == []
    lazy = pdd.correlate(da.from_array(x, chunks=1200), k, mode="reflect", method=method)
    with dask.config.set(scheduler="threads", num_workers=2):
        lazy.compute()
    assert submitted  # one block: the engine's own threads


def test_a_chunked_store_is_read_once_per_chunk_per_computation():
    """A chunked store decodes a whole chunk for any part of it; the blocks of a graph read
    their windows through the chunks they share (kept while the computation runs), so each
    chunk is read once, and computing again reads the store again (a changed store counts)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 50)).astype(np.float32)
    store = Chunked(x, (10, 10))
    k = rng.standard_normal((5, 5))
    lazy = pdd.correlate(store, k, mode="reflect", method="direct")
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(lazy.compute(), padlab.correlate(x, k, mode="reflect"))
    regions = [tuple((s.start, s.stop) for s in key) for key in store.reads]
    assert len(regions) == len(set(regions)) == 6 * 5  # every chunk, once
    store.reads.clear()
    x[7:13, 20:30] += 1.0  # the store changes: the next computation sees it
    with dask.config.set(scheduler="threads", num_workers=2):
        np.testing.assert_array_equal(lazy.compute(), padlab.correlate(x, k, mode="reflect"))
    assert 6 * 5 <= len(store.reads) <= 2 * 6 * 5  # read again (two threads may share a miss)


@pytest.mark.parametrize(
    ("shape", "store_chunks", "blocks"),
    [
        ((61, 47), (10, 10), (10, 10)),  # axes not a multiple of the chunk
        ((61, 47), ((7, 10, 10, 10, 10, 14), (20, 20, 7)), (10, 10)),  # dask-style chunks
        ((61, 47), (8, 6), (20, 20)),  # blocks spanning several of the store's chunks
        ((1, 61, 47), (1, 16, 16), (16, 16)),  # a length-1 axis the image leaves out
    ],
)
def test_windows_read_through_shared_chunks_equal_the_image(shape, store_chunks, blocks):
    """Through the chunk cache, every rule's result equals the in-memory one, whatever the
    store's chunks (regular, irregular, misaligned with the blocks, with a squeezed axis); a
    partial computation then a change to the store: the next computation reads the change."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    store = Chunked(x, store_chunks)
    lazy_input = from_store(store, blocks, squeeze=(0,) if len(shape) == 3 else ())
    image = x.reshape(shape[-2:])
    k = rng.standard_normal((5, 3))
    for mode in ("reflect", "circular", "zeros", "mean"):
        lazy = pdd.correlate(lazy_input, k, mode=mode, method="direct")
        np.testing.assert_array_equal(lazy.compute(), padlab.correlate(image, k, mode=mode))
    lazy = pdd.correlate(lazy_input, k, mode="reflect", method="direct")
    with dask.config.set(scheduler="synchronous"):
        lazy[:12].compute()  # some blocks only: no last block empties the cache
        image += 1.0  # x changes in place: the store reads the new values
        expected = padlab.correlate(image, k, mode="reflect")
        np.testing.assert_array_equal(lazy[:12].compute(), expected[:12])
        np.testing.assert_array_equal(lazy.compute(), expected)


@pytest.mark.parametrize("mode", ["reflect", "circular", "partial"])
def test_a_store_is_read_window_by_window(mode):
    """Given a store (a zarr array, a memory map...), every output block reads its own window
    from it, halos included, and no block waits for another block's chunk: what keeps the
    memory bounded by the chunk size, not by a row of chunks."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 50)).astype(np.float32)
    store = Chunked(x, (10, 10))
    k = rng.standard_normal((5, 5))
    lazy = pdd.correlate(store, k, mode=mode, method="direct")
    assert store.reads == []  # building the graph reads nothing
    graph = dict(lazy.__dask_graph__())
    assert not any(
        "from-array" in str(key) or "store-" in str(key[0])
        for key in graph
        if isinstance(key, tuple)
    )  # fmt: skip  (no shared chunk tasks)
    np.testing.assert_array_equal(lazy.compute(), padlab.correlate(x, k, mode=mode))
    sizes = [np.prod([s.stop - s.start for s in key]) for key in store.reads]
    assert max(sizes) <= 10 * 10  # parts of single chunks, never a merged region
    assert sum(sizes) <= x.size * (14 * 14) / (10 * 10)  # each block: its chunk + a 2-wide halo
    # the dask array made from the store (and only that one) is read this way
    derived = pdd.correlate(from_store(store, (10, 10)) + 0, k, mode=mode, method="direct")
    assert any(isinstance(key, tuple) and "add" in key[0] for key in dict(derived.dask))


def test_a_threads_window_buffer_is_reused_unless_the_result_shares_it():
    """A block's window is put together in a buffer its thread reuses for the next window
    (no fresh pages for every block), but never while a block's result is part of it."""
    import zarr

    from padlab.dask._graph import StoreSource, _from_store, _Windows

    x = np.arange(36.0 * 40).reshape(36, 40)
    store = zarr.create_array(zarr.storage.MemoryStore(), shape=x.shape, chunks=(12, 16),
                              dtype=x.dtype)  # fmt: skip
    store[:] = x
    windows = _Windows(StoreSource(store), tasks=4)
    # batch axis first; a wrap-around on the first spatial axis
    key = (slice(None), (slice(0, 14), slice(30, 40)), (slice(2, 20),))
    want = np.concatenate([x[0:14, 2:20], x[30:40, 2:20]])
    kept = []

    def block(part, reads, static, block_static, extra):
        kept.append(part[0][0])  # the window, as a block sees it
        return part[0][0] * 2  # a new array

    def view(part, reads, static, block_static, extra):
        return part[0][0][:, 1:]  # part of its window

    args = ((None, None), None, None, None)  # reads (one per axis), static, block, extra
    np.testing.assert_array_equal(
        _from_store(block, windows, 0, key, None, x.dtype, *args)[0], 2 * want
    )
    _from_store(block, windows, 1, key, None, x.dtype, *args)
    assert np.shares_memory(kept[0], kept[1])  # the same buffer, read again
    np.testing.assert_array_equal(kept[1][0], want)
    result = _from_store(view, windows, 2, key, None, x.dtype, *args)
    _from_store(block, windows, 3, key, None, x.dtype, *args)
    assert not np.shares_memory(kept[-1], result)  # the result kept its memory
    np.testing.assert_array_equal(result[0], want[1:])
    assert kept[-1].shape == (1, *want.shape)


def test_a_chunk_is_read_at_most_twice_when_its_neighbours_come_late(monkeypatch):
    """With room for one whole chunk only, the halos a chunk's neighbours read come from its
    kept edges: each chunk is read at most twice (for a neighbour's halo before its own block,
    then for its own block), where each block read up to 9 chunks before."""
    import padlab.dask._graph as graph

    monkeypatch.setattr(graph, "CHUNK_CACHE_BYTES", 0)
    monkeypatch.setattr(graph, "CHUNK_CACHE_MIN", 1)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 80)).astype(np.float32)
    k = rng.standard_normal((5, 3)).astype(np.float32)
    for mode in ("reflect", "circular"):
        store = Chunked(x, (16, 16))
        lazy = pdd.correlate(from_store(store, (16, 16)), k, mode=mode, method="direct")
        with dask.config.set(scheduler="synchronous"):
            got = lazy.compute()
        np.testing.assert_array_equal(got, padlab.correlate(x, k, mode=mode))
        chunks = Counter((key[0].start, key[1].start) for key in store.reads)
        assert len(chunks) == 20 and max(chunks.values()) <= 2, chunks
    # the kept edges own their memory: a view of a chunk would keep the whole chunk alive
    windows = graph._Windows(graph.StoreSource(Chunked(x, (16, 16))), tasks=2)
    windows[(slice(0, 18), slice(0, 18))]  # a 2-sample halo into three neighbours
    windows[(slice(14, 34), slice(14, 34))]
    assert windows._bands and all(band.base is None for band in windows._bands.values())


class _Failing(Chunked):
    """A slow store whose ``fail_at``-th read fails (reads still running when it does)."""

    fail_at = 0

    def __getitem__(self, key):
        import time

        if len(self.reads) + 1 == self.fail_at:
            self.reads.append(key)
            raise RuntimeError("read failed")
        time.sleep(0.005)
        return super().__getitem__(key)


def test_a_computation_after_an_interrupted_one_reads_the_store_again():
    """Reads still running from a failed threaded computation neither count towards the next
    computation nor fill its caches: each later computation reads the store as it is then."""
    x = np.random.default_rng(0).standard_normal((64, 64))
    k = np.ones((3, 3))
    store = _Failing(x, (16, 16))
    lazy = pdd.correlate(from_store(store, (16, 16)), k, mode="reflect", method="direct")
    with dask.config.set(scheduler="threads", num_workers=2):
        store.fail_at = 3
        with pytest.raises(RuntimeError, match="read failed"):
            lazy.compute()
        for _ in range(3):
            np.testing.assert_array_equal(lazy.compute(), padlab.correlate(x, k, mode="reflect"))
            x += 1.0  # the store changes between computations
