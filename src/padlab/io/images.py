"""Images in and out: files through Pillow, the sample photo, float conversion, resizing.

Arrays follow one convention: (H, W) for grayscale, (H, W, C) for colour with C = 3 (RGB) or
4 (RGBA); uint8 or uint16 as stored in the file, or float in [0, 1] after :func:`to_float`.
"""

from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from padlab._files import atomic_file, resolve_output
from padlab._validate import as_numeric_array
from padlab.errors import (
    PadlabError,
    PadlabFileError,
    PadlabTypeError,
    PadlabValueError,
    PadlabWarning,
)
from padlab.io.png import decode_png16, png_chunks, png_header

__all__ = [
    "FORMATS",
    "from_float",
    "read_image",
    "resize",
    "sample_image",
    "stores_16_bit",
    "to_float",
    "to_gray",
    "write_image",
]

#: File extensions padlab reads and writes, and the Pillow format behind each.
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}


def stores_16_bit(path: str | os.PathLike[str], channels: int) -> bool:
    """Whether :func:`write_image` stores 16-bit pixels with ``channels`` channels at ``path``.

    PNG: gray, gray+alpha, RGB and RGBA; TIFF: gray only; other formats: none.

    Examples
    --------
    >>> stores_16_bit("a.png", 3), stores_16_bit("a.tif", 3), stores_16_bit("a.tif", 1)
    (True, False, True)
    """
    fmt = FORMATS.get(Path(path).suffix.lower())
    return fmt == "PNG" or (fmt == "TIFF" and channels == 1)


SAMPLE = "grace_hopper.jpg"

# ITU-R BT.601 luma, as Pillow's convert("L") and OpenCV's cvtColor use
_LUMA = np.array([0.299, 0.587, 0.114])


def sample_image(*, gray: bool = False) -> np.ndarray:
    """The built-in sample photo: Grace Hopper, from matplotlib's sample data.

    Parameters
    ----------
    gray : bool
        Return it as grayscale (BT.601 luma), uint8.

    Returns
    -------
    ndarray, uint8, shape (600, 512, 3) or (600, 512)

    Examples
    --------
    >>> from padlab import sample_image
    >>> sample_image().shape, sample_image(gray=True).shape
    ((600, 512, 3), (600, 512))
    """
    from matplotlib import cbook

    path = cbook.get_sample_data(SAMPLE, asfileobj=False)
    image = read_image(path)
    return to_gray(image) if gray else image


def read_image(path: str | os.PathLike[str], *, alpha: str = "keep") -> np.ndarray:
    """Read an image file into an array, honouring its EXIF orientation.

    Parameters
    ----------
    path : str or path
        A JPEG, PNG, TIFF (8 or 16 bit, also 16-bit colour), WebP, BMP or GIF file. Of an
        animated or multi-page file only the first frame is read, with a
        :class:`~padlab.errors.PadlabWarning`.
    alpha : {'keep', 'drop'}
        Keep an alpha channel as the fourth channel, or drop it.

    Returns
    -------
    ndarray
        uint8 or uint16 as stored (16-bit RGB PNG and TIFF too, as ``cv2.imread`` with
        ``IMREAD_UNCHANGED``; TIFF needs tifffile for that); (H, W) for grayscale, (H, W, 3) or
        (H, W, 4). Palette and bilevel images become RGB(A) or uint8 grayscale; CMYK becomes
        RGB.

    Raises
    ------
    PadlabFileError
        The file is missing, unreadable, truncated or not an image; the message names it.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from padlab import read_image, write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> write_image(path, np.array([[0, 255]], dtype=np.uint8))
    >>> read_image(path)
    array([[  0, 255]], dtype=uint8)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if alpha not in ("keep", "drop"):
        raise PadlabValueError(f"alpha={alpha!r}; allowed: 'keep', 'drop'")
    path = Path(path)
    if not path.exists():
        raise PadlabFileError(f"{path}: no such file")
    if path.is_dir():
        raise PadlabFileError(f"{path}: is a directory, not an image")
    if not path.is_file():  # opening a FIFO would wait for a writer forever
        raise PadlabFileError(f"{path}: not a regular file (a FIFO, device or socket)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                frames = getattr(img, "n_frames", 1)
                array = _sixteen_bit_colour(img, path)
                if array is None:
                    img.load()
                    array = _to_array(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise PadlabFileError(f"{path}: not an image padlab can read") from None
    except (OSError, SyntaxError, ValueError, zlib.error, Image.DecompressionBombError) as err:
        if isinstance(err, PadlabError):
            raise
        raise PadlabFileError(f"{path}: cannot read the image ({err})") from None
    except Image.DecompressionBombWarning as err:
        raise PadlabFileError(f"{path}: refusing a suspiciously large image ({err})") from None
    if frames > 1:
        warnings.warn(
            PadlabWarning(
                f"{path}: has {frames} frames (animated or multi-page); padlab reads only the first"
            ),
            stacklevel=2,
        )
    if alpha == "drop" and array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    return array


_ORIENTATION = 0x0112  # the EXIF orientation tag


def _sixteen_bit_colour(img, path: Path) -> np.ndarray | None:
    """16-bit RGB(A) pixels, which Pillow would silently cut to 8 bits; None for other images.

    PNG goes through padlab's own decoder; TIFF through tifffile, if installed (else a
    one-line error rather than a silent loss of 8 bits).
    """
    from PIL import Image

    if img.format == "PNG":
        with open(path, "rb") as handle:
            header = png_header(handle.read(33))
        if header is None or header[2] != 16 or header[3] not in (2, 4, 6):
            return None
        data = path.read_bytes()
        # the eXIf chunk read here: Pillow's getexif() would decode the whole image again
        exif = Image.Exif()
        for kind, chunk in png_chunks(data):
            if kind == b"eXIf":
                exif.load(chunk)
        return _orient(decode_png16(data), exif.get(_ORIENTATION, 1))
    if img.format == "TIFF" and img.mode in ("RGB", "RGBA"):
        bits = img.tag_v2.get(258, (8,))
        if max(bits) <= 8:
            return None
        try:
            import tifffile
        except ImportError:
            raise PadlabFileError(
                f"{path}: a {max(bits)}-bit colour TIFF, which Pillow reads only as 8 bits; "
                "install tifffile (pip install tifffile) to read it as uint16"
            ) from None
        try:
            array = tifffile.imread(path, key=0)
        except (ValueError, NotImplementedError) as err:  # a codec only imagecodecs has
            raise PadlabFileError(
                f"{path}: a {max(bits)}-bit colour TIFF that tifffile cannot decode ({err}); "
                "Pillow would cut it to 8 bits"
            ) from None
        if array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] not in (3, 4):
            raise PadlabFileError(
                f"{path}: a colour TIFF of {array.dtype} pixels, shape {array.shape}; padlab "
                "reads 8- and 16-bit RGB or RGBA"
            )
        return _orient(array, img.getexif().get(_ORIENTATION, 1))
    return None


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` turned upright for an EXIF orientation (1 to 8), as ImageOps.exif_transpose."""
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    turn = turns.get(orientation)
    return array if turn is None else np.ascontiguousarray(turn(array))


