"""padlab.correlate / convolve / conv_nd against scipy.ndimage, scipy.signal, OpenCV and torch.

Every geometry ('valid', 'same', 'full', explicit pairs, strides, dilations) and every rule a
library has is passed to that library and to padlab under the library's own (qualified) name,
for odd and even kernels, 1-pixel images, kernels larger than the image and uint8 input. The
libraries are the oracles: nothing here compares padlab with its own tables.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import padlab

# float64 oracles must agree to rounding; float32 ones to float32 rounding
F64 = {"rtol": 1e-10, "atol": 1e-10}
F32 = {"rtol": 1e-5, "atol": 1e-4}

# the engine padlab picks, the numba engine forced, and the readable reference loop
METHODS = ["auto", "direct", "reference"]
# conv_nd's engines: direct (few channels), gemm (im2col + BLAS, many channels)
CONV_METHODS = ["auto", "direct", "gemm"]


def _signal(shape, rng, dtype=np.float64):
    """Values with a sign and a spread, so a wrong tap or a wrong border shows."""
    return (rng.normal(size=shape) * 10).round(3).astype(dtype)


def _id(value) -> str:
    return str(value).replace(" ", "")


# ---------------------------------------------------------------------------------------------
# 1. scipy.ndimage.correlate / convolve: every filter mode, 1-D to 3-D, convention 'scipy'
# ---------------------------------------------------------------------------------------------

# (image shape, kernel shape): odd, even and mixed kernels, kernels larger than the image,
# 1-pixel images
NDIMAGE_CASES = [
    ((7,), (3,)),
    ((7,), (4,)),
    ((7,), (1,)),
    ((7,), (2,)),
    ((5,), (12,)),  # kernel larger than the image
    ((1,), (1,)),  # 1-pixel image
    ((1,), (3,)),
    ((1,), (4,)),
    ((6, 5), (3, 3)),
    ((6, 5), (2, 4)),
    ((6, 5), (4, 3)),
    ((4, 3), (7, 8)),  # kernel larger than the image on both axes
    ((1, 1), (3, 3)),
    ((1, 1), (2, 2)),
    ((1, 5), (3, 2)),
    ((4, 5, 3), (3, 3, 3)),
    ((4, 5, 3), (2, 3, 4)),
    ((2, 2, 2), (3, 4, 5)),  # kernel larger than the image
    ((1, 1, 1), (3, 3, 3)),
    ((1, 1, 1), (2, 2, 2)),
]

# (ndimage mode, cval): the constant modes with a nonzero cval too
NDIMAGE_MODES = [
    ("constant", 0.0),
    ("constant", 2.5),
    ("grid-constant", -1.25),
    ("nearest", 0.0),
    ("mirror", 0.0),
    ("reflect", 0.0),
    ("wrap", 0.0),
    ("grid-wrap", 0.0),
    ("grid-mirror", 0.0),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("shape", "kshape"), NDIMAGE_CASES, ids=_id)
@pytest.mark.parametrize(("mode", "cval"), NDIMAGE_MODES, ids=_id)
def test_correlate_matches_scipy_ndimage_correlate(mode, cval, shape, kshape, method, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = ndi.correlate(x, w, mode=mode, cval=cval)
    got = padlab.correlate(
        x, w, mode=f"scipy:{mode}", value=cval, convention="scipy", method=method
    )
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, **F64)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("shape", "kshape"), NDIMAGE_CASES, ids=_id)
@pytest.mark.parametrize(("mode", "cval"), NDIMAGE_MODES, ids=_id)
def test_convolve_matches_scipy_ndimage_convolve(mode, cval, shape, kshape, method, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = ndi.convolve(x, w, mode=mode, cval=cval)
    got = padlab.convolve(x, w, mode=f"scipy:{mode}", value=cval, convention="scipy", method=method)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, **F64)


# Larger problems, where 'auto' may leave the direct engine: rank-1 (separable) kernels, and
# a large kernel on a large image (FFT territory)
AUTO_CASES = [
    pytest.param((40, 50), (5, 7), True, id="rank1-odd"),
    pytest.param((41, 38), (4, 6), True, id="rank1-even"),
    pytest.param((6, 7), (3, 3), True, id="rank1-small"),
    pytest.param((200, 210), (25, 24), False, id="large-kernel"),
]


def _kernel(kshape, rank1, rng):
    if rank1:
        return np.outer(_signal(kshape[0], rng), _signal(kshape[1], rng)) / 10
    return _signal(kshape, rng)


@pytest.mark.parametrize(("shape", "kshape", "rank1"), AUTO_CASES)
@pytest.mark.parametrize(("mode", "cval"), NDIMAGE_MODES, ids=_id)
@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_auto_engine_on_larger_problems_matches_scipy_ndimage(
    op, mode, cval, shape, kshape, rank1, rng
):
    x = _signal(shape, rng)
    w = _kernel(kshape, rank1, rng)
    expected = getattr(ndi, op)(x, w, mode=mode, cval=cval)
    got = getattr(padlab, op)(x, w, mode=f"scipy:{mode}", value=cval, convention="scipy")
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize(("shape", "kshape", "rank1"), AUTO_CASES)
@pytest.mark.parametrize(("stride", "dilation"), [(1, 1), (2, 1), ((1, 3), (2, 1))], ids=_id)
@pytest.mark.parametrize(
    ("mode", "fmode"), [("zeros", "constant"), ("replicate", "replicate"), ("circular", "circular")]
)
def test_auto_engine_strided_dilated_matches_torch(
    mode, fmode, stride, dilation, shape, kshape, rank1, rng
):
    x = _signal(shape, rng)
    w = _kernel(kshape, rank1, rng)
    pads = ((3, 5), (4, 2))
    expected = _torch_pad_then_conv(x, w, fmode, 0.0, pads, stride, dilation)
    got = padlab.correlate(x, w, padding=pads, mode=mode, stride=stride, dilation=dilation)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize(
    ("shape", "kshape"), [((9,), (4,)), ((6, 7), (2, 4)), ((4, 4, 5), (2, 3, 2))], ids=_id
)
def test_convolve_tf_convention_is_ndimage_convolve_with_origin_minus_one(shape, kshape, rng):
    """For even kernels the two 'same' conventions differ by one sample; origin=-1 moves it."""
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    origin = [-1 if k % 2 == 0 else 0 for k in kshape]
    expected = ndi.convolve(x, w, mode="constant", origin=origin)
    np.testing.assert_allclose(padlab.convolve(x, w, convention="tf"), expected, **F64)
    assert not np.allclose(padlab.convolve(x, w, convention="scipy"), expected)


# ---------------------------------------------------------------------------------------------
# 2. scipy.signal.correlate2d / convolve2d: boundary fill/symm/wrap, output valid/same/full
# ---------------------------------------------------------------------------------------------

# (scipy.signal boundary, fillvalue), including the aliases
SIGNAL_BOUNDARIES = [
    ("fill", 0.0),
    ("fill", 3.5),
    ("pad", -2.0),
    ("symm", 0.0),
    ("symmetric", 0.0),
    ("wrap", 0.0),
    ("circular", 0.0),
]

SIGNAL_CASES = [
    ((6, 7), (3, 3)),
    ((6, 7), (2, 4)),
    ((6, 7), (4, 5)),
    ((6, 7), (1, 1)),
    ((5, 5), (5, 5)),  # kernel as large as the image
]

# 'valid' in scipy.signal swaps the inputs when the kernel is larger, so these are same/full only
SIGNAL_LARGE_CASES = [
    ((4, 6), (5, 9)),
    ((1, 1), (3, 3)),
    ((1, 1), (2, 2)),
    ((1, 4), (3, 2)),
]


def _signal_params():
    params = [
        pytest.param(out, shape, kshape, id=f"{out}-{_id(shape)}-{_id(kshape)}")
        for out in ("valid", "same", "full")
        for shape, kshape in SIGNAL_CASES
    ]
    params += [
        pytest.param(out, shape, kshape, id=f"{out}-{_id(shape)}-{_id(kshape)}")
        for out in ("same", "full")
        for shape, kshape in SIGNAL_LARGE_CASES
    ]
    return params


@pytest.mark.parametrize(("out", "shape", "kshape"), _signal_params())
@pytest.mark.parametrize(("boundary", "fillvalue"), SIGNAL_BOUNDARIES, ids=_id)
def test_correlate_matches_scipy_signal_correlate2d(boundary, fillvalue, out, shape, kshape, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = scipy.signal.correlate2d(x, w, mode=out, boundary=boundary, fillvalue=fillvalue)
    got = padlab.correlate(
        x, w, padding=out, mode=f"scipy.signal:{boundary}", value=fillvalue, convention="tf"
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F64)


@pytest.mark.parametrize(("out", "shape", "kshape"), _signal_params())
@pytest.mark.parametrize(("boundary", "fillvalue"), SIGNAL_BOUNDARIES, ids=_id)
def test_convolve_matches_scipy_signal_convolve2d(boundary, fillvalue, out, shape, kshape, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = scipy.signal.convolve2d(x, w, mode=out, boundary=boundary, fillvalue=fillvalue)
    got = padlab.convolve(
        x, w, padding=out, mode=f"scipy.signal:{boundary}", value=fillvalue, convention="tf"
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F64)


@pytest.mark.parametrize(
    ("shape", "kshape"),
    [((7,), (4,)), ((7,), (3,)), ((2,), (5,)), ((9,), (6,))],
    ids=_id,
)
def test_convolve_1d_matches_numpy_and_scipy_signal_convolve_same(shape, kshape, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    got = padlab.convolve(x, w, convention="tf")
    np.testing.assert_allclose(
        got, scipy.signal.convolve(x, w, mode="same", method="direct"), **F64
    )
    if x.size >= w.size:  # numpy.convolve 'same' has max(M, N) samples
        np.testing.assert_allclose(got, np.convolve(x, w, mode="same"), **F64)


@pytest.mark.parametrize(
    ("shape", "kshape"),
    [((4, 6), (5, 9)), ((4, 6), (5, 6)), ((4, 6), (4, 7)), ((5,), (6,)), ((2, 2, 2), (3, 1, 1))],
    ids=_id,
)
@pytest.mark.parametrize("op", [padlab.correlate, padlab.convolve], ids=lambda f: f.__name__)
def test_valid_with_kernel_larger_than_image_raises_naming_both_shapes(op, shape, kshape):
    x = np.ones(shape)
    w = np.ones(kshape)
    with pytest.raises(padlab.PadlabValueError, match=re.escape(str(shape))) as info:
        op(x, w, padding="valid")
    assert str(kshape) in str(info.value)


# ---------------------------------------------------------------------------------------------
# 3. cv2.filter2D: every border type it takes, default anchor = convention 'scipy'
# ---------------------------------------------------------------------------------------------

CV2_BORDERS = [
    "BORDER_CONSTANT",
    "BORDER_REPLICATE",
    "BORDER_REFLECT",
    "BORDER_REFLECT_101",
    "BORDER_REFLECT101",
    "BORDER_DEFAULT",
]

CV2_CASES = [
    ((9, 11), (3, 3)),
    ((9, 11), (2, 2)),
    ((9, 11), (4, 3)),
    ((9, 11), (5, 6)),
    ((9, 11), (1, 1)),
    ((4, 3), (5, 7)),  # kernel larger than the image (direct path)
    ((5, 6), (13, 12)),  # kernel larger than the image (area >= 130: DFT path)
    ((1, 1), (3, 3)),  # 1-pixel image
    ((1, 1), (2, 4)),
    ((1, 7), (3, 3)),
]


def _cv2_filter(x, w, border, ddepth=-1):
    return cv2.filter2D(x, ddepth, w, borderType=getattr(cv2, border))


@pytest.mark.parametrize(("shape", "kshape"), CV2_CASES, ids=_id)
@pytest.mark.parametrize("border", CV2_BORDERS)
def test_correlate_matches_cv2_filter2d_float32(border, shape, kshape, rng):
    x = _signal(shape, rng, np.float32)
    w = _signal(kshape, rng, np.float32) / 10
    expected = _cv2_filter(x, w, border)
    got = padlab.correlate(x, w, mode=f"cv2:{border}", convention="scipy")
    assert got.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F32)


@pytest.mark.parametrize(("shape", "kshape"), CV2_CASES, ids=_id)
@pytest.mark.parametrize("border", CV2_BORDERS)
def test_correlate_on_raw_uint8_matches_cv2_filter2d_with_float_output(border, shape, kshape, rng):
    x = rng.integers(0, 256, size=shape).astype(np.uint8)
    w = rng.integers(-4, 5, size=kshape).astype(np.float32)
    expected = _cv2_filter(x, w, border, ddepth=cv2.CV_32F)
    got = padlab.correlate(x, w, mode=f"cv2:{border}", convention="scipy")
    assert got.dtype == np.float32  # never cast back to uint8: negative responses survive
    np.testing.assert_allclose(got, expected, **F32)


@pytest.mark.parametrize(
    ("shape", "kshape"), [((20, 23), (11, 12)), ((12, 9), (12, 11)), ((5, 6), (13, 12))], ids=_id
)
def test_correlate_circular_matches_cv2_filter2d_border_wrap_on_its_dft_path(shape, kshape, rng):
    """OpenCV rejects BORDER_WRAP on its direct path; large float32 kernels take the DFT path."""
    x = _signal(shape, rng, np.float32)
    w = _signal(kshape, rng, np.float32) / 10
    expected = _cv2_filter(x, w, "BORDER_WRAP")
    got = padlab.correlate(x, w, mode="cv2:BORDER_WRAP", convention="scipy")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(("shape", "kshape"), [((9, 11), (4, 3)), ((6, 6), (2, 2))], ids=_id)
def test_convolve_with_mirrored_anchor_matches_cv2_filter2d_of_the_flipped_kernel(
    shape, kshape, rng
):
    """cv2.filter2D correlates; a true convolution flips the kernel and mirrors the anchor."""
    x = _signal(shape, rng, np.float32)
    w = _signal(kshape, rng, np.float32) / 10
    kh, kw = kshape
    anchor = (kw - 1 - kw // 2, kh - 1 - kh // 2)  # (x, y)
    expected = cv2.filter2D(
        x, -1, w[::-1, ::-1].copy(), anchor=anchor, borderType=cv2.BORDER_REFLECT_101
    )
    got = padlab.convolve(x, w, mode="reflect", convention="scipy")
    np.testing.assert_allclose(got, expected, **F32)


# ---------------------------------------------------------------------------------------------
# 4. torch: F.pad + F.conv1d/2d/3d, padding='same', conv_nd and nn.ConvNd(padding_mode=)
# ---------------------------------------------------------------------------------------------

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

# (shape, kernel shape, explicit pads, stride, dilation)
TORCH_GEOMETRIES = [
    ((9,), (3,), ((1, 2),), 1, 1),
    ((10,), (4,), ((2, 0),), 2, 1),
    ((11,), (3,), ((3, 3),), 3, 2),
    ((8,), (2,), ((0, 1),), 1, 2),
    ((5,), (7,), ((4, 4),), 1, 1),  # kernel larger than the image
    ((6,), (3,), ((5, 6),), 2, 1),  # pads beyond the image (only some rules allow it)
    ((1,), (3,), ((1, 1),), 1, 1),  # 1-pixel image
    ((7, 8), (3, 3), ((1, 1), (1, 1)), 1, 1),
    ((9, 10), (4, 2), ((2, 1), (0, 1)), 2, 1),
    ((8, 9), (3, 3), ((2, 2), (1, 3)), (2, 3), (2, 1)),
    ((6, 6), (5, 5), ((4, 4), (2, 3)), 3, 1),
    ((5, 4), (2, 3), ((0, 3), (3, 0)), (1, 2), 2),
    ((3, 2), (4, 5), ((3, 3), (2, 2)), 1, 1),  # kernel larger than the image
    ((1, 1), (2, 2), ((1, 0), (0, 1)), 1, 1),  # 1-pixel image
    ((5, 6, 4), (3, 2, 3), ((1, 1), (0, 1), (2, 1)), (1, 2, 1), (1, 1, 2)),
    ((4, 4, 4), (2, 2, 2), ((1, 0), (1, 1), (0, 1)), 2, 2),
    ((3, 4, 5), (3, 3, 3), ((2, 2), (1, 1), (0, 0)), (3, 1, 2), 1),
]

# (padlab mode, F.pad mode, value)
TORCH_RULES = [
    ("zeros", "constant", 0.0),
    ("constant", "constant", 2.5),
    ("reflect", "reflect", 0.0),
    ("replicate", "replicate", 0.0),
    ("circular", "circular", 0.0),
]


def _torch_allows(fmode, shape, pads):
    """torch's documented limits: reflect pad <= n - 1, circular pad <= n."""
    for n, (b, a) in zip(shape, pads, strict=True):
        if fmode == "reflect" and max(b, a) > n - 1:
            return False
        if fmode == "circular" and max(b, a) > n:
            return False
    return True


