"""What every engine shares: the problem description, the per-axis plan of reads, the tasks.

An engine receives a :class:`Problem`: a batch of arrays ``x`` of shape (B, *spatial) in the
compute dtype, one kernel, the :class:`~padlab.geometry.Geometry` and one index-rule code per
axis (:mod:`padlab.modes.index`). Rules that are not index rules never reach an engine as such:
``partial`` arrives as zero padding plus :func:`padlab.geometry.partial_scale`, and the
arithmetic rules (odd reflections, ramps, statistics) arrive already padded, with a 'valid'
geometry.

The compiled engines get their integers as one named record (:data:`PLAN`, a numpy structured
scalar: numba reads its fields by name, and it is passed as cheaply as an array), and one
:func:`tap_table` per axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from padlab._threads import run_chunks
from padlab._threads import threads as _thread_count
from padlab._validate import allocator, readonly
from padlab.geometry import Geometry, interior_range
from padlab.modes.index import tap_table

__all__ = [
    "PLAN",
    "AxisReads",
    "Problem",
    "axis_reads",
    "bind_tasks",
    "chunk_rows",
    "entry_point",
    "interior",
    "make_plan",
]


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
    fft_scratch : float or None
        The share of the input's size the FFT engine's tiles may hold at once (None: the
        engine's default, :data:`padlab.engine.choose.FFT_SCRATCH_SHARE`).
    """

    x: np.ndarray
    kernel: np.ndarray
    geometry: Geometry
    codes: tuple[int, ...]
    value: float
    fft_scratch: float | None = None

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.x.shape[0], *self.geometry.out_shape)


def interior(n: int, before: int, taps: int, stride: int, dilation: int, out: int) -> range:
    """The outputs of one axis whose every tap reads a real sample (no padding involved).

    A ``range`` over :func:`padlab.geometry.interior_range`, the one place the formula lives.

    Examples
    --------
    >>> interior(10, 1, 3, 1, 1, 10)     # 'same' 3-tap filter: the first and last read padding
    range(1, 9)
    >>> len(interior(3, 10**9, 3, 1, 10**9, 3))   # a huge dilation: every output reads padding
    0
    """
    return range(*interior_range(n, before, taps, stride, dilation, out))


@dataclass(frozen=True)
class AxisReads:
    """Where one axis's reads come from (see :func:`padlab.modes.index.tap_table`).

    Output ``o``, tap ``t`` reads source index ``table[o * out_step + t * tap_step]`` (-1: the
    constant). ``inner`` are the outputs whose taps all read real samples; ``before``,
    ``stride`` and ``dilation`` are the geometry's where ``inner`` is not empty (then they are
    small: the reads stay inside the input), else 0, so that a padding, stride or dilation of
    10**30 never reaches compiled integer arithmetic.
    """

    table: np.ndarray
    out_step: int
    tap_step: int
    inner: range
    before: int
    stride: int
    dilation: int


def axis_reads(geometry: Geometry, codes: tuple[int, ...]) -> list[AxisReads]:
    """One :class:`AxisReads` per spatial axis of ``geometry``.

    A dilation on an axis with one tap changes nothing and is taken as 1. A stride on an axis
    with one output is never multiplied by anything; only whether it is 1 chooses the shape
    of the compiled loops (and so the order of the sums), so any stride above 1 is taken as 2.

    Examples
    --------
    >>> from padlab.modes.index import REFLECT
    >>> (y,) = axis_reads(Geometry.resolve((4,), (3,), "same"), (REFLECT,))
    >>> y.table.tolist(), y.inner
    ([1, 0, 1, 2, 3, 2], range(1, 3))
    """
    return [
        _axis_reads(n, pads[0], code, out, s if out > 1 else min(s, 2), k, d if k > 1 else 1)
        for n, pads, code, out, s, k, d in zip(
            geometry.in_shape,
            geometry.pads,
            codes,
            geometry.out_shape,
            geometry.strides,
            geometry.kernel_shape,
            geometry.dilations,
            strict=True,
        )
    ]


