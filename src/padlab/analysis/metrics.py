"""Measurements of what a padding rule did to a filtered image.

All of them filter with 'same' padding and stride 1, and speak of the *border band*: the samples
whose window reaches beyond the image, i.e. within ``r`` of an edge, where ``r`` is the larger
side of the kernel's 'same' padding (1 for 3x3). Colour images are measured over all channels
together, with bands taken over the spatial axes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from padlab._validate import as_numeric_array
from padlab.errors import PadlabValueError
from padlab.geometry import same_padding
from padlab.modes.padding import pad
from padlab.modes.registry import resolve_mode
from padlab.ops.filtering import correlate

__all__ = [
    "BorderProfile",
    "ContextError",
    "DistributionShift",
    "FalseEdges",
    "band_width",
    "border_distance",
    "border_profile",
    "context_error",
    "distribution_shift",
    "equivariance_error",
    "false_edge_energy",
    "release_caches",
]


def band_width(kernel_shape: tuple[int, ...], dilation: int = 1, convention: str = "tf") -> int:
    """How far from the edge a 'same' correlation reads padding: the larger side of the pads.

    Examples
    --------
    >>> band_width((3, 3)), band_width((4, 4)), band_width((5, 1))
    (1, 2, 2)
    """
    pairs = same_padding(
        tuple(max(k, 1) * 4 for k in kernel_shape), tuple(kernel_shape), 1, dilation, convention
    )
    return max(max(pair) for pair in cast("tuple[tuple[int, int], ...]", pairs))


def border_distance(shape: tuple[int, ...]) -> np.ndarray:
    """Distance of every sample to the nearest edge (0 on the edge), over all given axes.

    Examples
    --------
    >>> border_distance((3, 5))
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    return _distance(tuple(int(n) for n in shape)).astype(np.int64)


@functools.lru_cache(maxsize=2)
def _distance(shape: tuple[int, ...]) -> np.ndarray:
    """:func:`border_distance`, computed once per shape (read-only): every measurement of a
    comparison asks for the same one.
    """
    distance = np.full(shape, np.iinfo(np.int32).max, dtype=np.int32)
    for axis, n in enumerate(shape):
        line = np.minimum(np.arange(n), n - 1 - np.arange(n)).astype(np.int32)
        view = [1] * len(shape)
        view[axis] = n
        distance = np.minimum(distance, line.reshape(view))
    distance.flags.writeable = False
    return distance


