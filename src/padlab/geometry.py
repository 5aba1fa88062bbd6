"""Geometry: how big the output is and how much padding each side gets.

This is the one place where ``padding=`` ('valid', 'same', 'full', an int or explicit pairs),
``stride=``, ``dilation=`` and the 'same' convention become explicit ``(before, after)`` pairs and
an output shape. The padding *rule* (``mode=``) is a separate question, answered by
:mod:`padlab.modes`.

Conventions for 'same'
----------------------
With an even kernel, or a stride, the padding cannot be split evenly, and libraries disagree
about where the extra sample goes:

- ``"tf"`` (the default; also ``"after"``, ``"same_upper"``, ``"torch"``, ``"keras"``,
  ``"onnx"``): the extra sample goes *after* (bottom/right). TensorFlow, Keras, JAX, ONNX
  ``SAME_UPPER`` and torch ``padding='same'`` (stride 1) do this.
- ``"scipy"`` (also ``"before"``, ``"same_lower"``, ``"ndimage"``, ``"opencv"``, ``"cv2"``):
  the extra sample goes *before* (top/left). scipy.ndimage, OpenCV's default anchor and ONNX
  ``SAME_LOWER`` do this.

With stride ``s`` the 'same' output has ``ceil(n / s)`` samples and the total padding is
``max((out - 1) * s + (k - 1) * d + 1 - n, 0)``, split as the convention says (TensorFlow's
formula). For a convolution (flipped kernel) the split is mirrored, so that 'same' keeps the same
kernel tap over each output sample: ``convolve(..., convention="scipy")`` reproduces
``scipy.ndimage.convolve`` and ``convention="tf"`` reproduces ``numpy.convolve(..., 'same')`` and
``scipy.signal.convolve(..., 'same')``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from padlab._memo import remember
from padlab._validate import as_index, normalize_widths
from padlab.errors import PadlabTypeError, PadlabValueError

__all__ = [
    "CONVENTIONS",
    "Convention",
    "ConventionName",
    "Geometry",
    "Padding",
    "PaddingName",
    "interior_range",
    "output_shape",
    "partial_scale",
    "resolve_convention",
    "same_padding",
]

#: Accepted spellings of the two 'same' conventions.
CONVENTIONS = {
    "tf": "tf",
    "after": "tf",
    "same_upper": "tf",
    "torch": "tf",
    "keras": "tf",
    "onnx": "tf",
    "tensorflow": "tf",
    "jax": "tf",
    "scipy": "scipy",
    "before": "scipy",
    "same_lower": "scipy",
    "ndimage": "scipy",
    "opencv": "scipy",
    "cv2": "scipy",
}

#: The named geometries, for type checkers (a test keeps it equal to the accepted words).
PaddingName = Literal["valid", "same", "full"]
_PADDING_WORDS = ("valid", "same", "full")
#: A geometry as callers write it: a name, an int for every side, one int per axis, or one
#: ``(before, after)`` pair per axis.
Padding = PaddingName | str | int | Sequence[int] | Sequence[Sequence[int]]
#: The canonical 'same' conventions; :data:`CONVENTIONS` lists every accepted spelling.
ConventionName = Literal["tf", "scipy"]
Convention = ConventionName | str


def resolve_convention(convention: object) -> str:
    """``"tf"`` or ``"scipy"`` for any accepted spelling (case-insensitive).

    Examples
    --------
    >>> resolve_convention("SAME_LOWER")
    'scipy'
    >>> resolve_convention("torch")
    'tf'
    """
    if not isinstance(convention, str):
        raise PadlabTypeError(
            f"convention must be a str, got {type(convention).__name__} {convention!r}"
        )
    try:
        return CONVENTIONS[convention.strip().lower()]
    except KeyError:
        raise PadlabValueError(
            f"unknown 'same' convention {convention!r}; allowed: 'tf' (extra padding after: "
            "TensorFlow, Keras, ONNX SAME_UPPER, torch padding='same') or 'scipy' (extra "
            "padding before: scipy.ndimage, OpenCV, ONNX SAME_LOWER); also "
            f"{', '.join(sorted(k for k in CONVENTIONS if k not in ('tf', 'scipy')))}"
        ) from None


def _same_pair(n: int, k: int, s: int, d: int, convention: str, flip: bool) -> tuple[int, int]:
    out = -(-n // s)  # ceil(n / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    small, large = total // 2, total - total // 2
    before, after = (small, large) if convention == "tf" else (large, small)
    return (after, before) if flip else (before, after)


def _per_axis(value: object, n_axes: int, name: str, minimum: int) -> tuple[int, ...]:
    items = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    if items is None:
        items = [value] * n_axes
    elif len(items) != n_axes:
        raise PadlabValueError(
            f"{name}={value!r} has {len(items)} entries but there are {n_axes} spatial axes"
        )
    out = tuple(as_index(v, name) for v in items)
    for v in out:
        if v < minimum:
            raise PadlabValueError(f"{name} must be at least {minimum}, got {value!r}")
    return out


@dataclass(frozen=True)
class Geometry:
    """Explicit geometry of one correlation: everything the engines need about shapes.

    Attributes
    ----------
    in_shape, kernel_shape : tuple of int
        Spatial shapes of the input and the kernel.
    pads : tuple of (int, int)
        Padding before and after, per spatial axis.
    strides, dilations : tuple of int
    out_shape : tuple of int
        Spatial output shape.
    """

    in_shape: tuple[int, ...]
    kernel_shape: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def extents(self) -> tuple[int, ...]:
        """Span of the dilated kernel on each axis: ``(k - 1) * d + 1``."""
        return tuple(
            (k - 1) * d + 1 for k, d in zip(self.kernel_shape, self.dilations, strict=True)
        )

    def interior(self) -> tuple[tuple[int, int], ...]:
        """Per axis, the ``[lo, hi)`` range of outputs whose window reads no padding.

        See :func:`interior_range`.

        Examples
        --------
        >>> Geometry.resolve((6, 8), (3, 5), "same").interior()
        ((1, 5), (2, 6))
        """
        return tuple(
            interior_range(n, b, k, s, d, o)
            for n, (b, _), k, s, d, o in zip(
                self.in_shape,
                self.pads,
                self.kernel_shape,
                self.strides,
                self.dilations,
                self.out_shape,
                strict=True,
            )
        )

    @classmethod
    def resolve(
        cls,
        in_shape: Sequence[int],
        kernel_shape: Sequence[int],
        padding: object = "same",
        stride: object = 1,
        dilation: object = 1,
        convention: object = "tf",
        *,
        flip: bool = False,
    ) -> Geometry:
        """Normalise and check ``padding``, ``stride``, ``dilation`` for one input and kernel.

        ``flip=True`` is for convolutions: 'same' padding is mirrored so the same kernel tap
        stays over each output sample.

        Examples
        --------
        >>> g = Geometry.resolve((224, 224), (3, 3), "same", stride=2)
        >>> g.pads, g.out_shape
        (((0, 1), (0, 1)), (112, 112))
        >>> Geometry.resolve((224,), (3,), "valid").out_shape
        (222,)
        """
        plain = (
            tuple(in_shape),
            tuple(kernel_shape),
            _plain(padding),
            _plain(stride),
            _plain(dilation),
            convention,
            flip,
        )
        try:
            key = tuple(cache_key(v) for v in plain)
            hit = _RESOLVED.get(key)
        except TypeError:  # an unhashable argument (an unusual type): resolve without the cache
            return _resolve(*plain)
        if hit is None:
            hit = _resolve(*plain)
            remember(_RESOLVED, key, hit, 1024)
        return hit


_RESOLVED: dict[tuple, Geometry] = {}


def _plain(value: object) -> object:
    """Lists and arrays as tuples."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


