"""The order of the gallery: from first principles to applications; new examples go last."""

from __future__ import annotations

ORDER = (
    "plot_convolution_from_scratch.py",
    "plot_valid_vs_same.py",
    "plot_sharpen_blur_outline.py",
    "plot_zero_padded_photo.py",
    "plot_every_rule.py",
    "plot_choose_a_rule.py",
    "plot_port_to_pytorch.py",
    "plot_audit_a_cnn.py",
    "plot_position_experiment.py",
)


class ExampleOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``: ORDER first, then by name."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        position = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return position, filename

    def __repr__(self) -> str:  # sphinx-gallery compares configurations by repr
        return f"ExampleOrder({ORDER!r})"
