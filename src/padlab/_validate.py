"""Argument checks shared by every public function: one place, one wording.

Each helper either returns a normalised value or raises a :mod:`padlab.errors` exception whose
message names the bad value and what is allowed.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from collections.abc import Callable, Sequence

import numpy as np

from padlab.errors import PadlabMemoryError, PadlabTypeError, PadlabValueError

_NUMERIC_KINDS = "biufc"
_KIND_NAMES = "bool, integer, float or complex"
# Widths beyond this are certainly a mistake (and would overflow index arithmetic).
_MAX_WIDTH = 2**40


def as_numeric_array(array: object, name: str = "array") -> np.ndarray:
    """``np.asarray(array)``, refusing anything that is not bool, integer, float or complex.

    Examples
    --------
    >>> as_numeric_array([1, 2]).dtype.kind
    'i'
    >>> as_numeric_array(["a"])
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabTypeError: array must be numeric (bool, integer, float or complex), \
got dtype <U1
    """
    try:
        arr = np.asarray(array)
    except (ValueError, TypeError) as err:  # ragged nested lists, ...
        raise PadlabTypeError(f"{name} could not be read as an array: {err}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise PadlabTypeError(f"{name} must be numeric ({_KIND_NAMES}), got dtype {arr.dtype}")
    return arr


def as_index(value: object, name: str) -> int:
    """An integer argument (Python or numpy int, never bool or float), as ``int``."""
    if isinstance(value, bool | np.bool_):
        raise PadlabTypeError(f"{name} must be an integer, got bool {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise PadlabTypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None


def normalize_axes(axes: object, ndim: int) -> tuple[int, ...]:
    """``None`` (every axis), an int or a sequence of ints, as sorted non-negative axes.

    Examples
    --------
    >>> normalize_axes((-1, 0), 3)
    (0, 2)
    >>> normalize_axes(3, 3)
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: axis 3 is out of range for an array with 3 dimensions \
(allowed: -3 to 2)
    """
    if axes is None:
        return tuple(range(ndim))
    items = [axes] if not isinstance(axes, Sequence | np.ndarray) else list(axes)
    out = []
    for item in items:
        axis = as_index(item, "axis")
        if not -ndim <= axis < ndim:
            raise PadlabValueError(
                f"axis {axis} is out of range for an array with {ndim} dimensions "
                f"(allowed: {-ndim} to {ndim - 1})"
            )
        out.append(axis % ndim)
    if len(set(out)) != len(out):
        raise PadlabValueError(f"axes {tuple(items)} repeat an axis")
    return tuple(sorted(out))


def normalize_widths(width: object, n_axes: int) -> tuple[tuple[int, int], ...]:
    """Pad widths as one ``(before, after)`` pair per padded axis, like ``numpy.pad``.

    ``width`` is an int (every side), a ``(before, after)`` pair (every axis), or one pair (or
    one int, or numpy's one-element ``(w,)``) per axis. A wrong type (a float, a string, an
    array that is not of integers) is a :class:`PadlabTypeError`; a wrong value or structure
    (negative, the wrong number of entries) a :class:`PadlabValueError`.

    Examples
    --------
    >>> normalize_widths(2, 2)
    ((2, 2), (2, 2))
    >>> normalize_widths((1, 3), 2)
    ((1, 3), (1, 3))
    >>> normalize_widths([(0, 1), 2], 2)
    ((0, 1), (2, 2))
    >>> normalize_widths(((1,), (2,)), 2)
    ((1, 1), (2, 2))
    """
    if isinstance(width, np.ndarray):
        if width.dtype.kind not in "iu":
            raise PadlabTypeError(
                f"pad widths must be integers, got an array of dtype {width.dtype}"
            )
        width = width.tolist()
    if _nesting(width) > 2:  # a structure error, as numpy says (a ValueError)
        raise PadlabValueError(
            f"width {width!r} nests {_nesting(width)} deep; allowed: an int, a (before, after) "
            "pair, or one int or pair per padded axis (at most 2 deep)"
        )
    if not isinstance(width, Sequence) or isinstance(width, str):
        w = _width(width)
        return ((w, w),) * n_axes
    items = list(width)
    if len(items) == 2 and all(not isinstance(i, Sequence) for i in items):
        pair = (_width(items[0]), _width(items[1]))
        return (pair,) * n_axes
    if len(items) == 1:
        return normalize_widths(items[0], n_axes)
    if len(items) != n_axes:
        raise PadlabValueError(
            f"width {width!r} has {len(items)} entries, but {n_axes} axes are padded; give an "
            "int, a (before, after) pair for every axis, or one int or pair per padded axis"
        )
    out = []
    for item in items:
        if isinstance(item, Sequence) and not isinstance(item, str):
            if len(item) not in (1, 2):
                raise PadlabValueError(
                    f"width {width!r}: each per-axis entry must be an int, (w,) or a "
                    f"(before, after) pair, got {item!r}"
                )
            out.append((_width(item[0]), _width(item[-1])))
        else:
            w = _width(item)
            out.append((w, w))
    return tuple(out)


def _nesting(value: object) -> int:
    """How deep lists and tuples nest in ``value`` (0 for a scalar)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return 0
    return 1 + max((_nesting(item) for item in value), default=0)


