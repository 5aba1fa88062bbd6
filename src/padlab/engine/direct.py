"""The direct engine: multiply-add over the kernel taps, padding read virtually.

No padded copy is made. Every output plane is cut into bands of rows, processed in parallel
threads (the compiled task releases the GIL; see :mod:`padlab._threads`), or in the calling
thread when the work is too small to share (:func:`padlab.engine.choose.serial`). A task has
three phases, as in OpenCV's FilterEngine:

1. :func:`_padded_rows`: rows whose windows touch the padding gather, through the per-axis index
   tables, which input row each kernel row reads (or that it reads the constant); their
   interior columns, where every tap reads a real sample, run a vectorised loop with no border
   checks, and only the few edge columns look their sources up in the column table;
2. :func:`_flat_band`: the rows in between (most of the image) need no table at all: with
   stride 1 and an output as wide as the input, output sample ``q`` of the plane reads
   ``x[q + offset(tap)]``, so the whole band is one long vectorised loop per group of taps;
3. :func:`_band_edges`: the band's edge columns, which that loop got wrong, are recomputed from
   the tables.

The integers arrive as one named record (:data:`padlab.engine.plan.PLAN`), the index tables
as :func:`padlab.modes.index.tap_table` built them (as large as the reads, never as the padding).

One compiled function serves every rule (the rule is in the tables), correlate and conv_nd
(single-channel filtering is conv_nd with one input and one output channel), 1 to 3 spatial
dimensions (as a 3-D problem with size-1 axes) and both float dtypes.

The three phases are inlined into :func:`_conv_tasks`, whose loop over the tasks is written
out there (``inline="always"``, and ``_conv_tasks`` carries their ``fastmath`` flags, so every
sum is as before, bitwise). numba optimises each separately compiled function again together
with everything it calls, so each extra level would re-optimise all the loops below it; and
numba inlines a function by copying its IR block by block, each copy with the function's whole
variable table, so inlining a function that inlines others (a task function around the phases)
costs more than the phases themselves (the compile time each saves is in CHANGELOG.md).

Indices are unsigned on purpose: numba checks signed indices for negative wrap-around, and that
check stops LLVM from vectorising the inner loops (about 10x slower). Offsets may wrap below
zero in unsigned arithmetic; the final index is exact because unsigned addition is modular.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numba as nb
import numpy as np

from padlab._compiled import stamp_kernels
from padlab._threads import threads
from padlab._validate import allocate, readonly
from padlab.engine.choose import brief, per_chunk, serial
from padlab.engine.loops import FMA, accumulate, accumulate_band, readonly_view
from padlab.engine.plan import Problem, axis_reads, bind_tasks, chunk_rows, make_plan
from padlab.geometry import Geometry

__all__ = ["conv_direct", "correlate_direct", "direct_plan"]


@nb.njit(cache=True, fastmath=FMA)
def _row_taps(x_shape, w, b, o, g, oz, oy, tz, ty, p, value, bases, wrows):  # pragma: no cover
    """Valid kernel rows of output row (oz, oy): their x row offsets, and the constant part."""
    c_, nd, nh, nw = x_shape[1], x_shape[2], x_shape[3], x_shape[4]
    cg, kd, kh, kw = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    z_out, z_tap = p.out_step[0], p.tap_step[0]
    y_out, y_tap = p.out_step[1], p.tap_step[1]
    nvalid = 0
    const = value * 0
    for ci in range(cg):
        c = g * cg + ci
        for kz in range(kd):
            pz = tz[oz * z_out + kz * z_tap]
            for ky in range(kh):
                py = ty[oy * y_out + ky * y_tap]
                if pz < 0 or py < 0:
                    for kx in range(kw):
                        const += value * w[o, ci, kz, ky, kx]
                else:
                    bases[nvalid] = np.uint64((((b * c_ + c) * nd + pz) * nh + py) * nw)
                    wrows[nvalid] = ((ci * kd + kz) * kh + ky) * kw
                    nvalid += 1
    return nvalid, const


@nb.njit(cache=True, inline="always")
def _split_phases(phases, slot, xf, base, nw, sx, nph, phase_len):  # pragma: no cover
    """Copy the source row at ``base`` into ``slot`` as its first ``nph`` contiguous phases
    (columns ``ph, ph + sx, ph + 2 sx, ...``; phases from ``nw`` on would be empty)."""
    for ph in range(nph):
        start = (slot * nph + ph) * phase_len
        for j in range(phase_len):
            col = j * sx + ph
            if col < nw:
                phases[start + j] = xf[base + np.uint64(col)]


@nb.njit(cache=True, fastmath=FMA)
def _edge_columns(xf, wo, tx, bases, wrows, nvalid, kw, c0, c1, p, value, acc):
    """Edge columns ``c0 .. c1 - 1`` of one padded row, through the column table.

    Kernel row ``i`` reads from ``bases[i]`` with the weights at ``wo[wrows[i]:]``. Column
    ``c0 + j`` goes to ``acc[j]``: a float64 sum from 0 over ``i``, then ``kx``, in that order,
    each product ``weight * sample`` added by one multiply-add (a float32 product is rounded to
    float32 first; a float64 one is fused, one rounding per tap): every edge column, in every
    phase, is summed so (:func:`_band_edges`).
    """  # pragma: no cover - compiled
    n = c1 - c0
    x_out, x_tap = p.out_step[2], p.tap_step[2]
    for j in range(n):
        acc[j] = 0.0
    for i in range(nvalid):
        for kx in range(kw):
            wv = wo[wrows[i] + kx]
            s = kx * x_tap
            for j in range(n):
                px = tx[(c0 + j) * x_out + s]
                # one product per tap, never hoisted out of the loop: a hoisted ``wv * value``
                # would be rounded on its own instead of fused into the sum's multiply-add
                v = value if px < 0 else xf[bases[i] + np.uint64(max(px, 0))]
                acc[j] += wv * v


@nb.njit(cache=True, nogil=True, fastmath=FMA)
def _conv_tasks(first, last, x, w, tz, ty, tx, plan, value, out):  # pragma: no cover - compiled
    """Tasks ``first .. last - 1`` of a correlation, without the GIL.

    x (N, C, D, H, W), w (O, C/groups, KD, KH, KW) -> out (N, O, OD, OH, OW); ``plan`` is a
    :data:`~padlab.engine.plan.PLAN` record. A task is a band of ``p.rows_per_task`` output rows
    of one output plane, in the three phases. The scratch arrays are made once for all tasks.
    """
    p = plan[0]
    cg, kd, kh, kw = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    n_ring = cg * kd * p.ring
    bases = np.empty(cg * kd * kh, np.uint64)
    wrows = np.empty(cg * kd * kh, np.int64)
    offs = np.empty(cg * kd * kh * kw, np.uint64)
    wts = np.empty(cg * kd * kh * kw, x.dtype)
    phases = np.empty((n_ring + cg * kd * kh) * p.phases * p.phase_len, x.dtype)
    tags = np.full(n_ring, -1, np.int64)  # the source row (flat offset) each ring slot holds
    stamps = np.zeros(n_ring, np.int64)  # the output row that last used each slot
    # the edge columns' sums (float64, see _edge_columns) and their transposed sources
    ow = out.shape[4]
    edge = max(p.lo[2], ow - p.hi[2], 1)
    rows = p.rows_per_task if p.flat_band else 1
    acc = np.empty(edge * max(rows, 1), np.float64)
    span = (edge - 1) * p.out_step[2] + (kw - 1) * p.tap_step[2] + 1
    strip = np.empty(span * (rows + (kh - 1) * p.dilation[1]) if p.flat_band else 1, x.dtype)
    scratch = (bases, wrows, offs, wts, phases, tags, stamps, acc, strip)
    o_ = w.shape[0]
    od, oh = out.shape[2], out.shape[3]
    chunk = p.rows_per_task
    nchunks = (oh + chunk - 1) // chunk
    for it in range(first, last):  # a task: a band of ``chunk`` output rows of one plane
        ch = it % nchunks
        oz = (it // nchunks) % od
        o = (it // (nchunks * od)) % o_
        b = it // (nchunks * od * o_)
        r0 = ch * chunk
        r1 = min(oh, r0 + chunk)
        # the flat band: rows whose every tap reads a real sample, in a plane whose depth
        # window reads no padding either
        a = max(r0, p.lo[1])
        c = min(r1, p.hi[1])
        if not (p.flat_band and p.lo[0] <= oz < p.hi[0] and c > a):
            a = r1
            c = r1
        _padded_rows(it, b, o, oz, r0, r1, a, c, x, w, tz, ty, tx, p, value, out, scratch)
        if c > a:
            _flat_band(b, o, oz, a, c, x, w, p, out, scratch)
            _band_edges(b, o, oz, a, c, x, w, tz, ty, tx, p, value, out, scratch)


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _padded_rows(it, b, o, oz, r0, r1, a, c, x, w, tz, ty, tx, p, value, out, scratch):
    """Phase 1: rows ``r0 .. r1 - 1`` outside the band ``[a, c)``, row by row through the
    tables: the constant part, the interior columns vectorised, the edge columns looked up."""
    bases, wrows, offs, wts, acc = scratch[0], scratch[1], scratch[2], scratch[3], scratch[7]
    o_, cg, kd, kh, kw = w.shape
    nw = x.shape[4]
    oh, ow = out.shape[3], out.shape[4]
    g = o // (o_ // p.groups)
    wo = w.reshape(o_, cg * kd * kh * kw)[o]
    xf = x.ravel()
    plane = out[b, o, oz]
    bx, sx, dx = p.before[2], p.stride[2], p.dilation[2]
    lo, hi = p.lo[2], p.hi[2]
    for oy in range(r0, r1):
        if a <= oy < c:
            continue
        nvalid, const = _row_taps(x.shape, w, b, o, g, oz, oy, tz, ty, p, value, bases, wrows)
        orow = plane[oy]
        init = x.dtype.type(const)  # the constant part, in the output's dtype
        for ox in range(lo):
            orow[ox] = init
        for ox in range(hi, ow):
            orow[ox] = init
        if hi <= lo:
            pass
        elif sx == 1:
            n = 0
            for i in range(nvalid):
                for kx in range(kw):
                    offs[n] = bases[i] + np.uint64(kx * dx) - np.uint64(bx)
                    wts[n] = wo[wrows[i] + kx]
                    n += 1
            accumulate(orow, xf, offs, readonly_view(wts), np.int64(n), np.uint64(lo),
                       np.uint64(hi), np.uint64(1), init)  # fmt: skip
        elif nvalid > 0:
            stamp = oy + 1 + it * oh  # unique per output row of this task
            _polyphase_row(orow, xf, wo, nvalid, kh, kw, nw, p, stamp, init, scratch)
        else:
            for ox in range(lo, hi):
                orow[ox] = init
        for c0, c1 in ((0, lo), (hi, ow)):
            _edge_columns(xf, wo, tx, bases, wrows, nvalid, kw, c0, c1, p, value, acc)
            for ox in range(c0, c1):
                orow[ox] += acc[ox - c0]


@nb.njit(cache=True, fastmath=FMA)
def _polyphase_row(orow, xf, wo, nvalid, kh, kw, nw, p, stamp, init, scratch):  # pragma: no cover
    """The interior columns of a row with a column stride ``sx``.

    They are read through a polyphase copy: each needed source row split into ``sx`` phases
    (columns ``ph, ph + sx, ph + 2 sx, ...``; only the first ``min(sx, nw)`` can hold any, and
    only those are kept), so that every tap reads contiguously. The copies live in a ring of
    ``p.ring`` rows per input plane, tagged with the row they hold, so consecutive output rows
    reuse them; a row whose ring slot is taken by another row of the same output row (same
    ``stamp``) goes to a spill slot. The columns are set to ``init`` plus their sums.
    """
    bases, wrows, offs, wts, phases, tags, stamps = scratch[:7]
    bx, sx, dx = p.before[2], p.stride[2], p.dilation[2]
    lo, hi = p.lo[2], p.hi[2]
    ring, nph, phase_len = p.ring, p.phases, p.phase_len
    n_ring = tags.shape[0]
    n = 0
    for i in range(nvalid):
        plane_index = wrows[i] // (kh * kw)  # ci * kd + kz
        source_row = np.int64(bases[i] // np.uint64(nw))
        slot = plane_index * ring + source_row % ring
        if tags[slot] == np.int64(bases[i]):
            stamps[slot] = stamp
        elif stamps[slot] != stamp:
            tags[slot] = np.int64(bases[i])
            stamps[slot] = stamp
            _split_phases(phases, slot, xf, bases[i], nw, sx, nph, phase_len)
        else:  # taken by another row of this output row: use the spill slot
            slot = n_ring + i
            _split_phases(phases, slot, xf, bases[i], nw, sx, nph, phase_len)
        for kx in range(kw):
            rel = kx * dx - bx  # source column = ox * sx + rel = (ox + q) * sx + ph
            ph = rel % sx
            q = (rel - ph) // sx
            offs[n] = np.uint64((slot * nph + ph) * phase_len) + np.uint64(q)
            wts[n] = wo[wrows[i] + kx]
            n += 1
    accumulate(orow, readonly_view(phases), offs, readonly_view(wts), np.int64(n),
               np.uint64(lo), np.uint64(hi), np.uint64(1), init)  # fmt: skip


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _flat_band(b, o, oz, a, c, x, w, p, out, scratch):  # pragma: no cover - compiled
    """Phase 2: the band ``[a, c)``: output flat index ``q = oy * ow + ox`` reads
    ``xf[q + offset(tap)]``, one vectorised loop over the whole band per group of taps."""
    offs, wts = scratch[2], scratch[3]
    o_, cg, kd, kh, kw = w.shape
    c_, nd, nh, nw = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    ow = out.shape[4]
    g = o // (o_ // p.groups)
    wo = w.reshape(o_, cg * kd * kh * kw)[o]
    xf = x.ravel()
    pf = out[b, o, oz].ravel()
    bz, by, bx = p.before[0], p.before[1], p.before[2]
    sz = p.stride[0]
    dz, dy, dx = p.dilation[0], p.dilation[1], p.dilation[2]
    lo, hi = p.lo[2], p.hi[2]
    n = 0
    for ci in range(cg):
        cc = g * cg + ci
        for kz in range(kd):
            pz = oz * sz + kz * dz - bz
            for ky in range(kh):
                base = (((b * c_ + cc) * nd + pz) * nh + ky * dy - by) * nw - bx
                for kx in range(kw):
                    offs[n] = np.uint64(base + kx * dx)
                    wts[n] = wo[((ci * kd + kz) * kh + ky) * kw + kx]
                    n += 1
    accumulate_band(
        pf,
        xf,
        offs,
        wts,
        np.int64(n),
        np.uint64(a * ow + lo),
        np.uint64((c - 1) * ow + hi),
        np.uint64(ow),
        x.dtype.type(0),  # assigned, from 0; the band's edge columns are set in phase 3
    )


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _band_edges(b, o, oz, a, c, x, w, tz, ty, tx, p, value, out, scratch):  # pragma: no cover
    """Phase 3: the band's edge columns were computed from the wrong row: recompute them.

    In the band every kernel row reads a real row (the constant part is 0) and the stride is 1.
    Per input plane, the columns an edge reads (through the column table) are copied once,
    transposed, into ``strip``: ``strip[t, r]`` is column ``t`` of the edge's table span in
    source row ``a - before + r``. Every tap then adds a weighted run of ``strip`` to a run of
    ``acc`` (one edge column of every band row), a vectorised loop; each output's taps are
    still summed in :func:`_edge_columns`' order, so a column is the same in every phase.
    """
    acc, strip = scratch[7], scratch[8]
    o_, cg, kd, kh, kw = w.shape
    c_, nd, nh, nw = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    ow = out.shape[4]
    g = o // (o_ // p.groups)
    wo = w.reshape(o_, cg * kd * kh * kw)[o]
    xf = x.ravel()
    plane = out[b, o, oz]
    bz, by = p.before[0], p.before[1]
    sz = p.stride[0]
    dz, dy = p.dilation[0], p.dilation[1]
    lo, hi = p.lo[2], p.hi[2]
    x_out, x_tap = p.out_step[2], p.tap_step[2]
    rows = c - a
    src_rows = rows + (kh - 1) * dy  # source rows a - by .. c - 1 + (kh - 1) * dy - by
    zero = value * 0
    u0 = np.uint64(0)
    for c0, c1 in ((0, lo), (hi, ow)):
        n = c1 - c0
        if n <= 0:
            continue
        span = (n - 1) * x_out + (kw - 1) * x_tap + 1  # table entries c0 * x_out + t
        for q in range(n * rows):
            acc[q] = 0.0
        for ci in range(cg):
            cc = g * cg + ci
            for kz in range(kd):
                pz = oz * sz + kz * dz - bz
                first = (((b * c_ + cc) * nd + pz) * nh + a - by) * nw
                for t in range(span):  # column by column: one table lookup per column
                    px = tx[c0 * x_out + t]
                    dst = t * src_rows
                    if px < 0:
                        for r in range(src_rows):
                            strip[dst + r] = value
                    else:
                        src = np.uint64(first + px)
                        for r in range(src_rows):
                            strip[dst + r] = xf[src + np.uint64(r * nw)]
                for ky in range(kh):
                    for kx in range(kw):
                        wv = wo[((ci * kd + kz) * kh + ky) * kw + kx]
                        for j in range(n):
                            src = np.uint64((j * x_out + kx * x_tap) * src_rows + ky * dy)
                            dst = np.uint64(j * rows)
                            for r in range(u0, np.uint64(rows)):  # unsigned: vectorised
                                acc[dst + r] += wv * strip[src + r]
        for j in range(n):
            for r in range(rows):
                plane[a + r, c0 + j] = zero + acc[j * rows + r]


def conv_direct(
    x: np.ndarray,
    weight: np.ndarray,
    groups: int,
    geometry: Geometry,
    codes: tuple[int, ...],
    value: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Channel-mixing correlation: x (N, C, *sp), weight (O, C // groups, *k) -> (N, O, *out).

    ``codes`` and ``value`` describe the padding as in :class:`~padlab.engine.plan.Problem`.
    ``out``, if given, is a C-contiguous array of the result's shape and dtype that receives
    it; else the output is allocated first (:func:`padlab._validate.allocate`: an output too
    large for memory is a :class:`~padlab.errors.PadlabMemoryError` before anything else is
    made).
    """
    if out is None:  # first: an output too large is refused before any table is made
        out = allocate((x.shape[0], weight.shape[0], *geometry.out_shape), x.dtype, "the output")
    call = bind_conv(x.shape, x.dtype, weight, groups, geometry, codes, value)
    return call(x, out)


