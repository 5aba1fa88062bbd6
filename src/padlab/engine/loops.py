"""The compiled inner loops the direct and separable engines share.

:func:`accumulate` adds weighted, shifted copies of a source row into an output row: the one
vectorised multiply-add loop of padlab. Its passes take 1 to 9 taps at once, so the output
segment is loaded and stored once per group of taps. :func:`accumulate_band` computes a band
of output rows two at a time where their taps read the same input rows, each sum in
:func:`accumulate`'s order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numba as nb
import numpy as np
from numba.core import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from padlab._compiled import stamp_kernels
from padlab.engine import spin as _spin  # noqa: F401 - the pool's threads wait in it

__all__ = ["FMA", "SEGMENT", "accumulate", "accumulate_band", "readonly_view"]

# Let LLVM fuse a * b + c into one FMA instruction (one rounding instead of two); no other
# fast-math liberties, so NaN and infinities keep IEEE semantics and sums keep their order.
FMA = {"contract"}
# Output samples per segment: 2048 float32 (8 KiB, a quarter of a common 32 KiB L1 data cache)
# stay in L1 while all taps pass over them, beside the input rows a pass reads (4096 left a
# 2048-wide image's five input rows no room: 2048x2048 5x5 17-20 -> 17-21 GFMA/s, 4096x4096
# 16 -> 19, single thread)
SEGMENT = 2048
# Narrowest rows computed in pairs by accumulate_band, for a 3x3 kernel and for rows of nine:
# a pair runs its loops over one row's width, the plain band over a whole segment, so below
# these widths the loops' set-up costs more than the shared loads save (band loop alone, one
# thread, pairs / plain: 3x3 at width 40 1.32, 48 0.98, 64 0.93, 128 0.75; 9x9 at 64 1.83,
# 256 1.11, 320 0.98, 384 0.94, 1024 0.87)
PAIR_MIN_WIDTH_3X3 = 64
PAIR_MIN_WIDTH_ROWS9 = 384


@intrinsic
def _readonly_view(typingctx, array):  # pragma: no cover - compiled
    """``array`` in compiled code, typed read-only (the same array: numba gives read-only and
    writable arrays one data layout).

    numba compiles a function once per type of its arguments, and a read-only array is
    another type than a writable one. The engines pass :func:`accumulate` their scratch rows
    and weights through this, so that it is compiled once per dtype, for the read-only input
    and scratch alike (it was compiled three times per dtype, about 2 s each).
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])

    return array.copy(readonly=True)(array), codegen


# as the compiled code calls it (mypy reads the intrinsic's typing signature)
readonly_view = cast("Callable[[np.ndarray], np.ndarray]", _readonly_view)


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass1(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox]


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass2(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox]


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass3(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox]


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass4(orow, xf, offs, wts, t, start, stop):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    for ox in range(start, stop):
        orow[ox] += w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox]


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass8(orow, xf, offs, wts, t, start, stop, init):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    o4, w4 = offs[t + 4], wts[t + 4]
    o5, w5 = offs[t + 5], wts[t + 5]
    o6, w6 = offs[t + 6], wts[t + 6]
    o7, w7 = offs[t + 7], wts[t + 7]
    if init is None:
        for ox in range(start, stop):
            orow[ox] += (
                w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox]
            ) + (w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox])
    else:
        for ox in range(start, stop):
            orow[ox] = init + (
                (w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox])
                + (w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox])
            )


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pass9(orow, xf, offs, wts, t, start, stop, init):  # pragma: no cover - compiled
    o0, w0 = offs[t], wts[t]
    o1, w1 = offs[t + 1], wts[t + 1]
    o2, w2 = offs[t + 2], wts[t + 2]
    o3, w3 = offs[t + 3], wts[t + 3]
    o4, w4 = offs[t + 4], wts[t + 4]
    o5, w5 = offs[t + 5], wts[t + 5]
    o6, w6 = offs[t + 6], wts[t + 6]
    o7, w7 = offs[t + 7], wts[t + 7]
    o8, w8 = offs[t + 8], wts[t + 8]
    if init is None:
        for ox in range(start, stop):
            orow[ox] += (
                (w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox])
                + (w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox])
                + (w8 * xf[o8 + ox])
            )
    else:
        for ox in range(start, stop):
            orow[ox] = init + (
                (w0 * xf[o0 + ox] + w1 * xf[o1 + ox] + w2 * xf[o2 + ox] + w3 * xf[o3 + ox])
                + (w4 * xf[o4 + ox] + w5 * xf[o5 + ox] + w6 * xf[o6 + ox] + w7 * xf[o7 + ox])
                + (w8 * xf[o8 + ox])
            )


