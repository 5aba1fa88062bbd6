"""padlab.torch.convert_padding: weights, shared convs, parameter identity, subclasses, dry run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from padlab.torch import PaddedConv2d, convert_padding

pytestmark = pytest.mark.torch


def _x(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


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


class _Conv2dSame(nn.Conv2d):
    """timm's pattern: TF 'same' padding computed inside forward."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        ph = max((-(-ih // self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - ih, 0)
        pw = max((-(-iw // self.stride[1]) - 1) * self.stride[1] + self.kernel_size[1] - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_subclasses_with_their_own_forward_are_skipped_and_reported():
    net = nn.Sequential(_Conv2dSame(3, 4, 3, stride=2), nn.Conv2d(4, 4, 3, padding=1))
    x = torch.zeros(1, 3, 224, 224)
    result = convert_padding(net, "reflect")
    assert result.model(x).shape == (1, 4, 112, 112)  # the geometry of the original
    assert [name for name, _ in result.skipped] == ["0"]
    assert "_Conv2dSame has its own forward" in str(result)
    assert isinstance(result.model[1], PaddedConv2d)
    forced = convert_padding(net, "reflect", subclasses=True)
    assert isinstance(forced.model[0], PaddedConv2d) and not forced.skipped
    assert forced.model(x).shape == (1, 4, 111, 111)  # as asked: its own padding 0 now


def test_shared_convs_stay_shared():
    shared = nn.Conv2d(2, 2, 3, padding=1)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = shared, shared
            self.inner = nn.Sequential(shared)

    model = Twice()
    before = sum(p.numel() for p in model.parameters())
    result = convert_padding(model, "symmetric")
    converted = result.model
    assert converted.a is converted.b is converted.inner[0]
    assert isinstance(converted.a, PaddedConv2d)
    assert sum(p.numel() for p in converted.parameters()) == before
    assert len(result.changes) == 1 and set(result.aliases["a"]) == {"b", "inner.0"}


def test_inplace_keeps_parameter_identity_so_an_optimizer_keeps_training():
    torch.manual_seed(8)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    ids = [id(p) for p in net.parameters()]
    convert_padding(net, "partial", inplace=True)
    assert [id(p) for p in net.parameters()] == ids
    weight_before = net[0].weight.detach().clone()
    x = _x((2, 1, 8, 8)).float()
    net(x).square().sum().backward()
    optimizer.step()
    assert not torch.equal(net[0].weight.detach(), weight_before)  # the optimizer moved it


def test_dry_run_changes_nothing():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    result = convert_padding(net, "circular", dry_run=True)
    assert result.model is net and type(net[0]) is nn.Conv2d
    assert result.changes == [("0", "zeros", "circular", "1")]
    assert str(result).startswith("would convert 1 convolution(s):")
