"""The direct engine: multiply-add over the kernel taps, padding read virtually.

No padded copy is made. Every output plane is cut into bands of rows, processed in parallel
threads (the compiled task releases the GIL; see :mod:`padlab._threads`):

- rows whose windows touch the padding gather, through the per-axis index tables, which input
  row each kernel row reads (or that it reads the constant); their interior columns, where every
  tap reads a real sample, run a vectorised loop with no border checks, and only the few border
  columns look their sources up in the column table;
- the rows in between (most of the image) need no table at all: with stride 1 and an output as
  wide as the input, output sample ``q`` of the plane reads ``x[q + offset(tap)]``, so the whole
  band is one long vectorised loop per group of taps; the border columns it got wrong are then
  recomputed from the tables.

One compiled function serves every rule (the rule is in the tables), correlate and conv_nd
(single-channel filtering is conv_nd with one input and one output channel), 1 to 3 spatial
dimensions (as a 3-D problem with size-1 axes) and both float dtypes.

Indices are unsigned on purpose: numba checks signed indices for negative wrap-around, and that
check stops LLVM from vectorising the inner loops (about 10x slower). Offsets may wrap below
zero in unsigned arithmetic; the final index is exact because unsigned addition is modular.
"""

from __future__ import annotations

from functools import lru_cache

import numba as nb
import numpy as np

from padlab._threads import chunk_size, run_chunks, threads
from padlab.engine.plan import Problem, index_tables
from padlab.geometry import Geometry

__all__ = ["conv_direct", "correlate_direct"]

# Let LLVM fuse a * b + c into one FMA instruction (one rounding instead of two); no other
# fast-math liberties, so NaN and infinities keep IEEE semantics and sums keep their order.
_FMA = {"contract"}
# Output samples per segment: 4096 float32 (16 KiB) stay in L1 while all taps pass over them
# (measured best of 1024, 2048 and 4096 on the development machine).
_SEGMENT = 4096


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass1(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox]


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass2(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox]


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass3(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox]


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass4(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox]


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass8(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    o4, w4 = offs[t + 4], wts[t + 4]
    o5, w5 = offs[t + 5], wts[t + 5]
    o6, w6 = offs[t + 6], wts[t + 6]
    o7, w7 = offs[t + 7], wts[t + 7]
    for ox in range(start, stop):
        orow[ox] += (w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox]) + (
            w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox]
        )


@nb.njit(cache=True, inline="always", fastmath=_FMA)
def _pass9(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    o4, w4 = offs[t + 4], wts[t + 4]
    o5, w5 = offs[t + 5], wts[t + 5]
    o6, w6 = offs[t + 6], wts[t + 6]
    o7, w7 = offs[t + 7], wts[t + 7]
    o8, w8 = offs[t + 8], wts[t + 8]
    for ox in range(start, stop):
        orow[ox] += (
            (w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox])
            + (w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox])
            + (w8 * xf[o8 + ox])
        )


@nb.njit(cache=True, fastmath=_FMA)
def _accumulate(orow, xf, offs, wts, n, lo, hi, sx, zero=False):  # pragma: no cover - compiled
    """orow[lo:hi] += sum over taps t of wts[t] * xf[offs[t] + ox * sx].

    The range is cut into segments that stay in L1 cache while the taps pass over them, 8 taps
    per pass (one load and store of the output for 8 multiply-adds); the last 9 taps go in one
    fused pass, so every odd square kernel (k * k = 1 mod 8) ends without a short pass and a 3x3
    kernel is a single pass. Fewer pass shapes would compile faster; these cover the common
    kernels.
    """
    for start in range(lo, hi, _SEGMENT):
        stop = min(hi, start + _SEGMENT)
        if zero:  # start from 0 here, while the segment is in cache (not in a separate sweep)
            for ox in range(start, stop):
                orow[ox] = 0
        if sx == 1:
            t = 0
            while n - t > 9:
                _pass8(orow, xf, offs, wts, t, start, stop)
                t += 8
            if n - t >= 5 and n - t <= 7:
                _pass4(orow, xf, offs, wts, t, start, stop)
                t += 4
            r = n - t
            if r == 9:
                _pass9(orow, xf, offs, wts, t, start, stop)
            elif r == 8:
                _pass8(orow, xf, offs, wts, t, start, stop)
            elif r == 4:
                _pass4(orow, xf, offs, wts, t, start, stop)
            elif r == 3:
                _pass3(orow, xf, offs, wts, t, start, stop)
            elif r == 2:
                _pass2(orow, xf, offs, wts, t, start, stop)
            elif r == 1:
                _pass1(orow, xf, offs, wts, t, start, stop)
        else:
            for t in range(n):
                o0, w0 = offs[t], wts[t]
                for ox in range(start, stop):
                    orow[ox] += w0 * xf[o0 + ox * sx]


