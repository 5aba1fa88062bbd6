"""What padlab shows: the notebook helpers (:func:`show_image`, :func:`show_pair`,
:func:`describe_filtering`) and the HTML report (:func:`padlab.report.build.build_report`, the
engine of ``padlab report``, drawing with :mod:`padlab.report.figures`).

The report only shows measurements and advice made in :mod:`padlab.analysis`
(:func:`padlab.analysis.comparison.compare`, :func:`padlab.analysis.recommend`); it decides
nothing itself.
"""

from padlab.report.notebook import describe_filtering, show_image, show_pair

__all__ = ["describe_filtering", "show_image", "show_pair"]
