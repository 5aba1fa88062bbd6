"""``correlate`` and ``convolve``: every padding rule and geometry, channels, one dtype policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from padlab._validate import as_index, as_numeric_array, fill_value
from padlab.engine.plan import Problem
from padlab.engine.reference import correlate_reference
from padlab.errors import PadlabValueError
from padlab.geometry import Geometry, partial_scale
from padlab.modes.index import CONSTANT, INDEX_CODES
from padlab.modes.padding import pad
from padlab.modes.registry import Rule, check_rule_options, resolve_mode
from padlab.ops.dtypes import compute_dtype

__all__ = [
    "METHODS",
    "FilterSpec",
    "convolve",
    "correlate",
    "prepare",
    "resolve_filter",
    "run_problem",
]

#: Engines a caller can force with ``method=``.
METHODS = ("auto", "direct", "separable", "fft", "reference")

_SHARED_DOC = """
    Parameters
    ----------
    image : array_like
        1, 2 or 3 spatial dimensions, plus one channel axis if ``channel_axis`` is given.
    kernel : array_like
        One dimension per spatial axis of ``image``; any size, odd or even, also larger than
        the image.
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
        the same kernel.
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
        float32 for float32, float16, bool and up-to-16-bit integer images, float64 otherwise
        (see :mod:`padlab.ops.dtypes`): never rounded back to the input's integer type, so a
        uint8 photo keeps its negative Laplacian responses.

    Raises
    ------
    PadlabValueError
        Empty arrays, a kernel larger than the padded input ('valid'), stride or dilation
        below 1, unknown rules or conventions, a kernel with more dimensions than the image.
    PadlabTypeError
        Complex or non-numeric arrays.
"""


def correlate(
    image: object,
    kernel: object,
    *,
    padding: object = "same",
    mode: str | Sequence[str] = "zeros",
    value: float = 0,
    stride: object = 1,
    dilation: object = 1,
    convention: str = "tf",
    channel_axis: int | None = None,
    method: str = "auto",
    stat_length: object = None,
    end_values: object = 0,
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
    """
    return _filter(image, kernel, locals(), flip=False)


