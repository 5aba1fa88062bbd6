"""What every engine shares: the problem description, index tables and the partial scale.

An engine receives a :class:`Problem`: a batch of arrays ``x`` of shape (B, *spatial) in the
compute dtype, one kernel, the :class:`~padlab.geometry.Geometry` and one index-rule code per
axis (:mod:`padlab.modes.index`). Rules that are not index rules never reach an engine as such:
``partial`` arrives as zero padding plus :func:`padlab.geometry.partial_scale`, and the
arithmetic rules (odd reflections, ramps, statistics) arrive already padded, with a 'valid'
geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from padlab.geometry import Geometry
from padlab.modes.index import index_table

__all__ = ["Problem", "index_tables"]


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
    out : ndarray, optional
        C-contiguous, of shape :attr:`out_shape` and the same dtype: the engine writes the
        result into it (``out=`` of :func:`padlab.correlate`) instead of allocating.
    """

    x: np.ndarray
    kernel: np.ndarray
    geometry: Geometry
    codes: tuple[int, ...]
    value: float
    out: np.ndarray | None = None

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