def _torch_geometry_params():
    params = []
    for mode, fmode, value in TORCH_RULES:
        for shape, kshape, pads, stride, dilation in TORCH_GEOMETRIES:
            if not _torch_allows(fmode, shape, pads):
                continue
            params.append(
                pytest.param(
                    mode,
                    fmode,
                    value,
                    shape,
                    kshape,
                    pads,
                    stride,
                    dilation,
                    id=f"{mode}-{_id(shape)}-k{_id(kshape)}-p{_id(pads)}-s{_id(stride)}-d{_id(dilation)}",
                )
            )
    return params


def _torch_pad_then_conv(x, w, fmode, value, pads, stride, dilation):
    t = torch.from_numpy(x)[None, None]
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    padded = (
        F.pad(t, flat, mode=fmode, value=value)
        if fmode == "constant"
        else F.pad(t, flat, mode=fmode)
    )
    conv = TORCH_CONV[x.ndim]
    return conv(padded, torch.from_numpy(w)[None, None], stride=stride, dilation=dilation)[
        0, 0
    ].numpy()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("mode", "fmode", "value", "shape", "kshape", "pads", "stride", "dilation"),
    _torch_geometry_params(),
)
def test_correlate_matches_torch_pad_then_conv(
    mode, fmode, value, shape, kshape, pads, stride, dilation, method, rng
):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = _torch_pad_then_conv(x, w, fmode, value, pads, stride, dilation)
    got = padlab.correlate(
        x,
        w,
        padding=pads,
        mode=f"torch:{mode}",
        value=value,
        stride=stride,
        dilation=dilation,
        method=method,
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F64)


