"""``correlate`` and ``convolve``: every padding rule and geometry, channels, one dtype policy."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from padlab._memo import remember
from padlab._validate import (
    as_index,
    as_numeric_array,
    check_sequence_length,
    fill_value,
    normalize_axes,
)
from padlab.engine.plan import Problem
from padlab.engine.reference import correlate_reference
from padlab.errors import PadlabTypeError, PadlabValueError
from padlab.geometry import Convention, Geometry, Padding, cache_key, partial_scale
from padlab.modes.index import CONSTANT, INDEX_CODES
from padlab.modes.padding import StatLength, pad
from padlab.modes.registry import Modes, Rule, check_rule_options, resolve_mode
from padlab.ops.dtypes import compute_dtype

__all__ = [
    "METHODS",
    "Casting",
    "FilterArgs",
    "FilterSpec",
    "Method",
    "check_output",
    "convolve",
    "correlate",
    "output_argument",
    "prepare",
    "resolve_filter",
    "rules_per_axis",
    "run_problem",
]

#: Engines a caller can force with ``method=``.
METHODS = ("auto", "direct", "separable", "fft", "reference")
#: The engine names, for type checkers (a test keeps it equal to :data:`METHODS`).
Method = Literal["auto", "direct", "separable", "fft", "reference"]
#: numpy's casting rules.
Casting = Literal["no", "equiv", "safe", "same_kind", "unsafe"]

_SHARED_DOC = """
    Parameters
    ----------
    image : array_like
        1, 2 or 3 filtered (spatial) axes; every other axis, named by ``axes`` or
        ``channel_axis``, is a batch axis: each of its slices is filtered alike.
    kernel : array_like
        One dimension per filtered axis of ``image``, in increasing axis order; any size, odd
        or even, also larger than the image.
    padding : {'same', 'valid', 'full'}, int or sequence, default 'same'
        The geometry: 'valid' (no padding; 224 -> 222 with a 3x3 kernel), 'same' (the output
        has ``ceil(n / stride)`` samples), 'full' (every overlap), an int for every side, or
        explicit ``(before, after)`` pairs per spatial axis.
    mode : str or sequence of str, default 'zeros'
        The padding rule (see ``padlab modes``), or one per spatial axis: ``zeros``,
        ``constant`` (with ``value``), ``reflect`` (``d c b | a b c d | c b a``), ``symmetric``
        (``c b a | a b c d | d c b``), ``replicate``, ``circular``, ``partial``
        (partial-convolution padding, Liu et al. 2018: zero padding, then each output is
        scaled by taps in the window / taps on real samples), numpy's odd reflections,
        ``linear_ramp`` and statistic rules, or a qualified foreign name such as
        ``"scipy:reflect"``.
    value : float, default 0
        The constant of ``mode='constant'``.
    stride, dilation : int or sequence of int, default 1
    convention : str, default 'tf'
        Where 'same' puts the extra sample when the padding is odd: 'tf' after (TensorFlow,
        Keras, ONNX SAME_UPPER, torch padding='same'), 'scipy' before (scipy.ndimage, OpenCV's
        default anchor, ONNX SAME_LOWER). See :mod:`padlab.geometry`.
    channel_axis : int, optional
        The axis of ``image`` holding channels; each channel is filtered independently with
        the same kernel. Shorthand for ``axes=`` every other axis.
    axes : int or sequence of int, optional
        The axes to filter (default: all of them), as in scipy.ndimage: every other axis is
        batched, so a stack of photos ``(N, H, W, C)`` takes a 2-D kernel with ``axes=(1, 2)``
        and is filtered in one call, in parallel across the stack. The kernel's axes map to
        these axes in increasing order; per-axis sequences (``mode``, ``origin``, ``stride``,
        ``dilation``, explicit ``padding`` pairs) follow the order written in ``axes`` (as
        scipy.ndimage's ``origin`` does, except that scipy reads it in increasing axis order
        when ``axes`` names every axis).
    origin : int or sequence of int, default 0
        scipy.ndimage's window shift, with ``padding='same'`` only: a positive origin moves
        the window towards earlier samples. It is the same as explicit padding pairs: for
        :func:`correlate`, ``(before + origin, after - origin)`` per axis, where
        ``(before, after)`` is the 'same' padding of the convention; for :func:`convolve`
        ``(before - origin, after + origin)``. With ``convention='scipy'`` it matches
        ``scipy.ndimage.correlate``/``convolve(..., origin=...)``; allowed from ``-before`` to
        ``after`` (scipy: ``-(k // 2)`` to ``(k - 1) // 2``).
    out : ndarray, optional
        An array of the output's shape to write the result into (and return). When it is
        C-contiguous in the compute dtype (float32 or float64, see Returns) and its batch axes
        come first (or it has none), the engine writes straight into it, with no temporary of
        the output's size; otherwise the result is computed and then copied in.
    output : ndarray or dtype, optional
        scipy.ndimage's name: an array is the same as ``out``; a dtype casts the result to it.
    casting : {'no', 'equiv', 'safe', 'same_kind', 'unsafe'}, default 'same_kind'
        numpy's rule for casting the compute dtype to ``out``/``output``: by default a float64
        result goes into float32 or float16 (rounded) but never into integers; use
        ``'unsafe'`` for integers (values truncated toward zero, as C and scipy.ndimage do,
        without a range check).
    method : {'auto', 'direct', 'separable', 'fft', 'reference'}, default 'auto'
        The engine. 'auto' picks the fastest by a cost model (see :mod:`padlab.engine.choose`);
        'direct' sums the taps, 'separable' runs two 1-D passes (rank-1 2-D kernels only),
        'fft' multiplies spectra tile by tile (non-finite inputs spread over their tile),
        'reference' is the readable window loop used as the test oracle. None of them builds
        a padded copy of the image, except for the arithmetic rules (odd reflections, ramps,
        statistics), which are padded first.
    stat_length, end_values
        Options of the statistic rules and of ``linear_ramp``, as in :func:`padlab.pad`.

    Returns
    -------
    ndarray
        ``out`` if given; else float32 for float32, float16, bool and up-to-16-bit integer
        images, float64 otherwise (see :mod:`padlab.ops.dtypes`): never rounded back to the
        input's integer type, so a uint8 photo keeps its negative Laplacian responses.

    Raises
    ------
    PadlabValueError
        Empty arrays, a kernel larger than the padded input ('valid'), stride or dilation
        below 1, unknown rules or conventions, a kernel with more dimensions than the image,
        ``out`` of the wrong shape, an origin out of range or without ``padding='same'``.
    PadlabTypeError
        Complex or non-numeric arrays; an ``out`` that is not a writable ndarray or whose dtype
        the compute dtype cannot be cast to under ``casting``.
"""


def correlate(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    padding: Padding = "same",
    mode: Modes = "zeros",
    value: float = 0,
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    channel_axis: int | None = None,
    method: Method = "auto",
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
    axes: int | Sequence[int] | None = None,
    origin: int | Sequence[int] = 0,
    out: np.ndarray | None = None,
    output: np.ndarray | npt.DTypeLike | None = None,
    casting: Casting = "same_kind",
) -> np.ndarray:
    """Cross-correlate an image with a kernel, with any padding rule and geometry.

    ``out[i] = sum_j kernel[j] * padded[i * stride + j * dilation]``: the kernel is not
    flipped. This is what ``cv2.filter2D``, ``torch.nn.functional.conv2d`` and
    ``scipy.ndimage.correlate`` compute (OpenCV and torch call it filtering or convolution).
    {shared}
    Examples
    --------
    >>> import numpy as np
    >>> import padlab
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> padlab.correlate(x, [1.0, 2.0, 3.0])                    # zero padding, 'same'
    array([ 8., 14., 20., 26., 14.])
    >>> padlab.correlate(x, [1.0, 2.0, 3.0], mode="reflect")    # d c b | a b c d | c b a
    array([10., 14., 20., 26., 26.])
    >>> padlab.correlate(x, [1.0, 2.0, 3.0], padding="valid")
    array([14., 20., 26.])
    >>> padlab.correlate(np.ones((224, 224)), np.ones((3, 3)), padding="valid").shape
    (222, 222)
    >>> padlab.correlate(np.ones((4, 4)), np.ones((3, 3)), mode="partial")
    array([[9., 9., 9., 9.],
           [9., 9., 9., 9.],
           [9., 9., 9., 9.],
           [9., 9., 9., 9.]])

    scipy.ndimage's ``origin=`` shifts the window; it is explicit padding in disguise:

    >>> padlab.correlate(x, [1.0, 2.0, 3.0], origin=1)
    array([ 3.,  8., 14., 20., 26.])
    >>> padlab.correlate(x, [1.0, 2.0, 3.0], padding=[(2, 0)])
    array([ 3.,  8., 14., 20., 26.])

    A stack of RGB photos filtered by one 2-D kernel, into a reused buffer:

    >>> stack = np.ones((8, 32, 32, 3), dtype=np.float32)
    >>> buffer = np.empty_like(stack)
    >>> result = padlab.correlate(stack, np.ones((3, 3)), axes=(1, 2), out=buffer)
    >>> result is buffer, buffer[0, 0, 0].tolist(), buffer[0, 5, 5].tolist()
    (True, [4.0, 4.0, 4.0], [9.0, 9.0, 9.0])
    """
    # positional: in the order of the signature and of FilterArgs' fields (a test checks)
    keyed = (padding, mode, value, stride, dilation, convention, channel_axis, method,
             stat_length, end_values, axes, origin)  # fmt: skip
    return _call(image, kernel, keyed, out, output, casting, False)


def convolve(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    padding: Padding = "same",
    mode: Modes = "zeros",
    value: float = 0,
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    channel_axis: int | None = None,
    method: Method = "auto",
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
    axes: int | Sequence[int] | None = None,
    origin: int | Sequence[int] = 0,
    out: np.ndarray | None = None,
    output: np.ndarray | npt.DTypeLike | None = None,
    casting: Casting = "same_kind",
) -> np.ndarray:
    """Convolve an image with a kernel (flipped on every spatial axis), any rule and geometry.

    ``convolve(x, k)`` is ``correlate(x, k[::-1, ::-1])`` with 'same' padding mirrored, so the
    same kernel tap sits over each output: ``convention='tf'`` gives ``numpy.convolve`` and
    ``scipy.signal.convolve(..., 'same')``, ``convention='scipy'`` gives
    ``scipy.ndimage.convolve``. Note that ``cv2.filter2D`` and ``torch.nn.functional.conv2d``
    are correlations: use :func:`correlate` to reproduce them.
    {shared}
    Examples
    --------
    >>> import numpy as np
    >>> import padlab
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> padlab.convolve(x, [1.0, 2.0, 3.0])
    array([ 4., 10., 16., 22., 22.])
    >>> np.convolve(x, [1.0, 2.0, 3.0], mode="same")
    array([ 4., 10., 16., 22., 22.])

    scipy.ndimage's keywords mean what they mean there:

    >>> import scipy.ndimage as ndi
    >>> ndi.convolve(x, [1.0, 2.0, 3.0, 4.0], mode="nearest", origin=-1)
    array([11., 14., 20., 30., 39.])
    >>> padlab.convolve(x, [1.0, 2.0, 3.0, 4.0], mode="scipy:nearest", convention="scipy",
    ...                 origin=-1)
    array([11., 14., 20., 30., 39.])
    """
    # positional: in the order of the signature and of FilterArgs' fields (a test checks)
    keyed = (padding, mode, value, stride, dilation, convention, channel_axis, method,
             stat_length, end_values, axes, origin)  # fmt: skip
    return _call(image, kernel, keyed, out, output, casting, True)


correlate.__doc__ = (correlate.__doc__ or "").replace("{shared}", _SHARED_DOC)
convolve.__doc__ = (convolve.__doc__ or "").replace("{shared}", _SHARED_DOC)


class FilterArgs(NamedTuple):
    """The keyword arguments of :func:`correlate` and :func:`convolve`, as the caller gave them.

    A named tuple: immutable, and made in a fraction of a frozen dataclass's time. A repeated
    call that its prepared engine call serves makes none (:func:`_prepared`; a 64x64 image's
    whole call takes about 7 us).
    """

    padding: Padding = "same"
    mode: Modes = "zeros"
    value: float = 0
    stride: int | Sequence[int] = 1
    dilation: int | Sequence[int] = 1
    convention: Convention = "tf"
    channel_axis: int | None = None
    method: Method = "auto"
    stat_length: StatLength = None
    end_values: complex | Sequence[complex] = 0
    axes: int | Sequence[int] | None = None
    origin: int | Sequence[int] = 0
    out: np.ndarray | None = None
    output: np.ndarray | npt.DTypeLike | None = None
    casting: Casting = "same_kind"


@dataclass(frozen=True)
class FilterSpec:
    """A checked filtering call: what :func:`resolve_filter` returns.

    Attributes
    ----------
    dtype : numpy.dtype
        The compute (and output) dtype.
    weights : ndarray
        The kernel in ``dtype``, already flipped for a convolution.
    geometry : Geometry
        The geometry of the filtered axes, in increasing axis order (``origin`` applied).
    rules : tuple of Rule
        One rule per filtered axis.
    filtered, batched : tuple of int
        The filtered axes and the other (batched) axes of the image, each in increasing order.
    out_shape : tuple of int
        The result's shape (batched axes keep their size).
    """

    dtype: np.dtype
    weights: np.ndarray
    geometry: Geometry
    rules: tuple[Rule, ...]
    filtered: tuple[int, ...]
    batched: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def channel_axis(self) -> int | None:
        """The one batched axis, or None (several batched axes: see ``batched``)."""
        return self.batched[0] if len(self.batched) == 1 else None


def resolve_filter(
    shape: tuple[int, ...],
    dtype: np.dtype,
    kernel: npt.ArrayLike,
    args: FilterArgs | Mapping[str, Any],
    *,
    flip: bool,
) -> FilterSpec:
    """Check a :func:`correlate` / :func:`convolve` call for an image of ``shape`` and ``dtype``.

    Reads no sample of the image, so chunked arrays (:mod:`padlab.dask`) refuse bad arguments
    with the same messages before any chunk is read. ``args`` holds the keyword arguments of
    :func:`correlate` (a :class:`FilterArgs` or a mapping; what it leaves out takes the default).

    Examples
    --------
    >>> spec = resolve_filter((5, 6), np.dtype(np.uint8), np.ones((3, 3)),
    ...                       dict(padding="valid", mode="zeros", value=0, stride=1, dilation=1,
    ...                            convention="tf", channel_axis=None, method="auto",
    ...                            stat_length=None, end_values=0), flip=False)
    >>> spec.dtype, spec.geometry.out_shape, spec.channel_axis
    (dtype('float32'), (3, 4), None)
    """
    what = "convolve" if flip else "correlate"
    if not isinstance(args, FilterArgs):  # a mapping such as a caller's keyword arguments
        args = FilterArgs(**{k: v for k, v in args.items() if k in FilterArgs._fields})
    shape = tuple(int(n) for n in shape)
    w = as_numeric_array(kernel, "kernel")
    if not 1 <= w.ndim <= 3:
        raise PadlabValueError(
            f"{what}: the kernel must have 1, 2 or 3 dimensions, got shape {w.shape}"
        )
    filtered, order = _filtered_axes(what, shape, w, args.axes, args.channel_axis)
    if 0 in shape or w.size == 0:
        raise PadlabValueError(
            f"{what}: cannot filter an empty array: image {shape}, kernel {w.shape}"
        )
    out_dtype = compute_dtype(np.dtype(dtype), "image")
    compute_dtype(w.dtype, "kernel")  # refuses complex kernels
    weights = w.astype(out_dtype)
    if flip:
        weights = weights[(slice(None, None, -1),) * w.ndim]
    batched = tuple(a for a in range(len(shape)) if a not in filtered)
    stride, dilation, padding, mode, origin = (
        _sorted_per_axis(getattr(args, name), order)
        for name in ("stride", "dilation", "padding", "mode", "origin")
    )
    spatial = tuple(shape[a] for a in filtered)
    geometry = Geometry.resolve(
        spatial, weights.shape, padding, stride, dilation, args.convention, flip=flip
    )
    geometry = _shift(what, geometry, origin, args.padding, flip)
    rules = rules_per_axis(mode, w.ndim)
    check_rule_options(
        rules, value=args.value, stat_length=args.stat_length, end_values=args.end_values
    )
    if args.method not in METHODS:
        raise PadlabValueError(f"unknown method {args.method!r}; allowed: {', '.join(METHODS)}")
    out_shape = list(shape)
    for axis, size in zip(filtered, geometry.out_shape, strict=True):
        out_shape[axis] = size
    return FilterSpec(out_dtype, weights, geometry, rules, filtered, batched, tuple(out_shape))


def _call(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    keyed: tuple,
    out: np.ndarray | None,
    output: np.ndarray | npt.DTypeLike | None,
    casting: Casting,
    flip: bool,
) -> np.ndarray:
    """:func:`correlate` or :func:`convolve` (``flip``), with ``keyed`` their arguments up to
    ``origin``: a repeated call through its prepared engine call (:func:`_prepared`, when it
    writes no ``out`` and casts to no ``output``), else the whole way (:func:`_filter`)."""
    if out is None and output is None and type(casting) is str and casting == "same_kind":
        result = _prepared(image, kernel, keyed, flip)
        if result is not None:
            return result
    return _filter(image, kernel, FilterArgs._make((*keyed, out, output, casting)), flip=flip)


def _filter(
    image: npt.ArrayLike, kernel: npt.ArrayLike, args: FilterArgs, *, flip: bool
) -> np.ndarray:
    what = "convolve" if flip else "correlate"
    x = as_numeric_array(image, "image")
    target, cast = output_argument(what, args.out, args.output, args.casting)
    key = _repeat_key(x.shape, x.dtype, kernel, args[:_KEYED], flip)
    plain = target is None and cast is None and x.flags.c_contiguous
    if key is not None and plain and (fast := _FAST.get(key)) is not None:
        return fast(x)
    spec = _resolve_repeated(key, x.shape, x.dtype, kernel, args, flip)
    dtype, geometry, batched, filtered = spec.dtype, spec.geometry, spec.batched, spec.filtered
    order = batched + filtered
    in_order = order == tuple(range(x.ndim))
    if key is not None and plain and in_order:
        fast = _fast_path(spec, x, args)
        if fast is not None:
            remember(_FAST, key, fast, _REPEATED_MAX)
    moved = x if in_order else np.moveaxis(x, order, tuple(range(x.ndim)))
    batch_shape = moved.shape[: len(batched)]
    # (B, *spatial) in the compute dtype: at most one copy (none for a C-contiguous input of the
    # compute dtype whose batch axes come first)
    batch = np.ascontiguousarray(moved, dtype=dtype).reshape((-1, *moved.shape[len(batched) :]))
    direct = None
    check_output(what, target, spec.out_shape, dtype, args.casting, cast)
    if target is not None:
        direct = _direct_view(target, batched + filtered, batch.shape[0], geometry, dtype, x)
    result = run_problem(
        batch,
        np.ascontiguousarray(spec.weights),
        geometry,
        spec.rules,
        value=args.value,
        method=args.method,
        stat_length=args.stat_length,
        end_values=args.end_values,
        out=direct,
    )
    if direct is not None:
        return target  # type: ignore[return-value]
    result = result.reshape(batch_shape + geometry.out_shape)
    if not in_order:
        result = np.moveaxis(result, tuple(range(x.ndim)), order)
    if target is not None:
        np.copyto(target, result, casting=args.casting)
        return target
    if cast is not None:
        return result.astype(cast, casting=args.casting)
    return result


#: Calls with a small kernel repeat (a loop over frames, tiles or a dataset): their checked
#: form is kept, keyed by everything :func:`resolve_filter` reads.
_REPEATED: dict[tuple, FilterSpec] = {}
_REPEATED_MAX = 256
_REPEATED_KERNEL = 4096  # largest kernel (in samples) whose bytes join the key
#: the arguments that decide the checked form: every field up to ``origin`` (not the output)
_KEYED = FilterArgs._fields.index("origin") + 1


_SIMPLE = frozenset({str, int, float, type(None)})
#: whether every type of a call's keyed arguments is in _SIMPLE, by those types (the set
#: check took 0.2 us of a 64x64 call's 8)
_SIMPLE_TYPES: dict[tuple[type, ...], bool] = {}


def _repeat_key(
    shape: tuple[int, ...], dtype: np.dtype, kernel: object, values: tuple, flip: bool
) -> tuple | None:
    """The key a call's checked form is remembered by: everything :func:`resolve_filter`
    reads (``values``: the call's :class:`FilterArgs` up to ``origin``), the bytes of a small
    numpy kernel included; None if the call is not remembered (a larger or non-numpy kernel,
    or unhashable arguments)."""
    if not (isinstance(kernel, np.ndarray) and kernel.size <= _REPEATED_KERNEL):
        return None
    types = tuple(map(type, values))  # 1, 1.0 and True are equal, and differ as arguments
    simple = _SIMPLE_TYPES.get(types)
    if simple is None:
        simple = remember(_SIMPLE_TYPES, types, _SIMPLE.issuperset(types), _REPEATED_MAX)
    if not simple:
        try:  # cache_key makes every value hashable (types included) or raises TypeError
            values, types = tuple(cache_key(v) for v in values), ()
        except TypeError:
            return None
    return (shape, dtype, kernel.shape, kernel.dtype, kernel.tobytes(), flip, types, values)


def _resolve_repeated(
    key: tuple | None,
    shape: tuple[int, ...],
    dtype: np.dtype,
    kernel: npt.ArrayLike,
    args: FilterArgs,
    flip: bool,
) -> FilterSpec:
    """:func:`resolve_filter`, remembered under ``key`` (from :func:`_repeat_key`; None: not
    remembered).

    The remembered spec's weights are read-only, so no caller can change a later call's kernel.
    """
    if key is None:
        return resolve_filter(shape, dtype, kernel, args, flip=flip)
    spec = _REPEATED.get(key)
    if spec is None:
        spec = resolve_filter(shape, dtype, kernel, args, flip=flip)
        spec.weights.flags.writeable = False
        remember(_REPEATED, key, spec, _REPEATED_MAX)
    return spec


#: Repeated calls whose whole path is known (a C-contiguous image of the compute dtype, rules
#: read through tables, the direct or separable engine, no ``out``): the prepared engine call.
_FAST: dict[tuple, Callable[..., np.ndarray]] = {}
_FAST_MAX = 1 << 22  # samples of the image and of the result


def _prepared(image: object, kernel: object, keyed: tuple, flip: bool) -> np.ndarray | None:
    """A repeated call's result from its prepared engine call (``_FAST``), before anything
    else is made; None if there is none (yet): the call goes the whole way. The caller has
    checked that it writes no ``out`` and casts to no ``output`` (:func:`_call`)."""
    if type(image) is not np.ndarray or not image.flags.c_contiguous:
        return None
    key = _repeat_key(image.shape, image.dtype, kernel, keyed, flip)
    fast = None if key is None else _FAST.get(key)
    return None if fast is None else fast(image)


def _fast_path(
    spec: FilterSpec, x: np.ndarray, args: FilterArgs
) -> Callable[..., np.ndarray] | None:
    """The prepared call for images like ``x`` (see ``_FAST``), or None if there is none."""
    from padlab.engine import choose

    if args.method not in ("auto", "direct", "separable") or x.dtype != spec.dtype:
        return None
    if math.prod(spec.out_shape) > _FAST_MAX or x.size > _FAST_MAX:
        return None  # per-call costs matter for small images only; big ones keep every check
    virtual = _virtual(spec.rules, spec.dtype, args.value)
    if virtual is None:  # padded first (arithmetic rules): no prepared call
        return None
    batch_shape = (-1, *spec.geometry.in_shape)
    problem = Problem(
        x.reshape(batch_shape), np.ascontiguousarray(spec.weights), spec.geometry, *virtual
    )
    geometry, rules, out_shape = spec.geometry, spec.rules, spec.out_shape
    partial = any(r.kind == "partial" for r in rules)
    # the bound engine reads the image in its own shape, into a new output of the call's shape
    call = choose.bind(problem, str(args.method), None if partial else out_shape)
    if call is None:
        return None
    if not partial:
        return call

    def fast_partial(image: np.ndarray) -> np.ndarray:
        result = call(image.reshape(batch_shape), None)
        return scale_partial(result, geometry, rules).reshape(out_shape)

    return fast_partial


def _filtered_axes(
    what: str, shape: tuple[int, ...], w: np.ndarray, axes: object, channel_axis: object
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The filtered axes in increasing order, and their order as the caller wrote them."""
    ndim = len(shape)
    if axes is not None and channel_axis is not None:
        raise PadlabValueError(
            f"{what}: give axes= (the filtered axes) or channel_axis= (the one batched axis), "
            f"not both; got axes={axes!r}, channel_axis={channel_axis!r}"
        )
    if channel_axis is not None:
        axis = as_index(channel_axis, "channel_axis")
        if not -ndim <= axis < ndim:
            raise PadlabValueError(
                f"{what}: channel_axis={axis} is out of range for an image of shape {shape}"
            )
        filtered = tuple(a for a in range(ndim) if a != axis % ndim)
        if len(filtered) != w.ndim:
            raise PadlabValueError(
                f"{what}: image {shape} and kernel {w.shape} do not match: the image needs "
                f"{w.ndim + 1} dimensions ({w.ndim} spatial + 1 channel axis)"
            )
        return filtered, tuple(range(len(filtered)))
    if axes is None:
        if ndim != w.ndim:
            hint = (
                "; for an image with channels pass channel_axis= (e.g. channel_axis=-1 for "
                "(H, W, C)), for a stack axes= (e.g. axes=(1, 2) for (N, H, W, C))"
                if ndim > w.ndim
                else ""
            )
            raise PadlabValueError(
                f"{what}: image {shape} and kernel {w.shape} do not match: the image needs "
                f"{w.ndim} dimensions, one per kernel axis{hint}"
            )
        return tuple(range(ndim)), tuple(range(ndim))
    filtered = normalize_axes(axes, ndim)
    if len(filtered) != w.ndim:
        raise PadlabValueError(
            f"{what}: axes={axes!r} names {len(filtered)} axes of image {shape}, but the "
            f"kernel {w.shape} has {w.ndim}: give one kernel axis per filtered axis"
        )
    listed: list = [axes] if isinstance(axes, int | np.integer) else list(axes)  # type: ignore[call-overload]
    written = [as_index(a, "axis") % ndim for a in listed]
    return filtered, tuple(written.index(a) for a in filtered)


def _sorted_per_axis(value: object, order: tuple[int, ...]) -> object:
    """A per-axis sequence written in ``axes`` order, put in increasing axis order."""
    if order == tuple(range(len(order))) or isinstance(value, str | Rule):
        return value
    if isinstance(value, Sequence | np.ndarray) and len(value) == len(order):
        items = list(value)
        return (
            type(value)(items[i] for i in order)
            if isinstance(value, tuple)
            else [items[i] for i in order]
        )
    return value


def _shift(what: str, geometry: Geometry, origin: object, padding: object, flip: bool) -> Geometry:
    """Apply scipy.ndimage's ``origin`` to 'same' padding: explicit pairs, shifted."""
    n = len(geometry.pads)
    if isinstance(origin, Sequence | np.ndarray) and not isinstance(origin, str):
        origins = [as_index(o, "origin") for o in origin]
        check_sequence_length(origins, n, "origin", "filtered axes")
    else:
        origins = [as_index(origin, "origin")] * n
    if not any(origins):
        return geometry
    if not (isinstance(padding, str) and padding.strip().lower() == "same"):
        raise PadlabValueError(
            f"{what}: origin={origin!r} needs padding='same' (got padding={padding!r}); with "
            "other geometries write the shifted padding as explicit (before, after) pairs"
        )
    pads = []
    for axis, ((before, after), o) in enumerate(zip(geometry.pads, origins, strict=True)):
        shift = -o if flip else o
        if not -before <= shift <= after:
            low, high = (-after, before) if flip else (-before, after)
            raise PadlabValueError(
                f"{what}: origin={o} is out of range on filtered axis {axis} (kernel "
                f"{geometry.kernel_shape[axis]} taps, 'same' padding {(before, after)}): "
                f"allowed {low} to {high}"
            )
        pads.append((before + shift, after - shift))
    return Geometry(
        geometry.in_shape,
        geometry.kernel_shape,
        tuple(pads),
        geometry.strides,
        geometry.dilations,
        geometry.out_shape,
    )


def output_argument(
    what: str, out: np.ndarray | None, output: np.ndarray | npt.DTypeLike | None, casting: str
) -> tuple[np.ndarray | None, np.dtype | None]:
    """``out``/``output`` as (array to write into, dtype to cast to); one of them or neither."""
    if not isinstance(casting, str) or casting not in _CASTING:
        raise PadlabValueError(
            f"{what}: casting={casting!r}; allowed: {', '.join(map(repr, _CASTING))}"
        )
    if out is not None and output is not None:
        raise PadlabValueError(
            f"{what}: give out= or output= (scipy.ndimage's name for it), not both"
        )
    given = out if out is not None else output
    if given is None:
        return None, None
    if isinstance(given, np.ndarray):
        if not given.flags.writeable:
            raise PadlabTypeError(f"{what}: out= is read-only (shape {given.shape})")
        return given, None
    if out is not None:
        raise PadlabTypeError(
            f"{what}: out= must be a numpy array, got {type(out).__name__}; to choose only "
            "the dtype, pass output=dtype"
        )
    try:
        return None, np.dtype(given)
    except TypeError:
        raise PadlabTypeError(
            f"{what}: output= must be an array or a dtype, got {type(given).__name__} {given!r}"
        ) from None


_CASTING = ("no", "equiv", "safe", "same_kind", "unsafe")


def check_output(
    what: str,
    out: np.ndarray | None,
    shape: tuple[int, ...],
    dtype: np.dtype,
    casting: object,
    cast: np.dtype | None = None,
) -> None:
    """Raise unless the result (``shape``, ``dtype``) can go into ``out`` or be cast to ``cast``."""
    if out is not None and out.shape != shape:
        raise PadlabValueError(
            f"{what}: out has shape {out.shape}, but the result has shape {shape}"
        )
    target = out.dtype if out is not None else cast
    if target is not None and not np.can_cast(dtype, target, casting=casting):  # type: ignore[arg-type]
        raise PadlabTypeError(
            f"{what}: cannot write the {dtype} result into {target} with "
            f"casting={casting!r}; use a float dtype, or casting='unsafe' for integers"
        )


def _direct_view(
    out: np.ndarray,
    order: tuple[int, ...],
    batch: int,
    geometry: Geometry,
    dtype: np.dtype,
    image: np.ndarray,
) -> np.ndarray | None:
    """``out`` as the engines' (B, *out_spatial) C-contiguous array, if it is one without a copy."""
    if out.dtype != dtype or not out.flags.aligned or np.may_share_memory(out, image):
        return None
    moved = np.moveaxis(out, order, tuple(range(out.ndim)))
    if not moved.flags.c_contiguous:
        return None
    return moved.reshape((batch, *geometry.out_shape))  # a view: moved is C-contiguous


def rules_per_axis(mode: object, n_axes: int) -> tuple[Rule, ...]:
    if isinstance(mode, str | Rule) or not isinstance(mode, Sequence):
        return (resolve_mode(mode),) * n_axes
    modes = list(mode)
    if len(modes) != n_axes:
        raise PadlabValueError(
            f"mode has {len(modes)} entries ({modes!r}) but there are {n_axes} spatial axes"
        )
    return tuple(resolve_mode(m) for m in modes)


def _virtual(
    rules: tuple[Rule, ...], dtype: np.dtype, value: object
) -> tuple[tuple[int, ...], float] | None:
    """The engine codes and fill value when every rule stays virtual (index, constant and
    partial rules agreeing on the fill), else None: the image must be padded first.

    Remembered by rule name, dtype and value (a value that cannot be a key is decided anew).
    """
    names = tuple(r.name for r in rules)
    try:
        return _virtual_by_name(names, dtype, value)
    except TypeError:
        return _virtual_by_name.__wrapped__(names, dtype, value)


@lru_cache(maxsize=256, typed=True)
def _virtual_by_name(
    names: tuple[str, ...], dtype: np.dtype, value: object
) -> tuple[tuple[int, ...], float] | None:
    rules = tuple(resolve_mode(name) for name in names)
    fill = fill_value(value, dtype, "value") if any(r.name == "constant" for r in rules) else 0
    fills = {
        fill if r.name == "constant" else 0 for r in rules if r.kind in ("constant", "partial")
    }
    if not (all(r.kind in ("constant", "index", "partial") for r in rules) and len(fills) <= 1):
        return None
    return tuple(INDEX_CODES[r.name] for r in rules), float(fills.pop() if fills else 0)


def prepare(
    batch: np.ndarray,
    weights: np.ndarray,
    geometry: Geometry,
    rules: tuple[Rule, ...],
    *,
    value: float = 0,
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
) -> Problem:
    """Turn a batched filtering task into an engine :class:`Problem`.

    Index and constant rules (and partial) stay virtual: the engine reads through index
    tables. The arithmetic rules (odd reflections, ramps, statistics), and constant rules that
    disagree on the fill value between axes, are padded here with :func:`padlab.pad` and reach
    the engine as a 'valid' problem.
    """
    virtual = _virtual(rules, batch.dtype, value)
    if virtual is not None:
        return Problem(batch, weights, geometry, *virtual)
    used = {opt for r in rules for opt in r.options}
    padded = pad(
        batch,
        geometry.pads,
        ["zeros" if r.kind == "partial" else r.name for r in rules],
        axes=tuple(range(1, batch.ndim)),
        value=value if "value" in used else 0,
        stat_length=stat_length if "stat_length" in used else None,
        end_values=end_values if "end_values" in used else 0,
    )
    valid = Geometry(
        padded.shape[1:],
        geometry.kernel_shape,
        ((0, 0),) * len(rules),
        geometry.strides,
        geometry.dilations,
        geometry.out_shape,
    )
    return Problem(padded, weights, valid, (CONSTANT,) * len(rules), 0.0)


def run_problem(
    batch: np.ndarray,
    weights: np.ndarray,
    geometry: Geometry,
    rules: tuple[Rule, ...],
    *,
    value: float = 0,
    method: str = "auto",
    stat_length: StatLength = None,
    end_values: complex | Sequence[complex] = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate every array of ``batch`` (B, *spatial) with ``weights``; the engines' door.

    ``out``, if given, is a C-contiguous array of the result's shape and dtype that the
    engine writes into (and that is returned).
    """
    if method not in METHODS:
        raise PadlabValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if method == "reference":
        result = correlate_reference(
            batch,
            weights,
            geometry,
            rules,
            value=value,
            stat_length=stat_length,
            end_values=end_values,
        )
        if out is None:
            return result
        out[...] = result
        return out
    from padlab.engine import choose  # numba: import on first use
    from padlab.ops.warmup import ensure

    ensure()  # the first call on a machine compiles every kernel, saying so
    problem = prepare(
        batch, weights, geometry, rules, value=value, stat_length=stat_length, end_values=end_values
    )
    result = choose.run(problem, method, out)
    if out is not None and result.ctypes.data != out.ctypes.data:
        out[...] = result  # an engine that does not write into ``out`` yet
        result = out
    return scale_partial(result, geometry, rules)


def scale_partial(result: np.ndarray, geometry: Geometry, rules: tuple[Rule, ...]) -> np.ndarray:
    """``result`` (the engines' sum, the padding read as zeros) scaled in place for the
    ``partial`` axes among ``rules``; unchanged if there is none.

    The scale is the size of the output, so it is made for each call, never kept.
    """
    partial = tuple(r.kind == "partial" for r in rules)
    if any(partial):
        result *= partial_scale(geometry, partial, result.dtype)
    return result