@nb.njit(cache=True, fastmath=_FMA)
def _row_taps(x_shape, w, b, o, g, oz, oy, tz, ty, strides, dilations, value, bases, wrows):
    """Valid kernel rows of output row (oz, oy): their x row offsets, and the constant part."""
    c_, nd, nh, nw = x_shape[1], x_shape[2], x_shape[3], x_shape[4]
    cg, kd, kh, kw = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    sz, sy = strides[0], strides[1]
    dz, dy = dilations[0], dilations[1]
    nvalid = 0
    const = value * 0
    for ci in range(cg):
        c = g * cg + ci
        for kz in range(kd):
            pz = tz[oz * sz + kz * dz]
            for ky in range(kh):
                py = ty[oy * sy + ky * dy]
                if pz < 0 or py < 0:
                    for kx in range(kw):
                        const += value * w[o, ci, kz, ky, kx]
                else:
                    bases[nvalid] = np.uint64((((b * c_ + c) * nd + pz) * nh + py) * nw)
                    wrows[nvalid] = ((ci * kd + kz) * kh + ky) * kw
                    nvalid += 1
    return nvalid, const


@nb.njit(cache=True, inline="always")
def _split_phases(phases, slot, xf, base, nw, sx, phase_len):  # pragma: no cover - compiled
    """Copy the source row at ``base`` into ``slot`` as ``sx`` contiguous phases."""
    for ph in range(sx):
        start = (slot * sx + ph) * phase_len
        for j in range(phase_len):
            col = j * sx + ph
            if col < nw:
                phases[start + j] = xf[base + np.uint64(col)]


@nb.njit(cache=True, fastmath=_FMA)
def _border_value(xf, wo, tx, bases, wrows, nvalid, kw, start, dx, value):
    acc = value * 0
    for i in range(nvalid):
        for kx in range(kw):
            px = tx[start + kx * dx]
            wv = wo[wrows[i] + kx]
            if px < 0:
                acc += wv * value
            else:
                acc += wv * xf[bases[i] + np.uint64(px)]
    return acc


@nb.njit(cache=True, nogil=True)
def _conv_tasks(first, last, x, w, tz, ty, tx, params, value, out):  # pragma: no cover
    """Tasks ``first .. last - 1`` of a correlation (see :func:`_task`), without the GIL."""
    for it in range(first, last):
        _task(it, x, w, tz, ty, tx, params, value, out)


