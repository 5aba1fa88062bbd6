"""``padlab.dask.correlate``, ``convolve``, ``pad`` and ``output_chunks``: exact seams on chunks.

How a block is computed
-----------------------
The rule, the geometry, the dtype and the engine are resolved once, for the whole image, by
the in-memory code (:func:`padlab.ops.filtering.resolve_filter`), so a bad argument fails while
the graph is built, with the in-memory message, and no chunk is read. Then every output block
reads, through the per-axis index tables of :mod:`padlab.modes.index`, exactly the samples of
the one virtual padded image its windows cover: seams read the neighbouring blocks (several
blocks away, or around the axis, when the kernel or the padding is wide), only the true border
gets the rule, and no block pads itself.

Why the result is bitwise the in-memory one
-------------------------------------------
Filtering an explicitly padded window with ``padding='valid'`` is *not* always bitwise the
in-memory result: the in-memory engines sum the taps of a border output in another order than
those of an interior output (border columns are summed tap by tap, interior ones in groups of
taps; a padded row of the constant is summed apart). So a block does not get a padded window:
it gets a *local problem* that the engine classifies exactly as it classifies the same outputs
of the whole image:

- along every axis, the block's real samples with the same rule and local padding widths,
  plus the few samples the rule reads from elsewhere (the mirrored or wrapped-around samples),
  placed where the same rule finds them; at an end border, a few extra outputs are computed
  at the start and dropped, so that the border rows and columns stay border rows and columns
  (a padded row of the constant is summed apart, as in memory); no padded window is copied;
- ``partial`` scales each block by :func:`padlab.geometry.partial_scale` of the *global*
  geometry, sliced to the block;
- the arithmetic rules (odd reflections, ramps, statistics) are padded first, as in memory: a
  lazy :func:`pad` whose border strips come from the edge slabs only, computed by
  :func:`padlab.pad` itself; the block then reads the padded image with 'valid' geometry;
- ``method='auto'`` is decided once from the whole problem (the FFT's "all finite" check is a
  dask reduction computed once), and every block runs that engine.

The result is bitwise the in-memory result for the direct, separable and reference engines,
and within the FFT's tolerance for 'fft' (its tiles differ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from padlab._threads import serial_here, threads
from padlab.dask._graph import AxisRead, assemble, axis_reads, build_array, from_store, store_of
from padlab.engine.plan import Problem
from padlab.errors import PadlabTypeError
from padlab.geometry import Convention, Geometry, Padding, partial_scale
from padlab.modes.index import CIRCULAR, CONSTANT, INDEX_CODES, REFLECT, SYMMETRIC, index_table
from padlab.modes.padding import Options, StatLength, resolve_pad
from padlab.modes.padding import pad as pad_array
from padlab.modes.registry import Modes, resolve_mode
from padlab.ops.filtering import FilterArgs, Method, resolve_filter

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["convolve", "correlate", "output_chunks", "pad"]


def _as_dask(image: object, what: str):
    import dask.array as da

    if isinstance(image, da.Array):
        return image
    if hasattr(image, "shape") and hasattr(image, "dtype") and hasattr(image, "__getitem__"):
        # a zarr array, a memory map, a numpy array...: blocks read their windows from it
        chunks = getattr(image, "chunks", None)
        if not (isinstance(chunks, tuple) and len(chunks) == len(image.shape)):
            chunks = "auto"
        return from_store(image, chunks)
    if hasattr(image, "shape") and hasattr(image, "dtype"):
        return da.asarray(image)
    raise PadlabTypeError(
        f"{what}: image must be a dask array (or an array with shape and dtype), "
        f"got {type(image).__name__}"
    )


def _check_dtype(dtype: np.dtype, name: str) -> None:
    from padlab._validate import as_numeric_array

    as_numeric_array(np.empty(0, dtype=dtype), name)  # the in-memory message for bad dtypes


# --------------------------------------------------------------------------- output chunks


def _anchor_chunks(n: int, out: int, stride: int, chunks: Sequence[int]) -> tuple[int, ...]:
    """Output ``j`` goes with the input block holding sample ``clamp(j * stride, 0, n - 1)``."""
    bounds = np.cumsum([0, *chunks])
    anchors = np.clip(np.arange(out, dtype=np.int64) * stride, 0, n - 1)
    block = np.searchsorted(bounds, anchors, side="right") - 1
    counts = np.bincount(block, minlength=len(chunks))
    return tuple(int(c) for c in counts if c > 0)


def output_chunks(
    chunks: Sequence[Sequence[int]],
    kernel_shape: Sequence[int],
    *,
    padding: object = "same",
    stride: object = 1,
    dilation: object = 1,
    convention: str = "tf",
    channel_axis: int | None = None,
) -> tuple[tuple[int, ...], ...]:
    """The chunks of :func:`correlate`'s (and :func:`convolve`'s) output, from the input chunks.

    The rule: output sample ``j`` of a spatial axis belongs to the input block that holds its
    anchor sample ``clamp(j * stride, 0, n - 1)``; blocks left empty (a stride larger than a
    chunk) are dropped. So 'same' at stride 1 keeps the input chunks exactly, 'valid' shrinks
    the last block, 'full' grows it, and a stride divides every block. The channel axis keeps
    its chunks. No chunk is ever merged with its neighbours.

    Parameters
    ----------
    chunks : tuple of tuple of int
        The input's chunks (``array.chunks``).
    kernel_shape : sequence of int
        One size per spatial axis.
    padding, stride, dilation, convention, channel_axis
        As in :func:`padlab.correlate`.

    Returns
    -------
    tuple of tuple of int

    Examples
    --------
    >>> from padlab.dask import output_chunks
    >>> output_chunks(((30, 30, 40), (7, 41, 42)), (5, 5))
    ((30, 30, 40), (7, 41, 42))
    >>> output_chunks(((30, 30, 40), (7, 41, 42)), (5, 5), stride=2)
    ((15, 15, 20), (4, 20, 21))
    >>> output_chunks(((30, 30, 40),), (5,), padding="valid")
    ((30, 30, 36),)
    >>> output_chunks(((30, 30, 40),), (5,), padding="full")
    ((30, 30, 44),)
    """
    chunks = tuple(tuple(int(c) for c in axis) for axis in chunks)
    spatial = list(range(len(chunks)))
    if channel_axis is not None:
        spatial.pop(channel_axis % len(chunks))
    shape = tuple(sum(chunks[a]) for a in spatial)
    g = Geometry.resolve(shape, tuple(kernel_shape), padding, stride, dilation, convention)
    out = [tuple(axis) for axis in chunks]
    for i, a in enumerate(spatial):
        out[a] = _anchor_chunks(shape[i], g.out_shape[i], g.strides[i], chunks[a])
    return tuple(out)


# --------------------------------------------------------------------------- per-axis plans


@dataclass(frozen=True)
class _Local:
    """One output block along one spatial axis: its local problem."""

    src: np.ndarray  # global source indices of the local input (-1: constant)
    pads: tuple[int, int]
    skip: int  # leading local outputs computed only to keep border columns border columns
    count: int  # outputs of the block
    first: int  # global index of the block's first output


def _periods(n: int, code: int) -> int:
    return {REFLECT: 2 * n - 2, SYMMETRIC: 2 * n, CIRCULAR: n}[code]


def _axis_local(
    table: np.ndarray, n: int, before: int, code: int, p0: int, p1: int, s: int
) -> tuple[np.ndarray, tuple[int, int], int]:
    """Local input, pads and skipped outputs of a window ``[p0, p1)`` of one axis."""
    bl = max(before - p0, 0)
    al = max(p1 - (before + n), 0)
    r0 = max(p0 - before, 0)
    r1 = min(p1 - before, n)
    if code == CONSTANT:
        if r0 < r1:
            return np.arange(r0, r1), (bl, al), 0
        return np.array([0 if p1 <= before else n - 1]), (p1 - p0, 0), 0
    if r0 >= r1:  # the whole window lies in the padding
        if n == 1 or code not in (REFLECT, SYMMETRIC, CIRCULAR):
            return np.array([0 if p1 <= before else n - 1]), (p1 - p0, 0), 0
        period = _periods(n, code)
        shift = (before - p0) % period
        if shift < p1 - p0:
            shift += -(-(p1 - p0 - shift) // period) * period
        return np.arange(n), (shift, 0), 0
    if bl and al:
        return np.arange(n), (bl, al), 0
    if not bl and not al:
        return np.arange(r0, r1), (0, 0), 0
    if bl:  # left border only (r0 == 0)
        if code == CIRCULAR:
            if r1 + bl > n:
                return np.arange(n), (bl, 0), 0
            return np.concatenate([np.arange(0, r1), np.arange(n - bl, n)]), (bl, 0), 0
        need = int(table[p0:before].max())
        return np.arange(0, max(r1, need + 1)), (bl, 0), 0
    # right border only (r1 == n): the samples the rule reads go first; outputs are added on
    # the left (and dropped) so that the real samples end where the block's image ends
    if code == CIRCULAR:
        head = min(al, n)
        if head > r0:
            src, lead = np.arange(n), r0
        else:
            src, lead = np.concatenate([np.arange(0, head), np.arange(r0, n)]), head
    else:
        need = int(table[before + n : p1].min())
        u0 = min(r0, need)
        src, lead = np.arange(u0, n), r0 - u0
    skip = -(-lead // s)
    return src, (skip * s - lead, al), skip


def _axis_plan(
    n: int,
    pads: tuple[int, int],
    code: int,
    k: int,
    s: int,
    d: int,
    out_chunks: Sequence[int],
    *,
    gather: bool,
) -> list[_Local]:
    before, after = pads
    table = index_table(n, before, after, code)
    span = (k - 1) * d + 1
    plan = []
    o0 = 0
    for count in out_chunks:
        p0, p1 = o0 * s, (o0 + count - 1) * s + span
        if gather:
            src, local_pads, skip = np.asarray(table[p0:p1]), (0, 0), 0
        else:
            src, local_pads, skip = _axis_local(table, n, before, code, p0, p1, s)
        plan.append(_Local(src, local_pads, skip, count, o0))
        o0 += count
    return plan


# --------------------------------------------------------------------------- the block task


@dataclass(frozen=True)
class _Static:
    weights: np.ndarray
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    codes: tuple[int, ...]  # local rule codes (CONSTANT where the window is gathered)
    value: float
    fills: tuple[object, ...]  # per axis of the batch array (reference gathering)
    method: str  # 'direct', 'separable', 'fft', 'reference', or 'auto:<best>:<fallback>'
    partial: tuple[bool, ...]
    geometry: Geometry  # the global geometry (for the partial scale)
    dtype: np.dtype
    serial: bool  # blocks enough to keep every thread busy: each block runs in its own thread


#: A block's FFT tiles may hold as much as the block itself (the in-memory engine keeps them to
#: a tenth of its input): a tenth of a chunk makes small tiles, mostly overlap and per-tile
#: Python (4096x4096 in 1024x1024 chunks, 31x31, threads: 0.043 -> 0.031 CPU s/Mpixel), and
#: the memory stays bounded by the chunk size (or the engine's floor,
#: :data:`padlab.engine.choose.FFT_MIN_SCRATCH`, for chunks smaller than that).
BLOCK_FFT_SCRATCH = 1.0


def _correlate_block(
    blocks: object,
    reads: tuple[AxisRead, ...],
    st: _Static,
    local: tuple[object, ...],
    finite: object,
) -> np.ndarray:
    x = np.ascontiguousarray(assemble(blocks, reads, st.fills), dtype=st.dtype)
    spatial: tuple[_Local, ...] = local[1:]  # type: ignore[assignment]
    method = st.method
    if method.startswith("auto:"):
        _, best, fallback = method.split(":")
        method = best if (best != "fft" or bool(finite)) else fallback
    if method == "reference":
        return _reference_block(x, st, spatial)
    from padlab.engine import choose  # numba: imported in the worker, on first use

    out_shape = tuple(p.count + p.skip for p in spatial)
    geometry = Geometry(
        x.shape[1:],
        st.weights.shape,
        tuple(p.pads for p in spatial),
        st.strides,
        st.dilations,
        out_shape,
    )
    problem = Problem(x, st.weights, geometry, st.codes, st.value, BLOCK_FFT_SCRATCH)
    # dask runs the blocks side by side: no second layer of threads
    with serial_here() if st.serial else nullcontext():
        out = choose.run(problem, method)
    out = out[(slice(None), *(slice(p.skip, None) for p in spatial))]
    if any(st.partial):
        out = np.ascontiguousarray(out)
        out *= partial_scale(_block_geometry(st.geometry, spatial), st.partial, out.dtype)
    return out


def _block_geometry(g: Geometry, spatial: Sequence[_Local]) -> Geometry:
    """The global geometry seen from a block: same windows, outputs counted from its first."""
    pads = tuple(
        (b - p.first * s, a) for (b, a), p, s in zip(g.pads, spatial, g.strides, strict=True)
    )
    return Geometry(
        g.in_shape, g.kernel_shape, pads, g.strides, g.dilations, tuple(p.count for p in spatial)
    )


def _reference_block(x: np.ndarray, st: _Static, spatial: Sequence[_Local]) -> np.ndarray:
    from padlab.engine.reference import correlate_reference

    zeros = tuple(resolve_mode("zeros") for _ in spatial)
    g = Geometry(
        x.shape[1:],
        st.weights.shape,
        ((0, 0),) * len(spatial),
        st.strides,
        st.dilations,
        tuple(p.count for p in spatial),
    )
    out = correlate_reference(x, st.weights, g, zeros)
    if any(st.partial):
        # as the reference does: out * (taps / taps on real samples) in float64, or 0
        bg = _block_geometry(st.geometry, spatial)
        count = np.ones(bg.out_shape)
        for axis, is_partial in enumerate(st.partial):
            n, (b, _), k, s, d = (
                bg.in_shape[axis],
                bg.pads[axis],
                bg.kernel_shape[axis],
                bg.strides[axis],
                bg.dilations[axis],
            )
            if is_partial:
                pos = np.arange(bg.out_shape[axis])[:, None] * s + np.arange(k)[None, :] * d - b
                c = ((pos >= 0) & (pos < n)).sum(axis=1).astype(np.float64)
            else:
                c = np.full(bg.out_shape[axis], float(k))
            shape = [1] * len(spatial)
            shape[axis] = -1
            count = count * c.reshape(shape)
        ratio = np.divide(st.weights.size, count, out=np.zeros_like(count), where=count > 0)
        out = (out.astype(np.float64) * ratio).astype(out.dtype)
    return out


# --------------------------------------------------------------------------- correlate


def _filter(image: object, kernel: npt.ArrayLike, args: FilterArgs, *, flip: bool):
    from padlab.engine import choose
    from padlab.modes.registry import Rule  # noqa: F401 - documentation of the types
    from padlab.ops.filtering import METHODS  # noqa: F401

    what = "convolve" if flip else "correlate"
    x = _as_dask(image, what)
    _check_dtype(x.dtype, "image")
    spec = resolve_filter(x.shape, x.dtype, kernel, args, flip=flip)
    rules = spec.rules
    g = spec.geometry
    method = str(args.method)
    batch = x[None] if spec.channel_axis is None else _moveaxis(x, spec.channel_axis, 0)
    batch = batch.astype(spec.dtype)
    ndim = len(rules)

    # as padlab.ops.filtering.prepare: index/constant/partial rules stay virtual, the rest
    # (and constant rules disagreeing on the fill) are padded first and read as 'valid'
    from padlab._validate import fill_value

    fill = (
        fill_value(args.value, spec.dtype, "value")
        if any(r.name == "constant" for r in rules)
        else 0
    )
    fills = {
        fill if r.name == "constant" else 0 for r in rules if r.kind in ("constant", "partial")
    }
    virtual = all(r.kind in ("constant", "index", "partial") for r in rules) and len(fills) <= 1
    if virtual:
        source = batch
        codes = tuple(INDEX_CODES[r.name] for r in rules)
        problem_pads = g.pads
        value = float(fills.pop() if fills else 0)
        in_shape = g.in_shape
    else:
        used = {opt for r in rules for opt in r.options}
        source = pad(
            batch,
            {axis + 1: pair for axis, pair in enumerate(g.pads)},
            ["zeros" if r.kind == "partial" else r.name for r in rules],
            value=args.value if "value" in used else 0,
            stat_length=args.stat_length if "stat_length" in used else None,
            end_values=args.end_values if "end_values" in used else 0,
        )
        codes = (CONSTANT,) * ndim
        problem_pads = ((0, 0),) * ndim
        value = 0.0
        in_shape = source.shape[1:]

    # the engine, chosen once from the whole problem (never per block)
    if method == "separable":
        probe = Problem(
            np.zeros((1, *spec.weights.shape), spec.dtype),
            np.ascontiguousarray(spec.weights),
            Geometry.resolve(spec.weights.shape, spec.weights.shape, "valid"),
            (CONSTANT,) * ndim,
            0.0,
        )
        choose.run(probe, "separable")  # the in-memory error for a kernel that is not rank 1
    finite = None
    if method == "auto":
        from padlab.kernels.rank import split_rank1

        whole = Problem(
            np.broadcast_to(np.zeros((), spec.dtype), (batch.shape[0], *in_shape)),
            np.ascontiguousarray(spec.weights),
            Geometry(in_shape, g.kernel_shape, problem_pads, g.strides, g.dilations, g.out_shape),
            codes,
            value,
        )
        factors = split_rank1(whole.kernel) if whole.kernel.ndim == 2 else None
        costs = choose.estimate(whole, factors)
        best = min(costs, key=costs.__getitem__)
        rest = {m: c for m, c in costs.items() if m != "fft"}
        fallback = min(rest, key=rest.__getitem__)
        method = f"auto:{best}:{fallback}"
        if best == "fft":
            import dask.array as da

            finite = da.isfinite(source).all()

    gather = method == "reference"
    out_chunks = output_chunks(
        x.chunks,
        g.kernel_shape,
        padding=args.padding,
        stride=g.strides,
        dilation=g.dilations,
        convention=str(args.convention),
        channel_axis=spec.channel_axis,
    )
    if spec.channel_axis is None:
        batch_out = ((1,), *out_chunks)
    else:
        batch_out = (
            out_chunks[spec.channel_axis],
            *(c for a, c in enumerate(out_chunks) if a != spec.channel_axis),
        )
    plans = [
        _axis_plan(
            in_shape[a],
            problem_pads[a],
            codes[a],
            g.kernel_shape[a],
            g.strides[a],
            g.dilations[a],
            batch_out[a + 1],
            gather=gather,
        )
        for a in range(ndim)
    ]
    bounds = [np.cumsum([0, *c]) for c in source.chunks]
    reads = [[AxisRead((j,), ((0, c),), None, None) for j, c in enumerate(source.chunks[0])]]
    reads += [[axis_reads(p.src, bounds[a + 1]) for p in plans[a]] for a in range(ndim)]
    local_codes = tuple(CONSTANT if gather else c for c in codes)
    st = _Static(
        weights=np.ascontiguousarray(spec.weights),
        strides=g.strides,
        dilations=g.dilations,
        codes=local_codes,
        value=value,
        fills=(0, *([spec.dtype.type(value)] * ndim)),
        method=method,
        partial=tuple(r.kind == "partial" for r in rules),
        geometry=g,
        dtype=spec.dtype,
        serial=math.prod(len(c) for c in batch_out) >= threads(),
    )
    block_static: list[Sequence[object]] = [[None] * len(source.chunks[0]), *plans]
    from dask.base import tokenize

    token = tokenize(source.name, spec.weights, g, codes, method, value, st.partial)
    store = store_of(x) if virtual else None
    out = build_array(
        f"padlab-{what}-{token}",
        source,
        reads,
        batch_out,
        spec.dtype,
        _correlate_block,
        st,
        block_static,
        finite,
        store=(None if store is None else (store, spec.channel_axis, spec.dtype)),
    )
    if spec.channel_axis is None:
        return out[0]
    return _moveaxis(out, 0, spec.channel_axis)


def _moveaxis(x: object, source: int, destination: int):
    import dask.array as da

    return da.moveaxis(x, source, destination)


_DOC = """
    The chunked counterpart of :func:`padlab.{name}`: the same arguments, rules, geometry,
    channel axis and dtype policy; ``image`` is a dask array, or a store sliced like a numpy
    array (a zarr array, a memory map, a numpy array: its ``chunks`` attribute, if any, gives
    the blocks), and the result is a lazy dask array whose chunks follow :func:`output_chunks`.
    From a store, every block reads its own window (halos included) straight from it, so the
    memory is bounded by the chunk size (the whole chunks a computation's blocks share are
    kept while it runs, within 64 MiB or 9 chunks per graph); from a dask array, blocks share
    the input chunks.
    ``.compute()`` gives ``padlab.{name}(image.compute(), kernel, ...)``, bitwise for
    ``method='direct'``, ``'separable'`` and ``'reference'``, within the FFT's tolerance for
    ``'fft'``; 'auto' picks the engine once for the whole image. Errors are raised here, with
    the in-memory messages, and building the graph reads no chunk.

    See :mod:`padlab.dask.filtering` for how seams and borders are computed.
