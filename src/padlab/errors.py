"""The exceptions padlab raises.

Every error padlab raises on purpose derives from :class:`PadlabError`, and also from the
built-in class a caller would expect (``ValueError`` for a bad value, ``TypeError`` for a bad
type), so ``except ValueError`` keeps working in code written for numpy or scipy.

Examples
--------
>>> import padlab
>>> try:
...     padlab.pad([1, 2, 3], -1)
... except ValueError as err:
...     print(type(err).__name__, isinstance(err, padlab.PadlabError))
PadlabValueError True
"""

from __future__ import annotations

__all__ = [
    "PadlabDependencyError",
    "PadlabError",
    "PadlabFileError",
    "PadlabMemoryError",
    "PadlabTypeError",
    "PadlabValueError",
    "PadlabWarning",
]


class PadlabError(Exception):
    """Base class of every error padlab raises on purpose."""


class PadlabValueError(PadlabError, ValueError):
    """An argument has the right type but a value padlab cannot use."""


class PadlabTypeError(PadlabError, TypeError):
    """An argument has a type padlab cannot use (a string array, a float pad width, ...)."""


class PadlabMemoryError(PadlabError, MemoryError):
    """The requested result would not fit in memory (for example an enormous pad width)."""


class PadlabFileError(PadlabError, OSError):
    """A file is missing, unreadable, not an image, or cannot be written."""


class PadlabDependencyError(PadlabError, ImportError):
    """An optional dependency (PyTorch for :mod:`padlab.torch`) is not installed."""


class PadlabWarning(UserWarning):
    """Something padlab did that you may not expect, such as reading one frame of a GIF."""
