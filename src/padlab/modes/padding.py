"""``padlab.pad``: pad an array with any rule of the registry, any width, one rule per axis."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import EllipsisType
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from padlab._threads import run_chunks, threads
from padlab._validate import (
    allocate,
    as_index,
    as_numeric_array,
    check_sequence_length,
    fill_value,
    normalize_axes,
    normalize_widths,
)
from padlab.errors import PadlabTypeError, PadlabValueError
from padlab.modes.index import INDEX_CODES, REPLICATE, source_index
from padlab.modes.registry import Modes, Rule, check_rule_options, resolve_mode

__all__ = ["pad", "resolve_pad"]

# Copies larger than this are split across threads (numpy releases the GIL while copying).
_PARALLEL_COPY_BYTES = 4 * 2**20
#: A numpy reduction called as ``stat(chunk, axis=axis, keepdims=True)``.
Statistic = Callable[..., Any]
_STATISTICS: dict[str, Statistic] = {
    "mean": np.mean,
    "median": np.median,
    "minimum": np.amin,
    "maximum": np.amax,
}


#: A pad width: one int, one (before, after) pair, one of those per axis, or {axis: either}.
Width = int | Sequence[int] | Sequence[Sequence[int]] | Mapping[int, int | Sequence[int]]
#: numpy.pad's stat_length: None (whole axis), an int, (n,) or a (before, after) pair.
StatLength = int | Sequence[int | None] | Sequence[Sequence[int | None]] | np.ndarray | None


class Options(TypedDict, total=False):
    """The rule options of one ``pad`` call, converted to the array's dtype."""

    value: np.generic
    zero: np.generic
    end_values: tuple[np.generic, np.generic]
    stat: tuple[int | None, int | None]


