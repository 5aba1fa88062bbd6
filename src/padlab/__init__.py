"""padlab: see and fix what padding does to convolutions.

One vocabulary of padding rules (``padlab modes``), padding with any rule and width
(:func:`pad`), and translation of the clashing names of numpy, scipy, OpenCV, PyTorch,
TensorFlow and ONNX (:func:`translate`).

Examples
--------
>>> import padlab
>>> padlab.translate("scipy:reflect", to="numpy")
'symmetric'
>>> padlab.pad([1, 2, 3], 2, "reflect")
array([3, 2, 1, 2, 3, 2, 1])
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from padlab.errors import PadlabError, PadlabMemoryError, PadlabTypeError, PadlabValueError
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

try:
    __version__ = _version("padlab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "LIBRARIES",
    "RULES",
    "ModeName",
    "PadlabError",
    "PadlabMemoryError",
    "PadlabTypeError",
    "PadlabValueError",
    "Rule",
    "__version__",
    "describe",
    "library_names",
    "pad",
    "rule_names",
    "translate",
]
