"""Named kernels in one registry, plus kernels written as text or stored in files.

Every kernel is a correlation kernel (as ``cv2.filter2D`` and ``padlab.correlate`` apply it):
``sobel-x`` responds positively where intensity grows to the right, like ``cv2.Sobel(dx=1)``
and ``scipy.ndimage.sobel(axis=1)``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from padlab._validate import as_numeric_array
from padlab.errors import PadlabError, PadlabFileError, PadlabTypeError, PadlabValueError
from padlab.kernels.rank import split_rank1

__all__ = ["KERNELS", "NamedKernel", "get_kernel", "kernel_names", "parse_kernel"]


@dataclass(frozen=True)
class NamedKernel:
    """A kernel of the registry.

    Attributes
    ----------
    name : str
        As written on the command line; ``box-N`` and ``gaussian-N[-SIGMA]`` take parameters.
    what : str
        What it does to an image.
    make : callable
        Builds the kernel from the parameters in the name.
    equivalent : str
        The same kernel elsewhere, where there is one.
    """

    name: str
    what: str
    make: Callable[..., np.ndarray]
    equivalent: str = ""


def _fixed(rows: list[list[float]], scale: float = 1.0) -> Callable[[], np.ndarray]:
    array = np.array(rows, dtype=np.float64) * scale
    return lambda: array.copy()


def _box(size: int = 3) -> np.ndarray:
    return np.full((size, size), 1.0 / (size * size))


# OpenCV's getGaussianKernel uses these fixed taps for small sizes when sigma is not given
_SMALL_GAUSSIANS = {
    1: [1.0],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
}


def _gaussian(size: int = 5, sigma: float | None = None) -> np.ndarray:
    """OpenCV's Gaussian: ``cv2.GaussianBlur(ksize=size, sigmaX=sigma or 0)`` exactly."""
    if sigma is None and size in _SMALL_GAUSSIANS:
        g = np.array(_SMALL_GAUSSIANS[size])
    else:
        if sigma is None:  # OpenCV's default for sigma <= 0
            sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
        ax = np.arange(size) - (size - 1) / 2
        g = np.exp(-(ax**2) / (2 * sigma**2))
        g /= g.sum()
    return np.outer(g, g)