def pad(
    array: npt.ArrayLike,
    width: Width,
    mode: Modes = "zeros",
    *,
    value: complex = 0,
    axes: int | Sequence[int] | None = None,
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
) -> np.ndarray:
    """Pad an array with a padding rule, any width, optionally one rule per axis.

    Parameters
    ----------
    array : array_like
        Numeric input (bool, integer, float or complex).
    width : int, (before, after), sequence of those, or dict
        As ``numpy.pad``: one int for every side, one ``(before, after)`` pair for every padded
        axis, or one int or pair per padded axis. A dict ``{axis: int or pair}`` pads only
        those axes. Any width works, also wider than the axis (the rule repeats: repeated
        reflection or tiling, exactly as numpy, scipy and OpenCV agree) and on 1-sample axes.
    mode : str or sequence of str, default ``"zeros"``
        A padlab rule (see ``padlab modes``) or a qualified foreign name such as
        ``"scipy:reflect"``; a sequence gives one rule per padded axis.

        - ``zeros``: ``0 0 0 | a b c d | 0 0 0``
        - ``constant``: ``v v v | a b c d | v v v`` (``value=v``)
        - ``reflect``: ``d c b | a b c d | c b a`` (edge not repeated)
        - ``symmetric``: ``c b a | a b c d | d c b`` (edge repeated)
        - ``replicate``: ``a a a | a b c d | d d d``
        - ``circular``: ``b c d | a b c d | a b c``
        - ``reflect_odd``, ``symmetric_odd``: numpy's odd reflections (``2a-b`` ...)
        - ``linear_ramp`` (``end_values``), ``mean``, ``median``, ``minimum``, ``maximum``
          (``stat_length``): numpy's rules of those names.
    value : scalar, default 0
        The constant of ``mode="constant"``. It must fit the array's dtype: 300 on uint8 is an
        error, never a silent 44.
    axes : int or sequence of int, optional
        The axes to pad (all by default): ``axes=(0, 1)`` pads only the spatial axes of an
        (H, W, C) image, ``axes=(-2, -1)`` those of an (N, C, H, W) batch.
    stat_length : int or (int, int), optional
        For the statistic rules: how many samples next to each edge the statistic uses
        (all by default).
    end_values : scalar or (scalar, scalar), default 0
        For ``linear_ramp``: the values at the outer ends of the ramps.

    Returns
    -------
    ndarray
        A new array with the same dtype, larger by the widths along the padded axes.

    Raises
    ------
    PadlabTypeError
        Non-numeric array, non-integer width, arithmetic rule on a bool array.
    PadlabValueError
        Negative width, unknown or unqualified foreign rule name, a ``value`` the dtype cannot
        hold, an option the rule does not use, a non-constant rule on an empty axis,
        ``partial`` (a convolution rule).
    PadlabMemoryError
        The padded array would not fit in memory.

    Notes
    -----
    Axes are padded in increasing order and each axis sees the already padded earlier axes,
    as in ``numpy.pad``, so corners agree with numpy for every rule. Integer arrays keep
    their dtype: the statistic rules round like numpy; the odd reflections raise instead of
    wrapping when the extrapolated values leave the dtype's range.

    Examples
    --------
    >>> import numpy as np
    >>> import padlab
    >>> x = np.array([1, 2, 3, 4])
    >>> padlab.pad(x, 3, "reflect")
    array([4, 3, 2, 1, 2, 3, 4, 3, 2, 1])
    >>> padlab.pad(x, 3, "symmetric")
    array([3, 2, 1, 1, 2, 3, 4, 4, 3, 2])
    >>> padlab.pad(x, (0, 5), "circular")
    array([1, 2, 3, 4, 1, 2, 3, 4, 1])
    >>> padlab.pad(np.ones((2, 2, 3)), 1, axes=(0, 1)).shape
    (4, 4, 3)
    >>> padlab.pad(np.arange(4).reshape(2, 2), 1, mode=("zeros", "replicate"))
    array([[0, 0, 0, 0],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [0, 0, 0, 0]])
    """
    x = as_numeric_array(array)
    pad_axes, widths, rules, options = resolve_pad(
        x.shape,
        x.dtype,
        width,
        mode,
        value=value,
        axes=axes,
        stat_length=stat_length,
        end_values=end_values,
    )

    full = [(0, 0)] * x.ndim
    axis_rule: dict[int, Rule] = {}
    for axis, rule, pair in zip(pad_axes, rules, widths, strict=True):
        full[axis] = pair
        axis_rule[axis] = rule
    shape = tuple(n + b + a for n, (b, a) in zip(x.shape, full, strict=True))
    out = allocate(shape, x.dtype, f"padding an array of shape {x.shape} by {widths}")
    centre = tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, full, strict=True))
    inside: Index = (*centre, Ellipsis)  # the Ellipsis keeps a 0-d result an array
    _assign(out[inside], x)
    if x.size == 0:
        # Only constant rules can get here with a padded empty axis; others pad nothing real.
        for axis in sorted(axis_rule):
            if axis_rule[axis].kind == "constant":
                _fill_constant(
                    _roi(out, centre, axis),
                    axis,
                    full[axis],
                    _constant_of(axis_rule[axis], options),
                )
        return out
    for axis in sorted(axis_rule):
        if full[axis] == (0, 0):
            continue
        roi = _roi(out, centre, axis)
        rule = axis_rule[axis]
        before, after = full[axis]
        n = x.shape[axis]
        if rule.kind == "constant":
            _fill_constant(roi, axis, (before, after), _constant_of(rule, options))
        elif rule.kind == "index":
            _fill_index(roi, axis, before, after, n, INDEX_CODES[rule.name])
        elif rule.kind == "odd" and n == 1:
            # one sample: its odd reflection is itself (numpy pads it as 'edge')
            _fill_index(roi, axis, before, after, n, REPLICATE)
        elif rule.kind == "odd":
            _fill_odd(roi, axis, before, after, n, include_edge=rule.name == "symmetric_odd")
        elif rule.kind == "ramp":
            _fill_ramp(roi, axis, before, after, options["end_values"])
        else:
            _fill_statistic(roi, axis, before, after, _STATISTICS[rule.name], options["stat"])
    return out


def resolve_pad(
    shape: tuple[int, ...],
    dtype: np.dtype,
    width: object,
    mode: object,
    *,
    value: object = 0,
    axes: object = None,
    stat_length: object = None,
    end_values: object = 0,
) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], list[Rule], Options]:
    """Check :func:`pad`'s arguments for an array of ``shape`` and ``dtype``, reading no sample.

    Returns the padded axes, their ``(before, after)`` widths, their rules and the rules'
    options converted to ``dtype``; raises the errors :func:`pad` documents. Chunked arrays
    (:mod:`padlab.dask`) use it to refuse bad arguments before any chunk is read.

    Examples
    --------
    >>> axes, widths, rules, _ = resolve_pad((3, 4), np.dtype(np.float32), 2, "reflect")
    >>> axes, widths, [r.name for r in rules]
    ((0, 1), ((2, 2), (2, 2)), ['reflect', 'reflect'])
    """
    if isinstance(width, Mapping):
        if axes is not None:
            raise PadlabValueError("give the padded axes either as axes= or as width's keys")
        pad_axes = normalize_axes(list(width), len(shape))
        by_axis = {a % len(shape): w for a, w in width.items()}
        widths = tuple(normalize_widths(by_axis[a], 1)[0] for a in pad_axes)
    else:
        pad_axes = normalize_axes(axes, len(shape))
        widths = normalize_widths(width, len(pad_axes))
    rules = _rules_per_axis(mode, len(pad_axes))
    options = _check_options(dtype, rules, value, stat_length, end_values)

    for axis, rule, (before, after) in zip(pad_axes, rules, widths, strict=True):
        if shape[axis] == 0 and (before or after) and rule.kind != "constant":
            raise PadlabValueError(
                f"cannot pad empty axis {axis} of an array of shape {shape} with rule "
                f"'{rule.name}' ({rule.pattern}): there is no sample to copy; only the "
                "constant rules (zeros, constant) can extend an empty axis"
            )
    return pad_axes, widths, rules, options