"""


def correlate(
    image: object,
    kernel: npt.ArrayLike,
    *,
    padding: Padding = "same",
    mode: Modes = "zeros",
    value: float = 0,
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    channel_axis: int | None = None,
    method: Method = "auto",
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
):
    """Cross-correlate a chunked image with a kernel, any rule and geometry, lazily.
    {doc}
    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import padlab, padlab.dask
    >>> x = np.arange(20.0).reshape(4, 5)
    >>> y = padlab.dask.correlate(da.from_array(x, chunks=2), np.ones((3, 3)), mode="reflect")
    >>> y.chunks
    ((2, 2), (2, 2, 1))
    >>> bool((y.compute() == padlab.correlate(x, np.ones((3, 3)), mode="reflect")).all())
    True
    """
    args = FilterArgs(
        padding=padding,
        mode=mode,
        value=value,
        stride=stride,
        dilation=dilation,
        convention=convention,
        channel_axis=channel_axis,
        method=method,
        stat_length=stat_length,
        end_values=end_values,
    )
    return _filter(image, kernel, args, flip=False)


def convolve(
    image: object,
    kernel: npt.ArrayLike,
    *,
    padding: Padding = "same",
    mode: Modes = "zeros",
    value: float = 0,
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    channel_axis: int | None = None,
    method: Method = "auto",
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
):
    """Convolve a chunked image with a kernel (flipped), any rule and geometry, lazily.
    {doc}
    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import padlab.dask
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), chunks=2)
    >>> padlab.dask.convolve(x, [1.0, 2.0, 3.0]).compute()
    array([ 4., 10., 16., 22., 22.])
    """
    args = FilterArgs(
        padding=padding,
        mode=mode,
        value=value,
        stride=stride,
        dilation=dilation,
        convention=convention,
        channel_axis=channel_axis,
        method=method,
        stat_length=stat_length,
        end_values=end_values,
    )
    return _filter(image, kernel, args, flip=True)


correlate.__doc__ = (correlate.__doc__ or "").replace("{doc}", _DOC.format(name="correlate"))
convolve.__doc__ = (convolve.__doc__ or "").replace("{doc}", _DOC.format(name="convolve"))


# --------------------------------------------------------------------------- pad


def _gather_block(
    blocks: object, reads: tuple[AxisRead, ...], fills: tuple[object, ...], _: object, __: object
) -> np.ndarray:
    return assemble(blocks, reads, fills)


def _split(length: int, size: int) -> tuple[int, ...]:
    if length == 0:
        return ()
    size = max(size, 1)
    return (size,) * (length // size) + ((length % size,) if length % size else ())


def _gather_axis(x: da.Array, axis: int, src: np.ndarray, fill: object, chunks: tuple[int, ...]):
    """``x`` read along ``axis`` at ``src`` (-1: ``fill``), in output chunks ``chunks``."""
    from dask.base import tokenize

    bounds = [np.cumsum([0, *c]) for c in x.chunks]
    reads = []
    for a, c in enumerate(x.chunks):
        if a != axis:
            reads.append([AxisRead((j,), ((0, n),), None, None) for j, n in enumerate(c)])
            continue
        starts = np.cumsum([0, *chunks])
        reads.append(
            [axis_reads(src[starts[j] : starts[j + 1]], bounds[a]) for j in range(len(chunks))]
        )
    out_chunks = tuple(chunks if a == axis else c for a, c in enumerate(x.chunks))
    fills = tuple(fill if a == axis else 0 for a in range(x.ndim))
    name = f"padlab-pad-{tokenize(x.name, axis, src, fill, chunks)}"
    static = [[None] * len(c) for c in out_chunks]
    return build_array(name, x, reads, out_chunks, x.dtype, _gather_block, fills, static)


def _padded_chunks(chunks: tuple[int, ...], before: int, after: int) -> tuple[int, ...]:
    size = max(chunks)
    left = _split(before, size)[::-1]
    return (*left, *chunks, *_split(after, size))


def _strip_block(
    blocks: object,
    reads: tuple[AxisRead, ...],
    static: tuple,
    local: tuple,
    _: object,
) -> np.ndarray:
    """One block of a border strip: :func:`padlab.pad` on the edge slab, then this block's part."""
    axis, pads, rule, opts, keep = static
    slab = assemble(blocks, reads, None)
    padded = pad_array(slab, {axis: pads}, rule, **opts)
    strip = padded[(slice(None),) * axis + (slice(*keep),)]
    index = tuple(slice(*local[a]) for a in range(strip.ndim))
    return np.ascontiguousarray(strip[index])


