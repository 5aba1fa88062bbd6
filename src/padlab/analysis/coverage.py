"""Coverage (foveation): how often each input pixel is read by a convolution, and with what weight.

Zero 'same' padding with a 3x3 kernel reads a corner pixel 4 times and an interior pixel 9 times:
the border is under-weighted, one of the ways a CNN can tell where the border is (Alsallakh et
al., "Mind the Pad", ICLR 2021). Copying rules read real pixels where zero padding reads zeros,
so their counts differ too: reflect reads the pixel next to the border twice as often.
"""

from __future__ import annotations

import numpy as np

from padlab._validate import as_index, as_numeric_array
from padlab.errors import PadlabValueError
from padlab.geometry import Geometry, partial_scale
from padlab.modes.index import INDEX_CODES, source_index
from padlab.modes.registry import resolve_mode

__all__ = ["coverage"]


def coverage(
    shape: int | tuple[int, ...],
    kernel_shape: int | tuple[int, ...],
    *,
    mode: str = "zeros",
    padding: object = "same",
    stride: object = 1,
    dilation: object = 1,
    convention: str = "tf",
    weights: object = None,
) -> np.ndarray:
    """How many times each input sample is read by a correlation, per sample.

    ``coverage[i] = sum over outputs o and taps k of [window (o, k) reads sample i] * w``, where
    ``w`` is 1, or the tap's weight when ``weights`` is given. A read of a padded position counts
    for the real sample the rule copies there (reflect, symmetric, replicate, circular) and for
    nothing under the constant rules. With ``mode='partial'`` and ``weights`` given, each read
    is also multiplied by that output's partial-convolution factor (taps / real taps).

    Parameters
    ----------
    shape : int or tuple of int
        The input's spatial shape.
    kernel_shape : int or tuple of int
        The kernel's shape (an int for every axis).
    mode, padding, stride, dilation, convention
        As in :func:`padlab.correlate`. The statistic and odd-reflection rules, whose padded
        samples mix many real ones, are refused.
    weights : array_like, optional
        A kernel of shape ``kernel_shape``: weight each read by its tap (use ``np.ones`` for the
        partial-convolution weight sums of "Mind the Pad").

    Returns
    -------
    ndarray of float64, shape ``shape``

    Examples
    --------
    >>> from padlab import coverage
    >>> coverage(6, 3, mode="zeros").tolist()
    [2.0, 3.0, 3.0, 3.0, 3.0, 2.0]
    >>> coverage(6, 3, mode="reflect").tolist()
    [2.0, 4.0, 3.0, 3.0, 4.0, 2.0]
    >>> coverage(7, 5, mode="replicate").tolist()
    [6.0, 4.0, 5.0, 5.0, 5.0, 4.0, 6.0]
    >>> coverage((4, 4), 3)[0, 0], coverage((4, 4), 3)[1, 1]
    (np.float64(4.0), np.float64(9.0))
    >>> import numpy as np
    >>> coverage(6, 3, mode="partial", weights=np.ones(3)).tolist()
    [2.5, 3.5, 3.0, 3.0, 3.5, 2.5]
    """
    shape = (shape,) if not isinstance(shape, tuple | list) else tuple(shape)
    shape = tuple(as_index(n, "shape") for n in shape)
    if isinstance(kernel_shape, int):
        kernel_shape = (kernel_shape,) * len(shape)
    kernel_shape = tuple(as_index(k, "kernel_shape") for k in kernel_shape)
    rule = resolve_mode(mode)
    if rule.kind not in ("constant", "index", "partial"):
        raise PadlabValueError(
            f"coverage is defined for rules whose padded samples copy one real sample or a "
            f"constant; '{rule.name}' ({rule.pattern}) mixes several. Allowed: zeros, constant, "
            "reflect, symmetric, replicate, circular, partial"
        )
    g = Geometry.resolve(shape, kernel_shape, padding, stride, dilation, convention)
    code = INDEX_CODES[rule.name]
    # sources[axis][o, k]: the real sample output o's tap k reads along that axis, or -1
    sources = []
    for n, (before, _), k, s, d, out in zip(
        g.in_shape, g.pads, g.kernel_shape, g.strides, g.dilations, g.out_shape, strict=True
    ):
        positions = np.arange(out)[:, None] * s + np.arange(k)[None, :] * d - before
        sources.append(np.asarray(source_index(positions, n, code)))
    factor = None
    if rule.kind == "partial" and weights is not None:
        factor = partial_scale(g, (True,) * len(shape), np.dtype(np.float64))
    w = None
    if weights is not None:
        w = as_numeric_array(weights, "weights").astype(np.float64)
        if w.shape != g.kernel_shape:
            raise PadlabValueError(
                f"weights must have the kernel's shape {g.kernel_shape}, got {w.shape}"
            )
    result = np.zeros(shape)
    for taps in np.ndindex(*g.kernel_shape):
        src = [sources[a][:, t] for a, t in enumerate(taps)]  # per axis, one source per output
        grids = np.meshgrid(*src, indexing="ij")
        valid = np.ones(grids[0].shape, dtype=bool)
        for grid in grids:
            valid &= grid >= 0
        amount = np.ones(valid.shape) if w is None else np.full(valid.shape, w[taps])
        if factor is not None:
            amount = amount * factor
        np.add.at(result, tuple(grid[valid] for grid in grids), amount[valid])
    return result
