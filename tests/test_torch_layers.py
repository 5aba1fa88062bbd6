"""padlab.torch layers: pad_tensor against padlab.pad, PaddedConv2d against nn.Conv2d + F.pad,
padlab.conv_nd and NVIDIA's partial convolution; gradients; argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padlab
from padlab.modes import RULES
from padlab.torch import PaddedConv2d, pad_tensor

pytestmark = pytest.mark.torch

PAD_RULES = [r.name for r in RULES if r.kind != "partial"]
TORCH_SHARED = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def _x(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


# --- pad_tensor equals padlab.pad ----------------------------------------------------------


@pytest.mark.parametrize("rule", PAD_RULES)
@pytest.mark.parametrize("pads", [((1, 2), (0, 3)), ((5, 4), (7, 6)), ((0, 0), (2, 0))], ids=str)
def test_pad_tensor_equals_pad(rule, pads):
    x = _x((2, 3, 4, 5))
    value = 0.7 if rule == "constant" else 0.0
    got = pad_tensor(x, pads, rule, value=value).numpy()
    expected = padlab.pad(x.numpy(), pads, rule, axes=(2, 3), **({"value": value} if value else {}))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rule", PAD_RULES)
def test_pad_tensor_is_differentiable(rule):
    x = _x((1, 1, 3, 4)).requires_grad_()
    pad_tensor(x, ((2, 1), (1, 2)), rule).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# --- the layer against nn.Conv2d + F.pad on the shared rules --------------------------------


@pytest.mark.parametrize("rule", list(TORCH_SHARED))
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [(3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (5, 1, 2, 2, 2), (4, 2, (1, 2), 1, 1), (1, 1, 0, 1, 4)],
    ids=str,
)
def test_forward_and_gradients_match_conv2d_with_f_pad(
    rule, kernel, stride, padding, dilation, groups
):
    torch.manual_seed(0)
    ours = PaddedConv2d(4, 8, kernel, stride, padding, dilation, groups, padding_mode=rule).double()
    theirs = nn.Conv2d(4, 8, kernel, stride, 0, dilation, groups).double()
    theirs.load_state_dict(ours.state_dict())
    x1 = _x((2, 4, 9, 11)).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    out1 = ours(x1)
    out2 = theirs(F.pad(x2, (pw, pw, ph, ph), mode=TORCH_SHARED[rule]))
    torch.testing.assert_close(out1, out2)
    grad = torch.randn_like(out1)
    out1.backward(grad)
    out2.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)


def test_padding_mode_matches_torch_conv2d_padding_mode():
    for mode in ["zeros", "reflect", "replicate", "circular"]:
        torch.manual_seed(1)
        theirs = nn.Conv2d(3, 5, 3, padding=1, padding_mode=mode).double()
        ours = PaddedConv2d(3, 5, 3, padding=1, padding_mode=mode).double()
        ours.load_state_dict(theirs.state_dict())
        x = _x((2, 3, 7, 6))
        torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
def test_same_with_stride_one_matches_torch_same():
    for kernel, dilation in [(4, 1), (2, 2), (3, 1)]:
        torch.manual_seed(2)
        theirs = nn.Conv2d(2, 3, kernel, padding="same", dilation=dilation).double()
        ours = PaddedConv2d(2, 3, kernel, padding="same", dilation=dilation).double()
        ours.load_state_dict(theirs.state_dict())
        x = _x((1, 2, 8, 7))
        torch.testing.assert_close(ours(x), theirs(x))


# --- the layer against padlab.correlate on every rule ---------------------------------------


@pytest.mark.parametrize("rule", [r.name for r in RULES])
@pytest.mark.parametrize("padding", [1, "same", "full", ((2, 0), (1, 3))], ids=str)
def test_every_rule_equals_padlab_conv_nd(rule, padding):
    torch.manual_seed(3)
    layer = PaddedConv2d(3, 4, (3, 2), stride=(2, 1), padding=padding, padding_mode=rule,
                         value=0.3 if rule == "constant" else 0.0).double()  # fmt: skip
    x = _x((2, 3, 10, 9))
    with torch.no_grad():
        got = layer(x).numpy()
    torch_style = ((1, 1), (1, 1)) if padding == 1 else padding
    expected = padlab.conv_nd(
        x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy(), stride=(2, 1),
        padding=torch_style, mode=rule, value=0.3 if rule == "constant" else 0,
    )  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rule", [r.name for r in RULES])
def test_unbatched_input_as_nn_conv2d(rule):
    torch.manual_seed(4)
    layer = PaddedConv2d(3, 5, 3, padding=1, padding_mode=rule).double()
    x = _x((1, 3, 8, 7))
    with torch.no_grad():
        single, batch = layer(x[0]), layer(x)
    assert single.shape == (5, 8, 7)  # as nn.Conv2d: (C, H, W) in, (C, H, W) out
    torch.testing.assert_close(single, batch[0])


@pytest.mark.slow
@pytest.mark.parametrize(
    "rule", [r.name for r in RULES if r.name not in ("median", "minimum", "maximum")]
)
def test_gradcheck(rule):
    torch.manual_seed(4)
    layer = PaddedConv2d(2, 2, 3, padding=2, padding_mode=rule).double()
    x = _x((1, 2, 5, 4)).requires_grad_()
    assert torch.autograd.gradcheck(lambda inp: layer(inp), (x,))
    assert torch.autograd.gradcheck(
        lambda w: F.conv2d(
            pad_tensor(x.detach(), ((2, 2), (2, 2)), rule if rule != "partial" else "zeros"), w
        ),
        (layer.weight.detach().clone().requires_grad_(),),
    )


@pytest.mark.parametrize("rule", ["median", "minimum", "maximum"])
def test_gradcheck_statistics_away_from_ties(rule):
    """min, max and median are piecewise linear: gradcheck holds where no two values tie."""
    torch.manual_seed(5)
    layer = PaddedConv2d(1, 1, 3, padding=1, padding_mode=rule).double()
    x = (torch.arange(20, dtype=torch.float64).reshape(1, 1, 4, 5) * 1.37 % 5.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda inp: layer(inp), (x,))


def test_partial_uses_the_per_pixel_ratio_like_nvidia():
    """NVIDIA's PartialConv2d: mask convolution, ratio = window taps / real taps, per pixel."""
    torch.manual_seed(6)
    layer = PaddedConv2d(3, 4, 3, padding=1, padding_mode="partial").double()
    x = _x((2, 3, 6, 7))
    mask = torch.ones(1, 1, 6, 7, dtype=torch.float64)
    real = F.conv2d(mask, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=1)
    ratio = 9 / real
    raw = F.conv2d(x, layer.weight, None, padding=1)
    expected = raw * ratio + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), expected)
    # a single global ratio (a known mistake in public code) would differ at the border
    assert not torch.allclose(layer(x), raw * ratio.mean() + layer.bias.view(1, -1, 1, 1))