def _strip(x, axis: int, src: np.ndarray, pads, keep, rule, opts, whole_other: bool):
    """The border strip ``pad(x[src along axis], pads)[keep]``, in x's chunks on other axes.

    Each block reads the slab over its own range of the other axes, widened to two samples
    (a reduction over one sample across is summed in another order than over a wider block),
    or over their whole extent (``whole_other``: numpy's linspace switches method for the
    whole array when any edge equals its end value).
    """
    from dask.base import tokenize

    pieces = (keep[1] - keep[0],)  # one block across: each block pads its slab once
    bounds = [np.cumsum([0, *c]) for c in x.chunks]
    reads, local, out_chunks = [], [], []
    for a, chunks in enumerate(x.chunks):
        if a == axis:
            read = axis_reads(src, bounds[a])
            reads.append([read] * len(pieces))
            starts = np.cumsum([0, *pieces])
            local.append([(int(starts[j]), int(starts[j + 1])) for j in range(len(pieces))])
            out_chunks.append(pieces)
            continue
        n = x.shape[a]
        row_reads, row_local = [], []
        for j, _c in enumerate(chunks):
            c0, c1 = int(bounds[a][j]), int(bounds[a][j + 1])
            e0, e1 = (0, n) if whole_other else (c0, c1)
            if e1 - e0 < 2 <= n:
                e0, e1 = (c0 - 1, c1) if c1 == n else (c0, c1 + 1)
            row_reads.append(axis_reads(np.arange(e0, e1), bounds[a]))
            row_local.append((c0 - e0, c1 - e0))
        reads.append(row_reads)
        local.append(row_local)
        out_chunks.append(chunks)
    name = f"padlab-strip-{tokenize(x.name, axis, src, pads, keep, rule, opts, whole_other)}"
    static = (axis, pads, rule, opts, keep)
    return build_array(name, x, reads, tuple(out_chunks), x.dtype, _strip_block, static, local)


