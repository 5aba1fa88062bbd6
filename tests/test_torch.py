"""padlab.torch: the layer against nn.Conv2d + F.pad and padlab.correlate, gradients, conversion,
audit, feature bias and the position experiment."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padlab
from padlab.cli.main import main
from padlab.modes import RULES
from padlab.torch import (
    PaddedConv2d,
    audit,
    convert_padding,
    feature_bias,
    pad_tensor,
    position_experiment,
)
from padlab.torch.experiment import make_dataset, red_green_net

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
    with pytest.raises(ValueError, match="only used by padding_mode='constant'"):
        PaddedConv2d(1, 1, 3, padding_mode="reflect", value=1.0)
    with pytest.raises(padlab.PadlabValueError, match="'numpy:edge'"):
        PaddedConv2d(1, 1, 3, padding_mode="edge")


# --- conversion ------------------------------------------------------------------------------


def test_convert_padding_keeps_weights_and_reports():
    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
                        nn.Sequential(nn.Conv2d(4, 2, 3, stride=2)))  # fmt: skip
    result = convert_padding(net, "partial")
    assert [c[0] for c in result.changes] == ["0", "2.0"]
    assert result.changes[0][1:] == ("reflect", "partial", "1")
    assert isinstance(net[0], nn.Conv2d) and not isinstance(net[0], PaddedConv2d)  # a copy
    torch.testing.assert_close(result.model[0].weight, net[0].weight)
    x = _x((1, 3, 8, 8)).float()
    manual = result.model[2][0](F.relu(result.model[0](x)))
    torch.testing.assert_close(result.model(x), manual)
    inplace = convert_padding(net, "symmetric", padding="same", inplace=True)
    assert inplace.model is net and isinstance(net[0], PaddedConv2d)
    assert net(x).shape == (1, 2, 4, 4)


# --- audit -----------------------------------------------------------------------------------


class _Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 2, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(cin, cout, 1, 2, 0, bias=False)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.down(x))


def resnet_like():
    """The ResNet stride schedule: 7/2/3 conv, 3/2/1 max-pool, then three 3/2/1 stages."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        _Block(8, 8), _Block(8, 16), _Block(16, 16),
    )  # fmt: skip


def test_audit_finds_five_of_five_uneven_at_224_and_none_at_225():
    model = resnet_like()
    at224 = audit(model, (3, 224, 224))
    strided = [layer for layer in at224.strided if layer.kernel > 1]
    assert len(strided) == 5
    assert all(layer.uneven for layer in strided)
    assert [layer.output for layer in strided] == [112, 56, 28, 14, 7]
    at225 = audit(model, (3, 225, 225))
    assert at225.uneven == 0
    assert 225 in at224.even_sizes
    table = at224.table()
    assert "5 of 8 strided layers pad unevenly" in table  # 1x1 shortcuts have no padding
    assert "193, 225" in table


def test_audit_receptive_field_and_border_rows():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    first, second = audit(net, (1, 20, 20)).layers
    assert (first.receptive_field, second.receptive_field) == (3, 5)
    assert first.border_rows == (1, 1) and second.border_rows == (2, 2)
    assert "uneven" not in audit(net, (1, 20, 20)).table().split("\n")[2]


def test_cli_audit(tmp_path, monkeypatch, capsys):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent(
        """
        from torch import nn
        def resnet_stem():
            return nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
        """
    ))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "mymodels:resnet_stem", "--input", "3x224x224"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 strided layers pad unevenly" in out
    assert main(["audit", "mymodels:nothing"]) == 2
    assert "has no attribute 'nothing'" in capsys.readouterr().err
    assert main(["audit", "mymodels:resnet_stem", "--input", "224x224"]) == 2


# --- feature bias ----------------------------------------------------------------------------


def test_feature_bias_of_a_zero_padded_box_filter():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    (result,) = feature_bias(net, inputs=("constant",), count=2, size=(3, 16, 16), max_distance=3)
    # 0.5 gray, 27 taps inside: 13.5; the ring: 56 edge pixels see 18 taps, 4 corners 12
    assert result.profile.mean[-1] == pytest.approx(13.5)
    assert result.profile.mean[0] == pytest.approx((56 * 9 + 4 * 6) / 60)
    assert result.border_over_interior < 1
    converted = convert_padding(net, "replicate").model
    (flat,) = feature_bias(converted, inputs=("constant",), count=2, size=(3, 16, 16))
    assert flat.border_over_interior == pytest.approx(1.0)


