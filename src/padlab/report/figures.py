"""The report's figures, one function each, in one consistent style.

Every figure labels its axes and colour bars and says which rule and geometry it shows. Images
are drawn on honest scales: photos on the full [0, 1] range, signed responses on a diverging map
centred on 0, errors on a sequential map from 0.
"""

from __future__ import annotations

import numpy as np

from padlab.analysis.coverage import coverage
from padlab.analysis.metrics import border_distance, border_profile
from padlab.modes.padding import pad
from padlab.modes.registry import resolve_mode
from padlab.ops.filtering import correlate

__all__ = [
    "STYLE",
    "border_window",
    "classic_figure",
    "context_figure",
    "coverage_figure",
    "histogram_figure",
    "profile_figure",
    "response_grid",
]

#: matplotlib rc settings shared by all figures
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
}

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
    """The colour of a rule in every figure."""
    return _COLOURS.get(mode, "#7f7f7f")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def _title(rule_name: str) -> str:
    rule = resolve_mode(rule_name)
    return f"{rule.name} ({rule.pattern})"


def _padded_view(image: np.ndarray, rule_name: str, width: int, value: float) -> np.ndarray:
    rule = resolve_mode(rule_name)
    shown = "zeros" if rule.kind == "partial" else rule.name
    options = {"value": value} if shown == "constant" else {}
    return pad(image, width, shown, axes=(0, 1), **options)


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
    frame's edge fires exactly where the rule made one.
    """
    plt = _plt()
    padded = _padded_view(gray, rule_name, pad_width, value)
    response = correlate(padded, laplacian, padding="valid")
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.2), layout="constrained")
    ax = axes[0, 0]
    ax.imshow(padded, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"padded by {pad_width} px: {_title(rule_name)}")
    _pixel_axes(ax, padded.shape)
    ax = axes[0, 1]
    magnitude = np.abs(response)
    top = float(np.percentile(magnitude, 99.5)) or 1.0
    shown = ax.imshow(magnitude, cmap="gray", vmin=0, vmax=top)
    fig.colorbar(
        shown, ax=ax, fraction=0.046, pad=0.02, label="|Laplacian| (clipped at 99.5th pct)"
    )
    ax.set_title("Laplacian of the padded photo ('valid')")
    _pixel_axes(ax, response.shape)
    bins = np.linspace(0, 1, 65)
    for ax, data, label in (
        (axes[1, 0], gray, "original photo"),
        (axes[1, 1], padded, f"padded ({rule_name})"),
    ):
        tint = colour(rule_name) if data is padded else "#555555"
        ax.hist(data.ravel(), bins=bins, color=tint)
        ax.set_yscale("log")
        ax.set_xlabel("pixel value (0 = black, 1 = white)")
        ax.set_ylabel("pixels (log scale)")
        at_zero = float(np.mean(data == 0))
        ax.set_title(f"histogram of the {label}: {100 * at_zero:.2f}% of pixels exactly 0")
    axes[1, 1].set_ylim(
        axes[1, 0].get_ylim()[0], max(axes[1, 0].get_ylim()[1], axes[1, 1].get_ylim()[1])
    )
    return fig


def _pixel_axes(ax, shape) -> None:
    ax.set_xlabel(f"x (px, width {shape[1]})")
    ax.set_ylabel(f"y (px, height {shape[0]})")


def border_window(gray: np.ndarray, kernel: np.ndarray, size: int = 40) -> tuple[slice, slice]:
    """A window on the image's edge where zero and reflect padding disagree the most.

    A fixed corner can be a flat patch where every rule looks alike; this picks the border spot
    where padding matters for this photo and kernel.
    """
    difference = np.abs(
        correlate(gray, kernel, mode="zeros") - correlate(gray, kernel, mode="reflect")
    )
    h, w = difference.shape
    size = min(size, h, w)
    spots = {
        "top": (0, int(np.argmax(difference[0]))),
        "bottom": (h - 1, int(np.argmax(difference[-1]))),
        "left": (int(np.argmax(difference[:, 0])), 0),
        "right": (int(np.argmax(difference[:, -1])), w - 1),
    }
    y, x = max(spots.values(), key=lambda yx: difference[yx])
    top = min(max(y - size // 2, 0), h - size)
    left = min(max(x - size // 2, 0), w - size)
    return slice(top, top + size), slice(left, left + size)


def response_grid(
    gray: np.ndarray,
    kernels: dict[str, np.ndarray],
    modes: list[str],
    *,
    band: dict[str, int],
    size: int = 40,
):
    """Responses per rule (rows) and kernel (columns), zoomed where the border matters most.

    The window is the same for every panel; dashed lines mark the border band (outputs between
    the line and the image's edge read padding).
    """
    plt = _plt()
    fig, axes = plt.subplots(
        len(modes), len(kernels), figsize=(2.5 * len(kernels) + 0.6, 2.45 * len(modes) + 0.9),
        layout="constrained", squeeze=False,
    )  # fmt: skip
    rows, cols = border_window(gray, next(iter(kernels.values())), size)
    h, w = gray.shape
    for j, (name, kernel) in enumerate(kernels.items()):
        responses = {m: correlate(gray, kernel, mode=m)[rows, cols] for m in modes}
        peak = float(np.percentile(np.abs(np.stack(list(responses.values()))), 99.5)) or 1.0
        for i, mode in enumerate(modes):
            ax = axes[i, j]
            extent = (cols.start - 0.5, cols.stop - 0.5, rows.stop - 0.5, rows.start - 0.5)
            shown = ax.imshow(responses[mode], cmap="RdBu_r", vmin=-peak, vmax=peak, extent=extent)
            r = band[name]
            for edge, at in (("y", 0), ("y", h), ("x", 0), ("x", w)):
                line = at + r - 0.5 if at == 0 else at - r - 0.5
                inside = rows if edge == "y" else cols
                if inside.start - 1 <= line <= inside.stop:
                    (ax.axhline if edge == "y" else ax.axvline)(
                        line, ls="--", lw=0.8, color="black"
                    )
            if i == 0:
                ax.set_title(name)
            ax.set_ylabel(f"{mode}\ny (px)" if j == 0 else "")
            if i == len(modes) - 1:
                ax.set_xlabel("x (px)")
        fig.colorbar(shown, ax=axes[:, j], location="bottom", fraction=0.02, pad=0.01,
                     label=f"{name} response")  # fmt: skip
    fig.suptitle(
        f"responses where zero and reflect padding differ most (rows {rows.start}-"
        f"{rows.stop - 1}, columns {cols.start}-{cols.stop - 1})\ndashed line: edge of the "
        "border band",
        fontsize=9,
    )
    return fig


def context_figure(
    errors: dict[str, np.ndarray], by_depth: dict[str, list[np.ndarray]], *, kernel: str,
    size: int = 32,
):  # fmt: skip
    """Where each rule is wrong (|error| maps) and how the error falls with distance and depth.

    ``errors`` are the error maps at the deepest depth. The maps zoom on the border spot where
    the rules' error is largest (the same spot for every rule), on a logarithmic scale.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    plt = _plt()
    modes = list(errors)
    magnitude = {}
    for mode in modes:
        m = np.abs(errors[mode])
        magnitude[mode] = m.max(axis=2) if m.ndim == 3 else m
    worst = np.max(np.stack(list(magnitude.values())), axis=0)
    h, w = worst.shape
    size = min(size, h, w)
    y, x = np.unravel_index(int(np.argmax(worst)), worst.shape)
    top, left = min(max(y - size // 2, 0), h - size), min(max(x - size // 2, 0), w - size)
    rows, cols = slice(top, top + size), slice(left, left + size)
    peak = max(float(worst.max()), 1e-12)
    norm = LogNorm(vmin=peak * 1e-3, vmax=peak)
    fig = plt.figure(figsize=(2.3 * len(modes) + 1.2, 6.2), layout="constrained")
    grid = fig.add_gridspec(2, len(modes), height_ratios=[1.15, 1])
    for j, mode in enumerate(modes):
        ax = fig.add_subplot(grid[0, j])
        extent = (cols.start - 0.5, cols.stop - 0.5, rows.stop - 0.5, rows.start - 0.5)
        shown = ax.imshow(np.maximum(magnitude[mode][rows, cols], norm.vmin), cmap="magma",
                          norm=norm, extent=extent)  # fmt: skip
        ax.set_title(mode)
        ax.set_xlabel("x (px)")
        if j == 0:
            ax.set_ylabel("y (px)")
    deepest = len(next(iter(by_depth.values())))
    label = f"|error| vs true context (filter applied {deepest}x)"
    fig.colorbar(shown, ax=fig.axes, location="right", fraction=0.03, label=label)
    ax = fig.add_subplot(grid[1, :])
    styles = ["-", "--", ":", "-."]
    longest = 0
    for mode, curves in by_depth.items():
        for depth, curve in enumerate(curves, 1):
            ax.plot(np.arange(len(curve)), np.maximum(curve, 1e-12), styles[(depth - 1) % 4],
                    marker="o", ms=4, color=colour(mode))  # fmt: skip
            longest = max(longest, len(curve))
    ax.set_yscale("log")
    ax.set_xticks(range(longest))
    ax.set_xlabel("distance to the window's edge (px)")
    ax.set_ylabel("RMS error vs true context")
    ax.set_title(f"error against the true context by distance to the border ({kernel})")
    rules = [Line2D([], [], color=colour(m), marker="o", label=m) for m in by_depth]
    depths = [
        Line2D([], [], color="black", ls=styles[(d - 1) % 4], label=f"filter applied {d}x")
        for d in range(1, len(next(iter(by_depth.values()))) + 1)
    ]
    first = ax.legend(handles=rules, ncol=3, loc="upper right", title="rule")
    ax.add_artist(first)
    ax.legend(handles=depths, loc="lower left")
    fig.suptitle(
        f"{kernel}: error against the true context, zoomed where it is largest "
        f"(rows {rows.start}-{rows.stop - 1}, columns {cols.start}-{cols.stop - 1})",
        fontsize=9,
    )
    return fig


def profile_figure(responses: dict[str, np.ndarray], *, kernel: str, max_distance: int = 12):
    """Mean |response| by distance to the nearest border, per rule, with its spread."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for mode, response in responses.items():
        p = border_profile(np.abs(response), max_distance=max_distance,
                           channel_axis=-1 if response.ndim == 3 else None)  # fmt: skip
        ax.plot(p.distance, p.mean, marker="o", ms=3, color=colour(mode), label=mode)
        ax.fill_between(
            p.distance, p.mean - p.std / 4, p.mean + p.std / 4, color=colour(mode), alpha=0.08
        )
    ax.set_xlabel(f"distance to the nearest border (px; {max_distance - 1} pools the interior)")
    ax.set_ylabel(f"mean |{kernel} response|")
    ax.set_title(f"border-distance profile of the {kernel} response (band: ±1/4 std)")
    ax.legend(ncol=3)
    return fig


def histogram_figure(responses: dict[str, np.ndarray], *, kernel: str, width: int):
    """Histograms of the response in the border band and in the interior, per rule."""
    plt = _plt()
    modes = list(responses)
    cols = min(3, len(modes))
    rows = -(-len(modes) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), layout="constrained", squeeze=False
    )
    values = np.concatenate([r.ravel() for r in responses.values()])
    low, high = np.percentile(values, [0.5, 99.5])
    bins = np.linspace(low, high, 60)
    for ax, mode in zip(axes.ravel(), modes, strict=False):
        response = responses[mode]
        distance = border_distance(response.shape[:2])
        if response.ndim == 3:
            distance = np.broadcast_to(distance[..., None], response.shape)
        band = distance < width
        ax.hist(
            response[~band], bins=bins, density=True, color="#888888", alpha=0.6, label="interior"
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
        ax.set_title(mode)
        ax.set_xlabel(f"{kernel} response")
        ax.set_ylabel("density")
        ax.legend()
    for ax in axes.ravel()[len(modes) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"distribution of the {kernel} response: border band ({width} px) vs interior", fontsize=9
    )
    return fig


def coverage_figure(modes: list[str], kernel_shape: tuple[int, int], *, size: int = 12):
    """How many times each pixel of a corner is read, per rule (numbers in the cells)."""
    plt = _plt()
    rules = [m for m in modes if resolve_mode(m).kind in ("constant", "index", "partial")]
    fig, axes = plt.subplots(
        1, len(rules), figsize=(2.3 * len(rules) + 0.8, 2.7), layout="constrained", squeeze=False
    )
    maps = {
        m: coverage(
            (size, size),
            kernel_shape,
            mode=m,
            weights=np.ones(kernel_shape) if m == "partial" else None,
        )[:6, :6]
        for m in rules
    }
    top = max(float(c.max()) for c in maps.values())
    for ax, mode in zip(axes[0], rules, strict=True):
        cells = maps[mode]
        shown = ax.imshow(cells, cmap="viridis", vmin=0, vmax=top)
        for (i, j), v in np.ndenumerate(cells):
            label = f"{v:g}" if v == int(v) else f"{v:.2f}".rstrip("0")
            ink = "white" if v < top * 0.6 else "black"
            ax.text(j, i, label, ha="center", va="center", fontsize=6, color=ink)
        ax.set_title(mode + (" (weight sums)" if mode == "partial" else ""))
        ax.set_xlabel("x (px from the corner)")
        if ax is axes[0, 0]:
            ax.set_ylabel("y (px from the corner)")
    fig.colorbar(shown, ax=axes[0, :], fraction=0.04, label="times read")
    fig.suptitle(
        f"coverage of the top-left corner, {kernel_shape[0]}x{kernel_shape[1]} kernel, 'same'",
        fontsize=9,
    )
    return fig
