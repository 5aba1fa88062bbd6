"""Filtering photos: pixels to float, colour channel by channel, alpha on purpose."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from padlab._validate import as_numeric_array
from padlab.errors import PadlabValueError
from padlab.geometry import Convention, Geometry, Padding, resolve_convention
from padlab.io.images import to_float, to_gray
from padlab.modes.registry import Modes
from padlab.ops.filtering import correlate

__all__ = ["ALPHA", "filter_image"]

ALPHA = ("keep", "drop", "filter")


def filter_image(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    mode: Modes = "zeros",
    padding: Padding = "same",
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    convention: Convention = "tf",
    value: float = 0,
    gray: bool = False,
    alpha: str = "keep",
) -> np.ndarray:
    """Filter a photo the way people expect: in [0, 1] units, every colour channel alike.

    Parameters
    ----------
    image : array_like
        (H, W), (H, W, 3) or (H, W, 4); uint8, uint16 or float in [0, 1].
    kernel : array_like
        A 2-D kernel (see :func:`padlab.parse_kernel` for named ones).
    mode, padding, stride, dilation, convention, value
        As in :func:`padlab.correlate`.
    gray : bool
        Convert colour to grayscale (BT.601 luma) first.
    alpha : {'keep', 'drop', 'filter'}
        For RGBA: 'keep' filters the colour and carries the alpha channel over unchanged (sampled
        at each output's centre tap, so 'valid' and strides stay aligned); 'drop' removes it;
        'filter' filters it like a colour channel.

    Returns
    -------
    ndarray, float32
        The response in units of the image's white level (1.0), signed: map it for display
        with :func:`padlab.display`.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab import filter_image, get_kernel
    >>> photo = np.full((224, 224), 200, dtype=np.uint8)
    >>> filter_image(photo, get_kernel("outline")).shape
    (224, 224)
    >>> filter_image(photo, get_kernel("outline"), padding="valid").shape
    (222, 222)
    """
    if alpha not in ALPHA:
        raise PadlabValueError(f"alpha={alpha!r}; allowed: {', '.join(ALPHA)}")
    pixels = as_numeric_array(image, "image")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))):
        raise PadlabValueError(
            f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {pixels.shape}"
        )
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    has_alpha = pixels.ndim == 3 and pixels.shape[2] == 4
    alpha_channel = to_float(pixels[..., 3]) if has_alpha else None
    if gray:
        pixels = to_gray(pixels)
    elif has_alpha and alpha != "filter":
        pixels = pixels[..., :3]
    values = to_float(pixels)
    w = np.asarray(kernel)
    out = correlate(
        values,
        w,
        channel_axis=-1 if values.ndim == 3 else None,
        mode=mode,
        padding=padding,
        stride=stride,
        dilation=dilation,
        convention=convention,
        value=value,
    )
    if alpha_channel is not None and alpha == "keep":
        carried = _sample_like(alpha_channel, w.shape, padding, stride, dilation, convention)
        out = np.concatenate([out if out.ndim == 3 else out[..., None], carried[..., None]], -1)
    return out


def _sample_like(
    channel: np.ndarray,
    kernel_shape: tuple[int, ...],
    padding: Padding,
    stride: int | Sequence[int],
    dilation: int | Sequence[int],
    convention: Convention,
) -> np.ndarray:
    """The channel at the centre tap of every output window (replicating at the border)."""
    geometry = Geometry.resolve(channel.shape, kernel_shape, padding, stride, dilation, convention)
    tf = resolve_convention(convention) == "tf"
    centre = np.zeros(kernel_shape, dtype=np.float32)
    centre[tuple((k - 1) // 2 if tf else k // 2 for k in kernel_shape)] = 1
    return correlate(
        channel,
        centre,
        mode="replicate",
        padding=geometry.pads,
        stride=stride,
        dilation=dilation,
        method="direct",
    )
