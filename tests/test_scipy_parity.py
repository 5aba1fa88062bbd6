"""scipy.ndimage's ``output=``, ``origin=`` and ``axes=`` on padlab's correlate, convolve, conv_nd.

Every call is checked against scipy.ndimage making the same call (modes through padlab's
``"scipy:<name>"`` translation, 'same' placed as scipy does with ``convention="scipy"``).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

import padlab
from padlab.errors import PadlabTypeError, PadlabValueError

SCIPY_MODES = ("reflect", "mirror", "nearest", "wrap", "constant")


def _ours(fn, x, k, mode, **kw):
    return fn(x, k, mode=f"scipy:{mode}", convention="scipy", **kw)


def _origins(k):
    return range(-(k // 2), (k - 1) // 2 + 1)


@pytest.mark.parametrize("mode", SCIPY_MODES)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_origin_1d_matches_scipy(rng, mode, k, name):
    x = rng.standard_normal(11)
    w = rng.standard_normal(k)
    for origin in _origins(k):
        expected = getattr(ndi, name)(x, w, mode=mode, origin=origin)
        got = _ours(getattr(padlab, name), x, w, mode, origin=origin)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=f"{origin=}")


@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_origin_2d_per_axis_matches_scipy(rng, name):
    x = rng.standard_normal((9, 10))
    w = rng.standard_normal((4, 3))
    for oy in _origins(4):
        for ox in _origins(3):
            expected = getattr(ndi, name)(x, w, mode="nearest", origin=(oy, ox))
            got = _ours(getattr(padlab, name), x, w, "nearest", origin=(oy, ox))
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_origin_is_explicit_padding(rng):
    x = rng.standard_normal((12, 12))
    w = rng.standard_normal((5, 4))
    shifted = padlab.correlate(x, w, mode="reflect", origin=(1, -1), convention="scipy")
    # 'same' with convention='scipy': (2, 2) and (2, 1); origin (1, -1) moves them
    explicit = padlab.correlate(x, w, mode="reflect", padding=((3, 1), (1, 2)))
    np.testing.assert_array_equal(shifted, explicit)


@pytest.mark.parametrize("mode", SCIPY_MODES)
def test_axes_stack_of_photos_matches_scipy(rng, mode):
    stack = rng.standard_normal((4, 13, 11, 3))
    w = rng.standard_normal((3, 5))
    expected = ndi.correlate(stack, w, mode=mode, axes=(1, 2))
    got = _ours(padlab.correlate, stack, w, mode, axes=(1, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    expected = ndi.convolve(stack, w, mode=mode, axes=(2, 1), origin=(1, -1))
    got = _ours(padlab.convolve, stack, w, mode, axes=(2, 1), origin=(1, -1))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_axes_1d_along_one_axis(rng):
    x = rng.standard_normal((5, 6, 7))
    w = rng.standard_normal(4)
    for axis in range(3):
        expected = ndi.correlate1d(x, w, axis=axis, mode="wrap")
        got = _ours(padlab.correlate, x, w, "wrap", axes=axis)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_axes_is_channel_axis_generalised(rng):
    x = rng.standard_normal((3, 16, 17)).astype(np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        padlab.correlate(x, w, axes=(1, 2)), padlab.correlate(x, w, channel_axis=0)
    )
    with pytest.raises(PadlabValueError, match="not both"):
        padlab.correlate(x, w, axes=(1, 2), channel_axis=0)
    with pytest.raises(PadlabValueError, match="names 3 axes"):
        padlab.correlate(x, w, axes=(0, 1, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_output_array_matches_scipy(rng, dtype):
    x = rng.standard_normal((20, 21))
    w = rng.standard_normal((3, 3))
    expected = np.empty((20, 21), dtype)
    ndi.correlate(x, w, output=expected, mode="mirror")
    for name in ("out", "output"):
        buffer = np.full((20, 21), np.nan, dtype)
        result = _ours(padlab.correlate, x, w, "mirror", **{name: buffer})
        assert result is buffer
        np.testing.assert_allclose(buffer, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_output_dtype_matches_scipy(rng):
    x = rng.standard_normal(40) * 10
    w = np.array([0.25, 0.5, 0.25])
    expected = ndi.correlate(x, w, output=np.float32, mode="constant")
    got = _ours(padlab.correlate, x, w, "constant", output=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # integers: scipy truncates toward zero; padlab does so only when asked (casting='unsafe')
    expected = ndi.correlate(x, w, output=np.int32, mode="constant")
    got = _ours(padlab.correlate, x, w, "constant", output=np.int32, casting="unsafe")
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(PadlabTypeError, match="casting='same_kind'"):
        _ours(padlab.correlate, x, w, "constant", output=np.int32)


def test_out_into_the_input_itself(rng):
    x = rng.standard_normal((30, 31))
    w = rng.standard_normal((5, 5))
    expected = padlab.correlate(x, w, mode="reflect")
    padlab.correlate(x, w, mode="reflect", out=x)
    np.testing.assert_array_equal(x, expected)


def test_out_with_batch_axes_last_is_filled(rng):
    stack = rng.standard_normal((3, 12, 12, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    out = np.empty_like(stack)
    assert padlab.correlate(stack, w, axes=(1, 2), out=out) is out
    np.testing.assert_array_equal(out, padlab.correlate(stack, w, axes=(1, 2)))


@pytest.mark.parametrize("method", ["direct", "fft", "separable", "reference", "auto"])
def test_out_is_written_by_every_engine(rng, method):
    x = rng.standard_normal((2, 40, 40)).astype(np.float32)
    w = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]).astype(np.float32)
    out = np.full((2, 40, 40), np.nan, np.float32)
    padlab.correlate(x, w, axes=(1, 2), mode="partial", method=method, out=out)
    expected = padlab.correlate(x, w, axes=(1, 2), mode="partial", method="reference")
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("method", ["direct", "separable"])
def test_out_needs_no_temporary_of_the_output_size(rng, method):
    x = rng.standard_normal((1024, 1024)).astype(np.float32)  # 4 MiB
    w = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]).astype(np.float32)
    out = np.empty_like(x)
    padlab.correlate(x, w, method=method, out=out)  # warm: index tables, compiled code
    with_out = _peak(lambda: padlab.correlate(x, w, method=method, out=out))
    without = _peak(lambda: padlab.correlate(x, w, method=method))
    assert without >= x.nbytes
    assert with_out < x.nbytes // 8, with_out


def test_out_errors(rng):
    x = rng.standard_normal((8, 8))
    w = np.ones((3, 3))
    with pytest.raises(PadlabValueError, match=r"out has shape \(8, 7\), but the result has"):
        padlab.correlate(x, w, out=np.empty((8, 7)))
    with pytest.raises(PadlabValueError, match="not both"):
        padlab.correlate(x, w, out=np.empty((8, 8)), output=np.empty((8, 8)))
    with pytest.raises(PadlabTypeError, match="out= must be a numpy array"):
        padlab.correlate(x, w, out=[[0.0] * 8] * 8)
    frozen = np.empty((8, 8))
    frozen.flags.writeable = False
    with pytest.raises(PadlabTypeError, match="read-only"):
        padlab.correlate(x, w, out=frozen)
    with pytest.raises(PadlabValueError, match="casting='sideways'"):
        padlab.correlate(x, w, out=np.empty((8, 8)), casting="sideways")


def test_origin_errors(rng):
    x = rng.standard_normal(10)
    with pytest.raises(PadlabValueError, match=r"origin=2 is out of range.*allowed -1 to 1"):
        padlab.correlate(x, [1.0, 2.0, 3.0], origin=2)
    with pytest.raises(PadlabValueError, match="needs padding='same'"):
        padlab.correlate(x, [1.0, 2.0, 3.0], origin=1, padding="valid")
    with pytest.raises(PadlabValueError, match="origin has 2 entries"):
        padlab.correlate(x, [1.0, 2.0, 3.0], origin=(0, 1))
    with pytest.raises(PadlabTypeError, match="origin must be an integer"):
        padlab.correlate(x, [1.0, 2.0, 3.0], origin=0.5)


def test_conv_nd_out(rng):
    x = rng.standard_normal((2, 3, 20, 20)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    for method in ("direct", "gemm", "reference"):
        expected = padlab.conv_nd(x, w, b, padding="same", mode="partial", method=method)
        out = np.full_like(expected, np.nan)
        got = padlab.conv_nd(x, w, b, padding="same", mode="partial", method=method, out=out)
        assert got is out
        np.testing.assert_array_equal(out, expected)
        as64 = padlab.conv_nd(x, w, b, padding="same", method=method, output=np.float64)
        assert as64.dtype == np.float64
    with pytest.raises(PadlabValueError, match="out has shape"):
        padlab.conv_nd(x, w, out=np.empty((2, 8, 20, 20), np.float32))


@st.composite
def _cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(ndim))
    n_axes = draw(st.integers(1, ndim))
    axes = draw(st.permutations(range(ndim)))[:n_axes]
    kshape = tuple(draw(st.integers(1, 4)) for _ in range(n_axes))
    origin = tuple(draw(st.integers(-(k // 2), (k - 1) // 2)) for k in kshape)
    mode = draw(st.sampled_from(SCIPY_MODES))
    name = draw(st.sampled_from(["correlate", "convolve"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, tuple(axes), kshape, origin, mode, name, seed


@given(_cases())
def test_hypothesis_axes_origin_output_match_scipy(case):
    shape, axes, kshape, origin, mode, name, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)  # kernel axes: the filtered axes in increasing order
    # padlab: per-axis values in the order written in axes; scipy too, except that when axes
    # covers every axis it reads them in increasing axis order
    written = tuple(origin[sorted(axes).index(a)] for a in axes)
    theirs = origin if len(axes) == len(shape) else written
    expected = np.empty(shape)
    getattr(ndi, name)(x, w, output=expected, mode=mode, origin=theirs, axes=axes, cval=0.0)
    out = np.full(shape, np.nan)
    got = _ours(getattr(padlab, name), x, w, mode, axes=axes, origin=written, output=out)
    assert got is out
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_a_stack_is_one_engine_call_with_every_slice_batched(rng, monkeypatch):
    """axes=(1, 2) on (N, H, W, C): one problem of N * C planes, which the engines split
    across threads, not N * C calls."""
    from padlab.engine import choose

    seen = []
    original = choose.run

    def spy(problem, method="auto", out=None):
        seen.append(problem.x.shape)
        return original(problem, method, out)

    monkeypatch.setattr(choose, "run", spy)
    stack = rng.standard_normal((5, 20, 24, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    got = padlab.correlate(stack, w, axes=(1, 2), mode="reflect")
    assert seen == [(15, 20, 24)]
    for n in range(5):
        for c in range(3):
            np.testing.assert_array_equal(
                got[n, :, :, c], padlab.correlate(stack[n, :, :, c], w, mode="reflect")
            )
