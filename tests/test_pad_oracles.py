"""padlab.pad against numpy, scipy.ndimage, scipy.signal, OpenCV, PyTorch and ONNX.

Every foreign name in the registry is passed to its own library, and the library's output must
equal padlab.pad with the qualified name: this checks pad() and the translation table at once,
against what the libraries do (TensorFlow is not installed here; its names follow its
documentation and are not run).
"""

from __future__ import annotations

import numpy as np
import pytest

import padlab
from oracles import (
    cv2_pad,
    ndimage_extension,
    numpy_pad,
    onnx_pad,
    signal_extension,
    torch_pad,
)
from padlab.modes import RULES

SHAPES = [(1,), (2,), (3,), (4,), (5,), (1, 1), (2, 5), (5, 3), (4, 4), (1, 4, 2), (3, 2, 5)]


def _width_choices(n: int) -> list[int]:
    """0 to three times the axis: none, one, the axis, beyond it, three times it."""
    return sorted({0, 1, n, 2 * n + 1, 3 * n})


def _width_cases(shape, limit=None):
    """(before, after) per axis, drawn from _width_choices for every axis at once."""
    cases = []
    # every choice on each side, and every side against a different choice on the other
    pairs = [(i, i) for i in range(5)] + [(i, (i + 2) % 5) for i in range(5)] + [(0, 4), (4, 0)]
    for first, second in pairs:
        widths = []
        for n in shape:
            choices = _width_choices(n)
            if limit is not None:
                choices = [c for c in choices if c <= limit(n)] or [0]
            widths.append((choices[first % len(choices)], choices[second % len(choices)]))
        cases.append(tuple(widths))
    return list(dict.fromkeys(cases))


def _cases(lib, shapes=SHAPES, limit=None, symmetric_only=()):
    """pytest params (name, shape, widths) for every name the registry gives ``lib``."""
    params = []
    for rule in RULES:
        for name in rule.names.get(lib, ()):
            lim = limit(name) if limit else None
            for shape in shapes:
                for widths in _width_cases(shape, lim):
                    if name in symmetric_only:
                        widths = tuple((b, b) for b, _ in widths)
                    wid = ",".join(f"{b}-{a}" for b, a in widths)
                    params.append(
                        pytest.param(name, shape, widths, id=f"{lib}:{name}-{shape}-{wid}")
                    )
    return list({p.id: p for p in params}.values())


def _signal(shape, rng):
    return rng.normal(size=shape).round(3) * 10


@pytest.mark.parametrize(("name", "shape", "widths"), _cases("numpy"))
def test_numpy_pad(name, shape, widths, rng):
    x = _signal(shape, rng)
    expected = numpy_pad(x, widths, name)
    got = padlab.pad(x, widths, f"numpy:{name}")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(padlab.pad(x, widths, padlab.translate(f"numpy:{name}")), got)


@pytest.mark.parametrize("widths", _width_cases((5, 4)), ids=str)
@pytest.mark.parametrize("name", ["mean", "median", "linear_ramp", "minimum", "maximum"])
@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.int64])
def test_numpy_integer_rounding(name, dtype, widths, rng):
    x = rng.integers(0, 100, size=(5, 4)).astype(dtype)
    np.testing.assert_array_equal(padlab.pad(x, widths, name), np.pad(x, widths, mode=name))


@pytest.mark.parametrize("stat_length", [1, 2, (1, 3), (4, 2), 10])
@pytest.mark.parametrize("name", ["mean", "median", "minimum", "maximum"])
def test_numpy_stat_length(name, stat_length, rng):
    x = _signal((5, 4), rng)
    expected = np.pad(x, ((2, 3), (1, 4)), mode=name, stat_length=stat_length)
    got = padlab.pad(x, ((2, 3), (1, 4)), name, stat_length=stat_length)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("end_values", [0, 5, (-3, 7)])
def test_numpy_linear_ramp_end_values(end_values, rng):
    x = _signal((4, 3), rng)
    expected = np.pad(x, 3, mode="linear_ramp", end_values=end_values)
    np.testing.assert_allclose(padlab.pad(x, 3, "linear_ramp", end_values=end_values), expected)


@pytest.mark.parametrize(("name", "shape", "widths"), _cases("scipy"))
def test_scipy_ndimage_delta_correlate(name, shape, widths, rng):
    x = _signal(shape, rng)
    expected = ndimage_extension(x, widths, name)
    np.testing.assert_array_equal(padlab.pad(x, widths, f"scipy:{name}"), expected)


@pytest.mark.parametrize(
    ("name", "shape", "widths"), _cases("scipy.signal", [s for s in SHAPES if len(s) == 2])
)
def test_scipy_signal_boundary(name, shape, widths, rng):
    x = _signal(shape, rng)
    expected = signal_extension(x, widths, name)
    np.testing.assert_array_equal(padlab.pad(x, widths, f"scipy.signal:{name}"), expected)


@pytest.mark.parametrize(
    ("name", "shape", "widths"), _cases("cv2", [s for s in SHAPES if len(s) <= 2])
)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_opencv_copy_make_border(name, shape, widths, dtype, rng):
    x = (_signal(shape, rng) % 200).astype(dtype)
    expected = cv2_pad(x, widths, name)
    got = padlab.pad(x, widths, f"cv2:{name}")
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("name", "shape", "widths"), _cases("cv2", [(4, 5)]))
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_opencv_channels_pad_only_the_spatial_axes(name, shape, widths, channels, rng):
    x = _signal((*shape, channels), rng).astype(np.float32)
    expected = cv2_pad(x, widths, name)
    got = padlab.pad(x, widths, f"opencv:{name}", axes=(0, 1))
    np.testing.assert_array_equal(got, expected)


def _torch_limit(name):
    """torch refuses reflect pads >= n and circular pads > n (documented limits)."""
    return {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(name)


# 'zeros' is observed through nn.ConvNd(padding_mode='zeros'), which pads both sides equally
@pytest.mark.parametrize(
    ("name", "shape", "widths"), _cases("torch", limit=_torch_limit, symmetric_only=("zeros",))
)
def test_torch_functional_pad(name, shape, widths, rng):
    x = _signal(shape, rng)
    expected = torch_pad(x, widths, name)
    np.testing.assert_array_equal(padlab.pad(x, widths, f"torch:{name}"), expected)


def test_torch_limits_are_not_padlab_limits():
    """torch refuses what padlab, numpy, scipy and OpenCV all define: reflect wider than n."""
    x = np.arange(1.0, 6.0)
    with pytest.raises(RuntimeError):
        torch_pad(x[None], ((0, 0), (7, 7)), "reflect")
    np.testing.assert_array_equal(
        padlab.pad(x, 7, "torch:reflect"),
        [2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4],
    )


def _onnx_limit(name):
    return {"reflect": lambda n: n - 1, "wrap": lambda n: n}.get(name)


@pytest.mark.parametrize(("name", "shape", "widths"), _cases("onnx", limit=_onnx_limit))
def test_onnx_pad_reference(name, shape, widths, rng):
    x = _signal(shape, rng)
    expected = onnx_pad(x, widths, name)
    np.testing.assert_array_equal(padlab.pad(x, widths, f"onnx:{name}"), expected)