def _to_array(img) -> np.ndarray:
    mode = img.mode
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "LA" or mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)
    elif mode == "I":
        array = np.asarray(img)
        if array.min() >= 0 and array.max() <= 65535:
            return array.astype(np.uint16)
        raise PadlabValueError(f"32-bit integer image with values outside 0..65535 ({mode})")
    elif mode == "F":
        return np.asarray(img).astype(np.float32)
    return np.asarray(img).copy()


def write_image(path: str | os.PathLike[str], image: npt.ArrayLike) -> None:
    """Write an array to an image file, atomically (a temporary file, then a rename).

    Parameters
    ----------
    path : str or path
        The format comes from the extension: .png, .jpg/.jpeg, .tif/.tiff, .webp, .bmp.
    image : array_like
        uint8 (any format), or uint16 (PNG: gray, RGB, RGBA; TIFF: gray). Floats and other
        dtypes are refused: map them to the display range first (:func:`padlab.display`), so
        nothing is wrapped or clipped silently.

    Raises
    ------
    PadlabValueError
        An unknown extension, a dtype or shape the format cannot store.
    PadlabFileError
        The directory does not exist or is not writable. No partial file is left behind.
    """
    from PIL import Image

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PadlabValueError(
            f"{path}: unknown image extension {path.suffix!r}; allowed: {', '.join(FORMATS)}"
        )
    array = np.asarray(image)
    if not array.dtype.isnative:  # big-endian data, e.g. from a FITS or raw file
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.uint16:
        # what read_image gives can be written back: padlab's PNG encoder stores 16-bit colour
        if not stores_16_bit(path, array.shape[2] if array.ndim == 3 else 1):
            raise PadlabValueError(
                f"{path}: 16-bit images can be written only as PNG (gray, RGB, RGBA) or "
                f"grayscale TIFF, got shape {array.shape} for {fmt}; convert to uint8 with "
                "padlab.from_float"
            )
    elif array.dtype != np.uint8:
        raise PadlabTypeError(
            f"{path}: write_image needs uint8 (or uint16) pixels, got {array.dtype}; "
            "map float responses with padlab.display(...) first"
        )
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))):
        raise PadlabValueError(
            f"{path}: image shape {array.shape} is not (H, W), (H, W, 3) or (H, W, 4)"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] == 4 and fmt in ("JPEG", "BMP"):
        raise PadlabValueError(f"{path}: {fmt} cannot store an alpha channel; use PNG or WebP")
    if not resolve_output(path).parent.is_dir():  # a symlink loop is named as such
        raise PadlabFileError(f"{path}: the directory {path.parent} does not exist")
    if array.size == 0:
        raise PadlabValueError(f"{path}: cannot write an empty image, shape {array.shape}")
    if fmt == "PNG":  # our encoder: zlib level 1 (cv2.imwrite's default) on every thread
        from padlab.io.png import encode_png

        data = encode_png(array)

        def save(handle) -> None:
            handle.write(data)
    else:
        img = Image.fromarray(np.ascontiguousarray(array))
        options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}

        def save(handle) -> None:
            img.save(handle, format=fmt, **options)

    try:
        with atomic_file(path) as handle:
            save(handle)
    except PadlabFileError:
        raise
    except OSError as err:  # pragma: no cover - atomic_file turns OSError into PadlabFileError
        raise PadlabFileError(f"{path}: cannot write the image ({err})") from None


