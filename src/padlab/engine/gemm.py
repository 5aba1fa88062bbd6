"""The GEMM engine for channel-mixing convolution: im2col through the index tables, then BLAS.

With many input channels, a CNN layer is a matrix product: the weights (O, C * taps) times the
input patches (C * taps, outputs). The patches are gathered image by image (``im2col``) straight
from the input through the per-axis index tables, so the padding rule is applied exactly and no
padded copy of the batch exists; the product runs in numpy's BLAS, multi-threaded. Scratch memory
is one image's patch matrix at a time.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from padlab.engine.direct import _plan
from padlab.geometry import Geometry

__all__ = ["conv_gemm"]


@nb.njit(cache=True, nogil=True)
def _im2col(x, kshape, tz, ty, tx, params, value, cols):  # pragma: no cover - compiled
    """cols[(c, kz, ky, kx), (oz, oy, ox)] = padded x[c, oz*sz + kz*dz, oy*sy + ky*dy, ...]."""
    nc, nw = x.shape[0], x.shape[3]
    kd, kh, kw = kshape[0], kshape[1], kshape[2]
    bx = params[0]
    sz, sy, sx = params[1], params[2], params[3]
    dz, dy, dx = params[4], params[5], params[6]
    od, oh, ow = params[7], params[8], params[9]
    lo = min((bx + sx - 1) // sx, ow)
    hi = max(min((nw - 1 + bx - (kw - 1) * dx) // sx + 1, ow), lo)
    for c in range(nc):
        for kz in range(kd):
            for ky in range(kh):
                for kx in range(kw):
                    row = cols[((c * kd + kz) * kh + ky) * kw + kx]
                    shift = kx * dx - bx
                    for oz in range(od):
                        pz = tz[oz * sz + kz * dz]
                        for oy in range(oh):
                            py = ty[oy * sy + ky * dy]
                            start = (oz * oh + oy) * ow
                            if pz < 0 or py < 0:
                                for ox in range(ow):
                                    row[start + ox] = value
                                continue
                            line = x[c, pz, py]
                            for ox in range(lo):
                                px = tx[ox * sx + kx * dx]
                                row[start + ox] = line[px] if px >= 0 else value
                            if sx == 1:
                                for ox in range(lo, hi):
                                    row[start + ox] = line[ox + shift]
                            else:
                                for ox in range(lo, hi):
                                    row[start + ox] = line[ox * sx + shift]
                            for ox in range(hi, ow):
                                px = tx[ox * sx + kx * dx]
                                row[start + ox] = line[px] if px >= 0 else value


def conv_gemm(
    x: np.ndarray,
    weight: np.ndarray,
    groups: int,
    geometry: Geometry,
    codes: tuple[int, ...],
    value: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Channel-mixing correlation by im2col + matrix product; same contract as ``conv_direct``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((2, 1, 3, 3))
    >>> g = Geometry.resolve((4, 4), (3, 3), "valid")
    >>> conv_gemm(x, w, 1, g, (0, 0), 0.0)[0, 1]
    array([[45., 54.],
           [81., 90.]])
    """
    n, c = x.shape[:2]
    o = weight.shape[0]
    missing = 3 - (x.ndim - 2)
    tz, ty, tx, pads, strides, dilations, out_shape = _plan(geometry, tuple(codes), missing)
    x4 = x.reshape((n, c) + (1,) * missing + x.shape[2:])
    kshape = np.array((1,) * missing + weight.shape[2:], dtype=np.int64)
    params = np.array((pads[2], *strides, *dilations, *out_shape), dtype=np.int64)
    cg, og = c // groups, o // groups
    taps = int(np.prod(weight.shape[2:]))
    positions = int(np.prod(out_shape))
    w2 = np.ascontiguousarray(weight, dtype=x.dtype).reshape(groups, og, cg * taps)
    out = np.empty((n, o, positions), x.dtype) if out is None else out.reshape(n, o, positions)
    cols = np.empty((cg * taps, positions), dtype=x.dtype)
    fill = x.dtype.type(value)
    for i in range(n):
        for g in range(groups):
            source = np.ascontiguousarray(x4[i, g * cg : (g + 1) * cg])
            _im2col(source, kshape, tz, ty, tx, params, fill, cols)
            np.matmul(w2[g], cols, out=out[i, g * og : (g + 1) * og])
    return out.reshape((n, o, *geometry.out_shape))