# (shape, kernel shape, dilation): stride 1, even and odd kernels
TORCH_SAME_CASES = [
    ((9,), (2,), 1),
    ((9,), (4,), 1),
    ((9,), (2,), 2),
    ((9,), (4,), 3),
    ((7, 8), (4, 2), 1),
    ((7, 8), (2, 3), (1, 2)),
    ((7, 8), (3, 4), 2),
    ((5, 6, 4), (2, 3, 4), 1),
    ((5, 6, 4), (2, 2, 2), (1, 2, 1)),
]


# torch warns that it copies the input for even kernels with padding='same'
TORCH_SAME_WARNING = "ignore:Using padding='same' with even kernel lengths:UserWarning"


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(("shape", "kshape", "dilation"), TORCH_SAME_CASES, ids=_id)
def test_correlate_same_tf_matches_torch_functional_padding_same(shape, kshape, dilation, rng):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    conv = TORCH_CONV[len(shape)]
    expected = conv(
        torch.from_numpy(x)[None, None],
        torch.from_numpy(w)[None, None],
        padding="same",
        dilation=dilation,
    )[0, 0].numpy()
    got = padlab.correlate(x, w, padding="same", convention="tf", dilation=dilation)
    np.testing.assert_allclose(got, expected, **F64)


def _tf_same_pads(n, k, s, d):
    """TensorFlow's 'SAME' (kernel_shape_util.cc): extra padding after."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


# (shape, kernel shape, stride, dilation): n mod s varies, so odd kernels get uneven pads too
TF_SAME_STRIDED_CASES = [
    ((224,), (3,), 2, 1),
    ((224,), (7,), 2, 1),
    ((5,), (3,), 2, 1),
    ((6,), (3,), 2, 1),
    ((5,), (4,), 2, 1),
    ((10,), (4,), 3, 2),
    ((1,), (5,), 3, 1),
    ((11, 12), (3, 3), 2, 1),
    ((12, 11), (4, 5), (3, 2), (1, 2)),
    ((7, 9, 8), (2, 3, 3), (2, 3, 1), 1),
]


def _tf_same_params():
    params = []
    for mode, fmode in [
        ("zeros", "constant"),
        ("reflect", "reflect"),
        ("replicate", "replicate"),
        ("circular", "circular"),
    ]:
        for shape, kshape, stride, dilation in TF_SAME_STRIDED_CASES:
            nd = len(shape)
            strides = np.broadcast_to(stride, (nd,)).tolist()
            dilations = np.broadcast_to(dilation, (nd,)).tolist()
            pads = tuple(
                _tf_same_pads(*args) for args in zip(shape, kshape, strides, dilations, strict=True)
            )
            if _torch_allows(fmode, shape, pads):
                params.append(
                    pytest.param(
                        mode,
                        fmode,
                        shape,
                        kshape,
                        stride,
                        dilation,
                        pads,
                        id=f"{mode}-{_id(shape)}-k{_id(kshape)}-s{_id(stride)}-d{_id(dilation)}",
                    )
                )
    return params


@pytest.mark.parametrize(
    ("mode", "fmode", "shape", "kshape", "stride", "dilation", "pads"), _tf_same_params()
)
def test_strided_same_is_tensorflow_same_padding_then_torch_conv(
    mode, fmode, shape, kshape, stride, dilation, pads, rng
):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = _torch_pad_then_conv(x, w, fmode, 0.0, pads, stride, dilation)
    got = padlab.correlate(
        x, w, padding="same", mode=mode, stride=stride, dilation=dilation, convention="tf"
    )
    strides = np.broadcast_to(stride, (len(shape),)).tolist()
    assert got.shape == tuple(-(-n // s) for n, s in zip(shape, strides, strict=True))
    np.testing.assert_allclose(got, expected, **F64)


TORCH_MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(("shape", "kshape", "dilation"), TORCH_SAME_CASES, ids=_id)
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_correlate_same_tf_matches_torch_module_padding_same_with_padding_mode(
    padding_mode, shape, kshape, dilation, rng
):
    """nn.ConvNd(padding='same') keeps the extra sample after, for every padding_mode."""
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    layer = TORCH_MODULE[len(shape)](
        1, 1, kshape, padding="same", dilation=dilation, padding_mode=padding_mode, bias=False
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w)[None, None])
        expected = layer(torch.from_numpy(x)[None, None])[0, 0].numpy()
    got = padlab.correlate(x, w, padding="same", mode=f"torch:{padding_mode}", dilation=dilation)
    np.testing.assert_allclose(got, expected, **F64)


# (input shape (N, C, *spatial), weight shape (O, C // groups, *k), groups, stride, padding, dilation)
CONV_ND_CASES = [
    ((2, 4, 11), (6, 4, 3), 1, 1, 1, 1),
    ((2, 4, 11), (6, 2, 4), 2, 2, 0, 1),
    ((1, 4, 12), (4, 1, 3), 4, 3, 2, 2),  # depthwise
    ((2, 4, 11), (6, 2, 2), 2, 1, "valid", 2),
    ((2, 4, 9), (6, 4, 4), 1, 1, "same", 1),
    ((2, 4, 7, 8), (6, 4, 3, 3), 1, 1, 1, 1),
    ((2, 4, 7, 8), (6, 2, 3, 2), 2, (2, 1), (1, 0), (1, 2)),
    ((1, 4, 9, 9), (6, 2, 5, 5), 2, 2, 2, 1),
    ((2, 4, 7, 8), (6, 2, 4, 3), 2, 1, "valid", 1),
    ((2, 4, 7, 8), (6, 2, 2, 4), 2, 1, "same", (2, 1)),
    ((1, 2, 1, 1), (3, 2, 3, 3), 1, 1, 1, 1),  # 1-pixel image
    ((2, 4, 5, 6, 4), (6, 2, 3, 3, 2), 2, (1, 2, 1), 1, 1),
    ((1, 4, 5, 6, 5), (4, 4, 2, 3, 3), 1, 2, (0, 1, 2), (2, 1, 1)),
    ((1, 4, 5, 6, 5), (6, 2, 2, 3, 2), 2, 1, "same", 1),
]


def _padlab_padding(padding):
    """torch's per-axis ints as explicit pairs: padlab refuses a flat 2-tuple as ambiguous."""
    if isinstance(padding, tuple):
        return tuple((p, p) for p in padding)
    return padding


