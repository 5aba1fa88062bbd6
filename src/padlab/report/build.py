"""``build_report``: measure, draw and write the self-contained HTML report.

The report is built in a temporary directory next to the target and renamed into place at the
end, so an interrupted or failed run never leaves a partial report behind (and an existing report
is only replaced by a complete one).
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from padlab._files import atomic_directory, check_output_directory
from padlab._version import __version__
from padlab.analysis.compare import DEFAULT_MODES, Comparison, compare
from padlab.analysis.metrics import band_width, context_error
from padlab.errors import PadlabValueError
from padlab.io.images import to_float, to_gray
from padlab.kernels.registry import describe_kernel, get_kernel
from padlab.modes.registry import RULES, resolve_mode
from padlab.ops.filtering import correlate
from padlab.report import figures

__all__ = ["DEFAULT_KERNELS", "Report", "build_report", "recommend"]

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
    recommendation: str
    seconds: float
    figures: list[str] = field(default_factory=list)


def recommend(comparisons: dict[str, Comparison]) -> tuple[str, str]:
    """The rule to use, and why, derived from the measurements.

    The rule with the smallest mean *relative* context error over the kernels wins; the sentence
    quotes its error against zero padding's and the false-edge ratios.

    Examples
    --------
    >>> import padlab
    >>> from padlab.report.build import recommend
    >>> photo = padlab.sample_image(gray=True)[:100, :100]
    >>> c = {"blur": padlab.compare(photo, padlab.get_kernel("blur"), ["zeros", "replicate"])}
    >>> recommend(c)[0]
    'replicate'
    """
    modes = next(iter(comparisons.values())).modes
    score = {}
    for mode in modes:
        values = [
            next(r for r in c.records if r.mode == mode).context_error_relative
            for c in comparisons.values()
        ]
        score[mode] = float(np.mean(values))
    best = min(score, key=score.__getitem__)
    rule = resolve_mode(best)
    parts = [
        f"Use {best} ({rule.pattern}): over {len(comparisons)} kernel(s) its mean error against "
        f"the true context is {100 * score[best]:.2f}% of the response's size"
    ]
    if "zeros" in score and best != "zeros" and score["zeros"] > 0:
        times = score["zeros"] / max(score[best], 1e-12)
        parts.append(
            f", {times:.1f} times smaller than zero padding's ({100 * score['zeros']:.2f}%)"
        )
    ratios = []
    for name, c in comparisons.items():
        rec = {r.mode: r for r in c.records}
        if "zeros" in rec and best in rec:
            zero, chosen = _ratio(rec["zeros"].false_edge_ratio), _ratio(rec[best].false_edge_ratio)
            ratios.append(f"{name}: {zero} with zeros, {chosen} with {best}")
    sentence = "".join(parts) + "."
    if ratios:
        sentence += (
            " False-edge ratio (border band over interior, 1 = no false edge): "
            + "; ".join(ratios)
            + "."
        )
    ties = [m for m in score if m != best and math.isclose(score[m], score[best], rel_tol=1e-9)]
    if ties:
        sentence += (
            f" {', '.join(ties)} gave exactly the same results: with these kernels the rules "
            "invent the same pixels (one pixel of symmetric padding is a replicated edge)."
        )
    others = [m for m in sorted(score, key=score.__getitem__) if m != best and m not in ties]
    if others:
        sentence += f" Next best: {others[0]} ({100 * score[others[0]]:.2f}%)."
    return best, sentence


def _ratio(value: float) -> str:
    return "infinite" if math.isinf(value) else f"{value:.2f}"


def build_report(
    image: np.ndarray,
    *,
    image_name: str,
    kernels: tuple[str, ...] = DEFAULT_KERNELS,
    modes: tuple[str, ...] = DEFAULT_MODES,
    pad_width: int = 24,
    depth: int = 2,
    out_dir: str | os.PathLike[str] = "padlab-report",
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Measure and draw every rule and kernel on ``image``; write DIR/index.html, PNGs, metrics.

    Parameters
    ----------
    image : ndarray
        The photo (uint8/uint16/float in [0, 1]; colour is measured as grayscale luma).
    image_name : str
        Its name in the report.
    kernels : tuple of str
        Named kernels (see ``padlab kernels``); text kernels work too.
    modes : tuple of str
        Rules to compare.
    pad_width : int
        Padding of the classic figure, in pixels.
    depth : int
        The deepest stacking for the context-error curves (1 .. depth are drawn).
    out_dir : path
        Target directory; replaced only once the new report is complete.
    command : str
        The command line, printed in the report for reproduction.
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
    if pad_width < 1:
        raise PadlabValueError(f"pad width must be at least 1 pixel, got {pad_width}")
    if depth < 1:
        raise PadlabValueError(f"depth must be at least 1, got {depth}")
    from padlab.kernels.registry import parse_kernel

    named = {}
    for spec in kernels:
        label, kernel = parse_kernel(spec)
        named[label] = kernel
    rules = [resolve_mode(m).name for m in modes]
    gray = to_float(to_gray(image)).astype(np.float64)
    if min(gray.shape) <= 4 * depth * max(band_width(k.shape) for k in named.values()) + 8:
        raise PadlabValueError(f"image {image.shape} is too small for this report (depth {depth})")

    with atomic_directory(target) as work:
        report = _build(gray, named, rules, pad_width, depth, work, image_name, image, command, say)
        say("writing the report")
    report.directory = target
    report.seconds = time.perf_counter() - started
    return report


def _build(gray, named, rules, pad_width, depth, work, image_name, image, command, say) -> Report:
    plt = figures._plt()
    saved: list[dict[str, str]] = []

    def save(fig, name: str, caption: str) -> None:
        fig.savefig(work / name, format="png")
        plt.close(fig)
        saved.append({"file": name, "caption": caption})

    laplacian = get_kernel("outline")
    for mode in rules:
        say(f"classic figure: {mode}")
        save(
            figures.classic_figure(gray, mode, pad_width=pad_width, laplacian=laplacian),
            f"classic-{mode}.png",
            f"The classic figure with {mode} padding: the photo padded by {pad_width} px, its "
            "Laplacian ('valid', so only real and padded pixels are read), and the pixel "
            "histograms before and after padding.",
        )
    comparisons = {}
    for name, kernel in named.items():
        say(f"measuring {name} under {len(rules)} rules")
        comparisons[name] = compare(
            gray, kernel, rules, depth=depth, image_name=image_name, kernel_name=name
        )
    band = {name: band_width(k.shape) for name, k in named.items()}
    say("response grid")
    save(
        figures.response_grid(gray, named, rules, band=band),
        "responses.png",
        "Each kernel's response under each rule, zoomed on the top-left corner; outputs above "
        "and left of the dashed line read padding.",
    )
    first = next(iter(named))
    for name, kernel in named.items():
        say(f"context error: {name}")
        errors, curves = {}, {}
        for mode in rules:
            per_depth = [context_error(gray, kernel, mode, depth=d) for d in range(1, depth + 1)]
            errors[mode] = per_depth[-1].error
            curves[mode] = [p.by_distance for p in per_depth]
        save(
            figures.context_figure(errors, curves, kernel=name),
            f"context-{name}.png",
            f"{name}: where each rule is wrong (|error| against the true context, filter "
            f"applied {depth} times, zoomed on the worst spot of the border) and how the error "
            f"falls with distance to the border, for the filter applied 1 to {depth} times.",
        )
    responses = {m: correlate(gray, named[first], mode=m) for m in rules}
    say("profiles and histograms")
    save(
        figures.profile_figure(responses, kernel=first),
        "profile.png",
        f"Mean absolute {first} response by distance to the nearest border: a rule without "
        "border bias gives a flat line.",
    )
    save(
        figures.histogram_figure(responses, kernel=first, width=band[first]),
        "histograms.png",
        f"Distribution of the {first} response in the border band against the interior.",
    )
    save(
        figures.coverage_figure(rules, named[first].shape),
        "coverage.png",
        "How many times each pixel near the corner is read; partial counts its rescaled weights.",
    )
    best, sentence = recommend(comparisons)
    metrics = {
        "image": {"name": image_name, "shape": list(image.shape), "dtype": str(image.dtype)},
        "kernels": {
            name: {**describe_kernel(k), "weights": k.tolist()} for name, k in named.items()
        },
        "modes": rules,
        "pad_width": pad_width,
        "depth": depth,
        "recommendation": {"mode": best, "why": sentence},
        "comparisons": {name: c.to_dict() for name, c in comparisons.items()},
        "padlab": __version__,
        "command": command,
    }
    (work / "metrics.json").write_text(json.dumps(_clean(metrics), indent=2))
    html = _render(
        gray.shape,
        image_name,
        named,
        rules,
        comparisons,
        saved,
        work,
        best,
        sentence,
        pad_width,
        depth,
        command,
    )
    (work / "index.html").write_text(html, encoding="utf-8")
    return Report(work, comparisons, sentence, 0.0, [s["file"] for s in saved])


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _render(
    shape,
    image_name,
    named,
    rules,
    comparisons,
    saved,
    work,
    best,
    sentence,
    pad_width,
    depth,
    command,
) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("padlab.report", "templates"), autoescape=select_autoescape()
    )
    images = [
        {**s, "data": base64.b64encode((work / s["file"]).read_bytes()).decode("ascii")}
        for s in saved
    ]
    tables = {}
    for name, c in comparisons.items():
        tables[name] = [
            {
                "rank": r.rank,
                "mode": r.mode,
                "pattern": r.pattern,
                "rmse": f"{r.context_error_rmse:.5f}",
                "relative": f"{100 * r.context_error_relative:.2f}%",
                "max": f"{r.context_error_max:.4f}",
                "false_edge": _ratio(r.false_edge_ratio),
                "ks": f"{r.ks_border_vs_interior:.3f}",
                "w1": f"{r.w1_border_vs_interior:.4f}",
                "mass": f"{100 * r.mass_at_value_padded:.2f}%",
                "equivariance": f"{r.equivariance_error:.4f}",
                "best": r.mode == best,
            }
            for r in c.records
        ]
    template = env.get_template("report.html.j2")
    return template.render(
        title=f"padlab report: {image_name}",
        image_name=image_name,
        shape="x".join(map(str, shape)),
        kernels=[
            {"name": n, "shape": "x".join(map(str, k.shape)), **describe_kernel(k)}
            for n, k in named.items()
        ],
        rules=[r for r in RULES if r.name in rules],
        best=best,
        recommendation=sentence,
        tables=tables,
        images=images,
        metrics=METRICS,
        pad_width=pad_width,
        depth=depth,
        command=command or "padlab report",
        version=__version__,
        python=sys.version.split()[0],
        platform=platform.platform(),
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
