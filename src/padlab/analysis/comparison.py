"""``padlab.compare``: every measurement for every rule, ranked by the error against the truth;
``recommend``: the one place that picks the rule to use, for the report, the CLI and the API.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from padlab.analysis.coverage import coverage
from padlab.analysis.metrics import (
    band_width,
    context_error,
    distribution_shift,
    equivariance_error,
    false_edge_energy,
    release_caches,
    split_channels,
)
from padlab.errors import PadlabValueError
from padlab.modes.registry import resolve_mode

__all__ = ["DEFAULT_MODES", "Comparison", "Recommendation", "RuleRecord", "compare", "recommend"]

#: The rules compared when none are given: the usual remedies against zero padding.
DEFAULT_MODES = ("zeros", "reflect", "symmetric", "replicate", "circular", "partial")


@dataclass(frozen=True)
class RuleRecord:
    """Every measurement of one rule (see :mod:`padlab.analysis.metrics` for definitions)."""

    mode: str
    pattern: str
    rank: int
    context_error_rmse: float
    context_error_max: float
    context_error_relative: float
    context_error_by_distance: list[float]
    false_edge_ratio: float
    false_edge_band_mean: float
    false_edge_interior_mean: float
    ks_border_vs_interior: float
    w1_border_vs_interior: float
    ks_padded_vs_original: float
    w1_padded_vs_original: float
    mass_at_value_padded: float
    mass_at_value_original: float
    equivariance_error: float
    coverage_corner_over_interior: float | None


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: records ranked by context error (best first)."""

    image: dict[str, object]
    kernel: dict[str, object]
    modes: list[str]
    depth: int
    records: list[RuleRecord]
    #: with ``compare(..., keep_maps=True)``: each rule's absolute error against the true context
    #: (float32; channels reduced by their maximum), for figures; not part of :meth:`to_dict`
    error_maps: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: "image", "kernel", "modes", "depth" and "records"."""
        return {
            "image": self.image,
            "kernel": self.kernel,
            "modes": self.modes,
            "depth": self.depth,
            "records": [_finite(asdict(r)) for r in self.records],
        }

    def table(self) -> str:
        """A readable table, best rule first; the relative error is what the ranking uses."""
        header = (
            f"{'rank':>4}  {'rule':10s} {'rel. error':>10} {'false edge':>10} "
            f"{'context RMSE':>12} {'max err':>9} {'KS edge/in':>10} {'W1 edge/in':>10} "
            f"{'equivar.':>9}"
        )
        lines = [header]
        for r in self.records:
            lines.append(
                f"{r.rank:4d}  {r.mode:10s} {percent(r.context_error_relative):>10} "
                f"{_fmt(r.false_edge_ratio):>10} {r.context_error_rmse:12.5f} "
                f"{r.context_error_max:9.4f} {r.ks_border_vs_interior:10.3f} "
                f"{r.w1_border_vs_interior:10.4f} {r.equivariance_error:9.4f}"
            )
        return "\n".join(lines)

    def best(self) -> RuleRecord:
        """The rule :func:`recommend` picks for this kernel alone (smallest relative error)."""
        chosen = recommend(self).mode
        return next(r for r in self.records if r.mode == chosen)

    def _repr_html_(self) -> str:
        """The table as HTML, for Jupyter."""
        from html import escape

        head = "".join(
            f"<th>{h}</th>"
            for h in (
                "rank",
                "rule",
                "relative error",
                "false edge",
                "context RMSE",
                "max error",
                "KS edge/in",
                "W1 edge/in",
                "equivariance",
            )
        )
        rows = "".join(
            f"<tr><td>{r.rank}</td><td>{escape(r.mode)} <code>{escape(r.pattern)}</code></td>"
            f"<td>{percent(r.context_error_relative)}</td><td>{_fmt(r.false_edge_ratio)}</td>"
            f"<td>{r.context_error_rmse:.5f}</td><td>{r.context_error_max:.4f}</td>"
            f"<td>{r.ks_border_vs_interior:.3f}</td><td>{r.w1_border_vs_interior:.4f}</td>"
            f"<td>{r.equivariance_error:.4f}</td></tr>"
            for r in self.records
        )
        caption = escape(
            f"{self.kernel['name']} on {self.image['name']}, depth {self.depth}; "
            f"{recommend(self).sentence}"
        )
        return f"<table><caption>{caption}</caption><tr>{head}</tr>{rows}</table>"


def percent(share: float) -> str:
    """A share as a percentage with three significant digits.

    Examples
    --------
    >>> percent(0.2117), percent(1.2343), percent(0.000012), percent(0.0)
    ('21.2%', '123%', '0.0012%', '0%')
    """
    if not math.isfinite(share):
        return "n/a"
    value = 100 * share
    if value == 0:
        return "0%"
    if abs(value) >= 100:
        return f"{value:.0f}%"
    return f"{value:.3g}%"


def _fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _finite(record: dict[str, object]) -> dict[str, object]:
    """JSON has no infinity: write it as null (and say so in the CLI's help)."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }


def compare(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    modes: tuple[str, ...] | list[str] = DEFAULT_MODES,
    *,
    depth: int = 1,
    value: float = 0,
    image_name: str = "array",
    kernel_name: str = "kernel",
    keep_maps: bool = False,
) -> Comparison:
    """Measure what each padding rule does to ``image`` filtered with ``kernel``.

    For every rule: the error against the true context (at ``depth`` stacked filterings), the
    false-edge ratio, the distribution shift between border band and interior and between the
    padded and the original image, the translation-equivariance error, and the coverage of the
    corner pixel over an interior one. Records are ranked by the relative context error (the
    criterion of :func:`recommend`), lowest first; exact ties share a rank and keep the order of
    ``modes``. Colour images are measured over all channels; pass ``to_gray(image)`` to measure
    the luma, as ``padlab report`` and ``padlab compare`` do by default.

    Parameters
    ----------
    image : array_like
        Grayscale or colour (channels last); uint8 images are measured in [0, 1] units.
    kernel : array_like
    modes : sequence of str
        Rules to compare (default: zeros, reflect, symmetric, replicate, circular, partial).
    depth : int
        Filter stacking depth for the context error.
    value : float
        The constant of 'constant'.
    image_name, kernel_name : str
        Labels for the report.
    keep_maps : bool
        Keep each rule's absolute-error map in ``Comparison.error_maps`` (float32), for figures.

    Examples
    --------
    >>> import padlab
    >>> photo = padlab.sample_image(gray=True)[:120, :100]
    >>> result = padlab.compare(photo, padlab.get_kernel("outline"), ["zeros", "reflect"])
    >>> [r.mode for r in result.records]
    ['reflect', 'zeros']
    >>> result.best().context_error_rmse < result.records[1].context_error_rmse
    True
    """
    x, w, channel_axis = split_channels(image, kernel)
    if isinstance(modes, str):
        modes = [modes]
    if not modes:
        raise PadlabValueError("no padding rule given; name at least one (see padlab modes)")
    rules = [resolve_mode(m) for m in modes]
    spatial = x.shape if channel_axis is None else x.shape[:-1]
    records: list[dict[str, Any]] = []
    maps: dict[str, np.ndarray] = {}
    for rule in rules:
        ctx = context_error(x, w, rule.name, depth=depth, value=value)
        if keep_maps:
            magnitude = np.abs(ctx.error)
            if magnitude.ndim == 3:
                magnitude = magnitude.max(axis=2)
            maps[rule.name] = magnitude.astype(np.float32)
            del magnitude
        context = dict(
            context_error_rmse=ctx.rmse,
            context_error_max=ctx.max_abs,
            context_error_relative=ctx.relative_rmse,
            context_error_by_distance=[float(v) for v in ctx.by_distance],
        )
        del ctx  # its error map: freed before the next measurement
        edges = false_edge_energy(x, w, rule.name, value=value)
        shift = distribution_shift(x, w, rule.name, value=value)
        equi = equivariance_error(x, w, rule.name, value=value)
        corner = None
        if rule.kind in ("constant", "index", "partial"):
            probe = tuple(min(n, 4 * band_width(w.shape) + 4) for n in spatial)
            cov = coverage(probe, w.shape, mode=rule.name)
            centre = cov[tuple(n // 2 for n in probe)]
            corner = float(cov[(0,) * len(probe)] / centre) if centre else None
        records.append(
            dict(
                mode=rule.name,
                pattern=rule.pattern,
                **context,
                false_edge_ratio=edges.ratio,
                false_edge_band_mean=edges.band_mean_abs,
                false_edge_interior_mean=edges.interior_mean_abs,
                ks_border_vs_interior=shift.ks_border_vs_interior,
                w1_border_vs_interior=shift.w1_border_vs_interior,
                ks_padded_vs_original=shift.ks_padded_vs_original,
                w1_padded_vs_original=shift.w1_padded_vs_original,
                mass_at_value_padded=shift.mass_at_value_padded,
                mass_at_value_original=shift.mass_at_value_original,
                equivariance_error=equi,
                coverage_corner_over_interior=corner,
            )
        )
    order = {rule.name: i for i, rule in enumerate(rules)}
    release_caches()
    key = "context_error_relative"
    records.sort(key=lambda r: (r[key], order[r["mode"]]))
    # exact ties share a rank (one pixel of symmetric padding is a replicated edge, say)
    ranked = [RuleRecord(rank=1 + sum(o[key] < r[key] for o in records), **r) for r in records]
    return Comparison(
        image={
            "name": image_name,
            "shape": list(np.shape(image)),
            "dtype": str(np.asarray(image).dtype),
        },
        kernel={"name": kernel_name, "shape": list(w.shape), "sum": float(w.sum())},
        modes=[r.name for r in rules],
        depth=depth,
        records=ranked,
        error_maps=maps if keep_maps else None,
    )


@dataclass(frozen=True)
class Recommendation:
    """The rule to use and why, from :func:`recommend`.

    Attributes
    ----------
    mode, pattern : str
        The rule with the smallest mean relative context error, and its diagram.
    score : dict
        Every rule's mean relative context error over the kernels, best first.
    ties : list of str
        Rules with exactly the chosen rule's score.
    runner_up : str or None
        The best rule that does not tie.
    sentence : str
        The advice, quoting the measured numbers.
    false_edges : dict
        Per kernel, ``(zeros' ratio, chosen rule's ratio)`` when zeros was measured.
    warnings : list of str
        Said plainly wherever the advice is shown: e.g. every rule ties (a flat border).
    """

    mode: str
    pattern: str
    score: dict[str, float]
    ties: list[str]
    runner_up: str | None
    sentence: str
    false_edges: dict[str, tuple[float, float]]
    warnings: list[str]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (infinite ratios as null)."""
        clean = {
            k: [None if math.isinf(v) else v for v in pair] for k, pair in self.false_edges.items()
        }
        return {**asdict(self), "false_edges": clean}


def recommend(comparisons: Comparison | dict[str, Comparison]) -> Recommendation:
    """The rule to use, and why: the one place padlab decides it (report, CLI and API).

    The rule with the smallest mean *relative* context error over the kernels wins (relative:
    RMS error in the border band over the true response's RMS, so kernels of different gain
    count alike). Exact ties are reported, and if every rule ties (a flat border, or a kernel
    that reads no padding) the advice says that padding made no difference.

    Examples
    --------
    >>> import padlab
    >>> photo = padlab.sample_image(gray=True)[:100, :100]
    >>> c = padlab.compare(photo, padlab.get_kernel("blur"), ["zeros", "replicate"])
    >>> advice = recommend(c)
    >>> advice.mode, advice.runner_up
    ('replicate', 'zeros')
    >>> advice.sentence.startswith("Use replicate")
    True
    """
    if isinstance(comparisons, Comparison):
        comparisons = {str(comparisons.kernel["name"]): comparisons}
    if not comparisons:
        raise PadlabValueError("nothing to recommend from: no comparison given")
    modes = next(iter(comparisons.values())).modes
    score = {}
    for mode in modes:
        values = [
            next(r for r in c.records if r.mode == mode).context_error_relative
            for c in comparisons.values()
        ]
        score[mode] = float(np.mean(values))
    order = sorted(modes, key=lambda m: (score[m], modes.index(m)))
    score = {m: score[m] for m in order}
    best = order[0]
    rule = resolve_mode(best)
    ties = [m for m in order[1:] if _same(score[m], score[best])]
    others = [m for m in order[1:] if m not in ties]
    runner_up = others[0] if others else None
    kernels = len(comparisons)
    over = "" if kernels == 1 else f" on average over {kernels} kernels"
    false_edges = {}
    for name, c in comparisons.items():
        rec = {r.mode: r for r in c.records}
        if "zeros" in rec:
            false_edges[name] = (rec["zeros"].false_edge_ratio, rec[best].false_edge_ratio)
    warnings = []
    if runner_up is None:
        what = "every rule" if len(modes) > 1 else "the only rule measured"
        sentence = (
            f"Padding made no difference here: {what} gave the same error against the true "
            f"context ({percent(score[best])} of the response{over})."
        )
        if len(modes) > 1:
            warnings.append(
                "All rules tie: the image's border is flat (or the kernel reads no padding), so "
                "this photo cannot tell the rules apart; try a photo with detail at its edges."
            )
        return Recommendation(
            best, rule.pattern, score, ties, None, sentence, false_edges, warnings
        )
    sentence = (
        f"Use {best} ({rule.pattern}): its error against the true context is "
        f"{percent(score[best])} of the response{over}"
    )
    if best != "zeros" and "zeros" in score and score[best] > 0:
        sentence += (
            f", {score['zeros'] / score[best]:.1f} times smaller than zero padding's "
            f"({percent(score['zeros'])})"
        )
    sentence += "."
    if ties:
        sentence += f" {_join(ties)} gave exactly the same numbers with these kernels."
    if runner_up != "zeros" or best == "zeros" or "zeros" not in score:
        sentence += f" Next best: {runner_up} ({percent(score[runner_up])})."
    return Recommendation(
        best, rule.pattern, score, ties, runner_up, sentence, false_edges, warnings
    )


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
