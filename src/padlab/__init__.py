"""padlab: see and fix what padding does to convolutions.

One vocabulary of padding rules (``padlab modes``), padding with any rule and width
(:func:`pad`), translation of the clashing names of numpy, scipy, OpenCV, PyTorch, TensorFlow
and ONNX (:func:`translate`), and correlation and convolution with every rule and geometry
(:func:`correlate`, :func:`convolve`, :func:`same_padding`, :func:`output_shape`).

Examples
--------
>>> import padlab
>>> padlab.translate("scipy:reflect", to="numpy")
'symmetric'
>>> padlab.pad([1, 2, 3], 2, "reflect")
array([3, 2, 1, 2, 3, 2, 1])
"""

from padlab._config import show_config
from padlab._version import __version__
from padlab.analysis import (
    border_profile,
    compare,
    context_error,
    coverage,
    distribution_shift,
    equivariance_error,
    false_edge_energy,
    recommend,
    uneven_padding,
)
from padlab.errors import (
    PadlabDependencyError,
    PadlabError,
    PadlabFileError,
    PadlabMemoryError,
    PadlabTypeError,
    PadlabValueError,
    PadlabWarning,
)
from padlab.io import (
    display,
    from_float,
    read_image,
    resize,
    sample_image,
    to_float,
    to_gray,
    write_image,
)
from padlab.kernels import get_kernel, kernel_names, parse_kernel
from padlab.modes import (
    LIBRARIES,
    RULES,
    ModeName,
    Rule,
    describe,
    library_names,
    pad,
    rule_names,
    translate,
)
from padlab.ops import conv_nd, convolve, correlate, filter_image, output_shape, same_padding
from padlab.report import describe_filtering, show_image, show_pair

__all__ = [
    "LIBRARIES",
    "RULES",
    "ModeName",
    "PadlabDependencyError",
    "PadlabError",
    "PadlabFileError",
    "PadlabMemoryError",
    "PadlabTypeError",
    "PadlabValueError",
    "PadlabWarning",
    "Rule",
    "__version__",
    "border_profile",
    "compare",
    "context_error",
    "conv_nd",
    "convolve",
    "correlate",
    "coverage",
    "describe",
    "describe_filtering",
    "display",
    "distribution_shift",
    "equivariance_error",
    "false_edge_energy",
    "filter_image",
    "from_float",
    "get_kernel",
    "kernel_names",
    "library_names",
    "output_shape",
    "pad",
    "parse_kernel",
    "read_image",
    "recommend",
    "resize",
    "rule_names",
    "same_padding",
    "sample_image",
    "show_config",
    "show_image",
    "show_pair",
    "to_float",
    "to_gray",
    "translate",
    "uneven_padding",
    "write_image",
]