@nb.njit(cache=True, fastmath=FMA)
def accumulate(orow, xf, offs, wts, n, lo, hi, sx, init):  # pragma: no cover - compiled
    """orow[lo:hi] = init + the sum over taps t of wts[t] * xf[offs[t] + ox * sx].

    ``init`` is a scalar of the output's dtype. The range is cut into segments that stay in L1
    cache while the taps pass over them, 8 taps per pass (one load and store of the output for
    8 multiply-adds); the last 9 taps go in one fused pass, so every odd square kernel
    (k * k = 1 mod 8) ends without a short pass and a 3x3 kernel is a single pass. Taps that
    come in nines (``n`` a multiple of 9: 9x9, 15x15, a 3x3 kernel over several channels or
    planes) go nine per pass, in tap order (for a 9x9 kernel, a kernel row per pass, which lets
    :func:`accumulate_band` share a row's loads between two output rows). The first
    pass of 8 or 9 taps writes ``init + its sum`` without reading the output (2048x2048 3x3,
    one thread: 1.28 -> 1.65 Gpixel/s against setting the range to ``init`` first); with
    fewer taps (or a stride) the segment is set to ``init`` first. Both give the same sums.
    Only the 8- and 9-tap passes have an assigning form: one for every pass shape, and a
    second compiled version of this function for adding, had doubled the engines' compile time.
    """
    for start in range(lo, hi, SEGMENT):
        stop = min(hi, start + SEGMENT)
        t0 = 0
        if sx == 1 and n >= 9 and n % 9 == 0:
            _pass9(orow, xf, offs, wts, 0, start, stop, init)
            t0 = 9
        elif sx == 1 and n >= 8:
            _pass8(orow, xf, offs, wts, 0, start, stop, init)
            t0 = 8
        else:
            for ox in range(start, stop):  # start from init here, while the segment is in cache
                orow[ox] = init
        if sx == 1:  # taps t0 .. n - 1: 9 per pass if they come in nines, else 8 per pass
            t = t0  # and the last 9 (or 4 + the rest) fused
            if n % 9 != 0:
                while n - t > 9:
                    _pass8(orow, xf, offs, wts, t, start, stop, None)
                    t += 8
                if n - t >= 5 and n - t <= 7:
                    _pass4(orow, xf, offs, wts, t, start, stop)
                    t += 4
            while n - t >= 9:  # every pass of taps in nines, else the last (one loop for both)
                _pass9(orow, xf, offs, wts, t, start, stop, None)
                t += 9
            r = n - t
            if r == 8:
                _pass8(orow, xf, offs, wts, t, start, stop, None)
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


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pair9(orow, xf, offs, wts, start, stop, width, init):  # pragma: no cover - compiled
    """``orow[start:stop]`` and ``orow[start + width:stop + width]`` at once, for a 3x3 kernel
    whose rows are ``width`` apart: each output as :func:`_pass9` sums it (bitwise the same),
    the lower one reading the rows the upper one reads one row down: 12 loads for 18
    multiply-adds instead of 18."""
    o0, w0 = offs[0], wts[0]
    o1, w1 = offs[1], wts[1]
    o2, w2 = offs[2], wts[2]
    w3, w4, w5, w6, w7, w8 = wts[3], wts[4], wts[5], wts[6], wts[7], wts[8]
    w2x = width + width
    w3x = w2x + width
    for ox in range(start, stop):
        a0, a1, a2 = xf[o0 + ox], xf[o1 + ox], xf[o2 + ox]
        b0, b1, b2 = xf[o0 + width + ox], xf[o1 + width + ox], xf[o2 + width + ox]
        c0, c1, c2 = xf[o0 + w2x + ox], xf[o1 + w2x + ox], xf[o2 + w2x + ox]
        d0, d1, d2 = xf[o0 + w3x + ox], xf[o1 + w3x + ox], xf[o2 + w3x + ox]
        orow[ox] = init + (
            (w0 * a0 + w1 * a1 + w2 * a2 + w3 * b0)
            + (w4 * b1 + w5 * b2 + w6 * c0 + w7 * c1)
            + (w8 * c2)
        )
        orow[ox + width] = init + (
            (w0 * b0 + w1 * b1 + w2 * b2 + w3 * c0)
            + (w4 * c1 + w5 * c2 + w6 * d0 + w7 * d1)
            + (w8 * d2)
        )


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _shared9(orow, xf, offs, wts, t, start, stop, width):  # pragma: no cover - compiled
    """Adds taps ``t .. t + 8`` (one kernel row of nine) to ``orow[start:stop]``, and taps
    ``t - 9 .. t - 1`` (the row above) to the same samples one row down, ``width`` further:
    both read the same input samples, loaded once. Each output's pass is :func:`_pass9`'s
    adding sum, bitwise.

    The loads are interleaved with their multiply-adds: loaded all first, the nine samples
    and eighteen weights left LLVM too few vector registers, and it spilled the weights.
    """
    o0, o1, o2, o3, o4 = offs[t], offs[t + 1], offs[t + 2], offs[t + 3], offs[t + 4]
    o5, o6, o7, o8 = offs[t + 5], offs[t + 6], offs[t + 7], offs[t + 8]
    a0, a1, a2, a3, a4 = wts[t], wts[t + 1], wts[t + 2], wts[t + 3], wts[t + 4]
    a5, a6, a7, a8 = wts[t + 5], wts[t + 6], wts[t + 7], wts[t + 8]
    b0, b1, b2, b3, b4 = wts[t - 9], wts[t - 8], wts[t - 7], wts[t - 6], wts[t - 5]
    b5, b6, b7, b8 = wts[t - 4], wts[t - 3], wts[t - 2], wts[t - 1]
    for ox in range(start, stop):
        s = xf[o0 + ox]
        u1, l1 = a0 * s, b0 * s
        s = xf[o4 + ox]
        u2, l2 = a4 * s, b4 * s
        s = xf[o1 + ox]
        u1, l1 = u1 + a1 * s, l1 + b1 * s
        s = xf[o5 + ox]
        u2, l2 = u2 + a5 * s, l2 + b5 * s
        s = xf[o2 + ox]
        u1, l1 = u1 + a2 * s, l1 + b2 * s
        s = xf[o6 + ox]
        u2, l2 = u2 + a6 * s, l2 + b6 * s
        s = xf[o3 + ox]
        u1, l1 = u1 + a3 * s, l1 + b3 * s
        s = xf[o7 + ox]
        u2, l2 = u2 + a7 * s, l2 + b7 * s
        s = xf[o8 + ox]
        orow[ox] += (u1 + u2) + (a8 * s)
        orow[ox + width] += (l1 + l2) + (b8 * s)


