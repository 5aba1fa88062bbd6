"""PNG row filters undone by a compiled loop (imported only when a 16-bit colour PNG is read).

Kept apart from :mod:`padlab.io.png` so that importing padlab, or writing a PNG, never loads
numba. The loop is the format's definition, byte by byte: linear in the image and with no
scratch memory besides the output.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from padlab._compiled import stamp_kernels

__all__ = ["unfilter"]


@nb.njit(cache=True, nogil=True)
def _unfilter(rows, bpp, out):  # pragma: no cover - compiled
    height, stride = out.shape
    for i in range(height):
        kind = rows[i, 0]
        for x in range(stride):
            a = np.int32(out[i, x - bpp]) if x >= bpp else np.int32(0)
            b = np.int32(out[i - 1, x]) if i > 0 else np.int32(0)
            if kind == 0:
                predictor = np.int32(0)
            elif kind == 1:
                predictor = a
            elif kind == 2:
                predictor = b
            elif kind == 3:
                predictor = (a + b) >> 1
            else:
                c = np.int32(out[i - 1, x - bpp]) if i > 0 and x >= bpp else np.int32(0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i, x] = (np.int32(rows[i, x + 1]) + predictor) & 0xFF


def unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    """The PNG rows ``rows`` (each: a filter type 0 to 4, then its bytes) unfiltered.

    Parameters
    ----------
    rows : ndarray
        uint8, shape (H, 1 + row bytes); filter types already checked to be 0 to 4.
    bpp : int
        Bytes per pixel (the distance to the "left" byte).

    Returns
    -------
    ndarray
        uint8, shape (H, row bytes).

    Examples
    --------
    >>> rows = np.array([[1, 10, 5, 5], [2, 1, 1, 1]], np.uint8)  # Sub, then Up
    >>> unfilter(rows, 1)
    array([[10, 15, 20],
           [11, 16, 21]], dtype=uint8)
    """
    out = np.empty((rows.shape[0], rows.shape[1] - 1), np.uint8)
    _unfilter(np.ascontiguousarray(rows), int(bpp), out)
    return out


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)
