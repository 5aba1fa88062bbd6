"""The report's figures, one function each, in one consistent style.

Every figure labels its axes and colour bars and says which rule and geometry it shows. Figures
are drawn at the size the page shows them (``STYLE``'s 100 dpi: one figure pixel is one CSS
pixel, 8 pt text is 11 px), at most :data:`MAX_WIDTH` inches wide. Images are drawn on honest
scales: photos on the full [0, 1] range; signed responses on a diverging map centred on 0 and
positive ones on a sequential map, both clipped at the :data:`CLIP` percentile of their
magnitude (said on the colour bar); errors on a sequential map from 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import numpy as np

from padlab.analysis.coverage import coverage
from padlab.analysis.metrics import border_distance, border_profile
from padlab.modes.padding import pad
from padlab.modes.registry import resolve_mode
from padlab.ops.filtering import correlate

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "CLIP",
    "FILTERING",
    "MAX_WIDTH",
    "STYLE",
    "auto_pad_width",
    "border_window",
    "classic_figure",
    "colour",
    "context_figure",
    "coverage_figure",
    "error_overview",
    "histogram_figure",
    "photo_overview",
    "profile_figure",
    "pyplot",
    "response_grid",
    "response_scale",
    "rules_figure",
    "toy_image",
]

#: matplotlib rc settings shared by all figures (100 dpi: a figure pixel is a CSS pixel)
STYLE: dict[RcKeyType, float] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
}

#: the widest figure, in inches (100 px each): the page's text column
MAX_WIDTH = 10.4

#: percentile of the absolute response at which response maps are clipped
CLIP = 99.5

#: the figures that filter (they run padlab's compiled kernels); the others only draw, so the
#: report's drawing helper (:mod:`padlab.report.drawing`) takes those and never loads numba
FILTERING = frozenset({"photo_overview", "classic_figure", "rules_figure", "response_grid"})

_COLOURS = {
    "zeros": "#d62728",
    "constant": "#ff7f0e",
    "reflect": "#1f77b4",
    "symmetric": "#2ca02c",
    "replicate": "#9467bd",
    "circular": "#8c564b",
    "partial": "#e377c2",
}


def colour(mode: str) -> str:
    """The colour of a rule in every figure.

    Examples
    --------
    >>> colour("zeros")
    '#d62728'
    """
    return _COLOURS.get(mode, "#7f7f7f")


def pyplot():
    """matplotlib.pyplot on the Agg backend, with the report's style (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.backends.backend_agg  # now, not in the middle of a figure
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def _log(ax, axis: str = "y") -> None:
    """A log axis with plain labels (1, 10, 100, 0.01) and no minor ticks: quick to draw."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_locator(LogLocator(base=10, numticks=8))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _title(rule_name: str) -> str:
    rule = resolve_mode(rule_name)
    return f"{rule.name} ({rule.pattern})"


def auto_pad_width(shape: tuple[int, ...]) -> int:
    """The classic figure's padding: 5% of the shorter side (at least 8 px), visible at any size.

    Examples
    --------
    >>> auto_pad_width((600, 512)), auto_pad_width((1500, 2000)), auto_pad_width((50, 50))
    (26, 75, 8)
    """
    return max(8, round(0.05 * min(shape[:2])))


class ResponseScale(TypedDict):
    """What :func:`response_scale` returns: ``imshow`` keywords and a colour-bar label."""

    cmap: str
    vmin: float
    vmax: float
    label: str


def response_scale(kernel: np.ndarray, values: np.ndarray) -> ResponseScale:
    """How to draw a kernel's responses: a diverging map for a kernel with negative weights
    (edges, sharpening), a sequential one otherwise (blur); clipped at :data:`CLIP`.

    Returns ``imshow`` keywords and a colour-bar label that states the clipping.

    Examples
    --------
    >>> import numpy as np
    >>> response_scale(np.ones((3, 3)) / 9, np.linspace(0, 1, 201))["cmap"]
    'viridis'
    >>> s = response_scale(np.array([[-1.0, 2.0, -1.0]]), np.linspace(-2, 2, 201))
    >>> s["cmap"], s["vmin"] == -s["vmax"]
    ('RdBu_r', True)
    """
    magnitude = np.abs(values[np.isfinite(values)])
    top = float(np.percentile(magnitude, CLIP)) if magnitude.size else 1.0
    top = top or float(magnitude.max(initial=0.0)) or 1.0
    if (np.asarray(kernel) < 0).any():
        return {
            "cmap": "RdBu_r",
            "vmin": -top,
            "vmax": top,
            "label": f"response (0 = white; clipped at ±{top:.3g}, the {CLIP}th pct of |r|)",
        }
    return {
        "cmap": "viridis",
        "vmin": 0.0,
        "vmax": top,
        "label": f"response (clipped at {top:.3g}, the {CLIP}th percentile)",
    }


def _imshow(ax, data, scale, **options):
    keys = ("cmap", "vmin", "vmax")
    return ax.imshow(data, interpolation="nearest", **{k: scale[k] for k in keys}, **options)


def error_overview(score: dict[str, float], per_kernel: dict[str, dict[str, float]], best: str):
    """What padding did, in one chart: each rule's relative error against the true context,
    per kernel (markers) and on average (the number), best rule on top, log scale.
    """
    plt = pyplot()
    modes = list(score)  # best first
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 0.42 * len(modes) + 1.25), layout="constrained")
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    y = np.arange(len(modes))[::-1]
    values = [v for errors in per_kernel.values() for v in errors.values()] + list(score.values())
    positive = [100 * v for v in values if v > 0]
    low = min(positive, default=1e-3) / 2
    high = max(positive, default=1.0) * 4
    for i, (kernel, errors) in enumerate(per_kernel.items()):
        xs = [max(100 * errors[m], low) for m in modes]
        ax.scatter(
            xs,
            y,
            marker=markers[i % len(markers)],
            s=36,
            facecolor="none",
            edgecolor="#333333",
            label=kernel,
            zorder=3,
        )
    for yy, mode in zip(y, modes, strict=True):
        mean = max(100 * score[mode], low)
        ax.plot([low, mean], [yy, yy], color=colour(mode), lw=5, alpha=0.55, solid_capstyle="butt")
        text = "0%" if score[mode] == 0 else f"{100 * score[mode]:.3g}%"
        ax.text(
            high / 1.6,
            yy,
            text,
            va="center",
            ha="right",
            fontweight="bold" if mode == best else "normal",
        )
    _log(ax, "x")
    ax.set_xlim(low, high)
    ax.set_yticks(y, [f"{m}  (use this)" if m == best else m for m in modes])
    ax.set_ylim(-0.6, len(modes) - 0.4)
    ax.set_xlabel(
        "RMS error against the true context in the border band, % of the response "
        "(log scale; smaller is better)"
    )
    ax.grid(axis="x", which="major", color="#dddddd")
    ax.legend(title="kernel (markers)", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        "Error each padding rule makes at the border (bar and number: mean over the "
        "kernels; markers: each kernel)",
        loc="left",
    )
    return fig


def border_window(gray: np.ndarray, kernel: np.ndarray, size: int = 40) -> tuple[slice, slice]:
    """A window on the image's edge where zero and reflect padding disagree the most (the
    largest summed difference along ``size`` px of border).

    A fixed corner can be a flat patch where every rule looks alike; this picks the border spot
    where padding matters for this photo and kernel. Only the border rows and columns are
    filtered, so this costs four strips, not two whole images.
    """
    h, w = gray.shape[:2]
    size = min(size, h, w)
    reach = max(np.shape(kernel)) + 1
    best = (-1.0, 0, 0)
    for side in ("top", "bottom", "left", "right"):
        if side in ("top", "bottom"):
            strip = gray[:reach] if side == "top" else gray[-reach:]
        else:
            strip = gray[:, :reach] if side == "left" else gray[:, -reach:]
        difference = np.abs(
            correlate(strip, kernel, mode="zeros") - correlate(strip, kernel, mode="reflect")
        )
        if difference.ndim == 3:
            difference = difference.max(axis=2)
        line = {
            "top": difference[0],
            "bottom": difference[-1],
            "left": difference[:, 0],
            "right": difference[:, -1],
        }[side]
        stretch = np.convolve(line, np.ones(min(size, line.size)), mode="same")
        at = int(np.argmax(stretch))
        if stretch[at] > best[0]:
            y = {"top": 0, "bottom": h - 1}.get(side, at)
            x = {"left": 0, "right": w - 1}.get(side, at)
            best = (float(stretch[at]), y, x)
    _, y, x = best
    top = min(max(y - size // 2, 0), h - size)
    left = min(max(x - size // 2, 0), w - size)
    return slice(top, top + size), slice(left, left + size)


def photo_overview(
    gray: np.ndarray,
    kernel: np.ndarray,
    kernel_name: str,
    best: str,
    *,
    zoom: int = 32,
):
    """The photo filtered under zero padding beside the recommended rule, pixel for pixel
    (a photo wider than half the column is reduced by an integer factor, keeping each block's
    strongest response so a one-pixel false frame stays visible), and below, the border spot
    where they differ most, one square per pixel.

    The images are placed unresampled, pixel for pixel (:func:`_place_pixels`).
    """
    from matplotlib.patches import Rectangle

    plt = pyplot()
    modes = ["zeros", best] if best != "zeros" else ["zeros"]
    signed = bool((np.asarray(kernel) < 0).any())
    shown = {}
    for mode in modes:
        response = correlate(gray, kernel, mode=mode)
        shown[mode] = (np.abs(response) if signed else response).astype(np.float32)
        if shown[mode].ndim == 3:
            shown[mode] = shown[mode].mean(axis=2)
    top = float(np.percentile(shown[modes[-1]], CLIP)) or 1.0
    rows, cols = border_window(gray, kernel, zoom)
    h, w = gray.shape[:2]
    width, gap, left = round(MAX_WIDTH * 100), 8, 4
    panel = (width - 2 * left - gap) // 2
    factor = max(1, -(-w // panel))
    scale = max(1, min(10, (panel // 2) // zoom))
    ph, pw = h // factor, w // factor
    title, caption = 44, 22
    height = title + caption + ph + 12 + caption + zoom * scale + 10
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    what = f"|{kernel_name} response|" if signed else f"{kernel_name} response"
    fig.text(
        left / width,
        1 - 6 / height,
        f"{kernel_name} filter, white = strong response "
        f"(clipped at the {CLIP}th percentile): a false frame is a white line along the "
        "border",
        va="top",
        fontsize=10,
    )
    for j, mode in enumerate(modes):
        x0 = left + j * (panel + gap)
        pixels = shown[mode]
        if factor > 1:
            pixels = pixels[: ph * factor, : pw * factor].reshape(ph, factor, pw, factor)
            pixels = pixels.max(axis=(1, 3))
        y_photo = height - title - caption - ph
        _place_pixels(fig, _gray_pixels(pixels, top), x0, y_photo)
        label = "zero padding" if mode == "zeros" else f"{mode} (recommended)"
        size = f"{w}x{h} px" + (f", 1:{factor}" if factor > 1 else ", 1:1")
        fig.text(x0 / width, (y_photo + ph + 5) / height, f"{what}, {label}: {size}", fontsize=9)
        fig.add_artist(
            Rectangle(
                (x0 + cols.start / factor - 1, y_photo + ph - rows.stop / factor),
                (cols.stop - cols.start) / factor + 1,
                (rows.stop - rows.start) / factor + 1,
                fill=False,
                ec="#ffb000",
                lw=1.5,
                transform=None,
            )
        )
        crop = _gray_pixels(shown[mode][rows, cols], top)
        crop = np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)
        y_zoom = 10
        _place_pixels(fig, crop, x0, y_zoom)
        fig.add_artist(
            Rectangle(
                (x0 - 2, y_zoom - 2),
                crop.shape[1] + 4,
                crop.shape[0] + 4,
                fill=False,
                ec="#ffb000",
                lw=1.5,
                transform=None,
            )
        )
        fig.text(
            x0 / width,
            (y_zoom + crop.shape[0] + 5) / height,
            f"orange box, x {cols.start}-{cols.stop - 1}, y {rows.start}-{rows.stop - 1}: "
            f"one square per pixel",
            fontsize=9,
        )
    if len(modes) == 1:
        fig.text(
            left / width,
            1 - 26 / height,
            "(zero padding is also the recommended rule)",
            va="top",
            fontsize=9,
        )
    return fig


def _gray_pixels(values: np.ndarray, top: float) -> np.ndarray:
    """Values in [0, top] as 8-bit gray RGBA (opaque): what the figure shows, already in the
    renderer's format.
    """
    level = np.rint(np.clip(values, 0, top) * (255 / top)).astype(np.uint8)
    rgba = np.empty((*level.shape, 4), dtype=np.uint8)
    rgba[..., :3] = level[..., None]
    rgba[..., 3] = 255
    return rgba


def _place_pixels(fig, rgba: np.ndarray, x: int, y: int) -> None:
    """Draw 8-bit RGBA pixels on ``fig`` unresampled, top-left row first, their lower left
    corner at figure pixel (``x``, ``y``): what ``fig.figimage(rgba, xo=x, yo=y,
    origin="upper")`` draws. On the Agg renderer at the figure's resolution (a PNG, the report)
    the pixels go straight to the renderer, without the float copies of the image matplotlib
    makes on the way (20 MB for a 512x600 photo, the report's peak memory); any other output
    (PDF, SVG, another dpi) takes matplotlib's own path.
    """
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.image import FigureImage
    from matplotlib.transforms import Bbox

    flipped = np.ascontiguousarray(rgba[::-1])  # the renderer's row 0 is the bottom one

    class Pixels(Artist):
        def draw(self, renderer) -> None:
            if not self.get_visible():
                return
            if isinstance(renderer, RendererAgg) and renderer.dpi == fig.dpi:
                gc = renderer.new_gc()
                renderer.draw_image(gc, x, y, flipped)
                gc.restore()
                return
            image = FigureImage(fig, offsetx=x, offsety=y, origin="upper")
            image.set_data(rgba)
            image.draw(renderer)

        def get_window_extent(self, renderer=None) -> Bbox:
            return Bbox.from_bounds(x, y, rgba.shape[1], rgba.shape[0])

    fig.add_artist(Pixels())


def classic_figure(
    gray: np.ndarray,
    rule_name: str,
    *,
    pad_width: int,
    laplacian: np.ndarray,
    value: float = 0.0,
):
    """The classic 2x2 figure: padded photo, its Laplacian, histograms before and after padding.

    ``gray`` is a float image in [0, 1]. The Laplacian is computed on the padded photo without
    further padding ('valid'), so every response comes from pixels that are really there: the
    frame's edge fires exactly where the rule made one. Both histograms share one y-scale.
    """
    plt = pyplot()
    rule = resolve_mode(rule_name)
    if rule.kind == "partial":
        from padlab.errors import PadlabValueError

        raise PadlabValueError("partial pads nothing: it rescales the response (see rules_figure)")
    # 0 is pad's default value: only 'constant' reads it
    padded = pad(
        gray, pad_width, rule.name, axes=(0, 1), value=value if rule.name == "constant" else 0
    )
    magnitude = np.abs(correlate(padded, laplacian, padding="valid")).astype(np.float32)
    padded = padded.astype(np.float32)  # for drawing: half the memory
    h, w = padded.shape
    panel = 4.7
    fig, axes = plt.subplots(
        2,
        2,
        figsize=(MAX_WIDTH, panel * h / w + 3.0),
        layout="constrained",
        height_ratios=[panel * h / w, 2.4],
    )
    # the photos are drawn smaller than their pixels: resampled as values, then coloured (the
    # same picture on a linear map as colouring first, with a quarter of the float copies:
    # 26 -> 6 MB)
    ax = axes[0, 0]
    ax.imshow(padded, cmap="gray", vmin=0, vmax=1, interpolation_stage="data")
    ax.set_title(f"padded by {pad_width} px: {_title(rule_name)}")
    _pixel_axes(ax, padded.shape)
    ax = axes[0, 1]
    top = float(np.percentile(magnitude, CLIP)) or 1.0
    shown = ax.imshow(magnitude, cmap="gray", vmin=0, vmax=top, interpolation_stage="data")
    fig.colorbar(
        shown, ax=ax, fraction=0.046, pad=0.02, label=f"|Laplacian| (clipped at the {CLIP}th pct)"
    )
    ax.set_title("its Laplacian ('valid': only these pixels read)")
    _pixel_axes(ax, magnitude.shape)
    bins = np.linspace(0, 1, 65)
    for ax, data, label in (
        (axes[1, 0], gray, "original photo"),
        (axes[1, 1], padded, f"padded ({rule_name})"),
    ):
        tint = colour(rule_name) if data is padded else "#555555"
        ax.hist(data.ravel(), bins=bins, color=tint, histtype="stepfilled")
        _log(ax)
        ax.set_xlabel("pixel value (0 = black, 1 = white)")
        ax.set_ylabel("pixels (log scale)")
        at_zero = float(np.mean(data == 0))
        ax.set_title(f"{label}: {100 * at_zero:.2f}% of pixels exactly 0")
    top_count = max(axes[1, 0].get_ylim()[1], axes[1, 1].get_ylim()[1])
    for ax in axes[1]:
        ax.set_ylim(0.8, top_count)
    return fig


def _pixel_axes(ax, shape) -> None:
    ax.set_xlabel(f"x (px, width {shape[1]})")
    ax.set_ylabel(f"y (px, height {shape[0]})")


def toy_image(size: int = 16) -> np.ndarray:
    """A toy image whose edges tell the rules apart: a bright top row and left column (copied
    by symmetric and replicate, skipped by reflect), a dark far side (what circular brings
    around), a mid-gray square and a ramp.

    Examples
    --------
    >>> toy = toy_image()
    >>> toy.shape, float(toy[0, 0]), float(toy[-1, -1])
    ((16, 16), 0.95, 0.08)
    """
    y, x = np.mgrid[0:size, 0:size]
    toy = 0.35 + 0.25 * (x + y) / (2 * size)
    toy[size // 4 : size // 2, size // 4 : size // 2] = 0.7
    toy[:, -2:] = 0.08
    toy[-2:, :] = 0.08
    toy[0, :-2] = 0.95
    toy[:-2, 0] = 0.95
    return toy


def rules_figure(modes: list[str], *, size: int = 16, width: int = 6):
    """What each rule invents, toy-sized as in scikit-image's edge-modes gallery: a
    :func:`toy_image` padded by ``width`` px (top row), and a box blur of it (bottom row),
    under each rule.

    ``partial`` pads nothing: its top panel shows the unread area hatched, its bottom panel the
    blur whose border outputs are rescaled by taps / real taps (no dark rim, unlike zeros).
    """
    plt = pyplot()
    toy = toy_image(size)
    box = np.full((5, 5), 1 / 25)
    n = len(modes)
    fig, axes = plt.subplots(
        2, n, figsize=(min(MAX_WIDTH, 1.6 * n + 0.6), 3.9), layout="constrained", squeeze=False
    )
    extent = (-width - 0.5, size + width - 0.5, size + width - 0.5, -width - 0.5)
    for j, mode in enumerate(modes):
        rule = resolve_mode(mode)
        ax = axes[0, j]
        if rule.kind == "partial":
            canvas = np.full((size + 2 * width,) * 2, np.nan)
            canvas[width:-width, width:-width] = toy
            ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="nearest")
            ax.add_patch(_hatch(extent, width, size))
        else:
            shown = pad(toy, width, rule.name, value=0.0 if rule.name == "constant" else 0)
            ax.imshow(shown, cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="nearest")
        ax.add_patch(_frame(size))
        ax.set_title(mode, color=colour(mode), fontweight="bold")
        ax.set_xticks([])
        ax.set_yticks([])
        ax = axes[1, j]
        blurred = correlate(toy, box, mode=rule.name)
        ax.imshow(blurred, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel(f"padded by {width} px")
    axes[1, 0].set_ylabel("5x5 box blur")
    fig.suptitle(
        f"What each rule invents: a {size}x{size} px toy image (inside the orange "
        f"square) padded by {width} px, and its blur. partial reads no padding:\nit "
        "rescales the border outputs instead, so its blur has no dark rim.",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    return fig


def _frame(size: int):
    from matplotlib.patches import Rectangle

    return Rectangle((-0.5, -0.5), size, size, fill=False, ec="#ffb000", lw=1.5)


def _hatch(extent, width: int, size: int):
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    left, right, bottom, top = extent
    outer = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    inner = [
        (-0.5, -0.5),
        (-0.5, size - 0.5),
        (size - 0.5, size - 0.5),
        (size - 0.5, -0.5),
        (-0.5, -0.5),
    ]
    codes = [MplPath.MOVETO] + [MplPath.LINETO] * 3 + [MplPath.CLOSEPOLY]
    path = MplPath(outer + inner, codes + codes)
    return PathPatch(path, facecolor="white", edgecolor="#999999", hatch="///", lw=0)


def response_grid(
    gray: np.ndarray,
    kernels: dict[str, np.ndarray],
    modes: list[str],
    *,
    band: dict[str, int],
    window: tuple[slice, slice],
):
    """Responses per rule (rows) and kernel (columns), zoomed on ``window``.

    The window is the same for every panel; dashed lines mark the border band (outputs between
    the line and the image's edge read padding). Each kernel has one colour scale
    (:func:`response_scale`). Only the window plus the kernel's reach is filtered.
    """
    plt = pyplot()
    rows, cols = window
    h, w = gray.shape[:2]
    n, m = len(modes), len(kernels)
    panel = min(2.1, (MAX_WIDTH - 1.0) / m)
    fig, axes = plt.subplots(
        n, m, figsize=(panel * m + 1.0, panel * n + 1.3), layout="constrained", squeeze=False
    )
    for j, (name, kernel) in enumerate(kernels.items()):
        responses = {mode: _window_response(gray, kernel, mode, rows, cols) for mode in modes}
        scale = response_scale(kernel, np.stack(list(responses.values())))
        for i, mode in enumerate(modes):
            ax = axes[i, j]
            extent = (cols.start - 0.5, cols.stop - 0.5, rows.stop - 0.5, rows.start - 0.5)
            shown = _imshow(ax, responses[mode], scale, extent=extent)
            r = band[name]
            for edge, at in (("y", 0), ("y", h), ("x", 0), ("x", w)):
                line = at + r - 0.5 if at == 0 else at - r - 0.5
                inside = rows if edge == "y" else cols
                if r > 0 and inside.start - 1 <= line <= inside.stop:
                    (ax.axhline if edge == "y" else ax.axvline)(
                        line, ls="--", lw=0.9, color="black"
                    )
            if i == 0:
                ax.set_title(name, fontweight="bold")
            ax.set_ylabel(mode if j == 0 else "", color=colour(mode), fontweight="bold")
            ax.set_xticks([])
            ax.set_yticks([])
        top = scale["vmax"]
        clip = f"±{top:.3g}" if scale["vmin"] < 0 else f"{top:.3g}"
        fig.colorbar(
            shown,
            ax=axes[:, j],
            location="bottom",
            fraction=0.025,
            pad=0.01,
            label=f"{name} (clipped at {clip})",
        )
    fig.suptitle(
        f"responses at x {cols.start}-{cols.stop - 1}, y {rows.start}-{rows.stop - 1}\n"
        f"colour scales clipped at the {CLIP}th percentile of |response|\n"
        "dashed: edge of the border band",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    return fig


def _window_response(gray, kernel, mode, rows, cols):
    """The response on a window, filtering only the window plus the kernel's reach."""
    kh, kw = np.shape(kernel)[:2]
    h, w = gray.shape[:2]
    top, left = max(rows.start - kh, 0), max(cols.start - kw, 0)
    bottom, right = min(rows.stop + kh, h), min(cols.stop + kw, w)
    if resolve_mode(mode).kind == "circular":  # reads the far side: filter the whole photo
        return correlate(gray, kernel, mode=mode)[rows, cols]
    part = correlate(gray[top:bottom, left:right], kernel, mode=mode)
    return part[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]


def context_figure(
    errors: dict[str, np.ndarray],
    by_depth: dict[str, list[np.ndarray]],
    *,
    kernel: str,
    size: int = 32,
):
    """Where each rule is wrong (error maps) and how the error falls with distance and depth.

    ``errors`` are the error maps at the deepest depth (or their magnitudes, e.g. as float32 to
    save memory). The maps zoom on the border spot where the rules' error is largest (the same
    spot for every rule), on a logarithmic scale.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    plt = pyplot()
    modes = list(errors)
    magnitude = {}
    for mode in modes:
        m = np.abs(errors[mode])
        magnitude[mode] = m.max(axis=2) if m.ndim == 3 else m
    worst = magnitude[modes[0]].copy()
    for mode in modes[1:]:
        np.maximum(worst, magnitude[mode], out=worst)
    h, w = worst.shape
    size = min(size, h, w)
    y, x = np.unravel_index(int(np.argmax(worst)), worst.shape)
    top, left = min(max(y - size // 2, 0), h - size), min(max(x - size // 2, 0), w - size)
    rows, cols = slice(top, top + size), slice(left, left + size)
    peak = max(float(worst.max()), 1e-12)
    floor = peak * 1e-3
    norm = LogNorm(vmin=floor, vmax=peak)
    n = len(modes)
    panel = min(1.55, (MAX_WIDTH - 1.0) / n)
    fig = plt.figure(figsize=(min(MAX_WIDTH, panel * n + 1.2), panel + 3.6), layout="constrained")
    grid = fig.add_gridspec(2, 2 * n, height_ratios=[panel, 2.6])
    shown = None
    for j, mode in enumerate(modes):
        ax = fig.add_subplot(grid[0, 2 * j : 2 * j + 2])
        extent = (cols.start - 0.5, cols.stop - 0.5, rows.stop - 0.5, rows.start - 0.5)
        shown = ax.imshow(
            np.maximum(magnitude[mode][rows, cols], floor),
            cmap="magma",
            norm=norm,
            extent=extent,
            interpolation="nearest",
        )
        ax.set_title(mode, color=colour(mode), fontweight="bold")
        ax.set_xticks([])
        ax.set_yticks([])
    deepest = len(next(iter(by_depth.values())))
    fig.colorbar(
        shown,
        ax=fig.axes,
        location="right",
        fraction=0.03,
        label=f"|error| (filter applied {deepest}x)",
    )
    longest = max(len(c) for curves in by_depth.values() for c in curves)
    span = min(2 * n, max(4, 2 * min(n, longest + 1)))
    ax = fig.add_subplot(grid[1, :span])
    styles = ["-", "--", ":", "-."]
    for mode, curves in by_depth.items():
        for depth, curve in enumerate(curves, 1):
            ax.plot(
                np.arange(len(curve)),
                np.maximum(curve, 1e-12),
                styles[(depth - 1) % 4],
                marker="o",
                ms=4,
                color=colour(mode),
            )
    _log(ax)
    ax.set_xticks(range(longest))
    ax.set_xlim(-0.4, longest - 0.6)
    ax.set_xlabel("distance to the window's edge (px)")
    ax.set_ylabel("RMS error")
    ax.set_title("error by distance to the border", loc="left")
    rules = [Line2D([], [], color=colour(m), marker="o", label=m) for m in by_depth]
    depths = [
        Line2D([], [], color="black", ls=styles[(d - 1) % 4], label=f"filter applied {d}x")
        for d in range(1, deepest + 1)
    ]
    legend_ax = fig.add_subplot(grid[1, span:]) if span < 2 * n else None
    if legend_ax is not None:
        legend_ax.axis("off")
        first = legend_ax.legend(handles=rules, loc="upper left", title="rule", ncol=2)
        legend_ax.add_artist(first)
        legend_ax.legend(handles=depths, loc="lower left")
    else:
        ax.legend(handles=rules + depths, loc="upper right", ncol=2, fontsize=7)
    fig.suptitle(
        f"{kernel}: |error| against the true context at x {cols.start}-"
        f"{cols.stop - 1}, y {rows.start}-{rows.stop - 1} of the measuring window "
        "(where it is largest; log scale)",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    return fig


def profile_figure(responses: dict[str, np.ndarray], *, kernel: str, max_distance: int = 12):
    """Mean absolute response by distance to the nearest border, per rule, with its spread."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
    for mode, response in responses.items():
        p = border_profile(
            np.abs(response),
            max_distance=max_distance,
            channel_axis=-1 if response.ndim == 3 else None,
        )
        ax.plot(p.distance, p.mean, marker="o", ms=3, color=colour(mode), label=mode)
        ax.fill_between(
            p.distance, p.mean - p.std / 4, p.mean + p.std / 4, color=colour(mode), alpha=0.08
        )
    ax.set_xlabel(f"distance to the nearest border (px; {max_distance - 1} pools the interior)")
    ax.set_ylabel(f"mean |{kernel} response|")
    ax.set_title(f"{kernel}: mean |response| by distance to the border (shade: ±1/4 std)")
    ax.legend(ncol=3)
    return fig


def histogram_figure(responses: dict[str, np.ndarray], *, kernel: str, width: int):
    """Histograms of the response in the border band and in the interior, per rule, on one
    shared x and y scale.
    """
    plt = pyplot()
    modes = list(responses)
    cols = min(3, len(modes))
    rows = -(-len(modes) // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(min(MAX_WIDTH, 3.2 * cols), 2.4 * rows + 0.4),
        layout="constrained",
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    ends = np.array([np.percentile(r, [0.5, 99.5]) for r in responses.values()])
    low, high = float(ends[:, 0].min()), float(ends[:, 1].max())
    if not high > low:
        low, high = low - 0.5, high + 0.5
    bins = np.linspace(low, high, 60)
    shape = next(iter(responses.values())).shape
    distance = border_distance(shape[:2])
    if len(shape) == 3:
        distance = np.broadcast_to(distance[..., None], shape)
    band = distance < max(width, 1)
    for ax, mode in zip(axes.ravel(), modes, strict=False):
        response = responses[mode]
        ax.hist(
            response[~band],
            bins=bins,
            density=True,
            color="#888888",
            alpha=0.6,
            histtype="stepfilled",
            label="interior",
        )
        ax.hist(
            response[band],
            bins=bins,
            density=True,
            histtype="step",
            lw=1.4,
            color=colour(mode),
            label="border band",
        )
        _log(ax)
        ax.set_title(mode, color=colour(mode), fontweight="bold")
    for ax in axes[-1]:
        ax.set_xlabel(f"{kernel} response")
    for ax in axes[:, 0]:
        ax.set_ylabel("density (log)")
    axes[0, 0].legend()
    for ax in axes.ravel()[len(modes) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"distribution of the {kernel} response: border band ({max(width, 1)} px) vs "
        "interior; one scale for all panels",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    return fig


def coverage_figure(modes: list[str], kernel_shape: tuple[int, int], *, size: int = 12):
    """How many times each pixel of a corner is read, per rule (numbers in the cells)."""
    plt = pyplot()
    rules = [m for m in modes if resolve_mode(m).kind in ("constant", "index", "partial")]
    fig, axes = plt.subplots(
        1,
        len(rules),
        figsize=(min(MAX_WIDTH, 1.75 * len(rules) + 1.0), 2.6),
        layout="constrained",
        squeeze=False,
    )
    maps = {
        m: coverage(
            (size, size),
            kernel_shape,
            mode=m,
            weights=np.ones(kernel_shape) if m == "partial" else None,
        )[:5, :5]
        for m in rules
    }
    top = max(float(c.max()) for c in maps.values()) or 1.0
    shown = None
    for ax, mode in zip(axes[0], rules, strict=True):
        cells = maps[mode]
        shown = ax.imshow(cells, cmap="viridis", vmin=0, vmax=top)
        for (i, j), v in np.ndenumerate(cells):
            label = f"{v:g}" if v == int(v) else f"{v:.1f}"
            ink = "white" if v < top * 0.6 else "black"
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color=ink)
        ax.set_title(
            mode + (" (weights)" if mode == "partial" else ""),
            color=colour(mode),
            fontweight="bold",
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[0, :], fraction=0.04, label="times read")
    fig.suptitle(
        f"times each pixel of the top-left 5x5 corner is read, "
        f"{kernel_shape[0]}x{kernel_shape[1]} kernel, 'same'",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    return fig