def bind_conv(
    x_shape: tuple[int, ...],
    dtype: np.dtype,
    weight: np.ndarray,
    groups: int,
    geometry: Geometry,
    codes: tuple[int, ...],
    value: float,
    allocated: tuple[int, ...] | None = None,
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """:func:`conv_direct` for inputs of shape ``x_shape`` and ``dtype``, prepared once: the
    returned ``call(x, out=None)`` only allocates the output (of shape ``allocated``, default
    (N, O, *out_spatial)) and runs the compiled tasks (repeated calls on same-sized images
    skip every other step). ``x`` and ``out`` may have any shapes of the bound sizes
    (C-contiguous ``out``); ``out`` is returned as given."""
    n, o = x_shape[0], weight.shape[0]
    out_full = (n, o, *geometry.out_shape)
    work = math.prod(out_full) * math.prod(weight.shape[1:])
    alone = serial(work)
    tz, ty, tx, plan, out_shape, rows = direct_plan(geometry, tuple(codes), groups, n * o, alone)
    missing = 5 - len(x_shape)
    in5 = tuple(x_shape[:2]) + (1,) * missing + tuple(x_shape[2:])
    w = readonly(
        np.ascontiguousarray(
            weight.reshape(weight.shape[:2] + (1,) * missing + weight.shape[2:]), dtype=dtype
        )
    )  # read-only, as x below: one compiled signature per dtype, whatever the caller passed
    fill = dtype.type(value)
    out5 = (n, o, *out_shape)
    tasks = n * o * out_shape[0] * (-(-out_shape[1] // rows))
    chunk = tasks if alone else per_chunk(tasks, work, threads())

    constants = (w, tz, ty, tx, plan, fill)
    return bind_tasks(
        _conv_tasks, tasks, chunk, alone, in5, out5, dtype, constants,
        allocated=out_full if allocated is None else allocated, brief=brief(work),
    )  # fmt: skip


@lru_cache(maxsize=256)
def direct_plan(
    geometry: Geometry, codes: tuple[int, ...], groups: int, images: int, alone: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int], int]:
    """The z, y and x tables, the :data:`~padlab.engine.plan.PLAN` record, the 3-axis output
    shape and the rows per task of a 1-3 axis geometry (as 3 axes), for ``images`` output
    images (batch times output channels); cached: they repeat from call to call. ``alone``:
    one task per plane (the calling thread does everything)."""
    missing = 3 - len(geometry.in_shape)
    g = Geometry(
        (1,) * missing + geometry.in_shape,
        (1,) * missing + geometry.kernel_shape,
        ((0, 0),) * missing + geometry.pads,
        (1,) * missing + geometry.strides,
        (1,) * missing + geometry.dilations,
        (1,) * missing + geometry.out_shape,
    )
    reads = axis_reads(g, (0,) * missing + codes)
    oh = g.out_shape[1]
    rows = oh if alone else chunk_rows(images * g.out_shape[0], oh)
    plan = make_plan(
        reads,
        groups=groups,
        rows_per_task=rows,
        in_shape=(g.in_shape[1], g.in_shape[2]),
        kernel_rows=g.kernel_shape[1],
    )
    # the flat band needs stride 1 on rows and columns and an output as wide as the input
    plan[0]["flat_band"] = (
        g.strides[1] == 1 and g.strides[2] == 1 and g.out_shape[2] == g.in_shape[2]
    ) and bool(reads[2].inner)
    plan.flags.writeable = False
    out_shape = (g.out_shape[0], g.out_shape[1], g.out_shape[2])
    return reads[0].table, reads[1].table, reads[2].table, plan, out_shape, rows


def correlate_direct(problem: Problem, out: np.ndarray | None = None) -> np.ndarray:
    """Run the direct engine on a :class:`Problem`; returns shape (B, *out_spatial).

    ``out``: as in :func:`padlab.engine.choose.run`.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.modes.index import REFLECT
    >>> x = np.arange(1.0, 6.0)[None]
    >>> p = Problem(x, np.array([1.0, 2.0, 3.0]), Geometry.resolve((5,), (3,), "same"),
    ...             (REFLECT,), 0.0)
    >>> correlate_direct(p)
    array([[10., 14., 20., 26., 26.]])
    """
    return bind_direct(problem)(problem.x, out)


def bind_direct(
    problem: Problem, allocated: tuple[int, ...] | None = None
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """:func:`correlate_direct` for inputs shaped like ``problem.x``, prepared once:
    ``call(x, out=None)`` with ``x`` of shape (B, *spatial) returns (B, *out_spatial), or an
    output of shape ``allocated`` (of that size). ``x`` and ``out`` may also have any other
    shapes of those sizes (C-contiguous ``out``); a given ``out`` is returned in its own
    shape."""
    x_shape = (problem.x.shape[0], 1, *problem.x.shape[1:])
    return bind_conv(
        x_shape,
        problem.x.dtype,
        problem.kernel[None, None],
        1,
        problem.geometry,
        problem.codes,
        problem.value,
        problem.out_shape if allocated is None else allocated,  # without the channel axis
    )


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)