def test_state_dict_is_conv2d_s():
    conv = nn.Conv2d(3, 6, 5, stride=2, padding=2)
    ours = PaddedConv2d(3, 6, 5, stride=2, padding=2, padding_mode="symmetric")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in conv.state_dict().items()
    }
    ours.load_state_dict(conv.state_dict())
    assert isinstance(ours, nn.Conv2d)
    assert "padding_mode='symmetric' (c b a | a b c d | d c b)" in repr(ours)


def test_same_at_any_stride_gives_ceil():
    layer = PaddedConv2d(1, 1, 4, stride=3, padding="same", padding_mode="reflect")
    for n in (5, 9, 224, 225):
        assert layer(torch.zeros(1, 1, n, n)).shape[-1] == -(-n // 3)


def test_constant_value_only_with_constant():
    with pytest.raises(
        padlab.PadlabValueError,
        match=r"value=1\.0 is only used by mode='constant', but the rule is reflect",
    ):
        PaddedConv2d(1, 1, 3, padding_mode="reflect", value=1.0)
    with pytest.raises(padlab.PadlabValueError, match="'numpy:edge'"):
        PaddedConv2d(1, 1, 3, padding_mode="edge")


# --- one validation path with padlab.pad ----------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "options", "message"),
    [
        (
            "linear_ramp",
            {"value": 5},
            r"value=5 is only used by mode='constant', but the rule is linear_ramp",
        ),
        (
            "reflect",
            {"value": 5},
            r"value=5 is only used by mode='constant', but the rule is reflect",
        ),
        ("constant", {"end_values": 2}, r"end_values=2 is only used by mode='linear_ramp'"),
    ],
)
def test_pad_tensor_refuses_options_as_padlab_pad(mode, options, message):
    x = torch.arange(4.0)
    with pytest.raises(padlab.PadlabValueError, match=message):
        pad_tensor(x, ((1, 1),), mode, **options)
    with pytest.raises(padlab.PadlabValueError, match=message):
        padlab.pad(x.numpy(), 1, mode, **options)


def test_pad_tensor_ramp_end_value_as_numpy():
    x = torch.arange(1.0, 5.0, dtype=torch.float64)
    got = pad_tensor(x, ((3, 2),), "linear_ramp", end_values=5.0)
    np.testing.assert_allclose(
        got.numpy(), np.pad(x.numpy(), (3, 2), "linear_ramp", end_values=5.0)
    )


@pytest.mark.parametrize(
    ("pads", "error", "message"),
    [
        (((1, -1),), padlab.PadlabValueError, "pad widths must be >= 0"),
        (((1.5, 1),), padlab.PadlabTypeError, "pad width must be an integer"),
        (3, padlab.PadlabTypeError, "one \\(before, after\\) pair per trailing axis"),
        (((1, 1),) * 3, padlab.PadlabValueError, "pad 3 axes, but the tensor has only 2"),
    ],
    ids=str,
)
def test_pad_tensor_bad_widths_are_padlab_errors(pads, error, message):
    with pytest.raises(error, match=message):
        pad_tensor(torch.zeros(2, 3), pads, "reflect")


def test_padded_conv2d_bad_arguments_are_padlab_errors():
    with pytest.raises(padlab.PadlabTypeError, match=r"padding 1\.5"):
        PaddedConv2d(1, 1, 3, padding=1.5)
    with pytest.raises(padlab.PadlabValueError, match="padding"):
        PaddedConv2d(1, 1, 3, padding="middle")
    with pytest.raises(padlab.PadlabValueError, match="convention"):
        PaddedConv2d(1, 1, 3, padding="same", same_convention="left")