def _rules_per_axis(mode: object, n_axes: int) -> list[Rule]:
    if isinstance(mode, str | Rule) or not isinstance(mode, Sequence):
        rules = [resolve_mode(mode)] * n_axes
    else:
        check_sequence_length(list(mode), n_axes, "mode", "padded axes")
        rules = [resolve_mode(m) for m in mode]
    for rule in rules:
        if rule.kind == "partial":
            raise PadlabValueError(
                "mode 'partial' is a convolution rule, not a padding of the array: it zero-pads "
                "and then rescales each output by taps in the window / taps on real samples. "
                "Use padlab.correlate(..., mode='partial'); pad(..., 'zeros') shows its pixels."
            )
    return rules


def _check_options(
    dtype: np.dtype, rules: list[Rule], value: object, stat_length: object, end_values: object
) -> Options:
    """Refuse options no chosen rule uses; convert the others to the array's dtype."""
    check_rule_options(rules, value=value, stat_length=stat_length, end_values=end_values)
    used = {opt for rule in rules for opt in rule.options}
    if dtype.kind == "b":
        arithmetic = [r.name for r in rules if r.kind in ("odd", "ramp", "statistic")]
        if arithmetic:
            raise PadlabTypeError(
                f"rule '{arithmetic[0]}' does arithmetic on the samples, which a bool array "
                "cannot hold; allowed on bool: zeros, constant, reflect, symmetric, replicate, "
                "circular"
            )
    options: Options = {
        "value": fill_value(value, dtype, "value"),
        "zero": fill_value(0, dtype),
    }
    if "end_values" in used:
        pair = (
            end_values
            if isinstance(end_values, Sequence) and not isinstance(end_values, str)
            else (end_values, end_values)
        )
        check_sequence_length(list(pair), 2, "end_values", "sides (before, after)")
        before, after = (fill_value(v, dtype, "end_values") for v in pair)
        options["end_values"] = (before, after)
    if "stat_length" in used:
        options["stat"] = _stat_lengths(stat_length)
    return options


def _constant_of(rule: Rule, options: Options) -> np.generic:
    """The fill of a constant rule: ``value`` for 'constant', always 0 for 'zeros'."""
    return options["value"] if rule.name == "constant" else options["zero"]


def _stat_lengths(stat_length: object) -> tuple[int | None, int | None]:
    if stat_length is None:
        return (None, None)
    if isinstance(stat_length, np.ndarray) and stat_length.ndim <= 2:
        stat_length = stat_length.tolist()
    if not isinstance(stat_length, Sequence) or isinstance(stat_length, str):
        pair: Sequence[object] = (stat_length, stat_length)
    elif len(stat_length) == 1:  # numpy's (n,) and ((before, after),): the same for every axis
        return _stat_lengths(stat_length[0])
    elif len(stat_length) == 2 and not any(isinstance(v, Sequence) for v in stat_length):
        pair = stat_length
    else:
        raise PadlabValueError(
            f"stat_length={stat_length!r}: padlab takes one stat_length for every padded axis "
            "(an int, (n,) or a (before, after) pair), not one per axis"
        )
    out = []
    for item in pair:
        length = None if item is None else as_index(item, "stat_length")
        if length is not None and length < 1:
            raise PadlabValueError(
                f"stat_length must be at least 1 (or None for the whole axis), got {length}"
            )
        out.append(length)
    return (out[0], out[1])


def _assign(dst: np.ndarray, src: npt.ArrayLike) -> None:
    """``dst[...] = src``, split over threads along dst's longest axis for large arrays.

    numpy releases the GIL while it copies, so the blocks are written in parallel; ``src`` is
    broadcast first, so each block reads exactly what a single assignment would.
    """
    n_threads = threads()
    split = int(np.argmax(dst.shape)) if dst.ndim else 0
    if dst.nbytes < _PARALLEL_COPY_BYTES or n_threads == 1 or dst.shape[split] < n_threads:
        dst[...] = src
        return
    whole = np.broadcast_to(src, dst.shape)
    bounds = np.linspace(0, dst.shape[split], n_threads + 1).astype(int)

    def part(first: int, last: int) -> None:
        for k in range(first, last):
            block = _at(split, slice(bounds[k], bounds[k + 1]))
            dst[block] = whole[block]

    run_chunks(part, n_threads)


