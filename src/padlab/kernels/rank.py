"""Rank-1 factorisation of a 2-D kernel: the test every separable path uses.

Pure numpy (no numba), so the kernel registry can describe a kernel as separable without loading
the engine.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["split_rank1"]


def split_rank1(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(col, row)`` with ``outer(col, row) == kernel`` up to rounding, or None.

    The factors are first taken from the kernel itself: the column and the row through its
    largest weight, the column divided by that weight. For the usual kernels (Sobel, box,
    binomial, deltas) this reproduces the kernel exactly, so results stay exact where exact
    arithmetic allows (a constant image under Sobel gives exactly 0). If that is not within
    tolerance, the SVD's best rank-1 factors are tried. The kernel counts as separable when the
    reconstruction is within 16 machine epsilons (of the kernel's dtype) of its largest weight.

    Examples
    --------
    >>> import numpy as np
    >>> col, row = split_rank1(np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    >>> col, row
    (array([0.5, 1. , 0.5]), array([-2.,  0.,  2.]))
    >>> split_rank1(np.array([[0.0, 1.0], [1.0, 0.0]])) is None
    True
    """
    if kernel.ndim != 2:
        return None
    factors = _split_cached(kernel.tobytes(), kernel.shape, kernel.dtype.str)
    if factors is None:
        return None
    return factors[0].copy(), factors[1].copy()


@lru_cache(maxsize=256)
def _split_cached(data: bytes, shape: tuple[int, ...], dtype: str):
    kernel = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
    w = kernel.astype(np.float64)
    scale = np.abs(w).max()
    if scale == 0 or not np.isfinite(scale):
        return None
    tolerance = 16 * np.finfo(kernel.dtype).eps * scale
    i, j = np.unravel_index(np.argmax(np.abs(w)), w.shape)
    col, row = w[:, j] / w[i, j], w[i, :]
    if np.abs(np.outer(col, row) - w).max() > tolerance:
        u, s, vt = np.linalg.svd(w)
        col, row = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
        if np.abs(np.outer(col, row) - w).max() > tolerance:
            return None
    return col.astype(kernel.dtype), row.astype(kernel.dtype)
