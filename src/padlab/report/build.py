"""``build_report``: measure, draw and write the self-contained HTML report.

The report is built in a temporary directory next to the target and renamed into place at the
end, so an interrupted or failed run never leaves a partial report behind (and an existing report
is only replaced by a complete one). The advice comes from :func:`padlab.analysis.recommend`,
the one place that decides it; this module only shows it. Every value that reaches the page is
HTML-escaped (file names and command lines can hold ``<``, ``&`` and quotes).
"""

from __future__ import annotations

import base64
import gc
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypedDict

import numpy as np

from padlab._files import atomic_directory, check_output_directory
from padlab._version import __version__
from padlab.analysis.comparison import (
    DEFAULT_MODES,
    Comparison,
    Recommendation,
    compare,
    percent,
    recommend,
)
from padlab.analysis.metrics import band_width, context_error
from padlab.errors import PadlabValueError
from padlab.io.images import to_float, to_gray
from padlab.kernels.registry import describe_kernel, get_kernel, parse_kernel
from padlab.modes.registry import RULES, resolve_mode
from padlab.ops.filtering import correlate
from padlab.report import figures
from padlab.report.drawing import Drawing, release

__all__ = [
    "DEFAULT_KERNELS",
    "Prepared",
    "Report",
    "build_report",
    "environment",
    "name_kernels",
    "prepare_image",
]

#: The kernels of the classic tutorial.
DEFAULT_KERNELS = ("outline", "sharpen", "blur")

METRICS = {
    "context error": "Crop an inner window of the photo, filter it with the rule, and compare with "
    "filtering the whole photo and cutting the same window: the whole photo supplies the true "
    "pixels beyond the window's edge. RMS and largest error in the border band; the band is "
    "as wide as the kernel reaches, times the depth when the filter is applied several times.",
    "false-edge ratio": "Mean absolute response in the border band divided by the interior's. "
    "Above 1, the filter fires more at the border than inside: a false edge.",
    "KS / W1 border vs interior": "Kolmogorov-Smirnov statistic (0 = same distribution, 1 = "
    "disjoint) and Wasserstein-1 distance (in response units) between the responses in the "
    "border band and in the interior.",
    "mass at the padding value": "Share of pixels equal to the padding constant (0 for zeros) in "
    "the padded and in the original photo: the spike in the histogram.",
    "equivariance error": "Filter a shifted photo and shift the filtered photo: the RMS of the "
    "difference over their common region, relative to the response. Moving the border should "
    "not change the image far from it; the error measures how much it changes near it.",
    "coverage": "How many times each pixel is read by the filter. Zero padding reads a corner "
    "pixel 4 times with a 3x3 kernel, an interior pixel 9 times.",
}


@dataclass
class Report:
    """What :func:`build_report` made: where, the measurements, and the advice."""

    directory: Path
    comparisons: dict[str, Comparison]
    advice: Recommendation
    seconds: float
    figures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def recommendation(self) -> str:
        """The advice as one sentence."""
        return self.advice.sentence


@dataclass(frozen=True)
class Prepared:
    """An image ready to measure: float64 in [0, 1], and what was done to it (said plainly)."""

    pixels: np.ndarray
    measured_as: str
    warnings: list[str]


