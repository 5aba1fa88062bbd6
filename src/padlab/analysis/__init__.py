"""Measurements of what padding did: context error, false edges, distribution shift,
border-distance profiles, coverage, equivariance, uneven strided padding, and their comparison.
"""

from padlab.analysis.compare import DEFAULT_MODES, Comparison, RuleRecord, compare
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
    "uneven_padding",
]