def _conv_nd_params():
    return [
        pytest.param(
            *case,
            bias,
            id=f"{_id(case[0])}-w{_id(case[1])}-g{case[2]}-s{_id(case[3])}-p{_id(case[4])}-d{_id(case[5])}-{'bias' if bias else 'nobias'}",
        )
        for case in CONV_ND_CASES
        for bias in (False, True)
    ]


@pytest.mark.parametrize("method", CONV_METHODS)
@pytest.mark.parametrize(
    ("xshape", "wshape", "groups", "stride", "padding", "dilation", "bias"), _conv_nd_params()
)
def test_conv_nd_matches_torch_functional_conv(
    xshape, wshape, groups, stride, padding, dilation, bias, method, rng
):
    x = _signal(xshape, rng)
    w = _signal(wshape, rng)
    b = _signal((wshape[0],), rng) if bias else None
    conv = TORCH_CONV[len(xshape) - 2]
    expected = conv(
        torch.from_numpy(x),
        torch.from_numpy(w),
        None if b is None else torch.from_numpy(b),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    ).numpy()
    got = padlab.conv_nd(
        x,
        w,
        b,
        stride=stride,
        padding=_padlab_padding(padding),
        dilation=dilation,
        groups=groups,
        method=method,
    )
    assert got.dtype == np.float64
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F64)


