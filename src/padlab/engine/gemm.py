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

from padlab._compiled import stamp_kernels
from padlab._validate import allocate, readonly
from padlab.engine.direct import direct_plan
from padlab.geometry import Geometry

__all__ = ["conv_gemm"]


@nb.njit(cache=True, nogil=True)
def _im2col(x, kshape, tz, ty, tx, plan, oshape, value, cols):  # pragma: no cover - compiled
    """cols[(c, kz, ky, kx), (oz, oy, ox)] = padded x[c, oz*sz + kz*dz, oy*sy + ky*dy, ...].

    ``plan`` is a :data:`~padlab.engine.plan.PLAN` record, ``oshape`` the 3-D output shape.
    """
    p = plan[0]
    nc = x.shape[0]
    kd, kh, kw = kshape[0], kshape[1], kshape[2]
    bx, sx, dx = p.before[2], p.stride[2], p.dilation[2]
    z_out, z_tap = p.out_step[0], p.tap_step[0]
    y_out, y_tap = p.out_step[1], p.tap_step[1]
    x_out, x_tap = p.out_step[2], p.tap_step[2]
    od, oh, ow = oshape[0], oshape[1], oshape[2]
    lo, hi = p.lo[2], p.hi[2]
    for c in range(nc):
        for kz in range(kd):
            for ky in range(kh):
                for kx in range(kw):
                    row = cols[((c * kd + kz) * kh + ky) * kw + kx]
                    shift = kx * dx - bx
                    for oz in range(od):
                        pz = tz[oz * z_out + kz * z_tap]
                        for oy in range(oh):
                            py = ty[oy * y_out + ky * y_tap]
                            start = (oz * oh + oy) * ow
                            if pz < 0 or py < 0:
                                for ox in range(ow):
                                    row[start + ox] = value
                                continue
                            line = x[c, pz, py]
                            for ox in range(lo):
                                px = tx[ox * x_out + kx * x_tap]
                                row[start + ox] = line[px] if px >= 0 else value
                            if sx == 1:
                                for ox in range(lo, hi):
                                    row[start + ox] = line[ox + shift]
                            else:
                                for ox in range(lo, hi):
                                    row[start + ox] = line[ox * sx + shift]
                            for ox in range(hi, ow):
                                px = tx[ox * x_out + kx * x_tap]
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
    """Channel-mixing correlation by im2col + matrix product; same contract as ``conv_direct``
    (``out``, if given, a C-contiguous array of the result's shape and dtype, receives it).

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
    out_shape = (1,) * missing + geometry.out_shape
    positions = int(np.prod(out_shape))
    if out is None:
        out = allocate((n, o, *geometry.out_shape), x.dtype, "the output")
    cg, og = c // groups, o // groups
    taps = int(np.prod(weight.shape[2:]))
    cols = allocate((cg * taps, positions), x.dtype, "the patch matrix (im2col)")
    tz, ty, tx, plan, _, _ = direct_plan(geometry, tuple(codes), groups, 1, True)
    x4 = x.reshape((n, c) + (1,) * missing + x.shape[2:])
    kshape = np.array((1,) * missing + weight.shape[2:], dtype=np.int64)
    oshape = np.array(out_shape, dtype=np.int64)
    w2 = np.ascontiguousarray(weight, dtype=x.dtype).reshape(groups, og, cg * taps)
    fill = x.dtype.type(value)
    flat = out.reshape(n, o, positions)
    for i in range(n):
        for g in range(groups):
            source = np.ascontiguousarray(x4[i, g * cg : (g + 1) * cg])
            # read-only: one compiled signature per dtype, whatever the caller passed
            _im2col(readonly(source), kshape, tz, ty, tx, plan, oshape, fill, cols)
            np.matmul(w2[g], cols, out=flat[i, g * og : (g + 1) * og])
    return out


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)