def _axis_reads(
    n: int, before: int, code: int, out: int, stride: int, taps: int, dilation: int
) -> AxisReads:
    table, out_step, tap_step = tap_table(n, before, code, out, stride, taps, dilation)
    inner = interior(n, before, taps, stride, dilation, out)
    if not inner:
        before = stride = dilation = 0
    return AxisReads(table, out_step, tap_step, inner, before, stride, dilation)


#: The integers of a compiled engine call, by name. Per-axis fields are (z, y, x).
PLAN = np.dtype(
    [
        ("groups", np.int64),  # channel groups (conv_nd)
        ("rows_per_task", np.int64),  # output rows of one parallel task
        ("before", np.int64, 3),  # padding before (0 where the axis has no interior)
        ("stride", np.int64, 3),
        ("dilation", np.int64, 3),  # (0 where the axis has no interior)
        ("out_step", np.int64, 3),  # tap t of output o reads table[o*out_step + t*tap_step]
        ("tap_step", np.int64, 3),
        ("lo", np.int64, 3),  # outputs [lo, hi) read only real samples on this axis
        ("hi", np.int64, 3),
        ("flat_band", np.int64),  # 1: rows with no padding run as one flat loop (direct engine)
        ("ring", np.int64),  # rows of the polyphase ring per input plane (strided columns)
        ("phases", np.int64),  # phases a split source row keeps: min(stride, width)
        ("phase_len", np.int64),  # length of one phase of a split source row
    ]
)


