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


def _draw(ax, image: np.ndarray, title: str | None, signed: bool | None) -> None:
    pixels = as_numeric_array(image, "image")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise PadlabValueError(f"cannot show an array of shape {pixels.shape} as an image")
    if signed is None:
        signed = pixels.dtype.kind == "f" and float(np.nanmin(pixels)) < 0
    if pixels.ndim == 3:
        if pixels.dtype.kind == "f":
            low, high = float(np.nanmin(pixels)), float(np.nanmax(pixels))
            if low < 0 or high > 1:  # a colour response: show it mapped, and say so
                pixels = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
                title = f"{title or ''} [min-max scaled]".strip()
        ax.imshow(pixels)
    elif signed:
        peak = float(np.nanmax(np.abs(pixels))) or 1.0
        shown = ax.imshow(pixels, cmap="RdBu_r", vmin=-peak, vmax=peak)
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="response")
    else:
        kind = pixels.dtype.kind
        if kind == "u":
            vmax = float(np.iinfo(pixels.dtype).max)
        elif kind == "f":
            vmax = max(1.0, float(np.nanmax(pixels)))
        else:
            vmax = max(1.0, float(np.nanmax(pixels)))
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=vmax)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"{pixels.shape[1]} px")
    ax.set_ylabel(f"{pixels.shape[0]} px")
    ax.set_xticks([])
    ax.set_yticks([])


def show_image(image: object, title: str | None = None, *, signed: bool | None = None):
    """Show one image; returns the matplotlib Figure.

    Parameters
    ----------
    image : array_like
        (H, W) or (H, W, 3/4); uint8/uint16 on their full range, floats on [0, 1], signed
        responses on a diverging map centred on 0.
    title : str, optional
        See :func:`describe_filtering` for a title that states rule and geometry.
    signed : bool, optional
        Force (or forbid) the diverging map; by default, float images with negatives use it.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.report.notebook import show_image
    >>> fig = show_image(np.linspace(-1, 1, 16).reshape(4, 4), "a ramp")
    >>> fig.axes[0].get_title()
    'a ramp'
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    _draw(ax, np.asarray(image), title, signed)
    return fig


def show_pair(
    left: object,
    right: object,
    titles: tuple[str, str] = ("before", "after"),
    *,
    signed: bool | None = None,
):
    """Show two images side by side (an image and its filtered version); returns the Figure.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.report.notebook import show_pair
    >>> fig = show_pair(np.zeros((4, 4)), np.ones((2, 2)), ("input", "output"))
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['input', 'output']
    """
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 5), layout="constrained")
    _draw(a, np.asarray(left), titles[0], None)
    _draw(b, np.asarray(right), titles[1], signed)
    return fig
