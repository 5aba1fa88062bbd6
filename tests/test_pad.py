"""padlab.pad: golden diagrams, geometry, dtypes, errors, and Hypothesis against numpy.pad."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import padlab
from oracles import numpy_pad
from padlab.modes import RULES, resolve_mode

PAD_RULES = [rule for rule in RULES if rule.kind != "partial"]


# --- golden diagrams: the pattern each rule carries is what pad() does ----------------------

_SAMPLE = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 8.0}
_SYMBOLS = {
    "v": 7.0,  # the value= used below for 'constant'
    "μ": 15.0 / 4,
    "m": 3.0,  # median of 1 2 4 8
    "▼": 1.0,
    "▲": 8.0,
}


def _evaluate(token: str) -> float:
    """'2a-d' -> 2*a - d, 'a/3' -> a/3, with a b c d = 1 2 4 8."""
    if token in _SYMBOLS:
        return _SYMBOLS[token]
    expression = re.sub(r"(\d)([a-d])", r"\1*\2", token)
    return float(eval(expression, {}, dict(_SAMPLE)))


@pytest.mark.parametrize("rule", PAD_RULES, ids=lambda r: r.name)
def test_diagram_is_what_pad_does(rule):
    left, middle, right = (part.split() for part in rule.pattern.split("|"))
    assert middle == ["a", "b", "c", "d"]
    expected = [_evaluate(t) for t in left + middle + right]
    options = {"value": 7} if rule.name == "constant" else {}
    got = padlab.pad(np.array([1.0, 2.0, 4.0, 8.0]), 3, rule.name, **options)
    np.testing.assert_allclose(got, expected)


# --- the vocabulary clash, pinned ------------------------------------------------------------


def test_reflect_means_numpy_reflect_and_scipy_reflect_means_symmetric():
    x = np.array([1, 2, 3, 4])
    np.testing.assert_array_equal(padlab.pad(x, 3, "reflect"), [4, 3, 2, 1, 2, 3, 4, 3, 2, 1])
    np.testing.assert_array_equal(padlab.pad(x, 3, "scipy:reflect"), [3, 2, 1, 1, 2, 3, 4, 4, 3, 2])
    np.testing.assert_array_equal(padlab.pad(x, 3, "scipy:reflect"), padlab.pad(x, 3, "symmetric"))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reflect", [2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4]),
        ("symmetric", [4, 5, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 1, 2]),
        ("circular", [4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]),
        ("replicate", [1] * 7 + [1, 2, 3, 4, 5] + [5] * 7),
    ],
)
def test_widths_beyond_the_axis_repeat_the_rule(mode, expected):
    """The research table: [1..5] padded by 7, as numpy, scipy and OpenCV all agree."""
    np.testing.assert_array_equal(padlab.pad(np.arange(1, 6), 7, mode), expected)


@pytest.mark.parametrize("rule", PAD_RULES, ids=lambda r: r.name)
def test_one_sample_axes(rule):
    x = np.array([5.0])
    got = padlab.pad(x, (2, 3), rule.name)
    np.testing.assert_allclose(got, numpy_pad(x, (2, 3), padlab.translate(rule.name, "numpy")))
    if rule.kind in ("index", "odd", "statistic"):
        np.testing.assert_array_equal(got, [5.0] * 6)


# --- geometry: widths, axes, one rule per axis -----------------------------------------------


@pytest.mark.parametrize(
    ("width", "numpy_width"),
    [
        (0, 0),
        (2, 2),
        ((1, 2), (1, 2)),
        (((1, 0), (0, 3)), ((1, 0), (0, 3))),
        ([1, (0, 2)], ((1, 1), (0, 2))),
        ([(1, 1)], 1),
        ([3, 0], (3, 0)),
        (np.array([[1, 2], [3, 4]]), ((1, 2), (3, 4))),
        ({1: (0, 2)}, ((0, 0), (0, 2))),
        ({-2: 1}, ((1, 1), (0, 0))),
    ],
)
def test_width_forms(width, numpy_width):
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(
        padlab.pad(x, width, "symmetric"), np.pad(x, numpy_width, mode="symmetric")
    )


def test_axes_pad_only_spatial_axes_of_hwc_and_nchw():
    hwc = np.random.default_rng(0).normal(size=(4, 5, 3))
    got = padlab.pad(hwc, ((1, 2), (3, 0)), "reflect", axes=(0, 1))
    np.testing.assert_array_equal(got, np.pad(hwc, ((1, 2), (3, 0), (0, 0)), mode="reflect"))
    nchw = np.random.default_rng(1).normal(size=(2, 3, 4, 5))
    got = padlab.pad(nchw, 2, "circular", axes=(-2, -1))
    np.testing.assert_array_equal(got, np.pad(nchw, ((0, 0), (0, 0), (2, 2), (2, 2)), "wrap"))


def test_one_rule_per_axis_is_sequential_numpy():
    x = np.random.default_rng(2).normal(size=(3, 4, 2))
    got = padlab.pad(x, ((2, 1), (5, 9), (1, 1)), ("reflect", "mean", "numpy:edge"))
    expected = np.pad(x, ((2, 1), (0, 0), (0, 0)), "reflect")
    expected = np.pad(expected, ((0, 0), (5, 9), (0, 0)), "mean")
    expected = np.pad(expected, ((0, 0), (0, 0), (1, 1)), "edge")
    np.testing.assert_allclose(got, expected)


def test_pad_returns_a_new_array_even_for_zero_width():
    x = np.arange(4.0)
    got = padlab.pad(x, 0, "reflect")
    got[0] = 99
    assert x[0] == 0


def test_accepts_lists_and_non_contiguous_views():
    np.testing.assert_array_equal(padlab.pad([[1, 2], [3, 4]], 1, "replicate")[0], [1, 1, 2, 2])
    x = np.arange(30.0).reshape(5, 6)[::2, ::-3]
    np.testing.assert_array_equal(padlab.pad(x, 4, "circular"), np.pad(x, 4, "wrap"))


def test_large_arrays_take_the_threaded_copy():
    x = np.random.default_rng(3).random((1500, 1200), dtype=np.float32)  # > 4 MiB
    for mode, numpy_mode in [("reflect", "reflect"), ("zeros", "constant"), ("median", "median")]:
        np.testing.assert_array_equal(padlab.pad(x, 5, mode), np.pad(x, 5, numpy_mode))


# --- dtypes ----------------------------------------------------------------------------------

ALL_DTYPES = [
    np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128,
]  # fmt: skip


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "symmetric", "replicate", "circular"])
def test_dtype_is_kept(dtype, mode):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    got = padlab.pad(x, 2, mode)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, np.pad(x, 2, padlab.translate(mode, "numpy")))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_dtype_is_kept_with_a_constant(dtype):
    x = np.zeros((2, 3), dtype=dtype)
    got = padlab.pad(x, 1, "constant", value=1)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, np.pad(x, 1, constant_values=1))


@pytest.mark.parametrize(
    ("dtype", "value", "allowed"),
    [
        (np.uint8, 300, "from 0 to 255"),
        (np.uint8, -1, "from 0 to 255"),
        (np.uint8, 2.7, "from 0 to 255"),
        (np.int8, 128, "from -128 to 127"),
        (np.int32, float("nan"), "integers from"),
        (np.uint16, float("inf"), "integers from"),
        (np.bool_, 2, "0, 1, False or True"),
        (np.float32, 1e40, "infinity"),
        (np.float16, 70000.0, "infinity"),
        (np.float64, 1 + 2j, "real numbers"),
    ],
)
def test_values_the_dtype_cannot_hold_are_errors(dtype, value, allowed):
    x = np.zeros((2, 2), dtype=dtype)
    with pytest.raises(padlab.PadlabValueError) as info:
        padlab.pad(x, 1, "constant", value=value)
    assert f"value={value!r}" in str(info.value)
    assert allowed in str(info.value)
    assert np.dtype(dtype).name in str(info.value)


def test_uint8_300_names_the_silent_numpy_result():
    with pytest.raises(padlab.PadlabValueError, match="numpy would silently store 44"):
        padlab.pad(np.zeros(3, np.uint8), 1, "constant", value=300)


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(np.uint8, 255), (np.int8, -128), (np.float32, float("nan")), (np.float32, -np.inf),
     (np.bool_, True), (np.complex64, 1 + 2j), (np.int64, 2.0), (np.uint8, np.uint8(7))],
)  # fmt: skip
def test_values_that_fit_are_stored_exactly(dtype, value):
    got = padlab.pad(np.zeros(2, dtype=dtype), 1, "constant", value=value)
    expected = np.asarray(value).astype(dtype)
    np.testing.assert_array_equal(got[[0, -1]], [expected, expected])


def test_odd_reflection_refuses_to_wrap_unsigned():
    x = np.array([1, 5, 9], dtype=np.uint8)
    with pytest.raises(padlab.PadlabValueError, match=r"odd reflection gives -3, which uint8"):
        padlab.pad(x, 1, "reflect_odd")
    np.testing.assert_array_equal(
        padlab.pad(x.astype(np.int16), 1, "reflect_odd"), [-3, 1, 5, 9, 13]
    )


@pytest.mark.parametrize("mode", ["mean", "reflect_odd", "linear_ramp"])
def test_arithmetic_rules_refuse_bool(mode):
    with pytest.raises(padlab.PadlabTypeError, match=f"rule '{mode}' does arithmetic"):
        padlab.pad(np.array([True, False]), 1, mode)


def test_nan_is_copied_by_index_rules_and_spreads_through_statistics():
    x = np.array([1.0, np.nan, 3.0])
    got = padlab.pad(x, 2, "reflect")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(np.pad(x, 2, "reflect")))
    assert np.isnan(padlab.pad(x, 1, "mean")[[0, -1]]).all()


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"width": -1}, padlab.PadlabValueError, r"pad widths must be >= 0, got -1"),
        ({"width": (2, -3)}, padlab.PadlabValueError, r"got -3"),
        ({"width": 1.5}, padlab.PadlabTypeError, r"pad width must be an integer, got float 1.5"),
        ({"width": True}, padlab.PadlabTypeError, r"got bool"),
        ({"width": "2"}, padlab.PadlabTypeError, r"got str '2'"),
        ({"width": (1, 2, 3)}, padlab.PadlabValueError, r"has 3 entries, but 2 axes"),
        ({"width": [(1, 2, 3), 1]}, padlab.PadlabValueError, r"\(w,\) or a \(before, after\) pair"),
        ({"width": 2**50}, padlab.PadlabValueError, r"larger than the allowed"),
        ({"mode": "edge"}, padlab.PadlabValueError, r"'numpy:edge'"),
        ({"mode": "bogus"}, padlab.PadlabValueError, r"unknown padding rule 'bogus'"),
        ({"mode": ("reflect",)}, padlab.PadlabValueError, r"mode has 1 entries.*2 padded axes"),
        ({"mode": "partial"}, padlab.PadlabValueError, r"'partial' is a convolution rule"),
        ({"mode": "reflect", "value": 3}, padlab.PadlabValueError, r"value=3 is only used by mode='constant'"),
        ({"mode": "zeros", "value": 3}, padlab.PadlabValueError, r"value=3 is only used"),
        ({"mode": "reflect", "stat_length": 2}, padlab.PadlabValueError, r"stat_length=2 is only used"),
        ({"mode": "mean", "stat_length": 0}, padlab.PadlabValueError, r"stat_length must be at least 1"),
        ({"mode": "mean", "stat_length": (1, 2, 3)}, padlab.PadlabValueError, r"stat_length=\(1, 2, 3\).*not one per axis"),
        ({"mode": "zeros", "end_values": 2}, padlab.PadlabValueError, r"end_values=2 is only used"),
        ({"mode": "constant", "value": "0"}, padlab.PadlabTypeError, r"value must be a number"),
        ({"axes": 2}, padlab.PadlabValueError, r"axis 2 is out of range .* \(allowed: -2 to 1\)"),
        ({"axes": (0, -2)}, padlab.PadlabValueError, r"repeat an axis"),
        ({"axes": 0.5}, padlab.PadlabTypeError, r"axis must be an integer"),
        ({"axes": 0, "width": {0: 1}}, padlab.PadlabValueError, r"either as axes= or as width's keys"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(kwargs, error, match):
    args = {"width": 1, "mode": "zeros", **kwargs}
    with pytest.raises(error, match=match):
        padlab.pad(np.ones((3, 3)), args.pop("width"), args.pop("mode"), **args)


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object(), 1]), [[1, 2], [3]]])
def test_non_numeric_arrays_are_type_errors(bad):
    with pytest.raises(padlab.PadlabTypeError, match="array"):
        padlab.pad(bad, 1)


@pytest.mark.parametrize(
    "rule", [r for r in PAD_RULES if r.kind != "constant"], ids=lambda r: r.name
)
def test_empty_axes_can_only_take_constant_rules(rule):
    with pytest.raises(padlab.PadlabValueError, match=r"cannot pad empty axis 1 .* shape \(2, 0\)"):
        padlab.pad(np.ones((2, 0)), 1, rule.name)


def test_empty_arrays_with_constant_rules_match_numpy():
    x = np.ones((2, 0))
    np.testing.assert_array_equal(padlab.pad(x, 1), np.pad(x, 1))
    np.testing.assert_array_equal(
        padlab.pad(x, 2, "constant", value=5), np.pad(x, 2, constant_values=5)
    )
    # padding only the non-empty axis with a copying rule is fine: nothing to copy into
    assert padlab.pad(x, ((1, 1), (0, 0)), "reflect").shape == (4, 0)


def test_huge_pads_fail_before_allocating():
    with pytest.raises(padlab.PadlabMemoryError, match=r"more than this machine's"):
        padlab.pad(np.ones((4, 4)), 10**7, "reflect")


def test_errors_subclass_builtin_errors():
    assert issubclass(padlab.PadlabValueError, ValueError)
    assert issubclass(padlab.PadlabTypeError, TypeError)
    assert issubclass(padlab.PadlabMemoryError, MemoryError)
    for cls in (padlab.PadlabValueError, padlab.PadlabTypeError, padlab.PadlabMemoryError):
        assert issubclass(cls, padlab.PadlabError)


# --- Hypothesis: random shapes, widths, rules and dtypes against numpy.pad -------------------

_NUMPY_RULES = [r.name for r in PAD_RULES if "numpy" in r.names]


@st.composite
def _pad_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    widths = tuple((draw(st.integers(0, 3 * n)), draw(st.integers(0, 3 * n))) for n in shape)
    rule = draw(st.sampled_from(_NUMPY_RULES))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int16, np.int32, np.uint8]))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, widths, rule, np.dtype(dtype), seed


@given(_pad_case())
def test_hypothesis_matches_numpy_pad(case):
    shape, widths, rule, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 50, size=shape).astype(dtype)
    name = padlab.translate(rule, to="numpy")
    if resolve_mode(rule).kind == "odd" and dtype.kind in "iu":
        wide = numpy_pad(x.astype(np.int64), widths, name)
        info = np.iinfo(dtype)
        if wide.min() < info.min or wide.max() > info.max:
            with pytest.raises(padlab.PadlabValueError, match="odd reflection gives"):
                padlab.pad(x, widths, rule)
            return
    got = padlab.pad(x, widths, rule)
    expected = numpy_pad(x, widths, name)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


@given(
    shape=st.lists(st.integers(1, 5), min_size=2, max_size=3).map(tuple),
    data=st.data(),
)
def test_hypothesis_one_rule_per_axis(shape, data):
    rules = [data.draw(st.sampled_from(_NUMPY_RULES)) for _ in shape]
    widths = [(data.draw(st.integers(0, 2 * n)), data.draw(st.integers(0, 2 * n))) for n in shape]
    x = np.random.default_rng(len(shape)).normal(size=shape)
    expected = x
    for axis, (rule, pair) in enumerate(zip(rules, widths, strict=True)):
        per_axis = [(0, 0)] * len(shape)
        per_axis[axis] = pair
        expected = numpy_pad(expected, per_axis, padlab.translate(rule, to="numpy"))
    got = padlab.pad(x, widths, rules)
    assume(np.isfinite(expected).all())
    np.testing.assert_allclose(got, expected, rtol=1e-12)