def prepare_image(image: object, *, colour: bool = False, name: str = "the image") -> Prepared:
    """The image as padlab measures it: BT.601 luma (default) or RGB, float64 in [0, 1].

    An alpha channel is composited over white (a transparent background becomes white, not
    black) and a warning says so; ``padlab report``, ``padlab compare`` and :func:`build_report`
    all call this, so they measure the same thing.

    Examples
    --------
    >>> import numpy as np
    >>> rgba = np.zeros((2, 2, 4), np.uint8)  # black and fully transparent
    >>> p = prepare_image(rgba)
    >>> p.pixels.tolist(), p.measured_as
    ([[1.0, 1.0], [1.0, 1.0]], 'grayscale (BT.601 luma)')
    >>> p.warnings[0].startswith("the image has an alpha channel")
    True
    """
    pixels = np.asarray(image)
    warnings = []
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        values = to_float(pixels).astype(np.float64)
        alpha = values[..., 3:]
        transparent = float(np.mean(alpha[..., 0] < 1))
        pixels = values[..., :3] * alpha + (1 - alpha)
        warnings.append(
            f"{name} has an alpha channel: it was composited over white before measuring "
            f"({100 * transparent:.1f}% of pixels are not opaque); padding rules see the white "
            "background, not the transparency."
        )
    elif pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise PadlabValueError(f"{name}: expected (H, W) or (H, W, 3/4) pixels, got {pixels.shape}")
    if colour and pixels.ndim == 3:
        return Prepared(to_float(pixels).astype(np.float64), "colour (R, G, B together)", warnings)
    measured = "grayscale (BT.601 luma)"
    if pixels.ndim == 3:
        pixels = to_gray(pixels)
    return Prepared(to_float(pixels).astype(np.float64), measured, warnings)


def name_kernels(specs: Sequence[object]) -> dict[str, np.ndarray]:
    """Parse kernels and give each a unique label (two files ``a/k.npy`` and ``b/k.npy`` keep
    their paths; the same kernel given twice is an error).

    Examples
    --------
    >>> list(name_kernels(["outline", "1,2,1", "0,1,0"]))
    ['outline', '1,2,1', '0,1,0']
    """
    if not specs:
        raise PadlabValueError("no kernel given; name at least one (see padlab kernels)")
    parsed = []
    for spec in specs:
        if isinstance(spec, str) and not spec.strip():
            raise PadlabValueError("empty kernel name; see padlab kernels for the names")
        label, kernel = parse_kernel(spec)
        if label == "custom" and isinstance(spec, str):
            label = " ".join(spec.split())
        parsed.append((label, str(spec), kernel))
    labels = [label for label, _, _ in parsed]
    named: dict[str, np.ndarray] = {}
    for label, spec, kernel in parsed:
        key = label if labels.count(label) == 1 else spec
        if key in named:
            raise PadlabValueError(f"kernel {spec!r} is given twice")
        named[key] = kernel
    return named


class Environment(TypedDict):
    """What :func:`environment` returns."""

    packages: dict[str, str | None]
    python: str
    platform: str
    machine: str


