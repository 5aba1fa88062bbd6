"""The FFT engine: overlap-save in tiles, the padding rule applied by gathering each tile.

For a large kernel, multiplying spectra is cheaper than summing taps. The output is cut into
tiles; each tile's input region (its outputs plus the kernel's span) is gathered straight from the
image through the per-axis index tables, so reflected, replicated or circular borders are exactly
the rule's samples and no padded copy of the image is ever made. A tile is transformed with
``scipy.fft.rfftn`` at a fast size ``F``, multiplied by the kernel's spectrum (computed once), and
transformed back; its last ``F - span + 1`` samples per axis are the correlation. Tiles run in
parallel threads (scipy.fft releases the GIL), so the scratch memory is a few tiles, not an image.

Strides are taken by sampling the stride-1 result. Inputs with NaN or infinity spread them to
their whole tile (a property of the FFT); the automatic method choice never uses this engine for
them.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import scipy.fft

from padlab.engine.plan import Problem, index_tables

__all__ = ["correlate_fft", "fft_tile_size"]


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="padlab-fft")


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@cache
def fft_tile_size(span: int, out_len: int) -> int:
    """The FFT length per axis for a kernel span, minimising work per output sample.

    Examples
    --------
    >>> fft_tile_size(31, 4096)
    256
    >>> fft_tile_size(31, 40)    # no tile larger than the output needs
    72
    """
    best, best_cost = 0, math.inf
    limit = scipy.fft.next_fast_len(out_len + span - 1, real=True)
    for size in (32, 64, 128, 256, 512, 1024, 2048):
        size = min(size, limit)
        valid = size - span + 1
        if valid < 1:
            continue
        cost = size * math.log2(max(size, 2)) / valid
        if cost < best_cost:
            best, best_cost = size, cost
        if size == limit:
            break
    return best


def correlate_fft(problem: Problem) -> np.ndarray:
    """Run the FFT engine on a :class:`Problem`; returns shape (B, *out_spatial).

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.ops.geometry import Geometry
    >>> from padlab.modes.index import CIRCULAR
    >>> x = np.arange(1.0, 6.0)[None]
    >>> p = Problem(x, np.array([1.0, 2.0, 3.0]), Geometry.resolve((5,), (3,), "same"),
    ...             (CIRCULAR,), 0.0)
    >>> np.round(correlate_fft(p), 10)
    array([[13., 14., 20., 26., 17.]])
    """
    g = problem.geometry
    x = problem.x
    dtype = x.dtype
    nd = len(g.in_shape)
    tables = index_tables(g, problem.codes)
    spans = g.extents
    full = [(o - 1) * s + 1 for o, s in zip(g.out_shape, g.strides, strict=True)]  # stride-1 length
    sizes = [fft_tile_size(span, n) for span, n in zip(spans, full, strict=True)]
    valid = [size - span + 1 for size, span in zip(sizes, spans, strict=True)]
    # tile lengths on the stride-1 grid, whole multiples of the stride so tiles align
    step = [max(s, (v // s) * s) for v, s in zip(valid, g.strides, strict=True)]

    dilated = np.zeros(spans, dtype=dtype)
    dilated[tuple(slice(None, None, d) for d in g.dilations)] = problem.kernel
    # correlation = convolution with the flipped kernel
    spectrum = scipy.fft.rfftn(dilated[(slice(None, None, -1),) * nd], s=sizes)

    out = np.empty(problem.out_shape, dtype=dtype)
    starts = itertools.product(*(range(0, n, st) for n, st in zip(full, step, strict=True)))
    value = dtype.type(problem.value)

    def tile(origin: tuple[int, ...]) -> None:
        lengths = [min(st, n - o) for o, st, n in zip(origin, step, full, strict=True)]
        region = np.zeros((x.shape[0], *sizes), dtype=dtype)
        sources = [
            table[o : o + length + span - 1]
            for table, o, length, span in zip(tables, origin, lengths, spans, strict=True)
        ]
        inside = [src >= 0 for src in sources]
        picked = x[
            (
                slice(None),
                *np.ix_(*[np.where(m, s, 0) for s, m in zip(sources, inside, strict=True)]),
            )
        ]
        if value != 0 or not all(m.all() for m in inside):
            mask = np.ones(picked.shape[1:], dtype=bool)
            for axis, m in enumerate(inside):
                shape = [1] * nd
                shape[axis] = m.size
                mask &= m.reshape(shape)
            picked = np.where(mask, picked, value)
        region[(slice(None), *(slice(0, n) for n in picked.shape[1:]))] = picked
        result = scipy.fft.irfftn(
            scipy.fft.rfftn(region, s=sizes, axes=range(1, nd + 1)) * spectrum,
            s=sizes,
            axes=range(1, nd + 1),
        )
        # stride-1 positions origin .. origin+length-1 sit at span-1 .. in the result
        first = [(-o) % s for o, s in zip(origin, g.strides, strict=True)]
        keep = tuple(
            slice(span - 1 + f, span - 1 + length, s)
            for span, f, length, s in zip(spans, first, lengths, g.strides, strict=True)
        )
        target = tuple(
            slice((o + f) // s, (o + f) // s + len(range(f, length, s)))
            for o, f, length, s in zip(origin, first, lengths, g.strides, strict=True)
        )
        out[(slice(None), *target)] = result[(slice(None), *keep)]

    list(_pool().map(tile, starts))
    return out
