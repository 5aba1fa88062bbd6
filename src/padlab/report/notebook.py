"""Notebook helpers: show an image, or two side by side, with honest scales and clear titles.

These are the classic ``plot_image`` and ``plot_two_images`` of the from-scratch convolution
tutorial, done carefully: grayscale images use a fixed gray scale (not stretched to their own
min and max, which would hide what padding did), signed responses use a diverging colour map
centred on 0 with a colour bar, and titles can state the rule and the geometry.
"""

from __future__ import annotations

import numpy as np

from padlab._validate import as_numeric_array
from padlab.errors import PadlabValueError
from padlab.modes.registry import resolve_mode

__all__ = ["describe_filtering", "show_image", "show_pair"]


def describe_filtering(
    kernel: str,
    mode: str,
    padding: object = "same",
    stride: object = 1,
    in_shape: tuple[int, ...] | None = None,
    out_shape: tuple[int, ...] | None = None,
) -> str:
    """A title that states the kernel, the rule (with its diagram) and the geometry.

    Examples
    --------
    >>> describe_filtering("outline", "reflect", "same", 1, (224, 224), (224, 224))
    'outline, reflect (d c b | a b c d | c b a), same: 224x224 -> 224x224'
    """
    rule = resolve_mode(mode)
    geometry = f"{padding}" + (f", stride {stride}" if stride != 1 else "")
    if in_shape is not None and out_shape is not None:
        geometry += f": {'x'.join(map(str, in_shape[:2]))} -> {'x'.join(map(str, out_shape[:2]))}"
    return f"{kernel}, {rule.name} ({rule.pattern}), {geometry}"


#: percentile of the absolute value at which signed and colour responses are clipped
CLIP = 99.5


def _clip_level(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    if not finite.size:
        return 1.0
    return float(np.percentile(finite, CLIP)) or float(finite.max()) or 1.0


def _draw(ax, image: np.ndarray, title: str | None, signed: bool | None) -> None:
    pixels = as_numeric_array(image, "image")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise PadlabValueError(f"cannot show an array of shape {pixels.shape} as an image")
    if signed is None:
        signed = pixels.dtype.kind == "f" and float(np.nanmin(pixels)) < 0
    note = None
    if pixels.ndim == 3:
        if pixels.dtype.kind == "f":
            low, high = float(np.nanmin(pixels)), float(np.nanmax(pixels))
            if low < 0 or high > 1:  # a colour response: one scale for all channels, stated
                top = _clip_level(pixels[..., :3])
                if low < 0:
                    pixels = np.clip(0.5 + pixels[..., :3] / (2 * top), 0, 1)
                    note = f"0 = mid-gray, ±{top:.3g} black/white (clipped at the {CLIP}th pct)"
                else:
                    pixels = np.clip(pixels[..., :3] / top, 0, 1)
                    note = f"{top:.3g} = full colour (clipped at the {CLIP}th pct)"
        ax.imshow(np.nan_to_num(pixels) if pixels.dtype.kind == "f" else pixels)
    elif signed:
        peak = _clip_level(pixels)
        shown = ax.imshow(pixels, cmap="RdBu_r", vmin=-peak, vmax=peak)
        ax.figure.colorbar(
            shown,
            ax=ax,
            fraction=0.046,
            pad=0.04,
            label=f"response (clipped at ±{peak:.3g}, the {CLIP}th pct of |r|)",
        )
    else:
        kind = pixels.dtype.kind
        if kind == "u":
            vmax = float(np.iinfo(pixels.dtype).max)
        else:
            vmax = max(1.0, float(np.nanmax(pixels)))
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=vmax)
    if note:
        title = f"{title}\n[{note}]" if title else f"[{note}]"
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"{pixels.shape[1]} px")
    ax.set_ylabel(f"{pixels.shape[0]} px")
    ax.set_xticks([])
    ax.set_yticks([])


def show_image(
    image: object,
    title: str | None = None,
    *,
    signed: bool | None = None,
    kernel: str | None = None,
    mode: str | None = None,
    padding: object = "same",
    stride: object = 1,
    in_shape: tuple[int, ...] | None = None,
):
    """Show one image; returns the matplotlib Figure.

    Parameters
    ----------
    image : array_like
        (H, W) or (H, W, 3/4); uint8/uint16 on their full range, floats on [0, 1]. Signed
        responses use a diverging map centred on 0, clipped at the 99.5th percentile of their
        magnitude (the colour bar says where); colour responses keep one scale for all channels.
    title : str, optional
        The title; by default, with ``mode`` given, :func:`describe_filtering` of the kernel,
        rule and geometry.
    signed : bool, optional
        Force (or forbid) the diverging map; by default, float images with negatives use it.
    kernel, mode, padding, stride, in_shape : optional
        What made the image, for the default title.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.report.notebook import show_image
    >>> fig = show_image(np.linspace(-1, 1, 16).reshape(4, 4), "a ramp")
    >>> fig.axes[0].get_title()
    'a ramp'
    >>> fig = show_image(np.zeros((8, 8)), kernel="blur", mode="reflect", in_shape=(8, 8))
    >>> fig.axes[0].get_title()
    'blur, reflect (d c b | a b c d | c b a), same: 8x8 -> 8x8'
    """
    import matplotlib.pyplot as plt

    pixels = np.asarray(image)
    if title is None and mode is not None:
        title = describe_filtering(
            kernel or "kernel",
            mode,
            padding,
            stride,
            in_shape,
            pixels.shape if in_shape is not None else None,
        )
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    _draw(ax, pixels, title, signed)
    return fig


def show_pair(
    left: object,
    right: object,
    titles: tuple[str, str] | None = None,
    *,
    signed: bool | None = None,
    kernel: str | None = None,
    mode: str | None = None,
    padding: object = "same",
    stride: object = 1,
):
    """Show two images side by side (an image and its filtered version); returns the Figure.

    With ``mode`` (and ``kernel``) given and no ``titles``, the right title states the rule and
    the geometry (:func:`describe_filtering`); signed responses are drawn as in
    :func:`show_image` (diverging, clipped at a stated percentile, not at the largest value).

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.report.notebook import show_pair
    >>> fig = show_pair(np.zeros((4, 4)), np.ones((2, 2)), ("input", "output"))
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['input', 'output']
    >>> fig = show_pair(np.zeros((6, 6)), np.zeros((4, 4)), kernel="outline", mode="zeros",
    ...                 padding="valid")
    >>> fig.axes[1].get_title()
    'outline, zeros (0 0 0 | a b c d | 0 0 0), valid: 6x6 -> 4x4'
    """
    import matplotlib.pyplot as plt

    a_pixels, b_pixels = np.asarray(left), np.asarray(right)
    if titles is None:
        if mode is not None:
            after = describe_filtering(
                kernel or "kernel", mode, padding, stride, a_pixels.shape, b_pixels.shape
            )
            titles = ("input", after)
        else:
            titles = ("before", "after")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 5), layout="constrained")
    _draw(a, a_pixels, titles[0], None)
    _draw(b, b_pixels, titles[1], signed)
    return fig