def test_conv_nd_unbatched_input_matches_torch_unbatched_conv2d(rng):
    x = _signal((4, 7, 8), rng)
    w = _signal((6, 2, 3, 3), rng)
    b = _signal((6,), rng)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1, groups=2
    ).numpy()
    got = padlab.conv_nd(x, w, b, padding=1, groups=2)
    assert got.shape == expected.shape == (6, 7, 8)
    np.testing.assert_allclose(got, expected, **F64)


def test_conv_nd_float32_stays_float32_and_matches_torch(rng):
    x = _signal((2, 3, 9, 9), rng, np.float32)
    w = _signal((5, 3, 3, 3), rng, np.float32) / 10
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    got = padlab.conv_nd(x, w, stride=2, padding=1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, **F32)


# (input shape, weight shape, groups, stride, padding, dilation): torch limits pad < n for reflect
CONV_MODULE_CASES = [
    ((2, 4, 7, 8), (6, 4, 3, 3), 1, 1, 1, 1),
    ((2, 4, 7, 8), (6, 2, 3, 3), 2, 2, 1, 1),
    ((1, 4, 9, 8), (6, 2, 5, 3), 2, (2, 1), (2, 1), (1, 2)),
    ((2, 4, 6, 6), (4, 4, 2, 2), 1, 1, (1, 0), 2),
    ((1, 2, 5, 4), (3, 2, 5, 5), 1, 3, (4, 3), 1),  # kernel larger than the image
]


