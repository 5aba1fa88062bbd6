"""The separable engine: a rank-1 2-D kernel as a vertical and a horizontal 1-D pass.

A kernel ``w = outer(col, row)`` costs ``kh + kw`` multiply-adds per output instead of
``kh * kw``. Each output row is made in two steps, with one row of scratch memory per task:

1. vertical: ``buf = sum_ky col[ky] * source_row(oy * sy + ky * dy)``, where the source row comes
   from the row index table (a padded row of the constant contributes ``value`` everywhere);
2. horizontal: ``out[ox] = sum_kx row[kx] * buf[source_col(ox * sx + kx * dx)]``, where a padded
   column of the constant reads ``value * sum(col)``.

Padding stays virtual: every index rule commutes with the vertical combination because it is
the same column map for every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numba as nb
import numpy as np

from padlab._compiled import stamp_kernels
from padlab._threads import threads
from padlab._validate import readonly
from padlab.engine.choose import brief, per_chunk, serial
from padlab.engine.loops import FMA, accumulate, readonly_view
from padlab.engine.plan import Problem, axis_reads, bind_tasks, chunk_rows, make_plan
from padlab.geometry import Geometry

__all__ = ["correlate_separable"]


@nb.njit(cache=True, nogil=True, fastmath=FMA)
def _separable(first, last, x, col, row, ty, tx, plan, value, out):  # pragma: no cover
    """out[b] = correlation of x[b] with outer(col, row), tasks ``first .. last - 1``.

    ``plan`` is a :data:`~padlab.engine.plan.PLAN` record (axes 1 and 2 are y and x).
    """
    p = plan[0]
    bx, sx, dx = p.before[2], p.stride[2], p.dilation[2]
    y_out, y_tap = p.out_step[1], p.tap_step[1]
    x_out, x_tap = p.out_step[2], p.tap_step[2]
    lo, hi = p.lo[2], p.hi[2]
    chunk = p.rows_per_task
    nh, nw = x.shape[1], x.shape[2]
    kh = col.shape[0]
    kw = row.shape[0]
    oh, ow = out.shape[1], out.shape[2]
    xf = x.ravel()
    edge = value * col.sum()  # a padded column of the constant, after the vertical pass
    nchunks = (oh + chunk - 1) // chunk
    buf = np.empty(nw, x.dtype)
    offs = np.empty(max(kh, kw), np.uint64)
    wts = np.empty(max(kh, kw), x.dtype)
    zero = x.dtype.type(0)
    hoffs = np.empty(kw, np.uint64)
    for kx in range(kw):
        hoffs[kx] = np.uint64(kx * dx) - np.uint64(bx)
    for task in range(first, last):
        b = task // nchunks
        r0 = (task % nchunks) * chunk
        for oy in range(r0, min(oh, r0 + chunk)):
            # 1. vertical pass into buf
            n = 0
            const = value * 0
            for ky in range(kh):
                py = ty[oy * y_out + ky * y_tap]
                if py < 0:
                    const += value * col[ky]
                else:
                    offs[n] = np.uint64((b * nh + py) * nw)
                    wts[n] = col[ky]
                    n += 1
            # buf = const + the taps' sum (const rounded to the dtype, as if stored first)
            start = x.dtype.type(const)
            accumulate(buf, xf, offs, readonly_view(wts), np.int64(n), np.uint64(0),
                       np.uint64(nw), np.uint64(1), start)  # fmt: skip
            # 2. horizontal pass from buf
            orow = out[b, oy]
            if hi > lo:
                accumulate(
                    orow, readonly_view(buf), hoffs, row, np.int64(kw), np.uint64(lo),
                    np.uint64(hi), np.uint64(sx), zero,
                )  # fmt: skip
            for ox in range(lo):
                orow[ox] = _border(buf, row, tx, ox * x_out, x_tap, edge)
            for ox in range(hi, ow):
                orow[ox] = _border(buf, row, tx, ox * x_out, x_tap, edge)


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _border(buf, row, tx, start, step, edge):  # pragma: no cover - compiled
    acc = edge * 0
    for kx in range(row.shape[0]):
        px = tx[start + kx * step]
        acc += row[kx] * (edge if px < 0 else buf[px])
    return acc


@lru_cache(maxsize=256)
def _plan(
    geometry: Geometry, codes: tuple[int, ...], batch: int, alone: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row and column tables and the plan record, cached: they repeat between calls."""
    ty, tx = reads = axis_reads(geometry, codes)
    oh = geometry.out_shape[0]
    plan = make_plan(reads, rows_per_task=oh if alone else chunk_rows(batch, oh))
    plan.flags.writeable = False
    return ty.table, tx.table, plan


def correlate_separable(
    problem: Problem, factors: tuple[np.ndarray, np.ndarray], out: np.ndarray | None = None
) -> np.ndarray:
    """Run the separable engine on a 2-D :class:`Problem` whose kernel is ``outer(*factors)``.

    ``out``: as in :func:`padlab.engine.choose.run`.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.kernels.rank import split_rank1
    >>> from padlab.modes.index import REPLICATE
    >>> x = np.arange(12.0).reshape(1, 3, 4)
    >>> w = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    >>> p = Problem(x, w, Geometry.resolve((3, 4), (3, 3), "same"), (REPLICATE,) * 2, 0.0)
    >>> correlate_separable(p, split_rank1(w))[0]
    array([[-4., -8., -8., -4.],
           [-4., -8., -8., -4.],
           [-4., -8., -8., -4.]])
    """
    return bind_separable(problem, factors)(problem.x, out)


def bind_separable(
    problem: Problem,
    factors: tuple[np.ndarray, np.ndarray],
    allocated: tuple[int, ...] | None = None,
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """:func:`correlate_separable` for inputs shaped like ``problem.x``, prepared once:
    ``call(x, out=None)`` only allocates the output (of shape ``allocated``, default the
    problem's) and runs the compiled tasks. ``x`` and ``out`` may have any shapes of the bound
    input's and output's sizes (C-contiguous ``out``); the output returned is the one written,
    in its own shape."""
    g = problem.geometry
    col, row = factors
    dtype = problem.x.dtype
    out_shape = problem.out_shape
    batch = problem.x.shape[0]
    work = math.prod(out_shape) * (col.size + row.size)
    alone = serial(work)
    ty, tx, plan = _plan(g, tuple(problem.codes), batch, alone)
    # read-only, as x below: one compiled signature per dtype, whatever the caller passed
    col = readonly(np.ascontiguousarray(col, dtype=dtype))
    row = readonly(np.ascontiguousarray(row, dtype=dtype))
    fill = dtype.type(problem.value)
    tasks = batch * (-(-g.out_shape[0] // int(plan[0]["rows_per_task"])))
    chunk = tasks if alone else per_chunk(tasks, work, threads())

    constants = (col, row, ty, tx, plan, fill)
    return bind_tasks(
        _separable, tasks, chunk, alone, problem.x.shape, out_shape, dtype, constants,
        allocated=allocated, brief=brief(work),
    )  # fmt: skip


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)
