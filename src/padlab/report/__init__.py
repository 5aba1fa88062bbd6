"""Figures and reports: notebook helpers now, the HTML report later."""

from padlab.report.notebook import describe_filtering, show_image, show_pair

__all__ = ["describe_filtering", "show_image", "show_pair"]