def _identity(size: int = 3) -> np.ndarray:
    k = np.zeros((size, size))
    k[(size - 1) // 2, (size - 1) // 2] = 1.0
    return k


KERNELS: dict[str, NamedKernel] = {
    k.name: k
    for k in (
        NamedKernel(
            "sharpen",
            "boosts the centre against its 4 neighbours: crisper edges",
            _fixed([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
        ),
        NamedKernel(
            "blur",
            "3x3 binomial smoothing, [1 2 1]/4 in each direction",
            _fixed([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
            "cv2.GaussianBlur(ksize=3, sigma=0)",
        ),
        NamedKernel(
            "outline",
            "8-neighbour Laplacian: fires on edges and on any artificial frame",
            _fixed([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
        ),
        NamedKernel(
            "laplacian-4",
            "4-neighbour Laplacian: second derivative, 0 on flat and linear regions",
            _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
            "scipy.ndimage.laplace, cv2.Laplacian(ksize=1)",
        ),
        NamedKernel(
            "sobel-x",
            "horizontal gradient (smoothed vertically): vertical edges",
            _fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
            "scipy.ndimage.sobel(axis=1), cv2.Sobel(dx=1, dy=0)",
        ),
        NamedKernel(
            "sobel-y",
            "vertical gradient (smoothed horizontally): horizontal edges",
            _fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
            "scipy.ndimage.sobel(axis=0), cv2.Sobel(dx=0, dy=1)",
        ),
        NamedKernel(
            "scharr-x",
            "horizontal gradient with better rotational symmetry than Sobel",
            _fixed([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]),
            "cv2.Scharr(dx=1, dy=0)",
        ),
        NamedKernel(
            "scharr-y",
            "vertical gradient with better rotational symmetry than Sobel",
            _fixed([[-3, -10, -3], [0, 0, 0], [3, 10, 3]]),
            "cv2.Scharr(dx=0, dy=1)",
        ),
        NamedKernel(
            "prewitt-x",
            "horizontal gradient, unweighted vertical smoothing",
            _fixed([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
            "scipy.ndimage.prewitt(axis=1)",
        ),
        NamedKernel(
            "prewitt-y",
            "vertical gradient, unweighted horizontal smoothing",
            _fixed([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
            "scipy.ndimage.prewitt(axis=0)",
        ),
        NamedKernel(
            "box",
            "mean of an N x N window (box-N, default 3)",
            _box,
            "cv2.blur, scipy.ndimage.uniform_filter",
        ),
        NamedKernel(
            "gaussian",
            "Gaussian smoothing (gaussian-N or gaussian-N-SIGMA; default 5, OpenCV's sigma)",
            _gaussian,
            "cv2.GaussianBlur",
        ),
        NamedKernel(
            "emboss",
            "relief lit from the top left",
            _fixed([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
        ),
        NamedKernel(
            "identity",
            "leaves the image as it is (identity-N: an N x N delta); shows pure padding effects",
            _identity,
        ),
    )
}

# parameters after a registry name: -SIZE, then (gaussian) -SIGMA
_PARAMETERS = re.compile(r"^(?P<size>\d+)(?:-(?P<sigma>\d+(?:\.\d+)?))?$")
# .npy kernels larger than this many values are certainly not kernels
_MAX_FILE_VALUES = 2**24


def _split_name(text: str) -> tuple[NamedKernel, re.Match[str] | None] | None:
    """The registry entry ``text`` names and its parameters, matching whole names first.

    ``laplacian-4`` is a name; ``box-4`` is ``box`` with size 4; ``gaussian-4-1.5`` is
    ``gaussian`` with size 4 and sigma 1.5.
    """
    if text in KERNELS:
        return KERNELS[text], None
    for name in sorted(KERNELS, key=len, reverse=True):
        if text.startswith(name + "-"):
            match = _PARAMETERS.match(text[len(name) + 1 :])
            return (KERNELS[name], match) if match else None
    return None


def kernel_names() -> tuple[str, ...]:
    """The registry's names.

    Examples
    --------
    >>> from padlab.kernels import kernel_names
    >>> kernel_names()[:3]
    ('sharpen', 'blur', 'outline')
    """
    return tuple(KERNELS)


def get_kernel(name: str) -> np.ndarray:
    """A named kernel as a float64 array.

    Parameters
    ----------
    name : str
        A registry name; ``box-N``, ``gaussian-N``, ``gaussian-N-SIGMA`` and ``identity-N`` take
        an odd or even size N >= 1 and a positive sigma.

    Examples
    --------
    >>> from padlab.kernels import get_kernel
    >>> get_kernel("sobel-x")
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    >>> get_kernel("box-2")
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    if not isinstance(name, str):
        raise PadlabTypeError(f"a kernel name must be a string, got {type(name).__name__}")
    found = _split_name(name.strip().lower())
    if found is None:
        raise PadlabValueError(
            f"unknown kernel {name!r}; named kernels: {', '.join(KERNELS)} (box-N, gaussian-N, "
            "gaussian-N-SIGMA, identity-N take a size), or write one as text "
            "('0,-1,0;-1,5,-1;0,-1,0') or give a .npy/.txt file"
        )
    entry, match = found
    if match is None:
        return entry.make()
    if entry.name not in ("box", "gaussian", "identity"):
        raise PadlabValueError(f"kernel {entry.name!r} takes no parameters, got {name!r}")
    if match["sigma"] and entry.name != "gaussian":
        raise PadlabValueError(f"only gaussian takes a sigma, got {name!r}")
    args: list[float] = []
    if match["size"]:
        size = int(match["size"])
        if size < 1 or size > 1001:
            raise PadlabValueError(f"kernel size must be 1 to 1001, got {size} in {name!r}")
        args.append(size)
    if match["sigma"]:
        sigma = float(match["sigma"])
        if sigma <= 0:
            raise PadlabValueError(f"sigma must be positive, got {sigma} in {name!r}")
        args.append(sigma)
    return entry.make(*args)


def parse_kernel(spec: object) -> tuple[str, np.ndarray]:
    """Any way of naming a kernel, as ``(label, array)``.

    Parameters
    ----------
    spec : str, path or array_like
        A registry name (:func:`get_kernel`); text with rows separated by ``;`` and values by
        ``,`` or spaces, fractions allowed (``"1/9,1/9,1/9;..."``); a path to a ``.npy`` file or a
        text file of rows; or an array.

    Returns
    -------
    (str, ndarray)
        A short label for titles and file names, and the float64 kernel.

    Examples
    --------
    >>> from padlab.kernels import parse_kernel
    >>> parse_kernel("0,-1,0;-1,5,-1;0,-1,0")[1]
    array([[ 0., -1.,  0.],
           [-1.,  5., -1.],
           [ 0., -1.,  0.]])
    >>> parse_kernel("outline")[0]
    'outline'
    """
    if not isinstance(spec, str | os.PathLike):
        array = _real(as_numeric_array(spec, "kernel"), "kernel")
        return f"custom {'x'.join(map(str, array.shape))}", _check(array, "kernel")
    text = os.fspath(spec).strip()
    if any(ch in text for ch in ",;") or re.fullmatch(r"[-+0-9./\s]+", text):
        return "custom", _check(_from_text(text, "kernel text"), text)
    path = Path(text)
    if path.suffix.lower() in (".npy", ".txt", ".csv"):
        # a file named like a registry kernel keeps its suffix, so the two never share a label
        label = path.name if _split_name(path.stem.lower()) else path.stem
        return label, _check(_from_file(path), str(path))
    return text.lower(), get_kernel(text)


def _real(array: np.ndarray, where: str) -> np.ndarray:
    """A bool, integer or float kernel as float64; complex values are refused, never dropped."""
    if array.dtype.kind == "c":
        raise PadlabTypeError(
            f"{where}: the kernel is complex ({array.dtype}); padlab kernels are real "
            "(bool, integer or float): take .real or .imag yourself"
        )
    return array.astype(np.float64)


def _number(token: str, where: str) -> float:
    try:
        if "/" in token:
            num, den = token.split("/")
            return float(num) / float(den)
        return float(token)
    except (ValueError, ZeroDivisionError):
        raise PadlabValueError(f"{where}: {token!r} is not a number") from None


def _from_text(text: str, where: str) -> np.ndarray:
    rows = [
        [_number(tok, where) for tok in re.split(r"[,\s]+", row.strip()) if tok]
        for row in re.split(r"[;\n]", text)
        if row.strip()
    ]
    if not rows or len({len(r) for r in rows}) != 1:
        raise PadlabValueError(
            f"{where}: rows must all have the same number of values, got {[len(r) for r in rows]}"
        )
    return np.array(rows, dtype=np.float64)


def _from_file(path: Path) -> np.ndarray:
    if not path.is_file():
        what = "no such kernel file" if not path.exists() else "not a regular file"
        raise PadlabFileError(f"{path}: {what}")
    try:
        if path.suffix.lower() == ".npy":
            return _from_npy(path)
        return _from_text(path.read_text(), str(path))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, PadlabError):
            raise
        raise PadlabFileError(f"{path}: cannot read the kernel ({err})") from None


def _from_npy(path: Path) -> np.ndarray:
    """A ``.npy`` kernel, its header checked before any data is read."""
    fmt = np.lib.format
    with open(path, "rb") as handle:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(handle)
        if dtype.kind not in "biuf":
            kind = {"c": "complex", "V": "structured"}.get(dtype.kind, "non-numeric")
            raise PadlabTypeError(
                f"{path}: the kernel file holds {kind} values ({dtype}); allowed: bool, integer "
                "or float"
            )
        if len(shape) not in (1, 2):
            raise PadlabValueError(f"{path}: a kernel must be a 1-D or 2-D array, got {shape}")
        count = math.prod(shape)
        if count > _MAX_FILE_VALUES:
            raise PadlabValueError(
                f"{path}: declares a kernel of shape {shape} ({count} values); allowed: at most "
                f"{_MAX_FILE_VALUES} values"
            )
        stored = os.fstat(handle.fileno()).st_size - handle.tell()
        if stored != count * dtype.itemsize:
            raise PadlabFileError(
                f"{path}: declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes) but "
                f"holds {stored} bytes of data"
            )
        data = np.fromfile(handle, dtype=dtype, count=count)
    array = data.reshape(shape, order="F" if fortran else "C")
    return array.astype(np.float64)


def _check(array: np.ndarray, where: str) -> np.ndarray:
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.size == 0:
        raise PadlabValueError(
            f"{where}: a kernel must be a non-empty 2-D array, got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise PadlabValueError(f"{where}: the kernel has non-finite values")
    return array


class KernelInfo(TypedDict):
    """What :func:`describe_kernel` returns."""

    shape: tuple[int, ...]
    sum: float
    separable: bool


def describe_kernel(kernel: np.ndarray) -> KernelInfo:
    """Size, sum and separability of a kernel, for listings and reports.

    Examples
    --------
    >>> from padlab.kernels import get_kernel
    >>> describe_kernel(get_kernel("blur"))
    {'shape': (3, 3), 'sum': 1.0, 'separable': True}
    """
    total = float(kernel.sum())
    return {
        "shape": tuple(kernel.shape),
        "sum": round(total, 12) if math.isfinite(total) else total,
        "separable": kernel.ndim == 2 and split_rank1(kernel) is not None,
    }