def test_feature_bias_probes():
    net = resnet_like()
    results = feature_bias(
        net, ["0", "3.conv1"], inputs=("noise", "photos"), count=2, size=(3, 64, 64)
    )
    assert [(r.layer, r.inputs) for r in results] == [
        ("0", "noise"), ("3.conv1", "noise"), ("0", "photos"), ("3.conv1", "photos"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown layer"):
        feature_bias(net, ["nope"])


# --- the position experiment -----------------------------------------------------------------


def test_red_green_data_and_net():
    x, y = make_dataset(10, 0)
    assert x.shape == (10, 3, 32, 32) and y.tolist() == [0, 1] * 5
    top = x[0].sum(dim=(0, 2)).nonzero()
    x_dis, _ = make_dataset(10, 0, dissimilar=True)
    # class 0 (red left of green) sits in the top half, or the bottom half when dissimilar
    rows = x[0].sum(dim=(0, 2)).nonzero().flatten()
    rows_dis = x_dis[0].sum(dim=(0, 2)).nonzero().flatten()
    assert rows.max() < 16 <= rows_dis.min()
    red_cols = x[0, 0].sum(dim=0).nonzero().flatten()
    green_cols = x[0, 1].sum(dim=0).nonzero().flatten()
    assert red_cols.max() < green_cols.min()
    assert len(top) > 0
    assert red_green_net("partial", 1)(x).shape == (10, 2)


@pytest.mark.slow
def test_position_experiment_small_end_to_end(tmp_path, capsys):
    result = position_experiment(seeds=1, epochs=2, train=200, val=100, test=100,
                                 variants=(("zeros same", "zeros", 1), ("circular", "circular", 1)))  # fmt: skip
    assert [v["name"] for v in result.variants] == ["zeros same", "circular"]
    for v in result.variants:
        assert 0 <= v["similar"][0] <= 1 and 0 <= v["dissimilar"][0] <= 1
    assert "± " in result.table()
    status = main(["experiment", "position", "--seeds", "1", "--epochs", "1", "--train", "200",
                   "--test", "100", "-o", str(tmp_path / "pos")])  # fmt: skip
    assert status == 0
    assert {p.name for p in (tmp_path / "pos").iterdir()} == {
        ".padlab-output",
        "results.json",
        "table.txt",
        "accuracy.png",
    }
    assert "partial" in capsys.readouterr().out


def test_position_experiment_output_checked_before_training(tmp_path, capsys, monkeypatch):
    import padlab.torch.experiment as experiment

    def no_training(**kwargs):
        raise AssertionError("trained although the output cannot be written")

    monkeypatch.setattr(experiment, "position_experiment", no_training)
    missing = tmp_path / "no" / "pos"
    assert main(["experiment", "position", "-o", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["experiment", "position", "-o", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_position_experiment_save_replaces_whole_directory(tmp_path):
    from padlab.torch.experiment import ExperimentResult, save

    result = ExperimentResult(
        [{"name": "valid", "rule": "zeros", "padding": 0, "similar": [1.0, 0.9],
          "dissimilar": [0.0, 0.1], "epochs": [3, 4]}],
        {"seeds": 2}, 1.0,
    )  # fmt: skip
    out = tmp_path / "pos"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    (out / ".padlab-output").write_text("")
    save(result, out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".padlab-output", "accuracy.png", "results.json", "table.txt",
    ]  # fmt: skip
    assert "95.0 ±  7.1%" in (out / "table.txt").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["pos"]  # no temporary left behind


def test_import_padlab_does_not_import_torch():
    code = "import sys, padlab; padlab.correlate([1.0, 2.0], [1.0]); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "position", "--seeds", "1"],
        ["audit", "torch.nn:Identity", "--input", "3x8x8"],
    ],
)
def test_commands_without_pytorch_say_so_in_one_line(argv):
    # a fresh interpreter in which `import torch` fails, as on an install without the extra
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from padlab.cli.main import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"padlab {argv[0]}: error: padlab.torch needs PyTorch: "
        "pip install 'padlab[torch]' (or torch itself)"
    ]
