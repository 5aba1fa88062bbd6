"""correlate / convolve / conv_nd: API behaviour, dtypes, errors, and every engine against the
reference loop (Hypothesis). Comparisons with scipy, OpenCV and torch are in
test_correlate_oracles.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import padlab
from padlab.modes import RULES

ENGINES = ["auto", "direct", "fft"]  # every method besides "reference" that works on any kernel
ALL_RULES = [rule.name for rule in RULES]


# --- channels, batches, geometry -------------------------------------------------------------


def test_channel_axis_filters_each_channel_alone(rng):
    image = rng.normal(size=(9, 11, 3))
    kernel = rng.normal(size=(3, 4))
    got = padlab.correlate(image, kernel, mode="reflect", channel_axis=-1)
    assert got.shape == image.shape
    for c in range(3):
        np.testing.assert_allclose(
            got[..., c], padlab.correlate(image[..., c], kernel, mode="reflect")
        )


def test_channel_axis_first_and_strided_output(rng):
    image = rng.normal(size=(2, 10, 7))
    got = padlab.correlate(image, np.ones((3, 3)), stride=2, channel_axis=0)
    assert got.shape == (2, 5, 4)
    np.testing.assert_allclose(got[1], padlab.correlate(image[1], np.ones((3, 3)), stride=2))


def test_the_classic_valid_and_same_sizes():
    photo = np.full((224, 224), 128, dtype=np.uint8)
    sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    assert padlab.correlate(photo, sharpen, padding="valid").shape == (222, 222)
    assert padlab.correlate(photo, sharpen, padding="same").shape == (224, 224)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular", "partial", "mean"])
def test_one_rule_per_axis_equals_the_reference(rng, mode):
    image = rng.normal(size=(6, 7))
    kernel = rng.normal(size=(3, 2))
    modes = (mode, "symmetric")
    np.testing.assert_allclose(
        padlab.correlate(image, kernel, mode=modes),
        padlab.correlate(image, kernel, mode=modes, method="reference"),
        rtol=1e-12,
        atol=1e-12,
    )


def test_mixed_constant_fills_follow_pad_semantics(rng):
    """zeros on one axis and constant 5 on the other: corners come from the later axis."""
    image = rng.normal(size=(4, 5))
    kernel = rng.normal(size=(3, 3))
    got = padlab.correlate(image, kernel, mode=("zeros", "constant"), value=5)
    padded = padlab.pad(image, 1, ("zeros", "constant"), value=5)
    expected = padlab.correlate(padded, kernel, padding="valid")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --- dtype policy ----------------------------------------------------------------------------


# The dtype table is pinned against scipy.ndimage in test_correlate_oracles.py.


def test_float64_kernel_never_promotes_a_float32_image():
    out = padlab.correlate(np.ones((5, 5), np.float32), np.full((3, 3), 0.1, np.float64))
    assert out.dtype == np.float32


def test_uint8_laplacian_keeps_negative_responses():
    image = np.zeros((5, 5), dtype=np.uint8)
    image[2, 2] = 255
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    out = padlab.correlate(image, laplacian)
    assert out[2, 2] == -1020
    assert out[1, 2] == 255


# NaN spread: test_correlate_oracles.py (every rule and engine, against torch and scipy.ndimage).


@pytest.mark.parametrize("op", [padlab.correlate, padlab.convolve], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_is_refused(op, dtype):
    with pytest.raises(padlab.PadlabTypeError, match="complex"):
        op(np.ones((4, 4), dtype), np.ones((3, 3)))
    with pytest.raises(padlab.PadlabTypeError, match="kernel is complex"):
        op(np.ones((4, 4)), np.ones((3, 3), dtype))


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "kernel", "kwargs", "match"),
    [
        ((5, 5), (3, 3, 3), {}, r"image \(5, 5\) and kernel \(3, 3, 3\) do not match"),
        ((5, 5, 3), (3, 3), {}, r"pass channel_axis="),
        ((5, 5), (3, 3), {"channel_axis": 0}, r"needs 3 dimensions"),
        ((5, 5, 3), (3, 3), {"channel_axis": 3}, r"channel_axis=3 is out of range"),
        ((0, 5), (3, 3), {}, r"empty array: image \(0, 5\), kernel \(3, 3\)"),
        ((5, 5), (0, 3), {}, r"empty array"),
        ((5, 5), (3, 3, 3, 3), {}, r"1, 2 or 3 dimensions"),
        ((5, 5), (3, 3), {"stride": 0}, r"stride must be at least 1"),
        ((5, 5), (3, 3), {"dilation": (1, 0)}, r"dilation must be at least 1"),
        ((2, 2), (3, 3), {"padding": "valid"}, r"kernel \(3, 3\).*input \(2, 2\)"),
        ((5, 5), (3, 3), {"padding": "half"}, r"unknown padding 'half'"),
        ((5, 5), (3, 3), {"mode": "edge"}, r"'numpy:edge'"),
        ((5, 5), (3, 3), {"mode": ("reflect",)}, r"mode has 1 entries"),
        ((5, 5), (3, 3), {"convention": "middle"}, r"unknown 'same' convention 'middle'"),
        ((5, 5), (3, 3), {"method": "gpu"}, r"unknown method 'gpu'"),
    ],
)
def test_bad_arguments_name_the_shapes_and_the_allowed_values(image, kernel, kwargs, match):
    with pytest.raises(padlab.PadlabValueError, match=match):
        padlab.correlate(np.ones(image), np.ones(kernel), **kwargs)


@pytest.mark.parametrize(
    ("x", "w", "kwargs", "match"),
    [
        ((2, 4, 5, 5), (6, 3, 3, 3), {}, r"channel mismatch: input \(2, 4, 5, 5\) has 4 channels"),
        ((2, 4, 5, 5), (6, 2, 3, 3), {"groups": 3}, r"groups=3 must .* divide"),
        ((2, 4, 5, 5), (6, 4, 3, 3), {"bias": np.ones(5)}, r"bias must have shape \(6,\)"),
        ((4, 5), (6, 4, 3, 3), {}, r"does not match weight"),
        ((2, 4, 5, 5), (6, 4), {}, r"weight must have shape"),
    ],
)
def test_conv_nd_errors(x, w, kwargs, match):
    with pytest.raises(padlab.PadlabValueError, match=match):
        padlab.conv_nd(np.ones(x), np.ones(w), **kwargs)


def test_conv_nd_unbatched_input(rng):
    x = rng.normal(size=(3, 6, 6))
    w = rng.normal(size=(2, 3, 3, 3))
    np.testing.assert_allclose(
        padlab.conv_nd(x, w, padding=1), padlab.conv_nd(x[None], w, padding=1)[0]
    )


def test_conv_nd_partial_zeroes_outputs_that_see_no_pixel():
    """With a dilated kernel and full padding some windows hold no real pixel: output 0."""
    x = np.ones((1, 1, 3))
    w = np.ones((1, 1, 3))
    out = padlab.conv_nd(x, w, np.array([5.0]), padding=4, dilation=3, mode="partial")
    seen = padlab.conv_nd(x, w, padding=4, dilation=3)  # zero padding, no bias
    assert (out[seen == 0] == 0).all()
    assert (out[seen != 0] == 3 + 5).all()


# --- every engine against the reference loop ------------------------------------------------


@st.composite
def _problems(draw):
    ndim = draw(st.integers(1, 3))
    max_side = {1: 12, 2: 7, 3: 4}[ndim]
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=ndim, max_size=ndim)))
    kernel_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    stride = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    dilation = tuple(draw(st.lists(st.integers(1, 2), min_size=ndim, max_size=ndim)))
    padding = draw(
        st.one_of(
            st.sampled_from(["same", "full", "valid"]),
            st.integers(0, 4),
            st.lists(
                st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=ndim, max_size=ndim
            ).map(tuple),  # one (before, after) pair per axis
        )
    )
    mode = draw(
        st.one_of(
            st.sampled_from(ALL_RULES),
            st.lists(st.sampled_from(ALL_RULES), min_size=ndim, max_size=ndim).map(tuple),
        )
    )
    convention = draw(st.sampled_from(["tf", "scipy"]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8, np.int16]))
    channels = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**31))
    return shape, kernel_shape, stride, dilation, padding, mode, convention, dtype, channels, seed


@pytest.mark.slow
@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("op", ["correlate", "convolve"])
@given(problem=_problems())
def test_hypothesis_every_engine_equals_the_reference_loop(method, op, problem):
    shape, kernel_shape, stride, dilation, padding, mode, convention, dtype, channels, seed = (
        problem
    )
    rng = np.random.default_rng(seed)
    image = (rng.random(shape if channels is None else (*shape, channels)) * 100).astype(dtype)
    kernel = rng.normal(size=kernel_shape)
    kwargs = dict(
        padding=padding,
        mode=mode,
        value=2.5 if "constant" in (mode if isinstance(mode, tuple) else (mode,)) else 0,
        stride=stride,
        dilation=dilation,
        convention=convention,
        channel_axis=None if channels is None else -1,
    )
    fn = getattr(padlab, op)
    try:
        expected = fn(image, kernel, method="reference", **kwargs)
    except padlab.PadlabValueError as err:  # kernel larger than the padded input
        assert "larger than the input" in str(err)
        with pytest.raises(padlab.PadlabValueError, match="larger than the input"):
            fn(image, kernel, method=method, **kwargs)
        return
    got = fn(image, kernel, method=method, **kwargs)
    assert got.dtype == expected.dtype
    # rounding grows with the sums involved: |x| * sum|w| (the FFT spreads it evenly)
    scale = float(np.abs(image).max()) * float(np.abs(kernel).sum()) + 1.0
    tol = 2e-5 if got.dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("method", ["reference", "auto", "direct", "gemm"])
def test_conv_nd_equals_a_sum_of_correlations(rng, method):
    x = rng.normal(size=(2, 4, 6, 5))
    w = rng.normal(size=(6, 2, 3, 2))
    bias = rng.normal(size=6)
    out = padlab.conv_nd(
        x, w, bias, padding="same", groups=2, mode="reflect", stride=(1, 2), method=method
    )
    for n in range(2):
        for o in range(6):
            g = o // 3
            expected = bias[o] + sum(
                padlab.correlate(x[n, 2 * g + c], w[o, c], mode="reflect", stride=(1, 2))
                for c in range(2)
            )
            np.testing.assert_allclose(out[n, o], expected, rtol=1e-10)


def test_conv_nd_refuses_engines_it_does_not_have():
    with pytest.raises(
        padlab.PadlabValueError,
        match=r"conv_nd: unknown method .fft.; allowed: .auto., .direct., .gemm.",
    ):
        padlab.conv_nd(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), method="fft")


@st.composite
def _separable_problems(draw):
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=2, max_size=2)))
    col = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=5))
    row = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=5))
    stride = tuple(draw(st.lists(st.integers(1, 3), min_size=2, max_size=2)))
    dilation = tuple(draw(st.lists(st.integers(1, 2), min_size=2, max_size=2)))
    padding = draw(st.sampled_from(["same", "full", 2, ((0, 3), (4, 1))]))
    mode = draw(st.sampled_from(ALL_RULES))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shape, col, row, stride, dilation, padding, mode, dtype


@pytest.mark.slow
@given(_separable_problems())
@example(((1, 1), [1, 1, 1, 1], [1], (1, 1), (2, 1), 2, "zeros", np.float64))  # span 7 > 1 + 4
def test_hypothesis_separable_engine_equals_the_reference_loop(problem):
    shape, col, row, stride, dilation, padding, mode, dtype = problem
    kernel = np.outer(col, row).astype(float)
    if not kernel.any():
        kernel[0, 0] = 1.0  # an all-zero kernel has no rank-1 factors
    image = np.random.default_rng(len(col)).random(shape).astype(dtype) * 10
    kwargs = dict(padding=padding, mode=mode, stride=stride, dilation=dilation,
                  value=1.5 if mode == "constant" else 0)  # fmt: skip
    try:
        expected = padlab.correlate(image, kernel, method="reference", **kwargs)
    except padlab.PadlabValueError as err:  # a dilated kernel larger than the padded input
        assert "larger than the input" in str(err)
        with pytest.raises(padlab.PadlabValueError, match="larger than the input"):
            padlab.correlate(image, kernel, method="separable", **kwargs)
        return
    got = padlab.correlate(image, kernel, method="separable", **kwargs)
    scale = 10 * float(np.abs(kernel).sum()) + 1
    tol = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def test_forcing_separable_on_a_full_rank_kernel_is_an_error():
    with pytest.raises(
        padlab.PadlabValueError, match=r"method='separable' needs a 2-D kernel of rank 1"
    ):
        padlab.correlate(np.ones((5, 5)), np.eye(3), method="separable")


def test_auto_never_uses_the_fft_on_non_finite_input():
    image = np.ones((300, 300))
    image[150, 150] = np.nan
    out = padlab.correlate(image, np.ones((31, 31)), mode="reflect")  # large: fft territory
    assert np.isnan(out).sum() == 31 * 31


def test_repeated_calls_remember_the_checks_but_not_the_data(rng):
    """A repeated call skips its checks (per-call overhead), yet a changed kernel, an argument
    of another type or a different image gives what a first call would."""
    x = rng.random((16, 16)).astype(np.float32)
    w = rng.normal(size=(3, 3)).astype(np.float32)
    first = padlab.correlate(x, w, mode="reflect", stride=1)
    assert w.flags.writeable  # the caller's kernel is never made read-only
    w[1, 1] += 1.0  # the same array, changed in place: the new kernel counts
    again = padlab.correlate(x, w, mode="reflect", stride=1)
    expected = padlab.correlate(x, w.copy(), mode="reflect", method="reference")
    np.testing.assert_allclose(again, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again - first, x, rtol=1e-5, atol=1e-5)
    with pytest.raises(padlab.PadlabTypeError, match="stride"):
        padlab.correlate(x, w, mode="reflect", stride=True)  # equal to 1 as a key, but refused
    with pytest.raises(padlab.PadlabTypeError, match="value"):
        padlab.correlate(x, w, mode="constant", value=[1, 2])  # not a key: checked every time
    y = padlab.correlate(x[::-1], w, mode="reflect")
    np.testing.assert_array_equal(y, padlab.correlate(x[::-1].copy(), w, mode="reflect"))


def test_filter_arguments_are_built_in_the_order_of_the_signatures():
    """correlate and convolve build their FilterArgs positionally: the order of their
    keyword-only parameters must be the order of its fields."""
    import inspect

    from padlab.ops.filtering import FilterArgs

    for function in (padlab.correlate, padlab.convolve):
        keywords = [
            name
            for name, p in inspect.signature(function).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        assert tuple(keywords) == FilterArgs._fields
    y = padlab.correlate(np.arange(5.0), [1.0, 2.0, 3.0], padding="valid", mode="reflect")
    np.testing.assert_array_equal(y, [8.0, 14.0, 20.0])


def test_every_argument_but_the_output_keys_the_remembered_checks(rng):
    """The remembered checks are keyed by the leading fields of the call's arguments: all but
    the output's (a field added after ``origin`` would silently leave the key)."""
    from padlab.ops import filtering
    from padlab.ops.filtering import _KEYED, FilterArgs

    assert FilterArgs._fields[_KEYED:] == ("out", "output", "casting")
    x = rng.random((12, 12, 12))
    w = rng.random((3, 3))
    for base, changed in (
        ({"axes": (1, 2)}, {"axes": (1, 2), "origin": 1}),
        ({"axes": (0, 1)}, {"axes": (1, 2)}),
        (
            {"axes": (1, 2), "mode": "linear_ramp"},
            {"axes": (1, 2), "mode": "linear_ramp", "end_values": 0.5},
        ),
    ):
        first = padlab.correlate(x, w, **base)  # remembered first
        remembered = padlab.correlate(x, w, **changed)
        assert not np.array_equal(remembered, first)
        filtering._REPEATED.clear()
        filtering._FAST.clear()
        np.testing.assert_array_equal(remembered, padlab.correlate(x, w, **changed))


