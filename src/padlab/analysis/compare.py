"""``padlab.compare``: every measurement for every rule, ranked by the error against the truth."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from padlab.analysis.coverage import coverage
from padlab.analysis.metrics import (
    _split,
    band_width,
    context_error,
    distribution_shift,
    equivariance_error,
    false_edge_energy,
)
from padlab.modes.registry import resolve_mode

__all__ = ["DEFAULT_MODES", "Comparison", "RuleRecord", "compare"]

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
        """A readable table, best rule first."""
        header = (
            f"{'rank':>4}  {'rule':10s} {'context RMSE':>12} {'max err':>9} {'false edge':>10} "
            f"{'KS edge/in':>10} {'W1 edge/in':>10} {'equivar.':>9}"
        )
        lines = [header]
        for r in self.records:
            lines.append(
                f"{r.rank:4d}  {r.mode:10s} {r.context_error_rmse:12.5f} "
                f"{r.context_error_max:9.4f} "
                f"{_fmt(r.false_edge_ratio):>10} {r.ks_border_vs_interior:10.3f} "
                f"{r.w1_border_vs_interior:10.4f} {r.equivariance_error:9.4f}"
            )
        return "\n".join(lines)

    def best(self) -> RuleRecord:
        """The rule with the smallest context error."""
        return self.records[0]


def _fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3f}"


def _finite(record: dict[str, object]) -> dict[str, object]:
    """JSON has no infinity: write it as null (and say so in the CLI's help)."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }


def compare(
    image: object,
    kernel: object,
    modes: tuple[str, ...] | list[str] = DEFAULT_MODES,
    *,
    depth: int = 1,
    value: float = 0,
    image_name: str = "array",
    kernel_name: str = "kernel",
) -> Comparison:
    """Measure what each padding rule does to ``image`` filtered with ``kernel``.

    For every rule: the error against the true context (at ``depth`` stacked filterings), the
    false-edge ratio, the distribution shift between border band and interior and between the
    padded and the original image, the translation-equivariance error, and the coverage of the
    corner pixel over an interior one. Records are ranked by context RMSE, lowest first; exact
    ties share a rank and keep the order of ``modes``.

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
    x, w, channel_axis = _split(image, kernel)
    rules = [resolve_mode(m) for m in modes]
    spatial = x.shape if channel_axis is None else x.shape[:-1]
    records = []
    for rule in rules:
        ctx = context_error(x, w, rule.name, depth=depth, value=value)
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
                context_error_rmse=ctx.rmse,
                context_error_max=ctx.max_abs,
                context_error_relative=ctx.relative_rmse,
                context_error_by_distance=[float(v) for v in ctx.by_distance],
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
    records.sort(key=lambda r: (r["context_error_rmse"], order[r["mode"]]))
    # exact ties share a rank (one pixel of symmetric padding is a replicated edge, say)
    ranked = [
        RuleRecord(
            rank=1 + sum(o["context_error_rmse"] < r["context_error_rmse"] for o in records), **r
        )
        for r in records
    ]
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
    )