@pytest.mark.parametrize(
    ("xshape", "wshape", "groups", "stride", "padding", "dilation"), CONV_MODULE_CASES, ids=_id
)
@pytest.mark.parametrize("padding_mode", ["zeros", "circular", "reflect", "replicate"])
@pytest.mark.parametrize("method", CONV_METHODS)
def test_conv_nd_mode_matches_torch_conv2d_padding_mode(
    padding_mode, xshape, wshape, groups, stride, padding, dilation, method, rng
):
    x = _signal(xshape, rng)
    w = _signal(wshape, rng)
    b = _signal((wshape[0],), rng)
    layer = torch.nn.Conv2d(
        xshape[1],
        wshape[0],
        wshape[2:],
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
        expected = layer(torch.from_numpy(x)).numpy()
    got = padlab.conv_nd(
        x,
        w,
        b,
        stride=stride,
        padding=_padlab_padding(padding),
        dilation=dilation,
        groups=groups,
        mode=padding_mode,
        method=method,
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **F64)


@pytest.mark.parametrize("padding_mode", ["zeros", "circular", "reflect", "replicate"])
@pytest.mark.parametrize(
    ("nd", "xshape", "wshape"),
    [(1, (2, 3, 9), (4, 3, 3)), (3, (1, 2, 5, 4, 6), (3, 2, 3, 2, 3))],
    ids=_id,
)
def test_conv_nd_mode_matches_torch_conv1d_conv3d_padding_mode(
    nd, xshape, wshape, padding_mode, rng
):
    x = _signal(xshape, rng)
    w = _signal(wshape, rng)
    layer = TORCH_MODULE[nd](
        xshape[1], wshape[0], wshape[2:], padding=1, padding_mode=padding_mode, bias=False
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        expected = layer(torch.from_numpy(x)).numpy()
    got = padlab.conv_nd(x, w, padding=1, mode=padding_mode)
    np.testing.assert_allclose(got, expected, **F64)


# Every numpy rule, any widths (also beyond the image), strides, dilations, one rule per axis:
# numpy.pad (axis by axis) makes the padded image, torch's unpadded convolution slides the kernel.

NUMPY_NAMES = [
    "constant",
    "reflect",
    "symmetric",
    "edge",
    "wrap",
    "reflect+odd",
    "symmetric+odd",
    "linear_ramp",
    "mean",
    "median",
    "minimum",
    "maximum",
]


def _numpy_pad_axis_by_axis(x, pads, names):
    for axis, (pair, name) in enumerate(zip(pads, names, strict=True)):
        widths = [(0, 0)] * x.ndim
        widths[axis] = pair
        if name.endswith("+odd"):
            x = np.pad(x, widths, mode=name[:-4], reflect_type="odd")
        else:
            x = np.pad(x, widths, mode=name)
    return x


@st.composite
def _numpy_rule_geometries(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    kshape = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    pads = tuple((draw(st.integers(0, 2 * n + 2)), draw(st.integers(0, 2 * n + 2))) for n in shape)
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    names = draw(
        st.one_of(
            st.sampled_from(NUMPY_NAMES).map(lambda name: (name,) * nd),
            st.lists(st.sampled_from(NUMPY_NAMES), min_size=nd, max_size=nd).map(tuple),
        )
    )
    method = draw(st.sampled_from(METHODS))
    seed = draw(st.integers(0, 2**16))
    return shape, kshape, pads, stride, dilation, names, method, seed


@pytest.mark.slow
@given(_numpy_rule_geometries())
def test_correlate_equals_numpy_pad_then_torch_unpadded_conv(case):
    shape, kshape, pads, stride, dilation, names, method, seed = case
    rng = np.random.default_rng(seed)
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    mode = [f"numpy:{name}" for name in names] if len(set(names)) > 1 else f"numpy:{names[0]}"
    spans = [(k - 1) * d + 1 for k, d in zip(kshape, dilation, strict=True)]
    if any(n + b + a < span for n, (b, a), span in zip(shape, pads, spans, strict=True)):
        with pytest.raises(padlab.PadlabValueError, match="larger than the input"):
            padlab.correlate(
                x, w, padding=pads, mode=mode, stride=stride, dilation=dilation, method=method
            )
        return
    padded = _numpy_pad_axis_by_axis(x, pads, names)
    expected = TORCH_CONV[len(shape)](
        torch.from_numpy(padded)[None, None],
        torch.from_numpy(w)[None, None],
        stride=stride,
        dilation=dilation,
    )[0, 0].numpy()
    got = padlab.correlate(
        x, w, padding=pads, mode=mode, stride=stride, dilation=dilation, method=method
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@given(_numpy_rule_geometries())
def test_convolve_equals_numpy_pad_then_torch_conv_with_flipped_kernel(case):
    """With explicit pairs, convolve pads as told and slides the flipped kernel."""
    shape, kshape, pads, stride, dilation, names, method, seed = case
    rng = np.random.default_rng(seed)
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    spans = [(k - 1) * d + 1 for k, d in zip(kshape, dilation, strict=True)]
    # the refusal of a kernel larger than the padded input is pinned by the correlate test above
    assume(all(n + b + a >= span for n, (b, a), span in zip(shape, pads, spans, strict=True)))
    padded = _numpy_pad_axis_by_axis(x, pads, names)
    flipped = w[(slice(None, None, -1),) * w.ndim].copy()
    expected = TORCH_CONV[len(shape)](
        torch.from_numpy(padded)[None, None],
        torch.from_numpy(flipped)[None, None],
        stride=stride,
        dilation=dilation,
    )[0, 0].numpy()
    got = padlab.convolve(
        x,
        w,
        padding=pads,
        mode=[f"numpy:{n}" for n in names],
        stride=stride,
        dilation=dilation,
        method=method,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


# partial convolution (Liu et al. 2018), built from torch: the zero-padded correlation times
# (taps in the window) / (taps on real pixels), 0 where the window holds no real pixel
PARTIAL_CASES = [
    ((9,), (3,), "same", 1, 1),
    ((9,), (4,), "same", 2, 1),
    ((9,), (3,), "full", 1, 2),
    ((3,), (7,), "same", 1, 1),  # kernel larger than the image
    ((3,), (2,), ((4, 5),), 2, 1),  # windows with no real pixel
    ((1,), (3,), "same", 1, 1),  # 1-pixel image
    ((7, 8), (3, 3), "same", 1, 1),
    ((7, 8), (4, 2), "same", 2, 1),
    ((7, 8), (3, 3), "same", (2, 3), (2, 1)),
    ((7, 8), (3, 5), "full", 1, 1),
    ((3, 2), (5, 6), "same", 1, 1),  # kernel larger than the image
    ((4, 5), (2, 2), ((3, 0), (1, 4)), 1, 2),
    ((4, 5, 3), (3, 2, 3), "same", 1, 1),
    ((4, 5, 3), (2, 3, 2), "full", 2, (1, 2, 1)),
]


def _torch_partial(x, w, padding, stride, dilation, convention="tf"):
    pads = (
        padlab.same_padding(x.shape, w.shape, stride, dilation, convention)
        if padding == "same"
        else padding
    )
    if padding == "full":
        pads = tuple(
            ((k - 1) * d,) * 2
            for k, d in zip(w.shape, np.broadcast_to(dilation, (w.ndim,)), strict=True)
        )
    flat = [p for pair in reversed(pads) for p in pair]
    conv = TORCH_CONV[x.ndim]
    t = F.pad(torch.from_numpy(x)[None, None], flat)
    mask = F.pad(torch.ones((1, 1, *x.shape), dtype=torch.float64), flat)
    raw = conv(t, torch.from_numpy(w)[None, None], stride=stride, dilation=dilation)
    count = conv(
        mask, torch.ones((1, 1, *w.shape), dtype=torch.float64), stride=stride, dilation=dilation
    )
    scale = torch.where(count > 0, w.size / count.clamp(min=1), torch.zeros_like(count))
    return (raw * scale)[0, 0].numpy()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("shape", "kshape", "padding", "stride", "dilation"), PARTIAL_CASES, ids=_id
)
def test_partial_matches_torch_built_partial_convolution(
    shape, kshape, padding, stride, dilation, method, rng
):
    x = _signal(shape, rng)
    w = _signal(kshape, rng)
    expected = _torch_partial(x, w, padding, stride, dilation)
    got = padlab.correlate(
        x, w, padding=padding, mode="partial", stride=stride, dilation=dilation, method=method
    )
    np.testing.assert_allclose(got, expected, **F64)


@pytest.mark.parametrize(
    ("shape", "kshape"), [((6, 7), (3, 4)), ((1, 1), (3, 3)), ((4, 3), (5, 7))], ids=_id
)
@pytest.mark.parametrize(
    "border", ["BORDER_CONSTANT", "BORDER_REFLECT", "BORDER_REFLECT_101", "BORDER_REPLICATE"]
)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_correlate_channel_axis_matches_cv2_filter2d_per_channel(
    channels, border, shape, kshape, rng
):
    x = _signal((*shape, channels), rng, np.float32)
    w = _signal(kshape, rng, np.float32) / 10
    expected = _cv2_filter(x, w, border)
    if expected.ndim == 2:  # OpenCV drops a trailing channel axis of length 1
        expected = expected[..., None]
    got_last = padlab.correlate(x, w, mode=f"cv2:{border}", convention="scipy", channel_axis=-1)
    got_first = padlab.correlate(
        np.moveaxis(x, -1, 0), w, mode=f"cv2:{border}", convention="scipy", channel_axis=0
    )
    np.testing.assert_allclose(got_last, expected, **F32)
    np.testing.assert_allclose(np.moveaxis(got_first, 0, -1), expected, **F32)


# ---------------------------------------------------------------------------------------------
# 5. The classic demonstration: a uint8 photo, 'valid' vs 'same', the outline kernel's frame
# ---------------------------------------------------------------------------------------------

OUTLINE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float32)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)


@pytest.mark.parametrize(
    ("padding", "shape"), [("valid", (222, 222)), ("same", (224, 224)), ("full", (226, 226))]
)
def test_uint8_224_image_with_3x3_kernel_output_shape(padding, shape, rng):
    image = rng.integers(0, 256, size=(224, 224)).astype(np.uint8)
    got = padlab.correlate(image, np.full((3, 3), 1 / 9, dtype=np.float32), padding=padding)
    assert got.shape == shape
    assert got.dtype == np.float32


def test_uint8_valid_interior_equals_same_interior(rng):
    image = rng.integers(0, 256, size=(224, 224)).astype(np.uint8)
    valid = padlab.correlate(image, OUTLINE, padding="valid")
    same = padlab.correlate(image, OUTLINE, padding="same")
    np.testing.assert_array_equal(valid, same[1:-1, 1:-1])
    expected = ndi.correlate(image.astype(np.float64), OUTLINE.astype(np.float64), mode="constant")
    np.testing.assert_allclose(same, expected, rtol=0, atol=1e-3)
    assert same.min() < 0  # negative Laplacian responses are kept, not wrapped or clipped


def test_zero_padded_outline_of_constant_uint8_image_fires_on_the_frame_only():
    image = np.full((224, 224), 200, dtype=np.uint8)
    got = padlab.correlate(image, OUTLINE, mode="zeros")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got[1:-1, 1:-1], 0)
    # edges away from corners: 3 of 8 neighbours are zero -> 8c - 5c = 3c; corners: 8c - 3c = 5c
    np.testing.assert_array_equal(got[0, 1:-1], 600)
    np.testing.assert_array_equal(got[-1, 1:-1], 600)
    np.testing.assert_array_equal(got[1:-1, 0], 600)
    np.testing.assert_array_equal(got[1:-1, -1], 600)
    np.testing.assert_array_equal(got[[0, 0, -1, -1], [0, -1, 0, -1]], 1000)
    # and a negative response (a dark frame around a bright image seen from outside) is kept
    negated = padlab.correlate(image, -OUTLINE, mode="zeros")
    assert negated.min() == -1000


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular"])
def test_outline_of_constant_uint8_image_is_exactly_zero_with_copying_rules(mode):
    image = np.full((224, 224), 200, dtype=np.uint8)
    got = padlab.correlate(image, OUTLINE, mode=mode)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.zeros((224, 224), np.float32))


