"""``convert_padding``: the same model and weights, every convolution with another padding rule."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn

from padlab.modes.registry import resolve_mode
from padlab.torch.layers import PaddedConv2d

__all__ = ["Conversion", "convert_padding"]

_TORCH_MODES = {
    "zeros": "zeros",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


@dataclass
class Conversion:
    """The converted model and one line per convolution changed."""

    model: nn.Module
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.changes:
            return "no Conv2d layer found"
        width = max(len(name) for name, *_ in self.changes)
        lines = [f"converted {len(self.changes)} convolution(s):"]
        for name, old, new, padding in self.changes:
            lines.append(f"  {name.ljust(width)}  {old} -> {new}, padding {padding}")
        return "\n".join(lines)


def convert_padding(
    model: nn.Module,
    mode: str,
    *,
    padding: object = None,
    same_convention: str = "tf",
    inplace: bool = False,
) -> Conversion:
    """Give every ``nn.Conv2d`` of ``model`` the padding rule ``mode``, keeping its weights.

    Parameters
    ----------
    model : nn.Module
    mode : str
        Any padlab rule (``symmetric``, ``partial``, ``reflect_odd``, ...).
    padding : optional
        A new geometry for every conv ('same', 'full', ...); by default each keeps its own.
    same_convention : str
        For 'same': 'tf' (extra row after) or 'scipy' (before).
    inplace : bool
        Change ``model`` itself instead of a copy.

    Returns
    -------
    Conversion
        ``.model`` and ``.changes`` (layer name, old rule, new rule, padding); print it for a
        summary.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from padlab.torch import convert_padding
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3))
    >>> result = convert_padding(net, "symmetric")
    >>> print(result)
    converted 2 convolution(s):
      0  zeros -> symmetric, padding 1
      2  zeros -> symmetric, padding 0
    >>> x = torch.zeros(1, 3, 8, 8)
    >>> result.model(x).shape == net(x).shape
    True
    """
    rule = resolve_mode(mode)
    target = model if inplace else copy.deepcopy(model)
    changes = []
    for name, parent, child_name, conv in list(_convs(target)):
        old = conv.rule.name if isinstance(conv, PaddedConv2d) else conv.padding_mode
        keep = conv.padlab_padding if isinstance(conv, PaddedConv2d) else _torch_padding(conv)
        new_padding = keep if padding is None else padding
        replacement = PaddedConv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, new_padding,
            conv.dilation, conv.groups, conv.bias is not None, rule.name,
            conv.weight.device, conv.weight.dtype, same_convention=same_convention,
        )  # fmt: skip
        replacement.load_state_dict(conv.state_dict())
        replacement.train(conv.training)
        setattr(parent, child_name, replacement)
        changes.append((name, old, rule.name, str(new_padding)))
    return Conversion(target, changes)


def _convs(model: nn.Module):
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Conv2d):
                full = f"{name}.{child_name}" if name else child_name
                yield full, module, child_name, child


def _torch_padding(conv: nn.Conv2d) -> object:
    padding = conv.padding
    if isinstance(padding, str):
        return padding
    if padding[0] == padding[1]:
        return int(padding[0])
    return tuple(int(p) for p in padding)