def convolve(
    image: object,
    kernel: object,
    *,
    padding: object = "same",
    mode: str | Sequence[str] = "zeros",
    value: float = 0,
    stride: object = 1,
    dilation: object = 1,
    convention: str = "tf",
    channel_axis: int | None = None,
    method: str = "auto",
    stat_length: object = None,
    end_values: object = 0,
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
    """
    return _filter(image, kernel, locals(), flip=True)


correlate.__doc__ = (correlate.__doc__ or "").replace("{shared}", _SHARED_DOC)
convolve.__doc__ = (convolve.__doc__ or "").replace("{shared}", _SHARED_DOC)


def _filter(image: object, kernel: object, args: dict[str, object], *, flip: bool) -> np.ndarray:
    x = as_numeric_array(image, "image")
    spec = resolve_filter(x.shape, x.dtype, kernel, args, flip=flip)
    batch = x[None] if spec.channel_axis is None else np.moveaxis(x, spec.channel_axis, 0)
    result = run_problem(
        np.ascontiguousarray(batch, dtype=spec.dtype),
        np.ascontiguousarray(spec.weights),
        spec.geometry,
        spec.rules,
        value=args["value"],
        method=args["method"],
        stat_length=args["stat_length"],
        end_values=args["end_values"],
    )
    if spec.channel_axis is None:
        return result[0]
    return np.moveaxis(result, 0, spec.channel_axis)


@dataclass(frozen=True)
class FilterSpec:
    """A checked filtering task: what :func:`resolve_filter` returns.

    Attributes
    ----------
    dtype : numpy.dtype
        The compute (and output) dtype.
    weights : ndarray
        The kernel in ``dtype``, already flipped for a convolution.
    geometry : Geometry
        The spatial geometry (channel axis excluded).
    rules : tuple of Rule
        One rule per spatial axis.
    channel_axis : int or None
        The channel axis as a non-negative index, or None.
    """

    dtype: np.dtype
    weights: np.ndarray
    geometry: Geometry
    rules: tuple[Rule, ...]
    channel_axis: int | None


def resolve_filter(
    shape: tuple[int, ...],
    dtype: np.dtype,
    kernel: object,
    args: dict[str, object],
    *,
    flip: bool,
) -> FilterSpec:
    """Check a :func:`correlate` / :func:`convolve` call for an image of ``shape`` and ``dtype``.

    Reads no sample of the image, so chunked arrays (:mod:`padlab.dask`) refuse bad arguments
    with the same messages before any chunk is read. ``args`` holds the keyword arguments of
    :func:`correlate` (``padding``, ``mode``, ``value``, ``stride``, ``dilation``,
    ``convention``, ``channel_axis``, ``method``, ``stat_length``, ``end_values``).

    Examples
    --------
    >>> spec = resolve_filter((5, 6), np.dtype(np.uint8), np.ones((3, 3)),
    ...                       dict(padding="valid", mode="zeros", value=0, stride=1, dilation=1,
    ...                            convention="tf", channel_axis=None, method="auto",
    ...                            stat_length=None, end_values=0), flip=False)
    >>> spec.dtype, spec.geometry.out_shape
    (dtype('float32'), (3, 4))
    """
    what = "convolve" if flip else "correlate"
    shape = tuple(shape)
    ndim = len(shape)
    w = as_numeric_array(kernel, "kernel")
    channel_axis = args["channel_axis"]
    if not 1 <= w.ndim <= 3:
        raise PadlabValueError(
            f"{what}: the kernel must have 1, 2 or 3 dimensions, got shape {w.shape}"
        )
    expected = w.ndim + (channel_axis is not None)
    if ndim != expected:
        hint = (
            "; for an image with channels pass channel_axis= (e.g. channel_axis=-1 for (H, W, C))"
            if channel_axis is None and ndim == w.ndim + 1
            else ""
        )
        raise PadlabValueError(
            f"{what}: image {shape} and kernel {w.shape} do not match: the image needs "
            f"{expected} dimensions ({w.ndim} spatial"
            f"{' + 1 channel axis' if channel_axis is not None else ''}){hint}"
        )
    if channel_axis is None:
        spatial = shape
        axis = None
    else:
        axis = as_index(channel_axis, "channel_axis")
        if not -ndim <= axis < ndim:
            raise PadlabValueError(
                f"{what}: channel_axis={axis} is out of range for an image of shape {shape}"
            )
        axis %= ndim
        spatial = shape[:axis] + shape[axis + 1 :]
    if 0 in shape or w.size == 0:
        raise PadlabValueError(
            f"{what}: cannot filter an empty array: image {shape}, kernel {w.shape}"
        )
    out_dtype = compute_dtype(np.dtype(dtype), "image")
    compute_dtype(w.dtype, "kernel")  # refuses complex kernels
    weights = w.astype(out_dtype)
    if flip:
        weights = weights[(slice(None, None, -1),) * w.ndim]
    geometry = Geometry.resolve(
        spatial,
        weights.shape,
        args["padding"],
        args["stride"],
        args["dilation"],
        args["convention"],
        flip=flip,
    )
    rules = _rules(args["mode"], w.ndim)
    check_rule_options(
        rules, value=args["value"], stat_length=args["stat_length"], end_values=args["end_values"]
    )
    if args["method"] not in METHODS:
        raise PadlabValueError(f"unknown method {args['method']!r}; allowed: {', '.join(METHODS)}")
    return FilterSpec(out_dtype, weights, geometry, rules, axis)


def _rules(mode: object, n_axes: int) -> tuple[Rule, ...]:
    if isinstance(mode, str | Rule) or not isinstance(mode, Sequence):
        return (resolve_mode(mode),) * n_axes
    modes = list(mode)
    if len(modes) != n_axes:
        raise PadlabValueError(
            f"mode has {len(modes)} entries ({modes!r}) but there are {n_axes} spatial axes"
        )
    return tuple(resolve_mode(m) for m in modes)


def prepare(
    batch: np.ndarray,
    weights: np.ndarray,
    geometry: Geometry,
    rules: tuple[Rule, ...],
    *,
    value: object = 0,
    stat_length: object = None,
    end_values: object = 0,
) -> Problem:
    """Turn a batched filtering task into an engine :class:`Problem`.

    Index and constant rules (and partial) stay virtual: the engine reads through index
    tables. The arithmetic rules (odd reflections, ramps, statistics), and constant rules that
    disagree on the fill value between axes, are padded here with :func:`padlab.pad` and reach
    the engine as a 'valid' problem.
    """
    dtype = batch.dtype
    fill = fill_value(value, dtype, "value") if any(r.name == "constant" for r in rules) else 0
    fills = {
        fill if r.name == "constant" else 0 for r in rules if r.kind in ("constant", "partial")
    }
    virtual = all(r.kind in ("constant", "index", "partial") for r in rules) and len(fills) <= 1
    if virtual:
        codes = tuple(INDEX_CODES[r.name] for r in rules)
        return Problem(batch, weights, geometry, codes, float(fills.pop() if fills else 0))
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
    value: object = 0,
    method: str = "auto",
    stat_length: object = None,
    end_values: object = 0,
) -> np.ndarray:
    """Correlate every array of ``batch`` (B, *spatial) with ``weights``; the engines' door."""
    if method not in METHODS:
        raise PadlabValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if method == "reference":
        return np.stack(
            [
                correlate_reference(
                    item,
                    weights,
                    geometry,
                    rules,
                    value=value,
                    stat_length=stat_length,
                    end_values=end_values,
                )
                for item in batch
            ]
        )
    from padlab.engine import choose  # numba: import on first use

    problem = prepare(
        batch, weights, geometry, rules, value=value, stat_length=stat_length, end_values=end_values
    )
    out = choose.run(problem, method)
    partial = tuple(r.kind == "partial" for r in rules)
    if any(partial):
        out *= partial_scale(geometry, partial, out.dtype)
    return out