@pytest.mark.parametrize("mode", ["reflect", "partial", "zeros"])
@pytest.mark.parametrize("method", ["auto", "direct", "separable"])
def test_the_prepared_repeat_call_gives_the_first_calls_result(rng, mode, method):
    """A repeated call on a same-sized image runs a prepared engine call (no checks, no
    choice): its results are bitwise those of the full path, image after image."""
    w = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]).astype(np.float32)
    images = [rng.random((33, 20)).astype(np.float32) for _ in range(3)]
    first = [padlab.correlate(x, w, mode=mode, method=method) for x in images]
    again = [padlab.correlate(x, w, mode=mode, method=method) for x in images]
    full = [  # a strided view: never the prepared call
        padlab.correlate(np.pad(x, ((0, 0), (0, 1)))[:, :20], w, mode=mode, method=method)
        for x in images
    ]
    for a, b, c in zip(first, again, full, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert not np.shares_memory(again[0], again[1])  # a new output every call


def test_a_prepared_call_still_checks_what_its_key_leaves_out(rng):
    """A repeated call is looked up before anything else is made; the output arguments are not
    in its key, so a call that gives them (or a bad casting) goes the whole way."""
    x = rng.random((24, 24)).astype(np.float32)
    w = rng.random((3, 3)).astype(np.float32)
    first = padlab.correlate(x, w, mode="reflect")
    assert padlab.correlate(x, w, mode="reflect").shape == (24, 24)  # prepared from here on
    with pytest.raises(padlab.PadlabValueError, match="casting='sideways'"):
        padlab.correlate(x, w, mode="reflect", casting="sideways")
    with pytest.raises(padlab.PadlabValueError, match="casting="):
        padlab.correlate(x, w, mode="reflect", casting=np.array(["same_kind", "safe"]))
    out = np.empty((24, 24), np.float64)
    assert padlab.correlate(x, w, mode="reflect", out=out) is out
    np.testing.assert_array_equal(out, first)
    assert padlab.correlate(x, w, mode="reflect", output=np.float64).dtype == np.float64
    as_convolution = padlab.convolve(x, w[::-1, ::-1].copy(), mode="reflect")
    np.testing.assert_allclose(as_convolution, first, rtol=1e-6)


def test_a_repeated_call_runs_its_prepared_engine_call(monkeypatch, rng):
    """From the second call on, a repeated call never goes the whole way (_filter)."""
    from padlab.ops import filtering

    x = rng.random((20, 30)).astype(np.float32)
    w = rng.random((3, 3)).astype(np.float32)
    expected = [padlab.correlate(x, w, mode="reflect"), padlab.convolve(x, w, mode="reflect")]

    def whole_way(*args, **kwargs):
        raise AssertionError("the whole way, for a repeated call")

    monkeypatch.setattr(filtering, "_filter", whole_way)
    np.testing.assert_array_equal(padlab.correlate(x, w, mode="reflect"), expected[0])
    np.testing.assert_array_equal(padlab.convolve(x, w, mode="reflect"), expected[1])


def test_correlate_and_convolve_hand_every_argument_to_its_field(monkeypatch):
    """The arguments reach FilterArgs' fields of the same names (the call builds them
    positionally), also on the way past the prepared lookup."""
    from padlab.ops import filtering
    from padlab.ops.filtering import FilterArgs

    seen = []
    monkeypatch.setattr(filtering, "_filter", lambda image, kernel, args, flip: seen.append(args))
    given = {name: object() for name in FilterArgs._fields}
    given["casting"] = "unsafe"  # past the prepared lookup; every other value is unique
    for function in (padlab.correlate, padlab.convolve):
        seen.clear()
        function(np.ones((4, 4)), np.ones((3, 3)), **given)
        assert seen and seen[0]._asdict() == given


def test_a_prepared_call_reads_unaligned_and_read_only_images_without_compiling(rng):
    """The prepared call runs the compiled engine directly, with the argument types it was
    compiled for: an unaligned image (from a byte buffer at an odd offset) is copied aligned
    first, a read-only one is read as it is. Neither compiles a new signature (numba would,
    for an unaligned array, for about 20 s), and both give the aligned image's result."""
    from padlab.engine import direct

    x = rng.random((40, 24)).astype(np.float32)
    w = rng.random((3, 3)).astype(np.float32)
    expected = padlab.correlate(x, w, mode="reflect", method="direct")
    signatures = len(direct._conv_tasks.signatures)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, np.float32, x.size, offset=1).reshape(x.shape)
    assert not unaligned.flags.aligned
    np.copyto(raw[1:].view(np.uint8), x.view(np.uint8).ravel())
    frozen = x.copy()
    frozen.flags.writeable = False
    for image in (unaligned, frozen, x):
        for _ in range(3):  # the first call, and repeated ones (the compiled function direct)
            np.testing.assert_array_equal(
                padlab.correlate(image, w, mode="reflect", method="direct"), expected
            )
    assert len(direct._conv_tasks.signatures) == signatures
    assert x.flags.writeable  # the read-only view the engine got left the image as it was