#: An index of an ndarray: slices, an integer index array, an Ellipsis.
Index = tuple[slice | np.ndarray | EllipsisType, ...]


def _at(axis: int, sl: slice | np.ndarray) -> Index:
    return (slice(None),) * axis + (sl, Ellipsis)


def _roi(out: np.ndarray, centre: tuple[slice, ...], axis: int) -> np.ndarray:
    """The part padding ``axis`` writes: earlier axes padded, later axes still unpadded."""
    return out[(slice(None),) * (axis + 1) + centre[axis + 1 :]]


def _fill_constant(roi: np.ndarray, axis: int, pair: tuple[int, int], value: np.generic) -> None:
    before, after = pair
    _assign(roi[_at(axis, slice(0, before))], value)
    _assign(roi[_at(axis, slice(roi.shape[axis] - after, None))], value)


def _fill_index(roi: np.ndarray, axis: int, before: int, after: int, n: int, code: int) -> None:
    if before:
        _copy_from(roi, axis, 0, before + source_index(np.arange(-before, 0), n, code))
    if after:
        _copy_from(roi, axis, before + n, before + source_index(np.arange(n, n + after), n, code))


# More straight runs than this (a wide pad of a tiny axis) and fancy indexing is faster.
_MAX_RUNS = 64


def _copy_from(roi: np.ndarray, axis: int, start: int, idx: np.ndarray) -> None:
    """``roi[start + j] = roi[idx[j]]`` along ``axis``.

    ``idx`` is made of straight runs (step +1, -1 or 0) for every index rule, so it is copied
    run by run with slices, like numpy.pad does; fancy indexing along a non-contiguous axis
    would gather element by element.
    """
    runs = straight_runs(idx)
    if runs is None:
        _assign(roi[_at(axis, slice(start, start + len(idx)))], roi[_at(axis, idx)])
        return
    for first, stop, step in runs:
        length = stop - first
        src_start = int(idx[first])
        if step == 0:
            src = slice(src_start, src_start + 1)  # broadcast one sample
        elif step == 1:
            src = slice(src_start, src_start + length)
        else:
            end = src_start - length
            src = slice(src_start, end if end >= 0 else None, -1)
        _assign(roi[_at(axis, slice(start + first, start + stop))], roi[_at(axis, src)])


def straight_runs(idx: np.ndarray) -> list[tuple[int, int, int]] | None:
    """Split ``idx`` into maximal runs with a constant step of -1, 0 or +1.

    Returns ``(first, stop, step)`` triples, or None if there would be more than _MAX_RUNS.

    Examples
    --------
    >>> straight_runs(np.array([1, 0, 1, 2, 3, 2, 1]))
    [(0, 2, -1), (2, 5, 1), (5, 7, -1)]
    >>> straight_runs(np.array([0, 0, 0, 5]))
    [(0, 3, 0), (3, 4, 1)]
    """
    runs: list[tuple[int, int, int]] = []
    steps = np.diff(idx)
    first, m = 0, len(idx)
    while first < m:
        step = int(steps[first]) if first < m - 1 else 1
        if abs(step) > 1:
            stop, step = first + 1, 1
        else:
            differs = np.flatnonzero(steps[first:] != step)
            stop = first + 1 + (int(differs[0]) if differs.size else m - 1 - first)
        runs.append((first, stop, step))
        if len(runs) > _MAX_RUNS:
            return None
        first = stop
    return runs


