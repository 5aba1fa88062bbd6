"""The FFT engine: overlap-save in tiles, the padding rule applied by gathering each tile.

For a large kernel, multiplying spectra is cheaper than summing taps. The output is cut into
tiles; each tile's input region (its outputs plus the kernel's span) is gathered straight from the
image through the rule's index map (:func:`padlab.modes.index.source_index`), so reflected,
replicated or circular borders are exactly the rule's samples and no padded copy of the image
is ever made. A tile is transformed with
``scipy.fft.rfftn`` at a fast size ``F``, multiplied by the kernel's spectrum (computed once), and
transformed back; its last ``F - span + 1`` samples per axis are the correlation. Tiles run in
parallel threads (scipy.fft releases the GIL), so the scratch memory is a few tiles, not an image:
the tile size is chosen within a budget of 10% of the input, or 1.5 MiB for inputs below 15 MiB
(tiles within a tenth of a small image are mostly overlap and per-tile work: 1.5 MiB instead of
384 KiB made 512x512 31x31 twice as fast; see :func:`padlab.engine.choose.fft_max_volume`).

Strides are taken by sampling the stride-1 result. Inputs with NaN or infinity spread them to
their whole tile (a property of the FFT); the automatic method choice never uses this engine for
them.
"""

from __future__ import annotations

import itertools

import numpy as np

from padlab._threads import run_chunks
from padlab._validate import allocate
from padlab.engine.choose import fft_max_volume, fft_module, tile_sizes
from padlab.engine.plan import Problem
from padlab.modes.index import source_index

__all__ = ["correlate_fft"]


def _gather(x: np.ndarray, sources: list[np.ndarray]) -> np.ndarray:
    """``x[:, s0, s1, ...]`` as an outer product of index arrays, but fast.

    Axes whose sources are one ascending run become slices (views); the others are taken with
    ``np.take`` afterwards, on the already reduced block. Fancy indexing with ``np.ix_`` would
    gather element by element (ten times slower).
    """
    view = x
    takes = []
    for axis, src in enumerate(sources, start=1):
        first = int(src[0])
        if first >= 0 and int(src[-1]) == first + src.size - 1 and (np.diff(src) == 1).all():
            view = view[(slice(None),) * axis + (slice(first, first + src.size),)]
        else:  # cut the view to the indices' range first: the take then copies only the tile
            valid = src[src >= 0]
            low = int(valid.min()) if valid.size else 0
            high = int(valid.max()) + 1 if valid.size else 1
            idx = np.where(src >= 0, src, low)  # constant positions: any sample, masked later
            view = view[(slice(None),) * axis + (slice(low, high),)]
            takes.append((axis, idx - low))
    for axis, idx in takes:
        view = np.take(view, idx, axis=axis)
    return view


def correlate_fft(problem: Problem, out: np.ndarray | None = None) -> np.ndarray:
    """Run the FFT engine on a :class:`Problem`; returns shape (B, *out_spatial).

    ``out``: as in :func:`padlab.engine.choose.run`.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.geometry import Geometry
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
    if out is None:
        out = allocate(problem.out_shape, dtype, "the output")
    spans = g.extents
    dilated = allocate(spans, dtype, "the dilated kernel")
    full = [(o - 1) * s + 1 for o, s in zip(g.out_shape, g.strides, strict=True)]  # stride-1 length
    limit = fft_max_volume(x.size, x.itemsize, x.shape[0], problem.fft_scratch)
    sizes = list(tile_sizes(tuple(spans), tuple(full), limit))
    valid = [size - span + 1 for size, span in zip(sizes, spans, strict=True)]
    # tile lengths on the stride-1 grid, whole multiples of the stride so tiles align
    step = [max(s, (v // s) * s) for v, s in zip(valid, g.strides, strict=True)]

    dilated[...] = 0
    dilated[tuple(slice(None, None, d) for d in g.dilations)] = problem.kernel
    # correlation = convolution with the flipped kernel
    spectrum = fft_module().rfftn(dilated[(slice(None, None, -1),) * nd], s=sizes)
    del dilated
    starts = itertools.product(*(range(0, n, st) for n, st in zip(full, step, strict=True)))
    value = dtype.type(problem.value)

    def tile(origin: tuple[int, ...]) -> None:
        lengths = [min(st, n - o) for o, st, n in zip(origin, step, full, strict=True)]
        sources = [  # the tile's source indices, straight from the rule (no global table)
            source_index(np.arange(o - before, o - before + length + span - 1), n, code)
            for o, (before, _), n, code, length, span in zip(
                origin, g.pads, g.in_shape, problem.codes, lengths, spans, strict=True
            )
        ]
        picked = _gather(x, sources)
        inside = [src >= 0 for src in sources]
        if not all(m.all() for m in inside):  # positions of the constant
            mask = np.ones(picked.shape[1:], dtype=bool)
            for axis, m in enumerate(inside):
                shape = [1] * nd
                shape[axis] = m.size
                mask &= m.reshape(shape)
            if not picked.flags.writeable or picked.base is not None:
                picked = picked.copy()  # a view of x: never write into the input
            np.putmask(picked, ~np.broadcast_to(mask, picked.shape), value)
        axes = tuple(range(1, nd + 1))
        spec = fft_module().rfftn(picked, s=sizes, axes=axes)  # zero-padded to the tile size
        del picked
        spec *= spectrum  # in place: one spectrum per tile in memory, not two
        result = fft_module().irfftn(spec, s=sizes, axes=axes)
        del spec
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

    origins = list(starts)

    def tiles(first: int, last: int) -> None:
        for o in origins[first:last]:
            tile(o)

    run_chunks(tiles, len(origins))
    return out