def _arithmetic_axis(x, axis: int, before: int, after: int, rule, options: Options, user: dict):
    """Pad one axis with an odd reflection, a ramp or a statistic, reading the edge slabs."""
    import dask.array as da

    n = x.shape[axis]
    opts = {k: v for k, v in user.items() if k in _OPTION_NAMES[rule.kind]}
    if rule.kind == "odd":
        need = (before + 1, after + 1) if rule.name == "reflect_odd" else (before, after)
    elif rule.kind == "ramp":
        need = (1, 1)
    else:
        lengths = options["stat"]
        need = tuple(n if ln is None else min(ln, n) for ln in lengths)
    need = (need[0] if before else 0, need[1] if after else 0)
    whole = need[0] + need[1] > n or need[0] >= n or need[1] >= n or (rule.kind == "odd" and n == 1)
    ramp = rule.kind == "ramp"
    parts = []
    if before:
        if whole:
            src, pads, keep = np.arange(n), (before, after), (0, before)
        else:
            src, pads, keep = np.arange(need[0]), (before, 0), (0, before)
        parts.append(_strip(x, axis, src, pads, keep, rule.name, opts, ramp))
    parts.append(x)
    if after:
        if whole:
            src, pads, keep = np.arange(n), (before, after), (before + n, before + n + after)
        else:
            src, pads, keep = np.arange(n - need[1], n), (0, after), (need[1], need[1] + after)
        parts.append(_strip(x, axis, src, pads, keep, rule.name, opts, ramp))
    return da.concatenate(parts, axis=axis)