def _fill_odd(
    roi: np.ndarray, axis: int, before: int, after: int, n: int, *, include_edge: bool
) -> None:
    """numpy's odd reflection, chunk by chunk: ``2 * edge - mirror``, edge moving outwards.

    Each pass reflects at most the samples already defined (a whole number of periods), so
    wide pads reflect repeatedly about the new edge, the same schedule as ``numpy.pad``.
    Integer arrays are computed wide and refused if a value leaves the dtype's range.
    """
    period = n if include_edge else n - 1
    offset = 0 if include_edge else 1
    total = roi.shape[axis]
    left, right = before, after
    while left or right:
        defined = total - left - right
        chunk_max = (
            (defined // period) * period if include_edge else ((defined - 1) // period) * period
        )
        if left:
            size = min(chunk_max, left)
            src = roi[_at(axis, slice(left + offset, left + offset + size))]
            edge = roi[_at(axis, slice(left, left + 1))]
            _assign(
                roi[_at(axis, slice(left - size, left))], _odd(edge, np.flip(src, axis), roi.dtype)
            )
            left -= size
        if right:
            size = min(chunk_max, right)
            end = total - right  # first position still to fill on the right
            src = roi[_at(axis, slice(end - size - offset, end - offset))]
            edge = roi[_at(axis, slice(end - 1, end))]
            _assign(
                roi[_at(axis, slice(end, end + size))], _odd(edge, np.flip(src, axis), roi.dtype)
            )
            right -= size


def _odd(edge: np.ndarray, mirror: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind not in "iu":
        return 2 * edge - mirror
    wide = 2 * edge.astype(np.int64) - mirror.astype(np.int64)
    info = np.iinfo(dtype)
    if wide.size and (wide.min() < info.min or wide.max() > info.max):
        bad = wide.min() if wide.min() < info.min else wide.max()
        raise PadlabValueError(
            f"odd reflection gives {bad}, which {dtype} cannot hold (allowed: {info.min} to "
            f"{info.max}); numpy.pad would silently wrap it. Convert the array to a signed or "
            "float dtype first."
        )
    return wide.astype(dtype)


def _fill_ramp(
    roi: np.ndarray, axis: int, before: int, after: int, end_values: tuple[np.generic, np.generic]
) -> None:
    """numpy's linear_ramp: from the end value (included) towards the edge (excluded)."""
    n = roi.shape[axis] - before - after
    if before:
        edge = roi[_at(axis, slice(before, before + 1))].squeeze(axis)
        ramp = np.linspace(
            np.asarray(end_values[0]), edge, before, endpoint=False, dtype=roi.dtype, axis=axis
        )
        _assign(roi[_at(axis, slice(0, before))], ramp)
    if after:
        edge = roi[_at(axis, slice(before + n - 1, before + n))].squeeze(axis)
        ramp = np.linspace(
            np.asarray(end_values[1]), edge, after, endpoint=False, dtype=roi.dtype, axis=axis
        )
        _assign(roi[_at(axis, slice(before + n, None))], np.flip(ramp, axis))


def _fill_statistic(
    roi: np.ndarray,
    axis: int,
    before: int,
    after: int,
    stat: Statistic,
    lengths: tuple[int | None, int | None],
) -> None:
    n = roi.shape[axis] - before - after
    left_len = n if lengths[0] is None else min(lengths[0], n)
    right_len = n if lengths[1] is None else min(lengths[1], n)
    left = _statistic(roi[_at(axis, slice(before, before + left_len))], axis, stat, roi.dtype)
    if left_len == right_len == n:
        right = left
    else:
        right = _statistic(
            roi[_at(axis, slice(before + n - right_len, before + n))], axis, stat, roi.dtype
        )
    _assign(roi[_at(axis, slice(0, before))], left)
    _assign(roi[_at(axis, slice(before + n, None))], right)


def _statistic(chunk: np.ndarray, axis: int, stat: Statistic, dtype: np.dtype) -> np.ndarray:
    """``stat`` along ``axis`` with keepdims, rounded for integer dtypes as numpy.pad does.

    Large chunks are split across threads along another axis; every output element is still
    reduced over the same samples in the same order, so the result equals one call.
    """
    other = [a for a in range(chunk.ndim) if a != axis]
    split = max(other, key=lambda a: chunk.shape[a], default=None)
    n_threads = threads()
    if split is None or chunk.nbytes < _PARALLEL_COPY_BYTES or chunk.shape[split] < n_threads:
        result = _reduce(chunk, axis, stat)
    else:
        bounds = np.linspace(0, chunk.shape[split], n_threads + 1).astype(int)
        parts: dict[int, np.ndarray] = {}

        def part(first: int, last: int) -> None:
            for k in range(first, last):
                block = chunk[_at(split, slice(bounds[k], bounds[k + 1]))]
                parts[k] = _reduce(block, axis, stat)

        run_chunks(part, n_threads)
        result = np.concatenate([parts[k] for k in range(n_threads)], axis=split)
    if dtype.kind in "iu":
        result = np.round(result)
    return result


def _reduce(chunk: np.ndarray, axis: int, stat: Statistic) -> np.ndarray:
    if stat is np.median:
        # median partitions along the axis: make it the contiguous one (much faster)
        moved = np.ascontiguousarray(np.moveaxis(chunk, axis, -1))
        return np.expand_dims(np.median(moved, axis=-1), axis)
    return np.asarray(stat(chunk, axis=axis, keepdims=True))