def split_channels(image: object, kernel: object) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Float image, float kernel, and the channel axis (last) if the image has one.

    Examples
    --------
    >>> x, w, channel_axis = split_channels(np.zeros((4, 4, 3), np.uint8), np.ones((3, 3)))
    >>> x.dtype, channel_axis
    (dtype('float64'), -1)
    """
    x = as_numeric_array(image, "image")
    w = as_numeric_array(kernel, "kernel").astype(np.float64)
    if x.dtype.kind in "ub":
        from padlab.io.images import to_float

        x = to_float(x)
    x = x.astype(np.float64, copy=False)  # read only here: a float64 image is not copied
    if x.ndim == w.ndim:
        return x, w, None
    if x.ndim == w.ndim + 1:
        return x, w, -1
    raise PadlabValueError(
        f"image {x.shape} and kernel {w.shape}: the image needs the kernel's dimensions, "
        "plus one channel axis at the end for colour"
    )


def _spatial(x: np.ndarray, channel_axis: int | None) -> tuple[int, ...]:
    return x.shape if channel_axis is None else x.shape[:-1]


def _band(x: np.ndarray, channel_axis: int | None, width: int) -> np.ndarray:
    """Border band mask over the spatial axes, broadcast over channels."""
    band = _distance(_spatial(x, channel_axis)) < width
    return band if channel_axis is None else np.broadcast_to(band[..., None], x.shape)


def _filter(x, w, mode, channel_axis, value=0.0, depth=1):
    for _ in range(depth):
        x = correlate(
            x,
            w,
            mode=mode,
            value=value if resolve_mode(mode).name == "constant" else 0,
            channel_axis=channel_axis,
            method="direct",
        )
    return x


def _settle(values: np.ndarray, x: np.ndarray, w: np.ndarray, depth: int = 1) -> np.ndarray:
    """Round to 12 significant digits of the largest possible response, ``max|x| (sum|w|)**depth``.

    The engine adds a border output's products in a different order than an interior output's,
    so equal sums can differ in the last bits (1e-16). Rounding removes that noise before values
    are compared (a KS test would count it as a difference); nothing a padding rule does is that
    small.
    """
    scale = float(np.abs(x).max()) * float(np.abs(w).sum()) ** depth
    if not np.isfinite(scale) or scale == 0:
        return values
    settled = values / scale
    np.round(settled, 12, out=settled)
    settled *= scale
    return settled


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else 0.0


@dataclass(frozen=True)
class ContextError:
    """Error against the true context; see :func:`context_error`.

    Attributes
    ----------
    rmse, max_abs : float
        RMS and largest absolute error in the border band.
    relative_rmse, relative_max : float
        The same, over the RMS of the true response on the whole window.
    by_distance : ndarray
        RMS error at distance 0, 1, ... from the window's edge (one entry per band row).
    band : int
        Band width: ``depth * r``.
    interior_max_abs : float
        Largest error beyond the band: 0 by construction (a check, not a result).
    error : ndarray
        The error map (filtered window minus truth), for figures.
    """

    rmse: float
    max_abs: float
    relative_rmse: float
    relative_max: float
    by_distance: np.ndarray
    band: int
    interior_max_abs: float
    error: np.ndarray = field(repr=False)


def context_error(
    image: object, kernel: object, mode: str = "zeros", *, depth: int = 1, value: float = 0
) -> ContextError:
    """Error of a padding rule against the true context, which a larger image provides.

    An inner window is cut from the image with a margin ``m = depth * r``. The truth is the
    image filtered ``depth`` times (with any rule: the margin keeps its borders away) and cut to
    the same window; the test is the window filtered ``depth`` times with ``mode``. Their
    difference lives in a band ``m`` wide along the window's edge; outside it both read the same
    real pixels (and the engine adds their products in the same order, so the interior error is
    exactly 0). Circular padding of an image periodic over the window is exact up to rounding.

    ``rmse = sqrt(mean(e**2))`` and ``max_abs = max|e|`` over the band, ``relative_*`` divide
    them by ``sqrt(mean(truth**2))`` over the window, ``by_distance[d]`` is the RMS at distance
    ``d`` from the window's edge.

    Parameters
    ----------
    image : array_like
        Grayscale (H, W) or colour (H, W, C), or 1-D/3-D with a matching kernel; uint8 and bool
        are converted to [0, 1] floats. It must be larger than ``4 * depth * r`` on every axis.
    kernel : array_like
    mode : str
        The padding rule.
    depth : int
        How many times the filter is stacked (a CNN-like depth); the band is ``depth`` times
        wider.
    value : float
        The constant of ``mode='constant'``.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import context_error
    >>> x = (np.arange(14.0) - 1) % 4  # the window x[1:13] holds 3 whole periods
    >>> context_error(x, np.ones(3), "circular").rmse
    0.0
    >>> round(context_error(x, np.ones(3), "zeros").rmse, 4)
    2.1213
    """
    x, w, channel_axis = split_channels(image, kernel)
    if depth < 1:
        raise PadlabValueError(f"depth must be at least 1, got {depth}")
    r = band_width(w.shape)
    margin = depth * r
    spatial = _spatial(x, channel_axis)
    if any(n <= 4 * margin for n in spatial):
        raise PadlabValueError(
            f"image {x.shape} is too small for a context window with a margin of {margin} "
            f"(depth {depth} x kernel reach {r}); it needs more than {4 * margin} samples per axis"
        )
    window = tuple(slice(margin, n - margin) for n in spatial)
    truth = _filter(x, w, "reflect", channel_axis, depth=depth)[window]
    test = _filter(x[window], w, mode, channel_axis, value, depth)
    error = _settle(test - truth, x, w, depth)
    band = _band(error, channel_axis, margin)
    distance = _distance(_spatial(error, channel_axis))
    if channel_axis is not None:
        distance = np.broadcast_to(distance[..., None], error.shape)
    scale = _rms(truth) or 1.0
    # a kernel that reads no padding (1x1) has an empty band and no error
    rmse = _rms(error[band])
    max_abs = float(np.abs(error[band]).max()) if band.any() else 0.0
    return ContextError(
        rmse=rmse,
        max_abs=max_abs,
        relative_rmse=rmse / scale,
        relative_max=max_abs / scale,
        by_distance=np.array([_rms(error[distance == d]) for d in range(margin)]),
        band=margin,
        interior_max_abs=float(np.abs(error[~band]).max()) if (~band).any() else 0.0,
        error=error,
    )


@dataclass(frozen=True)
class FalseEdges:
    """Edge response at the border against the interior; see :func:`false_edge_energy`."""

    band_mean_abs: float
    interior_mean_abs: float
    ratio: float


def false_edge_energy(
    image: object, kernel: object, mode: str = "zeros", *, value: float = 0
) -> FalseEdges:
    """Mean absolute response in the border band, and its ratio to the interior's.

    ``ratio = mean|R[band]| / mean|R[interior]|`` for ``R`` the filtered image: above 1, the
    filter fires more at the border than inside (a black frame under zero padding lights up an
    edge filter). A flat interior gives an infinite ratio as soon as the band responds.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import false_edge_energy, get_kernel
    >>> flat = np.full((20, 20), 0.5)
    >>> round(false_edge_energy(flat, get_kernel("sobel-x"), "zeros").band_mean_abs, 4)
    1.0263
    >>> false_edge_energy(flat, get_kernel("sobel-x"), "reflect").band_mean_abs
    0.0
    """
    x, w, channel_axis = split_channels(image, kernel)
    response = np.abs(_settle(_filter(x, w, mode, channel_axis, value), x, w))
    band = _band(response, channel_axis, band_width(w.shape))
    if band.all():
        raise PadlabValueError(f"image {x.shape} has no interior beyond the border band")
    inside = float(response[~band].mean())
    edge = float(response[band].mean()) if band.any() else inside  # 1x1: no band, no false edge
    ratio = edge / inside if inside > 0 else (np.inf if edge > 0 else 1.0)
    return FalseEdges(edge, inside, float(ratio))


@dataclass(frozen=True)
class DistributionShift:
    """How the padding changes value distributions; see :func:`distribution_shift`."""

    ks_border_vs_interior: float
    w1_border_vs_interior: float
    ks_padded_vs_original: float
    w1_padded_vs_original: float
    padding_value: float
    mass_at_value_padded: float
    mass_at_value_original: float


#: pooled values handled per block by :func:`ks_w1`
_KS_BLOCK = 1 << 16


def ks_w1(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and Wasserstein-1 distance, from one sort each.

    With :math:`F_a, F_b` the empirical distribution functions,
    :math:`KS = \\max_x |F_a(x) - F_b(x)|` and :math:`W_1 = \\int |F_a(x) - F_b(x)|\\,dx`.
    The values of ``scipy.stats.ks_2samp(a, b).statistic`` and
    ``scipy.stats.wasserstein_distance(a, b)`` (the tests compare them), without the exact
    p-value scipy computes for samples below 10,000 values, which took 80% of the time.

    Examples
    --------
    >>> ks_w1(np.array([0.0, 1.0]), np.array([0.0, 3.0]))
    (0.5, 1.0)
    """
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = _sorted(np.asarray(b, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise PadlabValueError(f"need two non-empty samples, got sizes {a.size} and {b.size}")
    if np.isnan(a[-1]) or np.isnan(b[-1]):  # sorting puts NaN last; as scipy, NaN in, NaN out
        return float("nan"), float("nan")
    # merge the sorted samples (a before b among equal values): the smaller one's places come
    # from a search in the larger, the larger fills the rest
    n, na, nb = a.size + b.size, a.size, b.size
    values = np.empty(n)
    from_a = np.zeros(n, dtype=bool)
    if na <= nb:
        where = np.arange(na) + np.searchsorted(b, a, "left")
        from_a[where] = True
        values[where] = a
        values[~from_a] = b
    else:
        where = np.arange(nb) + np.searchsorted(a, b, "right")
        from_a[:] = True
        from_a[where] = False
        values[where] = b
        values[from_a] = a
    del where
    # walk the merged values a block at a time (the memory is the pooled sample, not ten
    # temporaries of its size): F_a and F_b at each value from running counts; within a run of
    # equal values the counts are partial, but the step to the next value is 0 there, and the
    # KS statistic is read at the last of each run only
    ks, w1, count_a = 0.0, 0.0, 0
    with np.errstate(invalid="ignore"):  # inf - inf steps: NaN, as scipy's
        for start in range(0, n, _KS_BLOCK):
            block = from_a[start : start + _KS_BLOCK]
            seen_a = count_a + np.cumsum(block)
            seen_b = np.arange(start + 1, start + block.size + 1) - seen_a
            count_a = int(seen_a[-1])
            gap = np.abs(seen_a / na - seen_b / nb)
            v = values[start : start + block.size + 1]
            steps = np.diff(v)
            last = np.ones(block.size, dtype=bool)
            last[: steps.size] = v[:-1] != v[1:]  # not the step: inf - inf is NaN
            if last.any():  # a block inside one run of equal values has no last of a run
                ks = max(ks, float(gap[last].max()))
            w1 += float(np.dot(gap[: steps.size], steps))
    return ks, w1


_SORTED: dict[bytes, np.ndarray] = {}


def release_caches() -> None:
    """Forget the remembered border distances and sorted samples (a few arrays the size of the
    image); :func:`padlab.compare` calls it when it is done.

    Examples
    --------
    >>> release_caches()
    """
    _SORTED.clear()
    _distance.cache_clear()


def _sorted(values: np.ndarray) -> np.ndarray:
    """``np.sort(values)``, remembered for the last two large inputs: a comparison tests every
    rule's border against the same interior (identical values), and sorting a large photo's
    interior costs ten times more than recognising it.
    """
    if values.size < 100_000:
        return np.sort(values)
    values = np.ascontiguousarray(values)
    key = hashlib.blake2b(values.view(np.uint8).data, digest_size=16).digest()
    key += values.size.to_bytes(8, "little")
    found = _SORTED.get(key)
    if found is None:
        found = np.sort(values)
        found.flags.writeable = False
        while len(_SORTED) >= 2:
            _SORTED.pop(next(iter(_SORTED)))
        _SORTED[key] = found
    return found


def distribution_shift(
    image: object,
    kernel: object,
    mode: str = "zeros",
    *,
    value: float = 0,
    pad_width: int | None = None,
) -> DistributionShift:
    """Distribution of the response at the border vs inside, and of the padded vs original image.

    - ``ks_border_vs_interior``, ``w1_border_vs_interior``: two-sample Kolmogorov-Smirnov
      statistic and Wasserstein-1 distance between the filtered values in the border band and
      in the interior;
    - ``ks_padded_vs_original``, ``w1_padded_vs_original``: the same between the image padded
      by ``pad_width`` (default: the kernel's reach ``r``) and the image itself;
    - ``mass_at_value_*``: the share of samples equal to the padding constant (``value`` for
      'constant', 0 otherwise) in the padded and in the original image: the spike at 0 that
      zero padding adds to a photo's histogram.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import distribution_shift
    >>> x = np.full((10, 10), 0.5)
    >>> s = distribution_shift(x, np.ones((3, 3)) / 9, "zeros")
    >>> round(s.mass_at_value_padded, 4), s.mass_at_value_original
    (0.3056, 0.0)
    >>> distribution_shift(x, np.ones((3, 3)) / 9, "reflect").ks_border_vs_interior
    0.0
    """
    x, w, channel_axis = split_channels(image, kernel)
    rule = resolve_mode(mode)
    response = _settle(_filter(x, w, mode, channel_axis, value), x, w)
    band = _band(response, channel_axis, band_width(w.shape))
    if band.all():
        raise PadlabValueError(f"image {x.shape} has no interior beyond the border band")
    edge, inside = response[band].ravel(), response[~band].ravel()
    if edge.size == 0:  # a kernel that reads no padding (1x1): the band is the interior
        edge = inside
    width = band_width(w.shape) if pad_width is None else int(pad_width)
    axes = tuple(range(x.ndim - (channel_axis is not None)))
    padded_rule = "zeros" if rule.kind == "partial" else rule.name
    # 0 is pad's default value: only 'constant' reads it
    padded = pad(x, width, padded_rule, axes=axes, value=value if rule.name == "constant" else 0)
    constant = float(value) if rule.name == "constant" else 0.0
    ks_border, w1_border = ks_w1(edge, inside)
    # the padded image is the image plus the new border B, so F_padded - F_x is
    # m / (n + m) * (F_B - F_x): compare the border alone (a fraction of the memory)
    inner = tuple(slice(width, width + n) for n in _spatial(x, channel_axis))
    outside = np.ones(_spatial(padded, channel_axis), dtype=bool)
    outside[inner] = False
    if channel_axis is not None:
        outside = np.broadcast_to(outside[..., None], padded.shape)
    added = padded[outside]
    if added.size:
        share = added.size / padded.size
        ks_added, w1_added = ks_w1(added, x.ravel())
        ks_padded, w1_padded = share * ks_added, share * w1_added
    else:
        ks_padded, w1_padded = 0.0, 0.0
    return DistributionShift(
        ks_border_vs_interior=ks_border,
        w1_border_vs_interior=w1_border,
        ks_padded_vs_original=ks_padded,
        w1_padded_vs_original=w1_padded,
        padding_value=constant,
        mass_at_value_padded=float(np.mean(padded == constant)),
        mass_at_value_original=float(np.mean(x == constant)),
    )


@dataclass(frozen=True)
class BorderProfile:
    """Statistics of a response by distance to the nearest border; see :func:`border_profile`."""

    distance: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


def border_profile(
    response: object, *, max_distance: int | None = None, channel_axis: int | None = None
) -> BorderProfile:
    """Mean and spread of a response at distance 0, 1, 2, ... from the nearest border.

    Distances at or beyond ``max_distance`` (default: a quarter of the shortest side) are pooled
    into the last entry, the interior.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import border_profile
    >>> p = border_profile(np.pad(np.ones((4, 4)), 1), max_distance=2)
    >>> p.distance.tolist(), p.mean.tolist()
    ([0, 1], [0.0, 1.0])
    """
    values = as_numeric_array(response, "response").astype(np.float64)
    spatial = _spatial(values, channel_axis)
    distance = _distance(tuple(spatial))
    limit = max_distance if max_distance is not None else max(1, min(spatial) // 4)
    distance = np.minimum(distance, limit - 1)
    if channel_axis is not None:
        distance = np.broadcast_to(distance[..., None], values.shape)
    steps = np.arange(limit)
    # one pass per statistic over the whole image (not one per distance): bincount by distance
    index = distance.ravel()
    flat = values.ravel()
    count = np.bincount(index, minlength=limit)[:limit]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(index, weights=flat, minlength=limit)[:limit] / count
        spread = np.bincount(index, weights=np.square(flat - mean[index]), minlength=limit)
        std = np.sqrt(spread[:limit] / count)
    return BorderProfile(distance=steps, mean=mean, std=std, count=count)


def equivariance_error(
    image: object,
    kernel: object,
    mode: str = "zeros",
    *,
    shifts: tuple[tuple[int, ...], ...] | None = None,
    value: float = 0,
) -> float:
    """How far filtering is from commuting with a shift: filter(shift(x)) vs shift(filter(x)).

    A shift by ``s`` drops the first ``s`` samples of an axis (no wrap-around), so both sides
    cover the same region; the error is the RMS of their difference over that region, divided by
    the RMS of ``filter(x)``, averaged over ``shifts`` (default: one sample along each axis and
    (2, 3, ...) diagonally). Away from the borders the two sides agree exactly; the error
    measures how differently the rule treats a border that moved.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import equivariance_error
    >>> x = np.random.default_rng(0).random((32, 32))
    >>> e_zero = equivariance_error(x, np.ones((3, 3)), "zeros")
    >>> e_reflect = equivariance_error(x, np.ones((3, 3)), "reflect")
    >>> bool(e_reflect < e_zero)
    True
    """
    x, w, channel_axis = split_channels(image, kernel)
    spatial = _spatial(x, channel_axis)
    if shifts is None:
        shifts = tuple(tuple(int(a == b) for b in range(len(spatial))) for a in range(len(spatial)))
        shifts += (tuple(2 + a for a in range(len(spatial))),)
    base = _filter(x, w, mode, channel_axis, value)
    scale = _rms(base) or 1.0
    errors = []
    for shift in shifts:
        if len(shift) != len(spatial) or any(
            s < 0 or s >= n // 2 for s, n in zip(shift, spatial, strict=True)
        ):
            raise PadlabValueError(f"shift {shift} does not fit image {x.shape}")
        cut = tuple(slice(s, None) for s in shift)
        moved = _filter(x[cut], w, mode, channel_axis, value)
        errors.append(_rms(moved - base[cut]) / scale)
    return float(np.mean(errors))