def cache_key(value: object) -> object:
    """A key for remembering the result of checking ``value``: equal only for values of the
    same types (``True`` and ``1``, or ``1.0`` and ``1``, are equal in Python but one of them
    may be refused). Raises TypeError for values that cannot be a key (arrays, unhashables).

    Examples
    --------
    >>> cache_key((1, 2)) == cache_key((1, 2)), cache_key(1) == cache_key(True)
    (True, False)
    """
    if isinstance(value, list | tuple):
        return (type(value), tuple(cache_key(v) for v in value))
    if isinstance(value, np.ndarray):
        raise TypeError("an array is not a key")
    hash(value)
    return (type(value), value)


def _resolve(
    in_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    padding: object,
    stride: object,
    dilation: object,
    convention: object,
    flip: bool,
) -> Geometry:
    n_axes = len(kernel_shape)
    if len(in_shape) != n_axes:
        raise PadlabValueError(
            f"input size {in_shape} and kernel size {kernel_shape} have different numbers of axes"
        )
    for name, shape in (("input size", in_shape), ("kernel size", kernel_shape)):
        if any(n < 1 for n in shape):
            raise PadlabValueError(f"{name} must be at least 1 on every axis, got {shape}")
    strides = _per_axis(stride, n_axes, "stride", 1)
    dilations = _per_axis(dilation, n_axes, "dilation", 1)
    conv = resolve_convention(convention)
    pads = _resolve_pads(padding, in_shape, kernel_shape, strides, dilations, conv, flip)
    out = []
    for n, k, (b, a), s, d in zip(in_shape, kernel_shape, pads, strides, dilations, strict=True):
        span = (k - 1) * d + 1
        if n + b + a < span:
            raise PadlabValueError(
                f"the kernel {kernel_shape} (span {_spans(kernel_shape, dilations)} with "
                f"dilation {dilations}) is larger than the input {in_shape} padded by "
                f"{pads} (padding={padding!r}); use padding='same' or 'full', more "
                "padding, or a smaller kernel"
            )
        out.append((n + b + a - span) // s + 1)
    return Geometry(in_shape, kernel_shape, pads, strides, dilations, tuple(out))


def _spans(kernel_shape: tuple[int, ...], dilations: tuple[int, ...]) -> tuple[int, ...]:
    return tuple((k - 1) * d + 1 for k, d in zip(kernel_shape, dilations, strict=True))


def _resolve_pads(
    padding: object,
    in_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    convention: str,
    flip: bool,
) -> tuple[tuple[int, int], ...]:
    n_axes = len(kernel_shape)
    if isinstance(padding, str):
        word = padding.strip().lower()
        if word == "valid":
            return ((0, 0),) * n_axes
        if word == "full":
            return tuple(((k - 1) * d,) * 2 for k, d in zip(kernel_shape, dilations, strict=True))
        if word == "same":
            return tuple(
                _same_pair(n, k, s, d, convention, flip)
                for n, k, s, d in zip(in_shape, kernel_shape, strides, dilations, strict=True)
            )
        raise PadlabValueError(
            f"unknown padding {padding!r}; allowed: 'valid', 'same', 'full', an int, or "
            "explicit (before, after) pairs per spatial axis"
        )
    if (
        n_axes == 2
        and isinstance(padding, Sequence)
        and len(padding) == 2
        and all(not isinstance(p, Sequence) for p in padding)
        and padding[0] != padding[1]
    ):
        raise PadlabValueError(
            f"padding={tuple(padding)!r} is ambiguous for 2 spatial axes: numpy reads it as "
            "(before, after) on every axis, torch as (height, width). Write "
            f"(({padding[0]}, {padding[1]}), ({padding[0]}, {padding[1]})) or "
            f"(({padding[0]}, {padding[0]}), ({padding[1]}, {padding[1]}))"
        )
    return normalize_widths(padding, n_axes)


def same_padding(
    size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    *,
    convolve: bool = False,
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The explicit ``(before, after)`` padding that 'same' uses.

    Parameters
    ----------
    size, kernel_size : int or sequence of int
        Input and kernel sizes (one per spatial axis, or an int for one axis).
    stride, dilation : int or sequence of int
    convention : str
        ``"tf"`` (extra sample after) or ``"scipy"`` (extra sample before); see
        :mod:`padlab.geometry`.
    convolve : bool
        Mirror the split, as :func:`padlab.convolve` does.

    Returns
    -------
    (int, int) or tuple of (int, int)
        One pair for int arguments, one pair per axis otherwise.

    Examples
    --------
    >>> from padlab import same_padding
    >>> same_padding(224, 3, stride=2)           # TensorFlow: extra row at the bottom
    (0, 1)
    >>> same_padding(224, 7, stride=2)
    (2, 3)
    >>> same_padding(10, 4, convention="scipy")  # scipy.ndimage: extra sample before
    (2, 1)
    >>> same_padding((5, 6), (3, 3), stride=2)
    ((1, 1), (0, 1))
    """
    scalar = not isinstance(size, Sequence)
    sizes = (size,) if scalar else tuple(size)  # type: ignore[arg-type]
    kernel = _per_axis(kernel_size, len(sizes), "kernel_size", 1)
    geometry = Geometry.resolve(
        tuple(as_index(n, "size") for n in sizes),
        kernel,
        "same",
        stride,
        dilation,
        convention,
        flip=convolve,
    )
    return geometry.pads[0] if scalar else geometry.pads


def output_shape(
    size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    padding: Padding = "same",
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
) -> int | tuple[int, ...]:
    """The spatial output shape of a correlation or convolution.

    Parameters
    ----------
    size, kernel_size : int or sequence of int
    padding : 'valid', 'same', 'full', int or pairs
    stride, dilation : int or sequence of int
    convention : str
        Only matters for 'same', and only for where padding goes, never for the size.

    Returns
    -------
    int or tuple of int

    Examples
    --------
    >>> from padlab import output_shape
    >>> output_shape((224, 224), 3, "valid")
    (222, 222)
    >>> output_shape(224, 3, "same", stride=2)
    112
    >>> output_shape(225, 7, 3, stride=2)
    113
    >>> output_shape(5, 3, "full", dilation=2)
    9
    """
    scalar = not isinstance(size, Sequence)
    sizes = (size,) if scalar else tuple(size)  # type: ignore[arg-type]
    kernel = _per_axis(kernel_size, len(sizes), "kernel_size", 1)
    geometry = Geometry.resolve(
        tuple(as_index(n, "size") for n in sizes), kernel, padding, stride, dilation, convention
    )
    return geometry.out_shape[0] if scalar else geometry.out_shape


def interior_range(
    size: int, before: int, kernel: int, stride: int, dilation: int, out: int
) -> tuple[int, int]:
    """The outputs ``[lo, hi)`` along one axis whose window reads only real samples.

    Output ``o`` reads input positions ``o * stride + t * dilation - before`` for taps
    ``t = 0 .. kernel - 1``; it reads no padding when the first is at least 0 and the last at
    most ``size - 1``. Outputs before ``lo`` or from ``hi`` on read padding (``lo == hi`` when
    every output does). Plain integer arithmetic, so an engine may compile it (numba) as is.

    Parameters
    ----------
    size : int
        Input length along the axis.
    before : int
        Padding before the input.
    kernel, stride, dilation : int
        Kernel length, stride and dilation along the axis.
    out : int
        Output length along the axis (:attr:`Geometry.out_shape`).

    Returns
    -------
    (int, int)
        ``lo <= hi``, both in ``[0, out]``.

    Examples
    --------
    >>> interior_range(10, 1, 3, 1, 1, 10)      # 'same', 3 taps: the first and last read padding
    (1, 9)
    >>> interior_range(224, 0, 3, 2, 1, 112)    # TensorFlow 'same' at stride 2: pads (0, 1)
    (0, 111)
    >>> interior_range(4, 4, 9, 1, 1, 4)        # a kernel wider than the input
    (4, 4)
    """
    lo = min(-(-before // stride), out)
    hi = max(min((size - 1 + before - (kernel - 1) * dilation) // stride + 1, out), lo)
    return lo, hi


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