_OPTION_NAMES = {
    "odd": (),
    "ramp": ("end_values",),
    "statistic": ("stat_length",),
}


def pad(
    array: object,
    width: object,
    mode: object = "zeros",
    *,
    value: object = 0,
    axes: object = None,
    stat_length: object = None,
    end_values: object = 0,
):
    """Pad a chunked array with any rule and any width, lazily: :func:`padlab.pad` on chunks.

    The same arguments and results as :func:`padlab.pad` (numpy's semantics: any width, also
    wider than the axis or a chunk; axes padded in order, corners built from padded data),
    checked when called, reading no chunk. The input's chunks are kept; the padding is added
    as chunks no larger than the axis's largest chunk. The index and constant rules copy
    samples (one gather per axis); the arithmetic rules compute each border strip with
    :func:`padlab.pad` from the edge slab it depends on (the whole axis only when the rule
    needs it: ``stat_length=None``, or pads as wide as the axis).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import padlab.dask
    >>> x = da.from_array(np.arange(1, 6), chunks=2)
    >>> padlab.dask.pad(x, 7, "reflect").compute()     # dask.array.pad gives 11 samples
    array([2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4])
    >>> padlab.dask.pad(x, 2, "reflect_odd").compute()
    array([-1,  0,  1,  2,  3,  4,  5,  6,  7])
    """
    x = _as_dask(array, "pad")
    _check_dtype(x.dtype, "array")
    pad_axes, widths, rules, options = resolve_pad(
        x.shape,
        x.dtype,
        width,
        mode,
        value=value,
        axes=axes,
        stat_length=stat_length,
        end_values=end_values,
    )
    user = {"value": value, "stat_length": stat_length, "end_values": end_values}
    for axis, rule, (before, after) in zip(pad_axes, rules, widths, strict=True):
        if before == after == 0:
            continue
        n = x.shape[axis]
        if rule.kind in ("constant", "index") or (rule.kind == "odd" and n == 1):
            code = (
                INDEX_CODES.get(rule.name, CONSTANT)
                if rule.kind != "odd"
                else INDEX_CODES["replicate"]
            )
            if n == 0:
                src = np.full(before + after, -1)
            else:
                src = np.asarray(index_table(n, before, after, code))
            fill = options["value"] if rule.name == "constant" else options["zero"]
            x = _gather_axis(
                x, axis, src, fill, _padded_chunks(x.chunks[axis] or (0,), before, after)
            )
        else:
            x = _arithmetic_axis(x, axis, before, after, rule, options, user)
    return x