def environment() -> Environment:
    """Versions of padlab and what it measured with, and the machine, for reproduction.

    Examples
    --------
    >>> sorted(environment())[:3]
    ['machine', 'packages', 'platform']
    """
    from importlib import metadata

    packages: dict[str, str | None] = {"padlab": __version__}
    for name in ("numpy", "scipy", "numba", "matplotlib", "jinja2"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "packages": packages,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def build_report(
    image: np.ndarray,
    *,
    image_name: str,
    kernels: Sequence[object] = DEFAULT_KERNELS,
    modes: Sequence[str] = DEFAULT_MODES,
    pad_width: int | None = None,
    depth: int = 2,
    colour: bool = False,
    out_dir: str | os.PathLike[str] = "padlab-report",
    command: str = "",
    argv: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Measure and draw every rule and kernel on ``image``; write DIR/index.html, PNGs, metrics.

    Parameters
    ----------
    image : ndarray
        The photo (uint8/uint16/float in [0, 1]; RGBA is composited over white, with a warning).
    image_name : str
        Its name in the report (escaped on the page).
    kernels : sequence
        Named kernels (see ``padlab kernels``), text kernels, kernel files or arrays.
    modes : sequence of str
        Rules to compare.
    pad_width : int, optional
        Padding of the classic figure, in pixels (default: 5% of the shorter side).
    depth : int
        The deepest stacking for the context error (1 .. depth are drawn).
    colour : bool
        Measure the R, G and B channels together instead of the luma (figures show the luma).
    out_dir : path
        Target directory; replaced only once the new report is complete.
    command : str
        The command line, printed in the report for reproduction.
    argv : sequence of str, optional
        The same as a list, recorded in ``metrics.json``.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    Report
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    target = Path(out_dir)
    check_output_directory(target)  # fail before any work (atomic_directory checks again)
    if pad_width is not None and pad_width < 1:
        raise PadlabValueError(f"pad width must be at least 1 pixel, got {pad_width}")
    if depth < 1:
        raise PadlabValueError(f"depth must be at least 1, got {depth}")
    named = name_kernels(kernels)
    if isinstance(modes, str):
        modes = [modes]
    if not modes:
        raise PadlabValueError("no padding rule given; name at least one (see padlab modes)")
    rules = list(dict.fromkeys(resolve_mode(m).name for m in modes))
    for name, kernel in named.items():
        if kernel.ndim != 2:
            raise PadlabValueError(
                f"kernel {name!r} has shape {kernel.shape}; the report needs 2-D"
            )
    prepared = prepare_image(image, colour=colour, name=image_name)
    measured = prepared.pixels
    gray = measured if measured.ndim == 2 else to_gray(measured)  # figures show the luma
    reach = max(band_width(k.shape) for k in named.values())
    if min(gray.shape) <= 4 * depth * reach + 8 or min(gray.shape) < 16:
        h, w = gray.shape
        raise PadlabValueError(
            f"image {w}x{h} is too small for this report: it needs more than "
            f"{max(4 * depth * reach + 8, 15)} px per side (depth {depth}, kernel reach {reach})"
        )
    setup = dict(
        image_name=image_name,
        image=np.asarray(image),
        pad_width=pad_width or figures.auto_pad_width(gray.shape),
        depth=depth,
        command=command,
        argv=list(argv) if argv is not None else None,
        prepared=prepared,
    )
    with atomic_directory(target) as work:
        report = _build(gray, measured, named, rules, work, say, **setup)
        say("writing the page")
    report.directory = target
    report.seconds = time.perf_counter() - started
    return report


def _build(gray, measured, named, rules, work, say, **setup) -> Report:
    figures.pyplot()  # matplotlib imported before the freeze
    # what exists now (modules, compiled kernels, matplotlib's caches) is never garbage here:
    # set it aside, so that each step's collection (release) scans only the step's objects
    # (1.5 s of a 9.4 s report went to scanning everything 14 times)
    gc.collect()
    gc.freeze()
    try:
        with Drawing() as drawing:
            return _steps(drawing, gray, measured, named, rules, work, say, **setup)
    finally:
        gc.unfreeze()


def _steps(drawing, gray, measured, named, rules, work, say, **setup) -> Report:
    saved: list[dict[str, object]] = []
    depth = setup["depth"]

    def save(name: str, caption: str, section: str, figure: Callable, *args, **kwargs) -> None:
        job = drawing.submit(work / name, figure, *args, **kwargs)
        saved.append({"file": name, "caption": caption, "section": section, "job": job})

    comparisons: dict[str, Comparison] = {}
    for index, (name, kernel) in enumerate(named.items(), 1):
        say(f"measuring {name} under {len(rules)} rules")
        release()
        comparison = compare(
            measured,
            kernel,
            rules,
            depth=depth,
            image_name=setup["image_name"],
            kernel_name=name,
            keep_maps=True,
        )
        comparisons[name] = comparison
        curves = {}
        for mode in rules:
            shallow = [context_error(measured, kernel, mode, depth=d) for d in range(1, depth)]
            deepest = next(r for r in comparison.records if r.mode == mode)
            curves[mode] = [p.by_distance for p in shallow]
            curves[mode].append(np.asarray(deepest.context_error_by_distance))
        maps = comparison.error_maps or {}
        save(
            f"context-{index}.png",
            f"{name}: where each rule is wrong (|error| against the true context, filter applied "
            f"{depth} times, zoomed where the error is largest) and how the RMS error falls with "
            f"the distance to the border, for the filter applied 1 to {depth} times.",
            "context",
            figures.context_figure,
            maps,
            curves,
            kernel=name,
        )
        maps.clear()  # drawn, or copied for the helper: free them before the next kernel
    advice = recommend(comparisons)
    warnings = [*setup["prepared"].warnings, *advice.warnings]
    best = advice.mode
    per_kernel = {
        name: {r.mode: r.context_error_relative for r in c.records}
        for name, c in comparisons.items()
    }
    say("figures: overview")
    save(
        "overview-errors.png",
        f"Each rule's error against the true context in the border band, as a share of the "
        f"response (depth {depth}); bars and numbers: the mean over the {len(named)} kernel(s) "
        f"that the advice quotes; markers: each kernel.",
        "advice",
        figures.error_overview,
        advice.score,
        per_kernel,
        best,
    )
    signed = [n for n, k in named.items() if (k < 0).any()]
    shown_kernel = signed[0] if signed else next(iter(named))
    save(
        "overview-photo.png",
        f"The whole photo filtered with {shown_kernel} under zero padding"
        + (f" and under {best}, the recommended rule" if best != "zeros" else "")
        + "; below, the border spot where zero and reflect padding differ most, one square per "
        "pixel. Click to open full size.",
        "advice",
        figures.photo_overview,
        gray,
        named[shown_kernel],
        shown_kernel,
        best,
    )
    say("figures: the rules")
    classic_rule = (
        "zeros"
        if "zeros" in rules
        else next((m for m in rules if resolve_mode(m).kind != "partial"), None)
    )
    if classic_rule is not None:
        pad_width = setup["pad_width"]
        save(
            "classic.png",
            f"The classic figure with {classic_rule} padding: the photo padded by {pad_width} px "
            "(5% of its shorter side unless --pad-width says otherwise), its Laplacian computed "
            "'valid' (only real and padded pixels are read), and the pixel histograms before and "
            "after padding, on one y-scale.",
            "rules",
            figures.classic_figure,
            gray,
            classic_rule,
            pad_width=pad_width,
            laplacian=get_kernel("outline"),
        )
    save(
        "rules.png",
        "Each rule on a toy image, so its pattern is plain: the image (orange square) padded by "
        "6 px (top) and its 5x5 box blur (bottom). The bright top row and left column are copied "
        "by symmetric and replicate and skipped by reflect; circular brings the dark far side "
        "around; zeros makes a black frame. partial pads nothing (hatched) and rescales the "
        "border outputs.",
        "rules",
        figures.rules_figure,
        rules,
    )
    band = {name: band_width(k.shape) for name, k in named.items()}
    say("figures: responses")
    window = figures.border_window(gray, named[shown_kernel], 40)
    rows, cols = window
    save(
        "responses.png",
        f"Each kernel's response (columns) under each rule (rows) at x {cols.start}-"
        f"{cols.stop - 1}, y {rows.start}-{rows.stop - 1}: the border spot where {shown_kernel} "
        "under zero and reflect padding differs most. Kernels with negative weights are drawn "
        "on a diverging map (white = 0), the others on a sequential one; each colour bar says "
        f"where it is clipped ({figures.CLIP}th percentile of |response|).",
        "responses",
        figures.response_grid,
        gray,
        named,
        rules,
        band=band,
        window=window,
    )
    say("figures: border bias")
    first = shown_kernel
    responses = {m: correlate(gray, named[first], mode=m).astype(np.float32) for m in rules}
    save(
        "profile.png",
        f"Mean absolute {first} response by distance to the nearest border: a rule without "
        "border bias gives a flat line.",
        "bias",
        figures.profile_figure,
        responses,
        kernel=first,
    )
    save(
        "histograms.png",
        f"Distribution of the {first} response in the border band ({band[first]} px) against the "
        "interior, one scale for every rule.",
        "bias",
        figures.histogram_figure,
        responses,
        kernel=first,
        width=band[first],
    )
    del responses
    save(
        "coverage.png",
        f"How many times each pixel of the top-left corner is read by the {first} kernel's "
        "window; partial counts its rescaled weights.",
        "bias",
        figures.coverage_figure,
        rules,
        named[first].shape,
    )
    image = setup["image"]
    h, w = image.shape[:2]
    metrics = {
        "image": {
            "name": setup["image_name"],
            "size": f"{w}x{h}",
            "shape": list(image.shape),
            "dtype": str(image.dtype),
            "measured_as": setup["prepared"].measured_as,
        },
        "kernels": {
            name: {**describe_kernel(k), "weights": k.tolist()} for name, k in named.items()
        },
        "modes": rules,
        "pad_width": setup["pad_width"],
        "depth": depth,
        "recommendation": {"mode": best, "why": advice.sentence, **advice.to_dict()},
        "warnings": warnings,
        "comparisons": {name: c.to_dict() for name, c in comparisons.items()},
        "padlab": __version__,
        "command": setup["command"],
        "argv": setup["argv"],
        "environment": environment(),
    }
    (work / "metrics.json").write_text(json.dumps(_clean(metrics), indent=2))
    if drawing.helped:
        say("finishing the figures (in two processes)")
    drawing.finish()
    for entry in saved:
        entry["width"], entry["height"] = drawing.size(entry.pop("job"))
    html = _render(gray.shape, named, rules, comparisons, advice, warnings, saved, work, setup)
    (work / "index.html").write_text(html, encoding="utf-8")
    return Report(work, comparisons, advice, 0.0, [str(s["file"]) for s in saved], warnings)


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _ratio(value: float) -> str:
    return "infinite" if math.isinf(value) else f"{value:.2f}"


def _render(shape, named, rules, comparisons, advice, warnings, saved, work, setup) -> str:
    from jinja2 import Environment, PackageLoader

    # autoescape everything: file names, kernel names, the command line are all user text
    env = Environment(loader=PackageLoader("padlab.report", "templates"), autoescape=True)
    images = [
        {**s, "data": base64.b64encode((work / str(s["file"])).read_bytes()).decode("ascii")}
        for s in saved
    ]
    tables = {}
    for name, c in comparisons.items():
        tables[name] = [
            {
                "rank": r.rank,
                "mode": r.mode,
                "pattern": r.pattern,
                "rmse": f"{r.context_error_rmse:.4g}",
                "relative": percent(r.context_error_relative),
                "max": f"{r.context_error_max:.3g}",
                "false_edge": _ratio(r.false_edge_ratio),
                "ks": f"{r.ks_border_vs_interior:.3f}",
                "w1": f"{r.w1_border_vs_interior:.3g}",
                "mass": f"{100 * r.mass_at_value_padded:.2f}%",
                "equivariance": f"{r.equivariance_error:.3g}",
                "best": r.mode == advice.mode,
            }
            for r in c.records
        ]
    false_edges = [
        {"kernel": k, "zeros": _ratio(z), "best": _ratio(b)}
        for k, (z, b) in advice.false_edges.items()
    ]
    h, w = shape
    env_info = environment()
    template = env.get_template("report.html.j2")
    return template.render(
        title=f"padlab report: {setup['image_name']}",
        image_name=setup["image_name"],
        size=f"{w}x{h}",
        measured_as=setup["prepared"].measured_as,
        kernels=[
            {**describe_kernel(k), "name": n, "shape": "x".join(map(str, k.shape))}
            for n, k in named.items()
        ],
        rules=[r for r in RULES if r.name in rules],
        advice=advice,
        best=advice.mode,
        score=[(m, percent(v)) for m, v in advice.score.items()],
        false_edges=false_edges,
        warnings=warnings,
        tables=tables,
        images=images,
        metrics=METRICS,
        depth=setup["depth"],
        command=setup["command"] or "padlab report",
        packages=", ".join(f"{k} {v}" for k, v in env_info["packages"].items() if v),
        python=env_info["python"],
        platform=env_info["platform"],
        machine=env_info["machine"],
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