def to_float(image: npt.ArrayLike) -> np.ndarray:
    """Pixels as float32 in [0, 1]: uint8 / 255, uint16 / 65535, floats unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> to_float(np.array([0, 51, 255], dtype=np.uint8))
    array([0. , 0.2, 1. ], dtype=float32)
    """
    array = as_numeric_array(image, "image")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype.kind == "f":
        return array.astype(np.float32) if array.dtype.itemsize < 4 else array
    raise PadlabTypeError(
        f"to_float knows uint8, uint16, bool and float images, got {array.dtype}; scale it "
        "yourself, padlab cannot guess its white level"
    )


def from_float(image: npt.ArrayLike, dtype: npt.DTypeLike = np.uint8) -> np.ndarray:
    """Float pixels in [0, 1] to uint8 (or uint16), rounding to nearest.

    Values outside [0, 1] are an error, not a silent clip: map responses to [0, 1] first with
    :func:`padlab.display`.

    Examples
    --------
    >>> import numpy as np
    >>> from_float(np.array([0.0, 0.5, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    array = as_numeric_array(image, "image")
    target = np.dtype(dtype)
    if target not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise PadlabValueError(f"from_float writes uint8 or uint16, not {target}")
    if array.dtype.kind == "c":
        raise PadlabTypeError(f"from_float needs real pixels, got {array.dtype}")
    if array.dtype.kind not in "fb" or array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if not 0 <= low <= high <= 1:  # also false for NaN
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise PadlabValueError(
                f"image has {bad} non-finite pixels; map them with padlab.display"
            )
        raise PadlabValueError(
            f"pixel values span [{low:.4g}, {high:.4g}], outside [0, 1]; map them with "
            "padlab.display(..., mapping='clip'|'abs'|'symmetric'|'minmax') first"
        )
    top = np.iinfo(target).max
    # rounded in float64 (float32 products round some near-ties the other way), a cache-sized
    # block at a time: no image-sized float64 temporaries
    source = np.ascontiguousarray(array).reshape(-1)
    out = np.empty(array.shape, target)
    flat = out.reshape(-1)
    step = 1 << 16
    for first in range(0, source.size, step):
        block = source[first : first + step].astype(np.float64)
        block *= top
        flat[first : first + step] = np.rint(block, out=block)
    return out


def to_gray(image: npt.ArrayLike) -> np.ndarray:
    """Grayscale by BT.601 luma (alpha ignored), in the input's dtype for integer images.

    Examples
    --------
    >>> import numpy as np
    >>> to_gray(np.array([[[255, 0, 0]]], dtype=np.uint8))
    array([[76]], dtype=uint8)
    """
    array = as_numeric_array(image, "image")
    if array.ndim == 2:
        return array
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise PadlabValueError(f"to_gray needs (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    luma = array[..., :3].astype(np.float64) @ _LUMA
    if array.dtype.kind in "iu":
        return np.rint(luma).astype(array.dtype)
    return luma.astype(array.dtype if array.dtype.kind == "f" else np.float64)


def resize(image: npt.ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Resize to ``(height, width)`` with Pillow's Lanczos filter, keeping the dtype.

    Integer results are rounded and limited to the dtype's range (Lanczos rings slightly
    beyond the input's range at sharp edges).

    Examples
    --------
    >>> import numpy as np
    >>> resize(np.zeros((10, 20, 3), dtype=np.uint8), (5, 10)).shape
    (5, 10, 3)
    """
    from PIL import Image

    array = as_numeric_array(image, "image")
    height, width = (int(v) for v in shape)
    if height < 1 or width < 1:
        raise PadlabValueError(f"resize needs a positive (height, width), got {shape}")
    if array.ndim == 3:
        return np.stack([resize(array[..., c], shape) for c in range(array.shape[2])], axis=-1)
    if array.ndim != 2:
        raise PadlabValueError(f"resize needs (H, W) or (H, W, C), got {array.shape}")
    channel = Image.fromarray(array.astype(np.float32), mode="F")
    out = np.asarray(channel.resize((width, height), Image.Resampling.LANCZOS))
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(array.dtype)
    return out.astype(array.dtype)