def test_partial_outline_of_constant_uint8_image_rescales_the_frame_instead_of_removing_it():
    """Partial convolution rescales the zero-padded sum; a zero-sum kernel still fires."""
    image = np.full((224, 224), 200, dtype=np.uint8)
    got = padlab.correlate(image, OUTLINE, mode="partial")
    np.testing.assert_array_equal(got[1:-1, 1:-1], 0)
    np.testing.assert_array_equal(got[0, 1:-1], 600 * 9 / 6)
    np.testing.assert_array_equal(got[1:-1, -1], 600 * 9 / 6)
    np.testing.assert_array_equal(got[[0, 0, -1, -1], [0, -1, 0, -1]], 1000 * 9 / 4)


# ---------------------------------------------------------------------------------------------
# 6. Exact constructed values: Sobel on a constant image, partial convolution
# ---------------------------------------------------------------------------------------------

CONSTANTS = [
    pytest.param(200, np.uint8, id="uint8-200"),
    pytest.param(-3.5, np.float64, id="float64--3.5"),
    pytest.param(7.0, np.float32, id="float32-7"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("c", "dtype"), CONSTANTS)
def test_partial_box_of_constant_image_is_nine_c_everywhere(c, dtype, method):
    image = np.full((6, 7), c, dtype=dtype)
    got = padlab.correlate(image, np.ones((3, 3)), mode="partial", method=method)
    np.testing.assert_array_equal(got, np.full((6, 7), 9 * c))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("c", "dtype"), CONSTANTS)
def test_zero_padded_sobel_x_of_constant_image_is_4c_on_edges_3c_at_corners(c, dtype, method):
    image = np.full((6, 7), c, dtype=dtype)
    got = padlab.correlate(image, SOBEL_X, mode="zeros", method=method)
    expected = np.zeros((6, 7))
    expected[1:-1, 0], expected[1:-1, -1] = 4 * c, -4 * c
    expected[[0, -1], 0], expected[[0, -1], -1] = 3 * c, -3 * c
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "circular"])
@pytest.mark.parametrize(("c", "dtype"), CONSTANTS)
def test_sobel_x_of_constant_image_is_exactly_zero_for_copying_rules(c, dtype, mode, method):
    image = np.full((6, 7), c, dtype=dtype)
    got = padlab.correlate(image, SOBEL_X, mode=mode, method=method)
    np.testing.assert_array_equal(got, np.zeros((6, 7)))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("c", "dtype"), CONSTANTS)
def test_partial_sobel_x_of_constant_image_is_6c_on_edges_and_27c_over_4_at_corners(
    c, dtype, method
):
    image = np.full((6, 7), c, dtype=dtype)
    got = padlab.correlate(image, SOBEL_X, mode="partial", method=method)
    expected = np.zeros((6, 7))
    expected[1:-1, 0], expected[1:-1, -1] = 6 * c, -6 * c  # 4c * 9/6
    expected[[0, -1], 0], expected[[0, -1], -1] = 6.75 * c, -6.75 * c  # 3c * 9/4
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", METHODS)
def test_partial_1d_matches_hand_computed_rescaling(method):
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    w = np.array([1.0, 2.0, 3.0])
    # zero-padded 'same': 8 14 20 26 14; edge windows have 2 of 3 real taps -> * 3/2
    np.testing.assert_array_equal(
        padlab.correlate(x, w, mode="partial", method=method), [12.0, 14.0, 20.0, 26.0, 21.0]
    )