def _width(value: object) -> int:
    w = as_index(value, "pad width")
    if w < 0:
        raise PadlabValueError(
            f"pad widths must be >= 0, got {w} (padlab never crops with a negative width, as "
            "torch.nn.functional.pad does: slice the array instead)"
        )
    if w > _MAX_WIDTH:
        raise PadlabValueError(f"pad width {w} is larger than the allowed {_MAX_WIDTH}")
    return w


def fill_value(value: object, dtype: np.dtype, name: str = "value") -> np.generic:
    """``value`` as a scalar of ``dtype``, or an error if ``dtype`` cannot hold it exactly enough.

    Integers must be whole and in range (numpy would silently turn 300 into 44 on uint8); bool
    takes 0/1; floats must not overflow to infinity (NaN and infinities themselves are fine).

    Examples
    --------
    >>> fill_value(7, np.dtype(np.uint8))
    np.uint8(7)
    >>> fill_value(300, np.dtype(np.uint8))
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: value=300 does not fit uint8 (allowed: integers from 0 to \
255); numpy would silently store 44. Use a value in range or convert the array first.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, int | float | complex | np.number | np.bool_):
        raise PadlabTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    kind = dtype.kind
    if kind == "c":
        return _scalar(value, dtype)
    if isinstance(value, complex | np.complexfloating):
        if value.imag != 0:
            raise PadlabValueError(
                f"{name}={value!r} is complex but the array is {dtype}; allowed: real numbers"
            )
        value = value.real
    if kind == "f":
        largest = np.finfo(dtype).max
        if np.isfinite(value) and abs(float(value)) > float(largest):
            raise PadlabValueError(
                f"{name}={value!r} does not fit {dtype} (largest finite value {largest}); "
                "it would become infinity. Use a wider float dtype."
            )
        return _scalar(value, dtype)
    # bool and integers: whole numbers in range only
    if kind == "b":
        lo, hi, allowed = 0, 1, "0, 1, False or True"
    else:
        info = np.iinfo(dtype)
        lo, hi = int(info.min), int(info.max)
        allowed = f"integers from {lo} to {hi}"
    number = value if isinstance(value, int | np.integer) else float(value)
    whole = not isinstance(number, float) or (np.isfinite(number) and number.is_integer())
    if whole and lo <= int(number) <= hi:
        return _scalar(int(number), dtype)
    message = f"{name}={value!r} does not fit {dtype} (allowed: {allowed})"
    if kind != "b" and (whole or np.isfinite(number)) and -(2**63) < number < 2**63:
        with np.errstate(over="ignore", invalid="ignore"):
            stored = np.asarray(number).astype(dtype).item()
        message += f"; numpy would silently store {stored}"
    raise PadlabValueError(message + ". Use a value in range or convert the array first.")


def _scalar(value: object, dtype: np.dtype) -> np.generic:
    """``value`` as a numpy scalar of ``dtype`` (through a 0-d array: numpy's casting rules)."""
    # numpy's stubs type ``a[()]`` as an array; on a 0-d array it is a scalar
    return np.asarray(value).astype(dtype)[()]  # type: ignore[return-value]


def physical_memory() -> int:
    """Bytes of physical memory, or a large number if the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**62


def available_memory() -> int:
    """Bytes of memory a new allocation can still use (Linux ``MemAvailable``), at most the
    physical memory; the physical memory where the platform does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return min(int(line.split()[1]) * 1024, physical_memory())
    except (OSError, ValueError):  # pragma: no cover - not Linux
        pass
    return physical_memory()  # pragma: no cover - not Linux


# Allocations below this size are made without checking the memory still available.
_ALWAYS_AVAILABLE = 1 << 26


def allocate(shape: tuple[int, ...], dtype: np.dtype, what: str) -> np.ndarray:
    """``np.empty(shape, dtype)``, or a :class:`PadlabMemoryError` that says what was asked.

    The one place padlab allocates an array whose size the caller controls (a padded array, an
    engine's output, an index table). A request larger than the memory still available is
    refused before anything is allocated, rather than letting the operating system kill the
    process later (Linux promises memory it does not have).

    Examples
    --------
    >>> allocate((2, 3), np.dtype(np.float32), "an output").shape
    (2, 3)
    >>> allocate((10**9, 10**9), np.dtype(np.float32), "the output")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabMemoryError: the output would have shape (1000000000, 1000000000) \
(... GiB, 4000000000000000000 bytes of float32), more than this machine's ...
    """
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < _ALWAYS_AVAILABLE:  # small: no need to ask the system (a file read)
        return np.empty(shape, dtype=dtype)
    size = f"{nbytes / 2**30:.1f} GiB, {nbytes} bytes of {dtype}"
    limit = available_memory()
    if nbytes > limit:
        raise PadlabMemoryError(
            f"{what} would have shape {tuple(shape)} ({size}), more than this machine's "
            f"{limit / 2**30:.1f} GiB of available memory"
        )
    try:
        return np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError) as err:
        raise PadlabMemoryError(
            f"{what} would have shape {tuple(shape)} ({size}), which cannot be allocated: {err}"
        ) from None


