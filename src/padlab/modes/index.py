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

from padlab._validate import allocate

__all__ = [
    "CIRCULAR",
    "CONSTANT",
    "INDEX_CODES",
    "REFLECT",
    "REPLICATE",
    "SYMMETRIC",
    "index_table",
    "source_index",
    "tap_table",
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
    allocate((before + n + after,), np.dtype(np.intp), "an index table")  # refuses huge widths
    positions = np.arange(-before, n + after, dtype=np.intp)
    table = np.asarray(source_index(positions, n, code), dtype=np.intp)
    table.flags.writeable = False  # shared between calls
    return table


#: Tables up to this many entries are cached (they repeat from call to call); larger ones are
#: rebuilt, so that a cache never holds much memory.
_CACHED_ENTRIES = 1 << 20
#: Positions beyond this magnitude are computed with Python integers (no int64 overflow).
_INT64_SAFE = 1 << 62


def tap_table(
    n: int, before: int, code: int, outputs: int, stride: int, taps: int, dilation: int
) -> tuple[np.ndarray, int, int]:
    """The source index of every sample a correlation reads on one axis, and how to look it up.

    Output ``o`` reads, with tap ``t``, padded position ``o * stride + t * dilation`` (position
    ``before`` is the first real sample). The table holds ``source_index`` of exactly the
    positions read, in the smaller of two layouts:

    - *flat*: every position from the first read to the last, ``(outputs - 1) * stride +
      (taps - 1) * dilation + 1`` entries, looked up at ``o * stride + t * dilation`` (small
      strides and dilations: each position is read by several outputs);
    - *compact*: one entry per (output, tap), ``outputs * taps`` entries, looked up at
      ``o * taps + t`` (large padding, stride or dilation: the flat layout would mostly hold
      positions nobody reads).

    So a table never costs more than the reads themselves, however wide the padding.

    Returns
    -------
    table : ndarray of int64, read-only
        Source index, or -1 for the constant.
    out_step, tap_step : int
        Output ``o``, tap ``t`` reads ``table[o * out_step + t * tap_step]``.

    Examples
    --------
    >>> from padlab.modes.index import tap_table, REFLECT, CONSTANT
    >>> table, out_step, tap_step = tap_table(4, 1, REFLECT, 4, 1, 3, 1)
    >>> table.tolist(), out_step, tap_step
    ([1, 0, 1, 2, 3, 2], 1, 1)
    >>> table, out_step, tap_step = tap_table(3, 10**9, CONSTANT, 3, 1, 3, 10**9)
    >>> table.tolist(), out_step, tap_step
    ([-1, 0, -1, -1, 1, -1, -1, 2, -1], 3, 1)
    """
    span = (outputs - 1) * stride + (taps - 1) * dilation + 1
    if span <= outputs * taps:
        key: tuple[int, ...] = (n, before, code, span)
        steps = (stride, dilation)
    else:
        key = (n, before, code, outputs, stride, taps, dilation)
        steps = (taps, 1)
    entries = span if len(key) == 4 else outputs * taps
    table = _tap_table(*key) if entries <= _CACHED_ENTRIES else _build(*key)
    return table, steps[0], steps[1]


@lru_cache(maxsize=512)
def _tap_table(*key: int) -> np.ndarray:
    return _build(*key)


def _build(n: int, before: int, code: int, *layout: int) -> np.ndarray:
    """The table of :func:`tap_table`: layout ``(span,)`` (flat) or ``(outputs, stride, taps,
    dilation)`` (compact)."""
    if len(layout) == 1:
        (span,) = layout
        entries, largest = span, max(before, span)
    else:
        outputs, stride, taps, dilation = layout
        entries = outputs * taps
        largest = before + (outputs - 1) * stride + (taps - 1) * dilation
    table = allocate((entries,), np.dtype(np.int64), "an index table")
    # positions in int64 where they fit, else as Python integers (source indices always fit)
    kind: type = np.int64 if largest < _INT64_SAFE else object
    if len(layout) == 1:
        positions: np.ndarray = np.arange(entries, dtype=kind) - before
    else:
        starts: np.ndarray = np.arange(outputs, dtype=kind) * stride - before
        positions = (starts[:, None] + np.arange(taps, dtype=kind)[None, :] * dilation).ravel()
    table[:] = source_index(positions, n, code)
    table.flags.writeable = False  # shared between calls
    return table