@nb.njit(cache=True, inline="always", fastmath=FMA)
def _pair_rows9(orow, xf, offs, wts, n, first, width, init):  # pragma: no cover - compiled
    """``orow[first:first + width]`` and the same samples one row down, for taps in kernel
    rows of nine ``width`` apart, each output as :func:`accumulate` sums it (nine per pass,
    row after row): the upper output's row ``j`` and the lower one's row ``j - 1`` read the
    same input row once."""
    last = first + width
    segment = np.uint64(SEGMENT)  # unsigned throughout (uint64 + int64 is a float64 in numba)
    for start in range(first, last, segment):
        stop = min(last, start + segment)
        accumulate(orow, xf, offs, readonly_view(wts), np.int64(9), start, stop, np.uint64(1), init)
        for ox in range(start + width, stop + width):  # init + its first sum, as _pass9 makes it
            orow[ox] = init
        for t in range(9, n, 9):
            _shared9(orow, xf, offs, wts, t, start, stop, width)
        _pass9(orow, xf, offs, wts, n - 9, start + width, stop + width, None)


@nb.njit(cache=True, fastmath=FMA)
def accumulate_band(orow, xf, offs, wts, n, lo, hi, width, init):  # pragma: no cover - compiled
    """:func:`accumulate` with stride 1 over a band of output rows ``width`` samples apart.

    Where the kernel's rows are ``width`` apart in ``xf`` too (a stride-1 'same' band, not
    dilated across rows), two output rows are computed at once, each sum as :func:`accumulate`
    makes it: the taps of the lower row read the rows the upper one reads, one row down.

    - A 3x3 kernel (``offs[t + 3] == offs[t] + width``): a pair of rows loads four input rows
      instead of six (the band loop alone, 512x512 3x3, one thread: 75 -> 56 us; 2048x2048
      2.37 -> 1.99 ms).
    - Kernel rows of nine taps (``offs[t + 9] == offs[t] + width``: 9x9 and any Kx9 kernel),
      summed nine taps per pass: each input row is loaded once for both outputs.

    Rows narrower than :data:`PAIR_MIN_WIDTH_3X3` or :data:`PAIR_MIN_WIDTH_ROWS9` go as one
    band (the same sums).
    """
    step = 3 if n == 9 else 9
    pair = (n == 9 or (n >= 18 and n % 9 == 0)) and hi - lo >= width + width
    pair = pair and width >= (PAIR_MIN_WIDTH_3X3 if n == 9 else PAIR_MIN_WIDTH_ROWS9)
    if pair:
        for t in range(n - step):
            if offs[t + step] != offs[t] + width:
                pair = False
                break
    if not pair:
        accumulate(orow, xf, offs, readonly_view(wts), n, lo, hi, np.uint64(1), init)
        return
    start = lo
    while start + width + width <= hi:
        if n == 9:
            _pair9(orow, xf, offs, wts, start, start + width, width, init)
        else:
            _pair_rows9(orow, xf, offs, wts, n, start, width, init)
        start += width + width
    if start < hi:
        accumulate(orow, xf, offs, readonly_view(wts), n, start, hi, np.uint64(1), init)


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)
