"""``convert_padding``: the same model and weights, every convolution with another padding rule."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn

from padlab.errors import PadlabTypeError
from padlab.modes.registry import resolve_mode
from padlab.torch.layers import PaddedConv2d

__all__ = ["Conversion", "convert_padding"]


@dataclass
class Conversion:
    """The converted model, one line per convolution changed, and the convolutions skipped.

    Attributes
    ----------
    model : nn.Module
        The converted model (``model`` itself with ``inplace=True``; with ``dry_run=True`` the
        untouched input).
    changes : list of (name, old rule, new rule, padding)
        One per convolution module; a convolution used at several places is one entry.
    skipped : list of (name, reason)
        Convolutions left as they are (subclasses with their own ``forward``).
    aliases : dict of str to tuple of str
        For a shared convolution, its other names (it stays one shared module).
    dry_run : bool
        True if nothing was changed.
    """

    model: nn.Module
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dry_run: bool = False

    def __str__(self) -> str:
        if not self.changes and not self.skipped:
            return "no Conv2d layer found"
        verb = "would convert" if self.dry_run else "converted"
        lines = [f"{verb} {len(self.changes)} convolution(s):"]
        width = max(len(name) for name, *_ in [*self.changes, *self.skipped])
        for name, old, new, padding in self.changes:
            shared = self.aliases.get(name)
            also = f" (shared: also {', '.join(shared)})" if shared else ""
            lines.append(f"  {name.ljust(width)}  {old} -> {new}, padding {padding}{also}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} convolution(s):")
            lines += [f"  {name.ljust(width)}  {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


def convert_padding(
    model: nn.Module,
    mode: str,
    *,
    padding: object = None,
    same_convention: str = "tf",
    inplace: bool = False,
    subclasses: bool = False,
    dry_run: bool = False,
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
        Change ``model`` itself instead of a copy. The new layers hold the *same* parameter
        objects, so an optimizer built on ``model.parameters()`` keeps training them.
    subclasses : bool
        Also replace subclasses of ``nn.Conv2d`` that define their own ``forward`` (timm's
        ``Conv2dSame`` pads inside its forward: replacing it changes the model's geometry).
        By default they are skipped and listed in ``Conversion.skipped``.
    dry_run : bool
        Change nothing; return what would change.

    Returns
    -------
    Conversion
        ``.model``, ``.changes`` (layer name, old rule, new rule, padding), ``.skipped``,
        ``.aliases``; print it for a summary.

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
    >>> print(convert_padding(net, "partial", dry_run=True).changes[0])
    ('0', 'zeros', 'partial', '1')
    """
    if not isinstance(model, nn.Module):
        raise PadlabTypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    rule = resolve_mode(mode)
    target = model if (inplace or dry_run) else copy.deepcopy(model)
    result = Conversion(target, dry_run=dry_run)
    replaced: dict[int, nn.Module] = {}  # id(old conv) -> its replacement (shared stay shared)
    first_name: dict[int, str] = {}
    for name, parent, child_name, conv in list(_convs(target)):
        key = id(conv)
        if key in first_name:  # a shared convolution met again
            first = first_name[key]
            result.aliases[first] = (*result.aliases.get(first, ()), name)
            if key in replaced and not dry_run:
                setattr(parent, child_name, replaced[key])
            continue
        first_name[key] = name
        own = _own_forward(conv)
        if own and not subclasses:
            result.skipped.append(
                (name, f"{own} has its own forward (pass subclasses=True to replace it)")
            )
            continue
        old = conv.rule.name if isinstance(conv, PaddedConv2d) else conv.padding_mode
        keep = conv.padlab_padding if isinstance(conv, PaddedConv2d) else _torch_padding(conv)
        new_padding = keep if padding is None else padding
        replacement = PaddedConv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, new_padding,
            conv.dilation, conv.groups, conv.bias is not None, rule.name, "meta",
            same_convention=same_convention,
        )  # fmt: skip
        result.changes.append((name, old, rule.name, str(new_padding)))
        if dry_run:
            continue
        # the very same Parameter objects: optimizers, weight tying and hooks on them survive
        replacement.weight = conv.weight
        replacement.bias = conv.bias
        replacement.train(conv.training)
        replaced[key] = replacement
        setattr(parent, child_name, replacement)
    return result


def _own_forward(conv: nn.Conv2d) -> str | None:
    """The class name if ``conv``'s class overrides ``forward`` (beyond nn.Conv2d's and ours)."""
    forward = type(conv).forward
    if forward in (nn.Conv2d.forward, PaddedConv2d.forward):
        return None
    return type(conv).__name__


def _convs(model: nn.Module):
    for name, module in model.named_modules(remove_duplicate=False):
        for child_name, child in module._modules.items():  # every name, also repeated ones
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
