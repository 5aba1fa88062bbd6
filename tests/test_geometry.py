"""Geometry: padlab.same_padding, padlab.output_shape, the 'same' conventions and their errors.

Worked values come from TensorFlow's documented 'SAME' formula and from observed library output
(see research/library-conventions.md, section 3); output shapes are checked against the shapes
torch.nn.functional.conv1d/conv2d actually produce.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import padlab
from padlab.geometry import Geometry, interior_range

# ---------------------------------------------------------------------------------------------
# same_padding: worked values
# ---------------------------------------------------------------------------------------------

# (n, k, stride, dilation, convention, (before, after))
SAME_PADDING_VALUES = [
    # TensorFlow 'SAME' with strides: an odd kernel can get uneven padding
    (224, 3, 2, 1, "tf", (0, 1)),
    (224, 7, 2, 1, "tf", (2, 3)),
    (5, 3, 2, 1, "tf", (1, 1)),
    (6, 3, 2, 1, "tf", (0, 1)),
    (225, 7, 2, 1, "tf", (3, 3)),
    (224, 3, 2, 1, "scipy", (1, 0)),
    (224, 7, 2, 1, "scipy", (3, 2)),
    # even kernels at stride 1: tf puts the extra sample after, scipy before
    (10, 2, 1, 1, "tf", (0, 1)),
    (10, 2, 1, 1, "scipy", (1, 0)),
    (10, 4, 1, 1, "tf", (1, 2)),
    (10, 4, 1, 1, "scipy", (2, 1)),
    (10, 6, 1, 1, "tf", (2, 3)),
    (10, 6, 1, 1, "scipy", (3, 2)),
    # dilation makes the span odd again: k=2, d=2 spans 3
    (10, 2, 1, 2, "tf", (1, 1)),
    (10, 2, 1, 2, "scipy", (1, 1)),
    (10, 4, 1, 3, "tf", (4, 5)),
    (10, 4, 1, 3, "scipy", (5, 4)),
    # odd kernels at stride 1 are symmetric under both conventions
    (10, 1, 1, 1, "tf", (0, 0)),
    (10, 3, 1, 1, "tf", (1, 1)),
    (10, 3, 1, 1, "scipy", (1, 1)),
    (10, 5, 1, 1, "scipy", (2, 2)),
    (1, 5, 1, 1, "tf", (2, 2)),
    # a stride can make padding unnecessary
    (7, 1, 2, 1, "tf", (0, 0)),
    (2, 1, 3, 1, "tf", (0, 0)),
    (5, 4, 2, 1, "tf", (1, 2)),
]


@pytest.mark.parametrize(
    ("n", "k", "stride", "dilation", "convention", "pair"), SAME_PADDING_VALUES
)
def test_same_padding_worked_values(n, k, stride, dilation, convention, pair):
    assert padlab.same_padding(n, k, stride, dilation, convention) == pair


@pytest.mark.parametrize(
    ("n", "k", "stride", "dilation", "convention", "pair"), SAME_PADDING_VALUES
)
def test_same_padding_for_convolve_mirrors_the_pair(n, k, stride, dilation, convention, pair):
    assert padlab.same_padding(n, k, stride, dilation, convention, convolve=True) == pair[::-1]


def test_same_padding_per_axis_sequences_give_one_pair_per_axis():
    assert padlab.same_padding((5, 6), (3, 3), stride=2) == ((1, 1), (0, 1))
    assert padlab.same_padding((224, 224), (7, 4), stride=(2, 1)) == ((2, 3), (1, 2))
    assert padlab.same_padding((224, 224), (7, 4), stride=(2, 1), convention="scipy") == (
        (3, 2),
        (2, 1),
    )
    assert padlab.same_padding((10, 10, 10), 2, dilation=(1, 2, 3)) == ((0, 1), (1, 1), (1, 2))
    assert padlab.same_padding([9], [4]) == ((1, 2),)


def test_same_padding_of_an_int_is_one_pair_of_python_ints():
    pair = padlab.same_padding(np.int64(224), np.int64(3), np.int64(2))
    assert pair == (0, 1)
    assert all(type(p) is int for p in pair)


# ---------------------------------------------------------------------------------------------
# output_shape: worked values
# ---------------------------------------------------------------------------------------------

# (size, kernel, padding, stride, dilation, expected)
OUTPUT_SHAPES = [
    (224, 3, "valid", 1, 1, 222),
    (224, 3, "same", 1, 1, 224),
    (224, 3, "full", 1, 1, 226),
    (224, 3, 1, 1, 1, 224),
    (224, 3, 0, 1, 1, 222),
    (224, 3, "same", 2, 1, 112),
    (225, 3, "same", 2, 1, 113),
    (224, 7, "same", 2, 1, 112),
    (225, 7, 3, 2, 1, 113),
    (224, 7, 3, 2, 1, 112),
    (5, 3, "full", 1, 2, 9),
    (10, 3, "valid", 1, 3, 4),
    (10, 3, "valid", 3, 1, 3),
    (10, 3, "valid", 3, 3, 2),
    (10, 4, "same", 3, 1, 4),
    (7, 3, 1, 2, 1, 4),
    (5, 4, "same", 2, 1, 3),  # TensorFlow 'SAME'
    (5, 4, 1, 2, 1, 2),  # torch's symmetric padding=1 gives one fewer
    (5, 4, ((1, 2),), 1, 1, 5),
    (5, 4, ((0, 3),), 2, 1, 3),
    (1, 1, "valid", 1, 1, 1),
    (1, 5, "same", 1, 1, 1),
    (1, 5, "full", 1, 1, 5),
    (1, 5, "same", 3, 2, 1),
    ((224, 224), 3, "valid", 1, 1, (222, 222)),
    ((224, 225), (7, 7), "same", 2, 1, (112, 113)),
    ((6, 8), (3, 2), ((1, 1), (0, 1)), (1, 2), 1, (6, 4)),
    ((6, 8, 5), (3, 3, 3), "full", (1, 2, 3), (1, 1, 2), (8, 5, 3)),
]


@pytest.mark.parametrize(
    ("size", "kernel", "padding", "stride", "dilation", "expected"), OUTPUT_SHAPES
)
def test_output_shape_worked_values(size, kernel, padding, stride, dilation, expected):
    assert padlab.output_shape(size, kernel, padding, stride, dilation) == expected


@pytest.mark.parametrize(
    ("size", "kernel", "padding", "stride", "dilation", "expected"), OUTPUT_SHAPES
)
def test_output_shape_is_the_shape_correlate_returns(
    size, kernel, padding, stride, dilation, expected
):
    shape = (size,) if isinstance(size, int) else size
    kshape = np.broadcast_to(kernel, (len(shape),)).tolist()
    got = padlab.correlate(
        np.ones(shape), np.ones(kshape), padding=padding, stride=stride, dilation=dilation
    )
    assert got.shape == ((expected,) if isinstance(expected, int) else expected)


@pytest.mark.parametrize("convention", ["tf", "scipy"])
@pytest.mark.parametrize(("n", "k", "stride"), [(10, 4, 1), (11, 4, 3), (224, 7, 2), (5, 2, 4)])
def test_output_shape_does_not_depend_on_the_convention(n, k, stride, convention):
    assert padlab.output_shape(n, k, "same", stride, convention=convention) == -(-n // stride)


# ---------------------------------------------------------------------------------------------
# Properties: 'same' and torch's output shapes
# ---------------------------------------------------------------------------------------------


@given(
    n=st.integers(1, 400),
    k=st.integers(1, 15),
    stride=st.integers(1, 7),
    dilation=st.integers(1, 4),
    convention=st.sampled_from(["tf", "scipy"]),
)
def test_same_keeps_ceil_n_over_stride_with_tensorflow_total_padding(
    n, k, stride, dilation, convention
):
    out = -(-n // stride)
    assert padlab.output_shape(n, k, "same", stride, dilation, convention) == out
    if stride == 1:
        assert out == n
    before, after = padlab.same_padding(n, k, stride, dilation, convention)
    assert before + after == max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    assert before >= 0
    assert after >= 0
    if convention == "tf":
        assert after - before in (0, 1)
    else:
        assert before - after in (0, 1)
    assert padlab.same_padding(n, k, stride, dilation, convention, convolve=True) == (after, before)
    # the explicit pair gives the same output size as the word
    assert padlab.output_shape(n, k, ((before, after),), stride, dilation) == out


def _torch_conv1d_shape(n, k, padding, stride, dilation):
    x = torch.zeros((1, 1, n), dtype=torch.float64)
    w = torch.zeros((1, 1, k), dtype=torch.float64)
    return F.conv1d(x, w, stride=stride, padding=padding, dilation=dilation).shape[-1]


@pytest.mark.slow
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 9),
    padding=st.integers(0, 10),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 4),
)
def test_output_shape_matches_torch_conv1d_for_integer_padding(n, k, padding, stride, dilation):
    span = (k - 1) * dilation + 1
    if n + 2 * padding < span:  # torch refuses; so must padlab
        with pytest.raises(RuntimeError):
            _torch_conv1d_shape(n, k, padding, stride, dilation)
        with pytest.raises(padlab.PadlabValueError, match="larger than the input"):
            padlab.output_shape(n, k, padding, stride, dilation)
        return
    expected = _torch_conv1d_shape(n, k, padding, stride, dilation)
    assert padlab.output_shape(n, k, padding, stride, dilation) == expected


@pytest.mark.slow
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 9),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 4),
)
def test_output_shape_valid_matches_torch_conv1d_valid(n, k, stride, dilation):
    span = (k - 1) * dilation + 1
    if n < span:
        with pytest.raises(padlab.PadlabValueError, match=re.escape(f"({k},)")):
            padlab.output_shape(n, k, "valid", stride, dilation)
        return
    x = torch.zeros((1, 1, n), dtype=torch.float64)
    w = torch.zeros((1, 1, k), dtype=torch.float64)
    expected = F.conv1d(x, w, stride=stride, padding="valid", dilation=dilation).shape[-1]
    assert padlab.output_shape(n, k, "valid", stride, dilation) == expected


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@given(n=st.integers(1, 40), k=st.integers(1, 9), dilation=st.integers(1, 4))
def test_output_shape_same_matches_torch_conv1d_same_at_stride_1(n, k, dilation):
    x = torch.zeros((1, 1, n), dtype=torch.float64)
    w = torch.zeros((1, 1, k), dtype=torch.float64)
    expected = F.conv1d(x, w, padding="same", dilation=dilation).shape[-1]
    assert padlab.output_shape(n, k, "same", 1, dilation) == expected == n


@pytest.mark.slow
@given(
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    kh=st.integers(1, 6),
    kw=st.integers(1, 6),
    ph=st.integers(0, 4),
    pw=st.integers(0, 4),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    dh=st.integers(1, 3),
    dw=st.integers(1, 3),
)
def test_output_shape_matches_torch_conv2d_per_axis(h, w, kh, kw, ph, pw, sh, sw, dh, dw):
    spans = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    pairs = ((ph, ph), (pw, pw))
    if h + 2 * ph < spans[0] or w + 2 * pw < spans[1]:
        with pytest.raises(padlab.PadlabValueError, match="larger than the input"):
            padlab.output_shape((h, w), (kh, kw), pairs, (sh, sw), (dh, dw))
        return
    x = torch.zeros((1, 1, h, w), dtype=torch.float64)
    k = torch.zeros((1, 1, kh, kw), dtype=torch.float64)
    expected = tuple(
        F.conv2d(x, k, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)).shape[-2:]
    )
    assert padlab.output_shape((h, w), (kh, kw), pairs, (sh, sw), (dh, dw)) == expected


# ---------------------------------------------------------------------------------------------
# Values: where 'same' puts the kernel (research section 3 and 4)
# ---------------------------------------------------------------------------------------------


def test_tensorflow_strided_same_values_differ_from_torch_symmetric_padding():
    """n=6, k=3, s=2, w=[1, 10, 100]: TF 'SAME' pads (0, 1), torch padding=1 pads (1, 1)."""
    x = np.arange(1.0, 7.0)
    w = np.array([1.0, 10.0, 100.0])
    tf_style = padlab.correlate(x, w, padding="same", stride=2, mode="zeros")
    np.testing.assert_array_equal(tf_style, [321.0, 543.0, 65.0])
    torch_style = padlab.correlate(x, w, padding=1, stride=2, mode="zeros")
    np.testing.assert_array_equal(torch_style, [210.0, 432.0, 654.0])
    observed = F.conv1d(
        torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None], stride=2, padding=1
    )
    np.testing.assert_array_equal(torch_style, observed[0, 0].numpy())


def test_tensorflow_same_gives_three_outputs_where_torch_padding_1_gives_two():
    x = np.arange(1.0, 6.0)
    w = np.ones(4)
    assert padlab.correlate(x, w, padding="same", stride=2).shape == (3,)
    assert padlab.correlate(x, w, padding=1, stride=2).shape == (2,)
    observed = F.conv1d(
        torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None], stride=2, padding=1
    )
    assert observed.shape[-1] == 2


# x=[1 2 3 4 5], w=[1 2 3 4], zero boundary: the four 'same' results libraries give.
# correlate/scipy: ndimage.correlate1d, numpy.correlate, cv2.filter2D
# correlate/tf: torch padding='same', signal.correlate2d, TF 'SAME'
# convolve/tf: numpy.convolve, signal.convolve, convolve2d
# convolve/scipy: ndimage.convolve1d
@pytest.mark.parametrize(
    ("op", "convention", "expected"),
    [
        (padlab.correlate, "scipy", [11.0, 20.0, 30.0, 40.0, 26.0]),
        (padlab.correlate, "tf", [20.0, 30.0, 40.0, 26.0, 14.0]),
        (padlab.convolve, "tf", [4.0, 10.0, 20.0, 30.0, 34.0]),
        (padlab.convolve, "scipy", [10.0, 20.0, 30.0, 34.0, 31.0]),
    ],
    ids=["correlate-scipy", "correlate-tf", "convolve-tf", "convolve-scipy"],
)
def test_even_kernel_same_values_for_each_convention(op, convention, expected):
    x = np.arange(1.0, 6.0)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(op(x, w, convention=convention), expected)


@pytest.mark.parametrize("convention", ["tf", "scipy"])
def test_odd_kernel_same_values_do_not_depend_on_convention(convention):
    x = np.arange(1.0, 6.0)
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(
        padlab.correlate(x, w, convention=convention), [8.0, 14.0, 20.0, 26.0, 14.0]
    )
    np.testing.assert_array_equal(
        padlab.convolve(x, w, convention=convention), [4.0, 10.0, 16.0, 22.0, 22.0]
    )


# ---------------------------------------------------------------------------------------------
# Conventions: accepted spellings
# ---------------------------------------------------------------------------------------------

TF_ALIASES = [
    "tf",
    "TF",
    "after",
    "same_upper",
    "SAME_UPPER",
    "torch",
    "keras",
    "onnx",
    "tensorflow",
    "jax",
    " Torch ",
]
SCIPY_ALIASES = [
    "scipy",
    "SciPy",
    "before",
    "same_lower",
    "SAME_LOWER",
    "ndimage",
    "opencv",
    "cv2",
    "OpenCV",
]


@pytest.mark.parametrize("alias", TF_ALIASES)
def test_tf_convention_aliases_put_the_extra_sample_after(alias):
    assert padlab.same_padding(10, 4, convention=alias) == (1, 2)
    assert padlab.same_padding(224, 3, stride=2, convention=alias) == (0, 1)
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(
        padlab.correlate(x, [1.0, 2.0, 3.0, 4.0], convention=alias), [20.0, 30.0, 40.0, 26.0, 14.0]
    )


@pytest.mark.parametrize("alias", SCIPY_ALIASES)
def test_scipy_convention_aliases_put_the_extra_sample_before(alias):
    assert padlab.same_padding(10, 4, convention=alias) == (2, 1)
    assert padlab.same_padding(224, 3, stride=2, convention=alias) == (1, 0)
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(
        padlab.correlate(x, [1.0, 2.0, 3.0, 4.0], convention=alias), [11.0, 20.0, 30.0, 40.0, 26.0]
    )


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

IMAGE_2D = np.ones((5, 6))
KERNEL_2D = np.ones((3, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, "stride must be at least 1, got 0"),
        ({"stride": -2}, "stride must be at least 1, got -2"),
        ({"stride": (1, 0)}, r"stride must be at least 1, got \(1, 0\)"),
        ({"dilation": 0}, "dilation must be at least 1, got 0"),
        ({"dilation": (0, 1)}, r"dilation must be at least 1, got \(0, 1\)"),
        ({"padding": -1}, "pad widths must be >= 0, got -1"),
        ({"padding": ((1, 1), (0, -2))}, "pad widths must be >= 0, got -2"),
        ({"padding": "sme"}, "unknown padding 'sme'; allowed: 'valid', 'same', 'full'"),
        ({"padding": "causal"}, "unknown padding 'causal'"),
        ({"padding": (1, 2)}, r"padding=\(1, 2\) is ambiguous for 2 spatial axes"),
        ({"padding": [0, 3]}, r"padding=\(0, 3\) is ambiguous"),
        ({"convention": "upper"}, "unknown 'same' convention 'upper'; allowed: 'tf'"),
        ({"convention": "same"}, "unknown 'same' convention 'same'"),
        ({"stride": (1, 2, 3)}, r"stride=\(1, 2, 3\) has 3 entries but there are 2 spatial axes"),
        ({"padding": ((1, 1),) * 3}, "has 3 entries, but 2 axes are padded"),
    ],
    ids=lambda v: _kwargs_id(v),
)
@pytest.mark.parametrize("op", [padlab.correlate, padlab.convolve], ids=lambda f: f.__name__)
def test_bad_geometry_arguments_raise_value_errors_naming_the_value(op, kwargs, message):
    with pytest.raises(padlab.PadlabValueError, match=message):
        op(IMAGE_2D, KERNEL_2D, **kwargs)


def _kwargs_id(value):
    if isinstance(value, dict):
        return ",".join(f"{k}={v!r}" for k, v in value.items()).replace(" ", "")
    return None


def test_ambiguous_flat_pair_error_offers_both_readings():
    with pytest.raises(padlab.PadlabValueError) as info:
        padlab.correlate(IMAGE_2D, KERNEL_2D, padding=(1, 2))
    message = str(info.value)
    assert "((1, 2), (1, 2))" in message  # numpy's reading
    assert "((1, 1), (2, 2))" in message  # torch's reading
    assert "numpy" in message
    assert "torch" in message


def test_conv_nd_refuses_torch_style_flat_padding_pair_as_ambiguous():
    """torch reads padding=(1, 0) as (height, width); padlab asks which one is meant."""
    x = np.ones((1, 2, 5, 6))
    w = np.ones((3, 2, 3, 3))
    with pytest.raises(padlab.PadlabValueError, match=r"padding=\(1, 0\) is ambiguous"):
        padlab.conv_nd(x, w, padding=(1, 0))
    got = padlab.conv_nd(x, w, padding=((1, 1), (0, 0)))
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=(1, 0)).numpy()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("padding", [(1, 1), (0, 0), [2, 2]], ids=str)
def test_equal_flat_pair_is_not_ambiguous_for_2d(padding):
    got = padlab.correlate(IMAGE_2D, KERNEL_2D, padding=padding)
    np.testing.assert_array_equal(got, padlab.correlate(IMAGE_2D, KERNEL_2D, padding=padding[0]))


@pytest.mark.parametrize("padding", [(1, 2), (0, 3)], ids=str)
def test_flat_pair_is_before_after_for_1d_and_3d(padding):
    b, a = padding
    assert padlab.correlate(np.ones(5), np.ones(3), padding=padding).shape == (5 + b + a - 2,)
    got = padlab.correlate(np.ones((4, 4, 4)), np.ones((3, 3, 3)), padding=padding)
    assert got.shape == (4 + b + a - 2,) * 3


@pytest.mark.parametrize(
    ("shape", "kshape", "padding", "dilation"),
    [
        ((5, 6), (7, 3), "valid", 1),
        ((5, 6), (3, 7), "valid", 1),
        ((5, 6), (3, 4), "valid", 2),  # the dilated span 7 is larger than 6
        ((4,), (9,), 2, 1),
        ((2, 2, 2), (3, 3, 3), "valid", 1),
        ((5, 6), (8, 3), ((1, 1), (0, 0)), 1),
    ],
    ids=str,
)
def test_kernel_larger_than_padded_input_names_input_and_kernel_shapes(
    shape, kshape, padding, dilation
):
    with pytest.raises(padlab.PadlabValueError, match="larger than the input") as info:
        padlab.correlate(np.ones(shape), np.ones(kshape), padding=padding, dilation=dilation)
    message = str(info.value)
    assert str(tuple(shape)) in message
    assert str(tuple(kshape)) in message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: padlab.same_padding(10, 3, stride=0), "stride must be at least 1"),
        (lambda: padlab.same_padding(10, 3, dilation=0), "dilation must be at least 1"),
        (lambda: padlab.same_padding(10, 0), "kernel_size must be at least 1, got 0"),
        (
            lambda: padlab.same_padding(10, 3, convention="middle"),
            "unknown 'same' convention 'middle'",
        ),
        (
            lambda: padlab.same_padding((10, 10), (3, 3, 3)),
            "has 3 entries but there are 2 spatial axes",
        ),
        (lambda: padlab.output_shape(10, 3, "same", stride=0), "stride must be at least 1"),
        (lambda: padlab.output_shape(10, 3, "valid", dilation=0), "dilation must be at least 1"),
        (lambda: padlab.output_shape(10, 3, -1), "pad widths must be >= 0"),
        (lambda: padlab.output_shape(10, 3, "valid2"), "unknown padding 'valid2'"),
        (lambda: padlab.output_shape((10, 10), 3, (1, 2)), "ambiguous"),
        (
            lambda: padlab.output_shape(3, 7, "valid"),
            r"kernel \(7,\).*larger than the input \(3,\)",
        ),
        (lambda: padlab.output_shape(10, 3, convention="nope"), "unknown 'same' convention"),
    ],
    ids=[
        "same_padding-stride0",
        "same_padding-dilation0",
        "same_padding-kernel0",
        "same_padding-convention",
        "same_padding-axes",
        "output_shape-stride0",
        "output_shape-dilation0",
        "output_shape-negative-padding",
        "output_shape-padding-word",
        "output_shape-ambiguous",
        "output_shape-kernel-larger",
        "output_shape-convention",
    ],
)
def test_geometry_helpers_raise_value_errors(call, message):
    with pytest.raises(padlab.PadlabValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: padlab.output_shape(0, 3, "full"), "size"),
        (lambda: padlab.output_shape(-5, 3, "full"), "size"),
        (lambda: padlab.same_padding(0, 3), "size"),
        (lambda: padlab.same_padding(-5, 3), "size"),
    ],
    ids=["output_shape-0", "output_shape-negative", "same_padding-0", "same_padding-negative"],
)
def test_geometry_helpers_reject_sizes_below_one_naming_the_size(call, message):
    """correlate refuses empty arrays; the helpers must not invent a geometry for them."""
    with pytest.raises(padlab.PadlabValueError, match=message):
        call()


@pytest.mark.parametrize(
    "kwargs",
    [{"stride": 1.5}, {"dilation": 2.0}, {"padding": 1.5}, {"convention": 1}, {"stride": True}],
    ids=lambda v: _kwargs_id(v),
)
def test_geometry_arguments_of_the_wrong_type_raise_type_errors(kwargs):
    with pytest.raises(padlab.PadlabTypeError, match="must be"):
        padlab.correlate(IMAGE_2D, KERNEL_2D, **kwargs)


def test_geometry_errors_are_also_the_builtin_classes():
    with pytest.raises(ValueError, match="stride"):
        padlab.correlate(IMAGE_2D, KERNEL_2D, stride=0)
    with pytest.raises(TypeError, match="stride"):
        padlab.correlate(IMAGE_2D, KERNEL_2D, stride=1.5)


@given(
    n=st.integers(1, 12),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    before=st.integers(0, 8),
    after=st.integers(0, 8),
)
def test_interior_range_is_the_outputs_that_read_no_padding(n, k, s, d, before, after):
    """padlab.geometry.interior_range against the window positions, output by output."""
    assume(n + before + after >= (k - 1) * d + 1)
    g = Geometry.resolve((n,), (k,), ((before, after),), s, d)
    ((lo, hi),) = g.interior()
    real = [all(0 <= o * s + t * d - before < n for t in range(k)) for o in range(g.out_shape[0])]
    assert real == [lo <= o < hi for o in range(g.out_shape[0])]
    assert (lo, hi) == interior_range(n, before, k, s, d, g.out_shape[0])


def test_a_remembered_geometry_does_not_admit_an_argument_of_another_type():
    Geometry.resolve((9,), (3,), "same", stride=1)
    with pytest.raises(padlab.PadlabTypeError, match="stride"):
        Geometry.resolve((9,), (3,), "same", stride=True)  # True == 1, but refused
    Geometry.resolve((9,), (3,), "same", dilation=(2,))
    with pytest.raises(padlab.PadlabTypeError, match="dilation"):
        Geometry.resolve((9,), (3,), "same", dilation=(2.0,))
