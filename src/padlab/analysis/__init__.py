"""Measurements of what padding did: context error, false edges, distribution shift,
border-distance profiles, coverage, equivariance, uneven strided padding, their comparison
(:func:`compare`, in :mod:`padlab.analysis.comparison`) and the advice (:func:`recommend`).
"""

from padlab.analysis.comparison import (
    DEFAULT_MODES,
    Comparison,
    Recommendation,
    RuleRecord,
    compare,
    recommend,
)
from padlab.analysis.coverage import coverage
from padlab.analysis.metrics import (
    BorderProfile,
    ContextError,
    DistributionShift,
    FalseEdges,
    band_width,
    border_distance,
    border_profile,
    context_error,
    distribution_shift,
    equivariance_error,
    false_edge_energy,
)
from padlab.analysis.uneven import Layer, UnevenPadding, even_sizes, uneven_padding

__all__ = [
    "DEFAULT_MODES",
    "BorderProfile",
    "Comparison",
    "ContextError",
    "DistributionShift",
    "FalseEdges",
    "Layer",
    "Recommendation",
    "RuleRecord",
    "UnevenPadding",
    "band_width",
    "border_distance",
    "border_profile",
    "compare",
    "context_error",
    "coverage",
    "distribution_shift",
    "equivariance_error",
    "even_sizes",
    "false_edge_energy",
    "recommend",
    "uneven_padding",
]
