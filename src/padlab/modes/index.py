"""Where a padded sample comes from: the index map of the index rules.

For the rules whose padded samples each copy one real sample (``reflect``, ``symmetric``,
``replicate``, ``circular``), padding is a map from a position ``i`` on the infinite line to a
position in ``[0, n)``. Writing the map once, as arithmetic, gives one definition that
:func:`padlab.pad` uses to fill borders and the engines use to pad *virtually* (reading
``x[source_index(i)]`` instead of building a padded copy). Widths larger than the axis need no
special case: the maps are periodic, which is exactly the repeated reflection or tiling that
numpy, scipy and OpenCV agree on.

The functions are written with operators and numpy ufuncs only, so the same code works on
Python ints, numpy integer arrays, and inside numba-compiled kernels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "CIRCULAR",
    "CONSTANT",
    "INDEX_CODES",
    "REFLECT",
    "REPLICATE",
    "SYMMETRIC",
    "index_table",
    "source_index",
]

#: Integer codes of the index rules (a runtime argument for compiled kernels).
CONSTANT, REFLECT, SYMMETRIC, REPLICATE, CIRCULAR = 0, 1, 2, 3, 4

#: Canonical rule name -> code. ``zeros``, ``constant`` and ``partial`` read outside samples
#: as "no sample" (code CONSTANT, index -1).
INDEX_CODES = {
    "zeros": CONSTANT,
    "constant": CONSTANT,
    "partial": CONSTANT,
    "reflect": REFLECT,
    "symmetric": SYMMETRIC,
    "replicate": REPLICATE,
    "circular": CIRCULAR,
}


def source_index(i, n, code):
    """Index of the real sample that position ``i`` copies, on an axis of length ``n``.

    Parameters
    ----------
    i : int or ndarray of int
        Positions on the infinite line; ``0 <= i < n`` are the real samples.
    n : int
        Axis length, at least 1.
    code : int
        One of :data:`CONSTANT`, :data:`REFLECT`, :data:`SYMMETRIC`, :data:`REPLICATE`,
        :data:`CIRCULAR`.

    Returns
    -------
    int or ndarray of int
        An index in ``[0, n)``, or ``-1`` for a position outside the signal under the
        constant rules (the value there is the constant, not a sample).

    Notes
    -----
    With ``m = i mod P``:

    - reflect, period ``P = 2n - 2``: ``min(m, P - m)`` (``n = 1`` always gives 0);
    - symmetric, period ``P = 2n``: ``min(m, P - 1 - m)``;
    - circular, period ``P = n``: ``m``;
    - replicate: ``clip(i, 0, n - 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.modes.index import source_index, REFLECT, SYMMETRIC
    >>> "".join("abcd"[j] for j in source_index(np.arange(-3, 7), 4, REFLECT))
    'dcbabcdcba'
    >>> "".join("abcd"[j] for j in source_index(np.arange(-3, 7), 4, SYMMETRIC))
    'cbaabcddcb'
    """
    if code == REFLECT:
        if n == 1:
            return i * 0
        period = 2 * n - 2
        m = i % period
        return np.minimum(m, period - m)
    if code == SYMMETRIC:
        period = 2 * n
        m = i % period
        return np.minimum(m, period - 1 - m)
    if code == CIRCULAR:
        return i % n
    if code == REPLICATE:
        return np.minimum(np.maximum(i, 0), n - 1)
    # CONSTANT: inside -> i, outside -> -1 (no branches, so arrays work too)
    return (i + 1) * ((i >= 0) & (i < n)) - 1


def index_table(n: int, before: int, after: int, code: int) -> np.ndarray:
    """The source index of every position of a padded axis.

    Parameters
    ----------
    n : int
        Length of the real axis (at least 1).
    before, after : int
        Padding widths, any size.
    code : int
        An index rule code, see :func:`source_index`.

    Returns
    -------
    ndarray of intp, shape (before + n + after,)
        ``table[j]`` is the real index padded position ``j`` reads, or -1 (constant rules).
        Read-only: tables are cached and shared between calls.

    Examples
    --------
    >>> from padlab.modes.index import index_table, CIRCULAR
    >>> index_table(3, 2, 4, CIRCULAR).tolist()
    [1, 2, 0, 1, 2, 0, 1, 2, 0]
    """
    return _index_table(n, before, after, code)


@lru_cache(maxsize=512)
def _index_table(n: int, before: int, after: int, code: int) -> np.ndarray:
    positions = np.arange(-before, n + after, dtype=np.intp)
    table = np.asarray(source_index(positions, n, code), dtype=np.intp)
    table.flags.writeable = False  # shared between calls
    return table
