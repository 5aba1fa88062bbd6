"""What every engine shares: the problem description, index tables and the partial scale.

An engine receives a :class:`Problem`: a batch of arrays ``x`` of shape (B, *spatial) in the
compute dtype, one kernel, the :class:`~padlab.ops.geometry.Geometry` and one index-rule code per
axis (:mod:`padlab.modes.index`). Rules that are not index rules never reach an engine as such:
``partial`` arrives as zero padding plus :func:`partial_scale`, and the arithmetic rules (odd
reflections, ramps, statistics) arrive already padded, with a 'valid' geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from padlab.modes.index import index_table
from padlab.ops.geometry import Geometry

__all__ = ["Problem", "index_tables", "partial_scale", "to_3d"]


@dataclass(frozen=True)
class Problem:
    """One batched correlation, ready for an engine.

    Attributes
    ----------
    x : ndarray, shape (B, *spatial)
        C-contiguous, float32 or float64.
    kernel : ndarray
        Same dtype, one axis per spatial axis of ``x``.
    geometry : Geometry
    codes : tuple of int
        Index-rule code per spatial axis (``CONSTANT`` for zeros/constant/partial).
    value : float
        The constant read outside the input on ``CONSTANT`` axes (0 unless mode='constant').
    """

    x: np.ndarray
    kernel: np.ndarray
    geometry: Geometry
    codes: tuple[int, ...]
    value: float

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.x.shape[0], *self.geometry.out_shape)


def index_tables(geometry: Geometry, codes: tuple[int, ...]) -> list[np.ndarray]:
    """One table per axis: padded coordinate -> source index, or -1 for the constant.

    Examples
    --------
    >>> from padlab.modes.index import REFLECT
    >>> g = Geometry.resolve((4,), (3,), "same")
    >>> index_tables(g, (REFLECT,))[0].tolist()
    [1, 0, 1, 2, 3, 2]
    """
    return [
        index_table(int(n), int(b), int(a), int(code)).astype(np.int64, copy=False)
        for n, (b, a), code in zip(geometry.in_shape, geometry.pads, codes, strict=True)
    ]


def partial_scale(
    geometry: Geometry, partial_axes: tuple[bool, ...], dtype: np.dtype
) -> np.ndarray:
    """The partial-convolution factor of every output, as a broadcastable array.

    Along a partial axis, an output whose window has ``k`` taps of which ``c`` land on real
    samples is scaled by ``k / c`` (0 if ``c`` is 0). Real samples form a box, so the count over
    the whole window is the product of the per-axis counts and the factor is the product of
    the per-axis factors (Liu et al. 2018, with the per-pixel ratio).

    Examples
    --------
    >>> g = Geometry.resolve((5,), (3,), "same")
    >>> partial_scale(g, (True,), np.dtype(np.float64)).tolist()
    [1.5, 1.0, 1.0, 1.0, 1.5]
    """
    scale = np.ones(geometry.out_shape, dtype=dtype)
    for axis, is_partial in enumerate(partial_axes):
        if not is_partial:
            continue
        n, (before, _), k, s, d, out = (
            geometry.in_shape[axis],
            geometry.pads[axis],
            geometry.kernel_shape[axis],
            geometry.strides[axis],
            geometry.dilations[axis],
            geometry.out_shape[axis],
        )
        positions = np.arange(out)[:, None] * s + np.arange(k)[None, :] * d - before
        count = ((positions >= 0) & (positions < n)).sum(axis=1)
        factor = np.divide(k, count, out=np.zeros(out), where=count > 0)
        shape = [1] * len(geometry.out_shape)
        shape[axis] = out
        scale *= factor.reshape(shape).astype(dtype)
    return scale


def to_3d(problem: Problem) -> Problem:
    """The same problem with exactly three spatial axes (size-1 axes in front)."""
    missing = 3 - problem.kernel.ndim
    if missing == 0:
        return problem
    g = problem.geometry
    geometry = Geometry(
        (1,) * missing + g.in_shape,
        (1,) * missing + g.kernel_shape,
        ((0, 0),) * missing + g.pads,
        (1,) * missing + g.strides,
        (1,) * missing + g.dilations,
        (1,) * missing + g.out_shape,
    )
    x = problem.x.reshape(problem.x.shape[:1] + (1,) * missing + problem.x.shape[1:])
    kernel = problem.kernel.reshape((1,) * missing + problem.kernel.shape)
    return Problem(x, kernel, geometry, (0,) * missing + problem.codes, problem.value)