def make_plan(
    reads: list[AxisReads],
    groups: int = 1,
    rows_per_task: int = 1,
    in_shape: tuple[int, int] = (1, 1),
    kernel_rows: int = 1,
) -> np.ndarray:
    """The :data:`PLAN` record (a one-element array) of two or three axes' reads.

    ``ring`` and ``phase_len`` serve the direct engine's strided rows (``in_shape`` and
    ``kernel_rows`` are the input's height and width and the kernel's height): a source row
    split into ``stride`` phases holds ``ceil(width / stride)`` samples per phase (only the
    first ``width`` phases hold any: a stride wider than the row leaves the others empty, and
    they are not kept), and a ring of
    ``(kh - 1) * dy + sy`` rows (at most the input's height: then every row has its own slot)
    keeps the split rows that consecutive output rows share.
    """
    plan = np.zeros(1, PLAN)
    p = plan[0]
    p["groups"], p["rows_per_task"] = groups, rows_per_task
    for axis, r in enumerate(reads, start=3 - len(reads)):  # the last axes are x, y, z
        p["before"][axis], p["stride"][axis], p["dilation"][axis] = r.before, r.stride, r.dilation
        p["out_step"][axis], p["tap_step"][axis] = r.out_step, r.tap_step
        p["lo"][axis], p["hi"][axis] = r.inner.start, r.inner.stop
    y, x = reads[-2], reads[-1]
    if x.stride > 1 and x.inner:
        p["phase_len"] = -(-in_shape[1] // x.stride)
        p["phases"] = min(x.stride, in_shape[1])
        rows = (kernel_rows - 1) * y.dilation + y.stride if y.inner else in_shape[0]
        p["ring"] = min(rows, in_shape[0])
    return plan


def chunk_rows(planes: int, rows: int, threads: int | None = None) -> int:
    """Rows per parallel task: whole planes when there are many, else bands of >= 8 rows.

    Examples
    --------
    >>> chunk_rows(1, 512, threads=2)
    32
    >>> chunk_rows(64, 224, threads=2)
    224
    """
    tasks = 8 * (threads if threads is not None else _thread_count())
    if planes >= tasks:
        return rows
    return max(8, -(-rows * planes // tasks))


def bind_tasks(
    kernel: Callable[..., None],
    tasks: int,
    per_chunk: int,
    alone: bool,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    dtype: np.dtype,
    constants: tuple[object, ...],
    allocated: tuple[int, ...] | None = None,
    brief: bool = False,
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """An engine's prepared call: ``call(x, out=None)`` runs the compiled
    ``kernel(first, last, x, *constants, out)`` over ``tasks`` tasks, on the calling thread
    when ``alone`` (one task list: what :func:`~padlab._threads.run_chunks` would do with it),
    else over the pool in chunks of ``per_chunk`` (``brief``: as
    :func:`~padlab._threads.run_chunks` says).

    ``x`` is read as ``in_shape``, C-contiguous and read-only (one compiled signature per
    dtype, whatever the caller passed); ``out`` is written as ``out_shape`` and, if None,
    allocated as ``allocated`` (default ``out_shape``). Both may have any shapes of those
    sizes; ``out`` is returned as given.

    Examples
    --------
    >>> def double(first, last, x, factor, out):
    ...     out[first:last] = factor * x[first:last]
    >>> call = bind_tasks(double, 4, 4, True, (4,), (4,), np.dtype(np.float64), (2.0,))
    >>> call(np.arange(4.0).reshape(2, 2), None).tolist()
    [0.0, 2.0, 4.0, 6.0]
    """

    new = allocator(out_shape if allocated is None else allocated, dtype, "the output")
    # numba's dispatcher resolves the type of each of the 10 or so arguments on every call
    # (about 0.6 us; a read-only array, a record and a numpy scalar take its slow path). The
    # compiled function it picks is looked up once, on the second call (a call made once, such
    # as a padlab.dask block's, leaves it to the dispatcher), and called directly while the
    # arguments keep the types it was compiled for.
    compiled: list[Callable[..., None]] = []
    usual_calls = [0]

    def call(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        view = x.reshape(in_shape)  # a new array object (numpy's reshape): x keeps its flag
        flags = view.flags
        if not (flags.c_contiguous and flags.aligned):  # (unaligned: a signature of its own)
            view = np.array(view, order="C")
        view = readonly(view, fresh=True)
        if out is None:  # of the dtype, aligned
            out = new()
            usual = view.dtype == dtype
        else:
            usual = view.dtype == out.dtype == dtype and out.flags.aligned
        target = out.reshape(out_shape)
        if usual and compiled:
            fn = compiled[0]
        else:  # numba's dispatcher (it compiles for other types, as any numba function)
            fn = kernel
            if usual:
                usual_calls[0] += 1
                if usual_calls[0] > 1:
                    compiled.append(entry_point(kernel, (0, tasks, view, *constants, target)))
                    fn = compiled[0]
        if alone:
            fn(0, tasks, view, *constants, target)
        else:
            run_chunks(fn, tasks, view, *constants, target, per_chunk=per_chunk, brief=brief)
        return out

    return call


def entry_point(kernel: Callable[..., None], args: tuple[object, ...]) -> Callable[..., None]:
    """The compiled function numba's dispatcher ``kernel`` runs for ``args``, compiled now if
    it is not yet, to be called directly with arguments of the same types; ``kernel`` itself
    when it is a plain function (``NUMBA_DISABLE_JIT``) or the arguments' types are unknown to
    numba.

    Examples
    --------
    >>> def twice(x):
    ...     return 2 * x
    >>> entry_point(twice, (1,)) is twice
    True
    """
    get_overload = getattr(kernel, "get_overload", None)
    if get_overload is None:
        return kernel
    try:
        types = tuple(_numba_type(a) for a in args)
        kernel.compile(types)  # type: ignore[attr-defined]  # loaded from the cache if there
        return get_overload(types)
    except Exception:  # the dispatcher, called instead, reports a real error itself
        return kernel


#: numba's type of an array, by what numba's typeof reads of it (its dtype, dimensions,
#: layout and writeable flag): typeof takes 0.1 ms for the engines' plan record
_ARRAY_TYPES: dict[tuple[object, ...], object] = {}


def _numba_type(value: object) -> object:
    """``numba.typeof(value)``, remembered for arrays."""
    from numba import typeof

    if type(value) is not np.ndarray:
        return typeof(value)
    flags = value.flags
    key = (value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous, flags.writeable)
    found = _ARRAY_TYPES.get(key)
    if found is None:
        found = _ARRAY_TYPES[key] = typeof(value)
    return found
