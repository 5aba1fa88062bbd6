"""padlab.torch.audit, the `padlab audit` command and feature_bias."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padlab
from padlab.cli.main import main
from padlab.torch import audit, convert_padding, feature_bias

pytestmark = pytest.mark.torch


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
    padded = [layer for layer in at224.strided if layer.kernel[0] > 1]
    assert len(padded) == 5
    assert all(layer.uneven and not layer.drops for layer in padded)
    assert [layer.output for layer in padded] == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7)]
    shortcuts = [layer for layer in at224.strided if layer.kernel == (1, 1)]
    assert len(shortcuts) == 3
    # a 1x1 stride-2 conv without padding drops the last row and column: not "uneven"
    assert all(layer.drops and not layer.uneven for layer in shortcuts)
    assert all(layer.dropped_input == (1, 1) for layer in shortcuts)
    at225 = audit(model, (3, 225, 225))
    assert at225.uneven == 0 and at225.dropping == 0
    assert 225 in at224.even_sizes and 225 in at224.even_widths
    table = at224.table()
    assert "5 of 8 strided layers pad unevenly" in table
    assert "3 drop input rows/columns" in table
    assert "193, 225" in table


def test_audit_checks_both_axes():
    at = audit(resnet_like(), (3, 225, 224))  # height even, width not
    padded = [layer for layer in at.layers if layer.strided and layer.kernel[0] > 1]
    assert all(layer.unread_padding == (0, 1) for layer in padded)
    # a (1, 7) kernel with stride (1, 2): only the width is strided
    net = nn.Sequential(nn.Conv2d(1, 1, (1, 7), (1, 2), (0, 3)))
    (layer,) = audit(net, (1, 9, 224)).layers
    assert layer.unread_padding == (0, 1) and layer.uneven
    assert audit(net, (1, 9, 225)).uneven == 0


def test_audit_unread_matches_the_windows_read():
    """Oracle: the rows an actual strided conv reads, found by a gradient."""
    for n, k, s, p in [(224, 3, 2, 1), (10, 4, 3, 1), (9, 1, 2, 0), (17, 5, 4, 2)]:
        conv = nn.Conv2d(1, 1, (k, 1), (s, 1), (p, 0), bias=False)
        (layer,) = audit(nn.Sequential(conv), (1, n, 1)).layers
        x = torch.zeros(1, 1, n + 2 * p, 1, requires_grad=True)
        F.conv2d(x, torch.ones(1, 1, k, 1), stride=(s, 1)).sum().backward()
        read = x.grad[0, 0, :, 0] > 0
        last_read = int(read.nonzero().max())
        never = n + 2 * p - 1 - last_read  # rows at the end of the padded input never read
        assert layer.unread_padding[0] == min(p, never)
        assert layer.dropped_input[0] == max(0, never - p)


def test_audit_receptive_field_and_border_rows():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    first, second = audit(net, (1, 20, 20)).layers
    assert (first.receptive_field, second.receptive_field) == ((3, 3), (5, 5))
    assert first.border_rows == ((1, 1), (1, 1)) and second.border_rows == ((2, 2), (2, 2))
    assert "uneven" not in audit(net, (1, 20, 20)).table().split("\n")[2]


class _SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, 2, 1)
        self.fc2 = nn.Conv2d(2, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(self.pool(x)))))


class _Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attn = nn.MultiheadAttention(c, 1, batch_first=True)

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        out, _ = self.attn(tokens, tokens, tokens)
        return out.transpose(1, 2).reshape(b, c, h, w)


def test_audit_receptive_field_through_se_and_attention():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _SE(4), nn.Conv2d(4, 4, 3, padding=1))
    first, fc1, fc2, last = audit(net, (3, 16, 16)).layers
    assert first.receptive_field == (3, 3)
    assert fc1.receptive_field == "global" and fc2.receptive_field == "global"
    assert last.receptive_field == "global" and last.border_rows is None  # scaled by SE
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _Attention(4), nn.Conv2d(4, 4, 3, padding=1))
    first, last = audit(net, (3, 8, 8)).layers
    assert first.receptive_field == (3, 3) and last.receptive_field in ("global", "unknown")

    # a residual addition keeps the field known: the union of both branches
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            y = self.a(x)
            return self.b(y + x)

    _, b = audit(Residual(), (1, 12, 12)).layers
    assert b.receptive_field == (5, 5)


def test_audit_uses_the_model_dtype_and_device():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1)).double()
    result = audit(net, (3, 32, 32))
    assert result.dtype == "float64" and result.device == "cpu"
    assert "(float64, cpu)" in result.table()


def test_audit_json_and_bad_input():
    import json

    data = json.loads(audit(resnet_like(), (3, 224, 224)).to_json())
    assert data["uneven"] == 5 and data["dropping"] == 3
    assert data["layers"][0]["effect"] == "pads unevenly"
    with pytest.raises(padlab.PadlabValueError, match="does not run on an input of shape"):
        audit(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 8, 8))
    with pytest.raises(padlab.PadlabValueError, match="expected \\(C, H, W\\)"):
        audit(resnet_like(), (224, 224))


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


def test_feature_bias_on_small_maps():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, stride=4, padding=1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    (small,) = feature_bias(net, inputs=("constant",), count=1, size=(3, 16, 16))
    assert small.mean_map.shape == (4, 4)
    assert small.border_over_interior < 1  # the zero padding shows on a 4x4 map too
    (tiny,) = feature_bias(net, inputs=("constant",), count=1, size=(3, 8, 8))
    assert tiny.mean_map.shape == (2, 2) and "has no interior" in tiny.note
    assert np.isnan(tiny.border_over_interior)


# --- padlab audit: one-line errors, --json ---------------------------------------------------


@pytest.mark.slow  # a python process per case
@pytest.mark.parametrize(
    ("source", "spec", "message"),
    [
        ("def broken(:\n", "bad_syntax:net", "cannot import 'bad_syntax' (SyntaxError"),
        (
            "import no_such_module_xyz\n",
            "bad_import:net",
            "cannot import 'bad_import' (ModuleNotFoundError",
        ),
        (
            "def net():\n    raise RuntimeError('weights missing')\n",
            "raises:net",
            "calling net() failed (RuntimeError: weights missing)",
        ),
        ("def net(depth):\n    pass\n", "needs_args:net", "calling net() failed (TypeError"),
        ("net = 3\n", "not_callable:net", "is a int, not an nn.Module"),
        (
            "from torch import nn\ndef net():\n    return nn.Conv2d(1, 2, 3)\n",
            "fits:net",
            "does not run on an input of shape (1, 3, 224, 224)",
        ),
    ],
    ids=lambda v: v if ":" in v and "\n" not in v else None,
)
def test_cli_audit_failures_are_one_line(tmp_path, monkeypatch, source, spec, message):
    (tmp_path / f"{spec.split(':')[0]}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    code = f"import sys\nfrom padlab.cli.main import main\nsys.exit(main(['audit', {spec!r}]))\n"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("padlab audit: error: "), out.stderr
    assert message in lines[0]


def test_cli_audit_json(tmp_path, monkeypatch, capsys):
    import json

    (tmp_path / "stem.py").write_text(
        "from torch import nn\nnet = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1))\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "stem:net", "--input", "3x32x33", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layers"][0]["unread_padding"] == [1, 0]


# --- padlab audit MODEL.onnx -------------------------------------------------------------------


def _export(model, path, size=(1, 3, 224, 224)):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(size),), str(path), dynamo=False)


def test_onnx_audit_equals_the_torch_audit(tmp_path):
    from padlab.torch.onnx_audit import audit_onnx

    model = resnet_like()
    _export(model, tmp_path / "resnet.onnx")
    for size in [(3, 224, 224), (3, 225, 224)]:
        ours = audit(model, size)
        read = audit_onnx(tmp_path / "resnet.onnx", size)
        keys = [
            "kernel",
            "stride",
            "padding",
            "input",
            "output",
            "unread_padding",
            "dropped_input",
            "receptive_field",
            "border_rows",
        ]
        assert [[getattr(layer, k) for k in keys] for layer in read.layers] == [
            [getattr(layer, k) for k in keys] for layer in ours.layers
        ]
        assert read.even_sizes == ours.even_sizes


@pytest.mark.parametrize(
    ("rule", "onnx_mode", "shown"),
    [
        # (torch exports circular padding as Slice + Concat, not as a Pad node)
        ("reflect", "reflect", "reflect"),
        ("replicate", "edge", "replicate"),
    ],
)
def test_onnx_audit_names_pad_modes_in_both_vocabularies(tmp_path, rule, onnx_mode, shown):
    from padlab.torch.onnx_audit import audit_onnx

    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1, padding_mode=rule))
    _export(net, tmp_path / "m.onnx", (1, 3, 32, 32))
    (layer,) = audit_onnx(tmp_path / "m.onnx").layers
    assert layer.rule == f"{shown} (onnx Pad mode={onnx_mode})"
    assert layer.padding == ((1, 1), (1, 1)) and layer.unread_padding == (1, 1)


def _hand_built(auto_pad, path, size=8):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    conv = helper.make_node(
        "Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad=auto_pad
    )
    graph = helper.make_graph(
        [conv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


@pytest.mark.parametrize(("auto_pad", "pads"), [("SAME_UPPER", (0, 1)), ("SAME_LOWER", (1, 0))])
def test_onnx_audit_same_upper_and_lower_from_a_hand_built_graph(tmp_path, auto_pad, pads):
    """Oracle: onnxruntime's output of a ones kernel on ones shows which side was padded."""
    import onnxruntime

    from padlab.torch.onnx_audit import audit_onnx

    _hand_built(auto_pad, tmp_path / "g.onnx")
    (layer,) = audit_onnx(tmp_path / "g.onnx").layers
    assert layer.padding == (pads, pads) and layer.output == (4, 4)
    assert auto_pad in layer.rule
    y = onnxruntime.InferenceSession(str(tmp_path / "g.onnx")).run(
        None, {"x": np.ones((1, 1, 8, 8), np.float32)}
    )[0][0, 0]
    # the window at the top-left reads 2x2 real samples if padding is before, 3x3 if after
    assert y[0, 0] == (4.0 if pads[0] == 1 else 9.0)
    # 'same' pads exactly what the windows read: never uneven, nothing dropped
    assert not layer.uneven and not layer.drops


def test_cli_audit_onnx(tmp_path, capsys):
    _hand_built("SAME_LOWER", tmp_path / "g.onnx")
    assert main(["audit", str(tmp_path / "g.onnx"), "--input", "1x9x9"]) == 0
    out = capsys.readouterr().out
    assert "auto_pad=SAME_LOWER" in out
    assert main(["audit", str(tmp_path / "missing.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_audit_renders_as_an_html_table_in_jupyter():
    model = nn.Sequential()
    model.add_module("conv<b>&", nn.Conv2d(3, 4, 3, stride=2, padding=1))  # needs escaping
    model.add_module("shortcut", nn.Conv2d(4, 4, 1, stride=2))
    result = audit(model, (3, 224, 224))
    html = result._repr_html_()
    assert html.count("<tr") == 1 + len(result.layers)  # header + one row per layer
    assert "pads unevenly" in html and "drops input" in html  # both effects, told apart
    assert "1 of 2 strided layers pad unevenly" in html
    assert "<b>" not in html and "conv&lt;b&gt;&amp;" in html
    assert "<td>3x3</td>" in html  # the receptive field, written as in the terminal table
