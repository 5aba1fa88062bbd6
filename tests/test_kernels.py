"""Named kernels against their textbook values, scipy.ndimage and OpenCV; text and files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

import padlab
from padlab.kernels import KERNELS, describe_kernel, get_kernel, parse_kernel

TEXTBOOK = {
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "laplacian-4": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "scharr-x": [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]],
    "scharr-y": [[-3, -10, -3], [0, 0, 0], [3, 10, 3]],
    "prewitt-x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt-y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "box": np.full((3, 3), 1 / 9),
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
}


@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_textbook_values(name):
    np.testing.assert_allclose(get_kernel(name), TEXTBOOK[name])


def test_every_registry_kernel_is_documented_and_builds():
    for entry in KERNELS.values():
        kernel = get_kernel(entry.name)
        assert kernel.ndim == 2 and np.isfinite(kernel).all()
        assert len(entry.what) > 10


@pytest.mark.parametrize(
    ("name", "total", "separable"),
    [
        ("sharpen", 1, False),
        ("blur", 1, True),
        ("outline", 0, False),
        ("sobel-x", 0, True),
        ("scharr-y", 0, True),
        ("box-5", 1, True),
        ("gaussian-7-1.5", 1, True),
        ("emboss", 1, False),
    ],
)
def test_sum_and_separability(name, total, separable):
    info = describe_kernel(get_kernel(name))
    assert info["sum"] == pytest.approx(total)
    assert info["separable"] is separable


@pytest.fixture
def photo():
    return padlab.to_float(padlab.sample_image(gray=True)[200:264, 200:280]).astype(np.float64)


# scipy.ndimage's default mode is 'reflect' (padlab symmetric)
@pytest.mark.parametrize(
    ("name", "scipy_fn"),
    [
        ("sobel-x", lambda x: ndi.sobel(x, axis=1)),
        ("sobel-y", lambda x: ndi.sobel(x, axis=0)),
        ("prewitt-x", lambda x: ndi.prewitt(x, axis=1)),
        ("prewitt-y", lambda x: ndi.prewitt(x, axis=0)),
        ("laplacian-4", ndi.laplace),
        ("box-5", lambda x: ndi.uniform_filter(x, 5)),
    ],
)
def test_against_scipy_ndimage(photo, name, scipy_fn):
    got = padlab.correlate(photo, get_kernel(name), mode="scipy:reflect", convention="scipy")
    np.testing.assert_allclose(got, scipy_fn(photo), atol=1e-12)


# OpenCV's default border is BORDER_REFLECT_101 (padlab reflect)
@pytest.mark.parametrize(
    ("name", "cv2_fn"),
    [
        ("sobel-x", lambda x: cv2.Sobel(x, cv2.CV_64F, 1, 0, ksize=3)),
        ("sobel-y", lambda x: cv2.Sobel(x, cv2.CV_64F, 0, 1, ksize=3)),
        ("scharr-x", lambda x: cv2.Scharr(x, cv2.CV_64F, 1, 0)),
        ("scharr-y", lambda x: cv2.Scharr(x, cv2.CV_64F, 0, 1)),
        ("laplacian-4", lambda x: cv2.Laplacian(x, cv2.CV_64F, ksize=1)),
        ("blur", lambda x: cv2.GaussianBlur(x, (3, 3), 0)),
        ("box-5", lambda x: cv2.blur(x, (5, 5))),
        ("gaussian-7", lambda x: cv2.GaussianBlur(x, (7, 7), 0)),
        ("gaussian-5-1.5", lambda x: cv2.GaussianBlur(x, (5, 5), 1.5)),
    ],
)
def test_against_opencv(photo, name, cv2_fn):
    got = padlab.correlate(photo, get_kernel(name), mode="reflect")
    np.testing.assert_allclose(got, cv2_fn(photo), atol=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0,-1,0;-1,5,-1;0,-1,0", TEXTBOOK["sharpen"]),
        ("1/9 1/9 1/9; 1/9 1/9 1/9; 1/9 1/9 1/9", TEXTBOOK["box"]),
        ("1,2,1", [[1, 2, 1]]),
        ("1 0 -1\n2 0 -2\n1 0 -1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
    ],
)
def test_kernels_from_text(text, expected):
    label, kernel = parse_kernel(text)
    assert label == "custom"
    np.testing.assert_allclose(kernel, expected)


def test_kernels_from_files(tmp_path):
    np.save(tmp_path / "k.npy", np.eye(3))
    (tmp_path / "k.txt").write_text("1 2\n3 4\n")
    assert parse_kernel(str(tmp_path / "k.npy"))[0] == "k"
    np.testing.assert_array_equal(parse_kernel(tmp_path / "k.npy")[1], np.eye(3))
    np.testing.assert_array_equal(parse_kernel(str(tmp_path / "k.txt"))[1], [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("blurr", padlab.PadlabValueError, r"unknown kernel 'blurr'; named kernels: sharpen"),
        ("sobel-x-3", padlab.PadlabValueError, r"takes no parameters"),
        ("box-0", padlab.PadlabValueError, r"kernel size must be 1 to 1001"),
        ("box-3-1.5", padlab.PadlabValueError, r"only gaussian takes a sigma"),
        ("1,2;3", padlab.PadlabValueError, r"same number of values"),
        ("1,a,2", padlab.PadlabValueError, r"'a' is not a number"),
        ("1/0,1", padlab.PadlabValueError, r"'1/0' is not a number"),
        ("missing.npy", padlab.PadlabFileError, r"missing.npy: no such kernel file"),
    ],
)
def test_bad_kernels_are_named(spec, error, match):
    with pytest.raises(error, match=match):
        parse_kernel(spec)


def test_non_finite_and_wrong_shape_arrays():
    with pytest.raises(padlab.PadlabValueError, match="non-finite"):
        parse_kernel(np.array([[np.nan, 1.0]]))
    with pytest.raises(padlab.PadlabValueError, match="2-D"):
        parse_kernel(np.ones((2, 2, 2)))
