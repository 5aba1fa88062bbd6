"""Display mappings: how a signed filter response becomes pixels, chosen on purpose and named.

A sharpened or edge-filtered image has values below 0 and above the white level. Writing it as
uint8 forces a choice; OpenCV makes it silently (saturation), scipy too (wrap-around). padlab
makes it explicit, and every mapping reports what it did:

- ``clip``: negatives become 0 and values above white become white (the classic
  ``negative_to_zero``); good for sharpen and blur, it hides half of an edge response;
- ``abs``: the magnitude, limited to white; good for edge and outline filters;
- ``symmetric``: 0 becomes mid-gray and the largest magnitude black or white; shows the sign;
- ``minmax``: the smallest value becomes black and the largest white.

Colour images are mapped with one scale for all channels, so hues keep their relations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from padlab._validate import as_numeric_array
from padlab.errors import PadlabTypeError, PadlabValueError

__all__ = ["MAPPINGS", "Mapped", "display"]

MAPPINGS = ("clip", "abs", "symmetric", "minmax")


@dataclass(frozen=True)
class Mapped:
    """The result of :func:`display`: pixels in [0, 1] and a sentence on how they were made.

    Attributes
    ----------
    pixels : ndarray of float32 in [0, 1]
    mapping : str
    summary : str
        What the mapping did, e.g. ``"clip: 12.0% of pixels below 0 set to 0"``.
    """

    pixels: np.ndarray
    mapping: str
    summary: str


def display(response: npt.ArrayLike, mapping: str = "clip", *, white: float = 1.0) -> Mapped:
    """Map a (signed) filter response to displayable pixels in [0, 1].

    Parameters
    ----------
    response : array_like
        A filtered image; NaN becomes 0 (and is counted in the summary).
    mapping : {'clip', 'abs', 'symmetric', 'minmax'}
        See :mod:`padlab.io.mapping`.
    white : float
        The value shown as white by 'clip' and 'abs' (1 for images from :func:`to_float`,
        255 for responses computed on raw uint8 pixels).

    Returns
    -------
    Mapped

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import display
    >>> r = np.array([-0.5, 0.0, 0.25, 1.5])
    >>> display(r, "clip").pixels
    array([0.  , 0.  , 0.25, 1.  ], dtype=float32)
    >>> display(r, "clip").summary
    'clip: 25.0% of values below 0 set to 0, 25.0% above 1 set to 1'
    >>> display(r, "symmetric").pixels
    array([0.33333334, 0.5       , 0.5833333 , 1.        ], dtype=float32)
    """
    if mapping not in MAPPINGS:
        raise PadlabValueError(f"unknown mapping {mapping!r}; allowed: {', '.join(MAPPINGS)}")
    if not white > 0:
        raise PadlabValueError(f"white must be positive, got {white!r}")
    values = as_numeric_array(response, "response")
    if values.dtype.kind == "c":
        raise PadlabTypeError(f"cannot display a complex response ({values.dtype}); pass its abs")
    if values.size == 0:
        raise PadlabValueError("cannot display an empty response")
    # the extremes, also to find non-finite values (min and max propagate NaN): two fast passes
    # without a temporary, instead of np.isfinite's image-sized mask
    low, high = float(values.min()), float(values.max())
    finite = np.isfinite(low) and np.isfinite(high)
    values = values.astype(_working_dtype(values, white, mapping, low, high), copy=False)
    notes = []
    if not finite:
        bad = ~np.isfinite(values)
        notes.append(f"{_share(bad)} non-finite values shown as 0")
        values = np.where(bad, 0.0, values)
    if mapping == "clip":
        below = _share(values < 0) if low < 0 or not finite else "0.0%"
        above = _share(values > white) if high > white or not finite else "0.0%"
        pixels = np.clip(values, 0, white)  # in [0, white]: divided by white, in [0, 1]
        if white != 1:
            pixels /= white
        notes.insert(0, f"{below} of values below 0 set to 0, {above} above {white:g} "
                     f"set to {white:g}")  # fmt: skip
    elif mapping == "abs":
        pixels = np.abs(values)
        above = _share(pixels > white) if max(-low, high) > white or not finite else "0.0%"
        np.minimum(pixels, white, out=pixels)
        if white != 1:
            pixels /= white
        notes.insert(0, f"magnitude shown, {above} above {white:g} set to {white:g}")
    elif mapping == "symmetric":
        peak = float(np.abs(values).max())
        pixels = 0.5 + values / (2 * peak) if peak > 0 else np.full(values.shape, 0.5)
        notes.insert(0, f"0 is mid-gray, ±{peak:.4g} black/white")
    else:
        lowest, highest = float(values.min()), float(values.max())
        pixels = (
            (values - lowest) / (highest - lowest) if highest > lowest else np.zeros(values.shape)
        )
        notes.insert(0, f"{lowest:.4g} is black, {highest:.4g} is white")
    if mapping in ("symmetric", "minmax"):  # rounding may step just outside [0, 1]
        pixels = np.clip(pixels, 0, 1)
    return Mapped(pixels.astype(np.float32, copy=False), mapping, f"{mapping}: " + "; ".join(notes))


def _working_dtype(values: np.ndarray, white: float, mapping: str, low: float, high: float) -> type:
    """float32 for float32 responses (half the memory traffic, and plenty for 8- or 16-bit
    pixels) of moderate size, and for 'clip' and 'abs' of any size (no differences that could
    overflow); float64 for everything else, where float32 could round or overflow. ``low``
    and ``high``: the extremes of ``values`` (NaN or infinite if it holds non-finite values).
    """
    if values.dtype != np.float32 or not 1e-30 < white < 1e30:
        return np.float64
    if mapping in ("clip", "abs"):
        return np.float32
    if not (np.isfinite(low) and np.isfinite(high)):  # rare: look past the non-finite values
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return np.float64 if max(-low, high) > 1e30 else np.float32  # differences could overflow


def _share(mask: np.ndarray) -> str:
    return f"{100 * float(np.count_nonzero(mask)) / mask.size:.1f}%"