def allocator(shape: tuple[int, ...], dtype: np.dtype, what: str) -> Callable[[], np.ndarray]:
    """:func:`allocate` for one shape and dtype, decided once: a prepared call that allocates
    the same small output on every call (a 64x64 image's whole filter takes a few
    microseconds) skips the size check each time.

    Examples
    --------
    >>> new = allocator((2, 3), np.dtype(np.float32), "an output")
    >>> new().shape, new() is new()
    ((2, 3), False)
    """
    if math.prod(shape) * dtype.itemsize < _ALWAYS_AVAILABLE:
        return functools.partial(np.empty, shape, dtype)
    return functools.partial(allocate, shape, dtype, what)


def check_sequence_length(values: Sequence[object], n: int, name: str, per: str) -> None:
    """Raise unless ``len(values) == n``."""
    if len(values) != n:
        raise PadlabValueError(
            f"{name} has {len(values)} entries ({values!r}), but there are {n} {per}"
        )


def readonly(array: np.ndarray, *, fresh: bool = False) -> np.ndarray:
    """A read-only view of ``array``; ``fresh``: ``array`` is itself a view made for this (a
    reshape), made read-only in place, without another view (a prepared call's whole time is
    a few microseconds).

    The engines hand their compiled functions read-only inputs, whatever the caller passed, so
    that numba compiles one signature per dtype and the compiled cache serves every call (a
    writable and a read-only array are different types to numba).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(3)
    >>> readonly(x).flags.writeable, readonly(x.reshape(3), fresh=True).flags.writeable
    (False, False)
    >>> x.flags.writeable
    True
    """
    view = array if fresh else array.view()
    view.flags.writeable = False
    return view
