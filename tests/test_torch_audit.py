"""padlab.torch.audit, the `padlab audit` command and feature_bias."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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