def test_entry_point_is_the_compiled_function_or_the_function_itself():
    """padlab.engine.plan.entry_point: numba's compiled function for the arguments' types, to
    call without the dispatcher; a plain Python function is returned as it is."""
    import numba

    from padlab.engine.plan import entry_point

    @numba.njit
    def add(a, b):
        return a + b

    def plain(a, b):
        return a + b

    entry = entry_point(add, (np.arange(3.0), 2.0))
    assert entry is not add
    np.testing.assert_array_equal(entry(np.arange(3.0), 2.0), [2.0, 3.0, 4.0])
    assert entry_point(plain, (1, 2)) is plain
    assert entry_point(add, (object(), 1)) is add  # a type numba cannot compile for


def test_a_prepared_call_made_once_leaves_the_lookup_to_numba(monkeypatch, rng):
    """Finding the compiled function takes a fraction of a millisecond: a prepared call made
    once (a padlab.dask block's) leaves it to numba's dispatcher, and a repeated call looks it
    up once, on its second call."""
    from padlab.engine import choose, plan
    from padlab.engine.plan import Problem
    from padlab.geometry import Geometry

    looked_up = []
    real = plan.entry_point
    monkeypatch.setattr(
        plan, "entry_point", lambda kernel, args: looked_up.append(1) or real(kernel, args)
    )
    x = rng.random((1, 30, 20)).astype(np.float32)
    w = rng.random((3, 3)).astype(np.float32)
    call = choose.bind(Problem(x, w, Geometry.resolve((30, 20), (3, 3)), (0, 0), 0.0), "direct")
    assert call is not None
    first = call(x, None)
    assert looked_up == []
    for _ in range(3):
        np.testing.assert_array_equal(call(x, None), first)
    assert looked_up == [1]