@pytest.mark.parametrize("method", METHODS)
def test_partial_full_padding_scales_every_window_by_taps_over_real_taps(method):
    x = np.array([2.0, 4.0])
    w = np.array([1.0, 1.0, 1.0])
    # 'full' pads 2 each side: windows hold 1, 2, 2, 1 real samples
    got = padlab.correlate(x, w, padding="full", mode="partial", method=method)
    np.testing.assert_array_equal(got, [2.0 * 3, 6.0 * 1.5, 6.0 * 1.5, 4.0 * 3])


@pytest.mark.parametrize(
    ("xshape", "wshape", "padding", "stride"),
    [
        ((2, 3, 7, 8), (4, 3, 3, 3), 1, 1),
        ((1, 2, 6, 5), (2, 2, 4, 2), ((2, 1), (1, 0)), 2),
        ((1, 2, 2, 2), (3, 2, 3, 3), 3, 1),
    ],
    ids=_id,
)
def test_partial_conv_nd_matches_nvidia_partial_conv_with_bias(
    xshape, wshape, padding, stride, rng
):
    """NVIDIA PartialConv2d (multi_channel=False): (raw * k_area / count) + bias, 0 where count is 0."""
    x = _signal(xshape, rng)
    w = _signal(wshape, rng)
    b = _signal((wshape[0],), rng)
    pads = ((padding, padding),) * 2 if isinstance(padding, int) else padding
    flat = [p for pair in reversed(pads) for p in pair]
    raw = F.conv2d(F.pad(torch.from_numpy(x), flat), torch.from_numpy(w), stride=stride)
    mask = F.pad(torch.ones((1, 1, *xshape[2:]), dtype=torch.float64), flat)
    count = F.conv2d(mask, torch.ones((1, 1, *wshape[2:]), dtype=torch.float64), stride=stride)
    k_area = wshape[2] * wshape[3]
    ratio = torch.where(count > 0, k_area / count.clamp(min=1), torch.zeros_like(count))
    expected = ((raw * ratio + torch.from_numpy(b)[None, :, None, None]) * (count > 0)).numpy()
    got = padlab.conv_nd(x, w, b, padding=pads, stride=stride, mode="partial")
    np.testing.assert_allclose(got, expected, **F64)


def test_partial_conv_nd_scales_before_bias():
    x = np.ones((1, 2, 4, 4))
    w = np.ones((1, 2, 3, 3))
    got = padlab.conv_nd(x, w, np.array([0.5]), padding=1, mode="partial")
    np.testing.assert_array_equal(got, np.full((1, 1, 4, 4), 18.5))


# ---------------------------------------------------------------------------------------------
# 7. NaN follows IEEE arithmetic (0 * nan is nan): padlab and torch agree, scipy.ndimage differs
# ---------------------------------------------------------------------------------------------

DELTA = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def _ramp_with_nan():
    x = np.arange(49, dtype=np.float64).reshape(7, 7)
    x[3, 3] = np.nan
    return x


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "mode", ["zeros", "reflect", "symmetric", "replicate", "circular", "partial"]
)
def test_one_nan_reaches_every_window_covering_it_even_through_zero_taps(mode, method):
    got = padlab.correlate(_ramp_with_nan(), DELTA, mode=mode, method=method)
    assert np.isnan(got).sum() == 9
    assert np.isnan(got[2:5, 2:5]).all()


def test_nan_count_matches_torch_and_differs_from_scipy_ndimage_which_skips_zero_taps():
    x = _ramp_with_nan()
    got = padlab.correlate(x, DELTA, mode="zeros")
    torch_out = F.conv2d(
        torch.from_numpy(x)[None, None], torch.from_numpy(DELTA)[None, None], padding=1
    )[0, 0].numpy()
    ndimage_out = ndi.correlate(x, DELTA, mode="constant")
    assert np.isnan(torch_out).sum() == 9
    np.testing.assert_array_equal(np.isnan(got), np.isnan(torch_out))
    assert np.isnan(ndimage_out).sum() == 1  # scipy.ndimage skips taps whose weight is 0
    finite = ~np.isnan(got)
    np.testing.assert_array_equal(got[finite], ndimage_out[finite])


def test_nan_at_the_border_is_copied_into_the_reflected_padding():
    x = np.arange(25, dtype=np.float64).reshape(5, 5)
    x[0, 2] = np.nan
    # reflect (d c b | a b c d | c b a) does not copy row 0 into the padding; symmetric
    # (c b a | a b c d | d c b) does, so the NaN is read twice near the top edge
    got_reflect = padlab.correlate(x, np.ones((3, 3)), mode="reflect")
    got_symmetric = padlab.correlate(x, np.ones((3, 3)), mode="symmetric")
    np.testing.assert_array_equal(
        np.isnan(got_reflect), np.isnan(ndi.correlate(x, np.ones((3, 3)), mode="mirror"))
    )
    np.testing.assert_array_equal(
        np.isnan(got_symmetric), np.isnan(ndi.correlate(x, np.ones((3, 3)), mode="reflect"))
    )


# ---------------------------------------------------------------------------------------------
# dtype policy against scipy.ndimage computed in float64
# ---------------------------------------------------------------------------------------------

DTYPE_POLICY = [
    (np.bool_, np.float32),
    (np.uint8, np.float32),
    (np.int8, np.float32),
    (np.uint16, np.float32),
    (np.int16, np.float32),
    (np.float16, np.float32),
    (np.float32, np.float32),
    (np.int32, np.float64),
    (np.int64, np.float64),
    (np.uint32, np.float64),
    (np.uint64, np.float64),
    (np.float64, np.float64),
]


@pytest.mark.parametrize(("dtype", "result"), DTYPE_POLICY, ids=lambda t: np.dtype(t).name)
def test_dtype_policy_and_values_match_ndimage_in_float64(dtype, result, rng):
    x = rng.integers(0, 2 if dtype is np.bool_ else 100, size=(6, 7)).astype(dtype)
    got = padlab.correlate(x, SOBEL_X, mode="symmetric")
    assert got.dtype == result
    expected = ndi.correlate(x.astype(np.float64), SOBEL_X.astype(np.float64), mode="reflect")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