@nb.njit(cache=True, fastmath=_FMA)
def _task(it, x, w, tz, ty, tx, params, value, out):  # pragma: no cover - compiled
    """One task: a band of ``chunk`` output rows of one output plane.

    x (N, C, D, H, W), w (O, C/groups, KD, KH, KW) -> out (N, O, OD, OH, OW); ``params`` packs
    the integers (one array is much cheaper to dispatch than tuples): groups, pads before
    (z, y, x), strides (z, y, x), dilations (z, y, x), rows per task.
    """
    groups = params[0]
    bz, by, bx = params[1], params[2], params[3]
    sz, sy, sx = params[4], params[5], params[6]
    dz, dy, dx = params[7], params[8], params[9]
    chunk = params[10]
    strides = (sz, sy, sx)
    dilations = (dz, dy, dx)
    c_, nd, nh, nw = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    o_, cg, kd, kh, kw = w.shape
    od, oh, ow = out.shape[2], out.shape[3], out.shape[4]
    og = o_ // groups
    xf = x.ravel()
    wf = w.reshape(o_, cg * kd * kh * kw)
    ntaps = cg * kd * kh * kw
    lo = min((bx + sx - 1) // sx, ow)
    hi = max(min((nw - 1 + bx - (kw - 1) * dx) // sx + 1, ow), lo)
    # rows whose every tap reads x[oy*sy + ky*dy - by] (no padding involved)
    ylo = min((by + sy - 1) // sy, oh)
    yhi = max(min((nh - 1 + by - (kh - 1) * dy) // sy + 1, oh), ylo)
    flat = sx == 1 and sy == 1 and ow == nw and hi > lo
    nchunks = (oh + chunk - 1) // chunk
    # strided rows are read through a polyphase copy: each needed source row split into sx
    # phases (columns p, p + sx, p + 2 sx, ...), so that every tap reads contiguously. The
    # copies live in a ring of `ring` rows per input plane, tagged with the row they hold, so
    # consecutive output rows reuse them; a row whose ring slot is taken by another row of the
    # same output row goes to a spill slot instead.
    phase_len = (nw + sx - 1) // sx
    ring = (kh - 1) * dy + sy if sx > 1 else 0
    n_ring = cg * kd * ring
    bases = np.empty(cg * kd * kh, np.uint64)
    wrows = np.empty(cg * kd * kh, np.int64)
    offs = np.empty(ntaps, np.uint64)
    wts = np.empty(ntaps, x.dtype)
    phases = np.empty((n_ring + cg * kd * kh) * sx * phase_len if sx > 1 else 0, x.dtype)
    tags = np.full(n_ring, -1, np.int64)  # the source row (flat offset) each ring slot holds
    stamps = np.zeros(n_ring, np.int64)  # the output row that last used each slot
    ch = it % nchunks
    oz = (it // nchunks) % od
    o = (it // (nchunks * od)) % o_
    b = it // (nchunks * od * o_)
    g = o // og
    wo = wf[o]
    r0 = ch * chunk
    r1 = min(oh, r0 + chunk)
    plane = out[b, o, oz]
    # is this output plane's depth window free of padding?
    zlin = True
    for kz in range(kd):
        pz = oz * sz + kz * dz - bz
        if pz < 0 or pz >= nd:
            zlin = False
    a = max(r0, ylo)
    c = min(r1, yhi)
    if not (flat and zlin and c > a):
        a = r1
        c = r1
    # 1. rows before the flat band and after it: row by row
    for oy in range(r0, r1):
        if a <= oy < c:
            continue
        nvalid, const = _row_taps(
            x.shape, w, b, o, g, oz, oy, tz, ty, strides, dilations, value, bases, wrows
        )
        orow = plane[oy]
        for ox in range(ow):
            orow[ox] = const
        n = 0
        if sx == 1:
            for i in range(nvalid):
                for kx in range(kw):
                    offs[n] = bases[i] + np.uint64(kx * dx) - np.uint64(bx)
                    wts[n] = wo[wrows[i] + kx]
                    n += 1
            if hi > lo and n > 0:
                _accumulate(
                    orow, xf, offs, wts, np.int64(n), np.uint64(lo), np.uint64(hi), np.uint64(1)
                )
        elif hi > lo and nvalid > 0:
            stamp = oy + 1 + it * oh  # unique per output row of this task
            for i in range(nvalid):
                plane_index = wrows[i] // (kh * kw)  # ci * kd + kz
                source_row = np.int64(bases[i] // np.uint64(nw))
                slot = plane_index * ring + source_row % ring
                if tags[slot] == np.int64(bases[i]):
                    stamps[slot] = stamp
                elif stamps[slot] != stamp:
                    tags[slot] = np.int64(bases[i])
                    stamps[slot] = stamp
                    _split_phases(phases, slot, xf, bases[i], nw, sx, phase_len)
                else:  # taken by another row of this output row: use the spill slot
                    slot = n_ring + i
                    _split_phases(phases, slot, xf, bases[i], nw, sx, phase_len)
                for kx in range(kw):
                    rel = kx * dx - bx  # source column = ox * sx + rel = (ox + q) * sx + ph
                    ph = rel % sx
                    q = (rel - ph) // sx
                    offs[n] = np.uint64((slot * sx + ph) * phase_len) + np.uint64(q)
                    wts[n] = wo[wrows[i] + kx]
                    n += 1
            _accumulate(
                orow, phases, offs, wts, np.int64(n), np.uint64(lo), np.uint64(hi), np.uint64(1)
            )
        for ox in range(lo):
            orow[ox] += _border_value(xf, wo, tx, bases, wrows, nvalid, kw, ox * sx, dx, value)
        for ox in range(hi, ow):
            orow[ox] += _border_value(xf, wo, tx, bases, wrows, nvalid, kw, ox * sx, dx, value)
    if c <= a:
        return
    # 2. the flat band [a, c): out flat index q = oy*ow + ox reads xf[q + off_tap]
    pf = plane.ravel()
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
    _accumulate(
        pf,
        xf,
        offs,
        wts,
        np.int64(n),
        np.uint64(a * ow + lo),
        np.uint64((c - 1) * ow + hi),
        np.uint64(1),
        True,  # the band's first and last border columns are assigned in step 3
    )
    # 3. the band's border columns were computed from the wrong row: recompute them
    for oy in range(a, c):
        nvalid, const = _row_taps(
            x.shape, w, b, o, g, oz, oy, tz, ty, strides, dilations, value, bases, wrows
        )
        orow = plane[oy]
        for ox in range(lo):
            orow[ox] = const + _border_value(
                xf, wo, tx, bases, wrows, nvalid, kw, ox * sx, dx, value
            )
        for ox in range(hi, ow):
            orow[ox] = const + _border_value(
                xf, wo, tx, bases, wrows, nvalid, kw, ox * sx, dx, value
            )


def _chunk_rows(planes: int, rows: int) -> int:
    """Rows per parallel task: whole planes when there are many, else bands of >= 8 rows."""
    tasks = 8 * threads()
    if planes >= tasks:
        return rows
    return max(8, -(-rows * planes // tasks))


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

    ``codes`` and ``value`` describe the padding as in :class:`~padlab.engine.plan.Problem`;
    ``out``, if given, is a C-contiguous result array to write into.
    """
    missing = 3 - (x.ndim - 2)
    plan = _plan(geometry, tuple(codes), missing)
    tz, ty, tx, pads, strides, dilations, out_shape = plan
    x5 = x.reshape(x.shape[:2] + (1,) * missing + x.shape[2:])
    w5 = weight.reshape(weight.shape[:2] + (1,) * missing + weight.shape[2:])
    shape5 = (x.shape[0], weight.shape[0], *out_shape)
    out = np.empty(shape5, dtype=x.dtype) if out is None else out.reshape(shape5)
    params = np.array(
        (
            groups,
            *pads,
            *strides,
            *dilations,
            _chunk_rows(x.shape[0] * weight.shape[0] * out_shape[0], out_shape[1]),
        ),
        dtype=np.int64,
    )
    args = (
        x5 if x5.flags.c_contiguous else np.ascontiguousarray(x5),
        np.ascontiguousarray(w5, dtype=x.dtype),
        tz,
        ty,
        tx,
        params,
        x.dtype.type(value),
        out,
    )
    chunk = int(params[10])
    tasks = x.shape[0] * weight.shape[0] * out_shape[0] * (-(-out_shape[1] // chunk))
    work = out.size * weight[0].size
    run_chunks(
        lambda first, last: _conv_tasks(first, last, *args),
        tasks,
        per_chunk=chunk_size(tasks, work),
    )
    return out.reshape(out.shape[:2] + geometry.out_shape)


@lru_cache(maxsize=256)
def _plan(geometry: Geometry, codes: tuple[int, ...], missing: int):
    """The 3-D tables and tuples of a geometry, cached: they repeat from call to call."""
    g = Geometry(
        (1,) * missing + geometry.in_shape,
        (1,) * missing + geometry.kernel_shape,
        ((0, 0),) * missing + geometry.pads,
        (1,) * missing + geometry.strides,
        (1,) * missing + geometry.dilations,
        (1,) * missing + geometry.out_shape,
    )
    tz, ty, tx = index_tables(g, (0,) * missing + codes)
    return (
        tz,
        ty,
        tx,
        tuple(int(b) for b, _ in g.pads),
        tuple(int(v) for v in g.strides),
        tuple(int(v) for v in g.dilations),
        g.out_shape,
    )


def correlate_direct(problem: Problem) -> np.ndarray:
    """Run the direct engine on a :class:`Problem`; returns shape (B, *out_spatial).

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
    x = problem.x[:, None]
    w = problem.kernel[None, None]
    out = None if problem.out is None else problem.out[:, None]
    return conv_direct(x, w, 1, problem.geometry, problem.codes, problem.value, out)[:, 0]
