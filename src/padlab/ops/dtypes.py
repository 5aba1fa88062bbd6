"""The one dtype policy of padlab's filtering.

- float32 stays float32 and float64 stays float64 (the kernel is cast to the image's float
  type: a float64 kernel never promotes a float32 image);
- float16, bool and integers of up to 16 bits compute in float32 (exact for every uint8 and
  uint16 value, and twice as fast as float64);
- 32- and 64-bit integers compute in float64;
- the result is never cast back to an integer type, so nothing saturates or wraps: a uint8 photo
  filtered by a Laplacian keeps its negative responses;
- complex arrays are refused (padlab's engines are real-valued);
- NaN and infinities follow IEEE arithmetic: a NaN reaches every output whose window covers it,
  also through taps whose weight is 0 (``0 * nan`` is nan; scipy.ndimage and OpenCV skip zero
  taps, torch does not).
"""

from __future__ import annotations

import numpy as np

from padlab.errors import PadlabTypeError

__all__ = ["compute_dtype"]


def compute_dtype(dtype: np.dtype, name: str = "image") -> np.dtype:
    """The floating dtype padlab computes in, and returns, for an input of ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> [compute_dtype(np.dtype(t)).name for t in ("uint8", "int16", "float32", "int64", "float64")]
    ['float32', 'float32', 'float32', 'float64', 'float64']
    """
    kind, size = dtype.kind, dtype.itemsize
    if kind == "f":
        return np.dtype(np.float64) if size >= 8 else np.dtype(np.float32)
    if kind == "b" or (kind in "iu" and size <= 2):
        return np.dtype(np.float32)
    if kind in "iu":
        return np.dtype(np.float64)
    if kind == "c":
        raise PadlabTypeError(
            f"{name} is complex ({dtype}); padlab filters real arrays: filter the real and "
            "imaginary parts separately"
        )
    raise PadlabTypeError(f"{name} must be numeric (bool, integer or float), got dtype {dtype}")
