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
