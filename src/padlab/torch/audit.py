"""``audit``: every convolution and pooling layer of a model, and what its padding does.

The model runs once on a zero input of the given size; forward hooks record each layer's input
and output size. For each layer the audit reports its kernel, stride and padding, the padding
rule, the padded rows and columns that are never read (uneven padding, Alsallakh et al. 2021),
the receptive field, and how many output rows at each border still depend on padding.

Receptive fields and border reach follow the tensors through the layers that the hooks see; for
a branching model (a ResNet's shortcut) a layer whose input was made by an unhooked operation
(an addition) continues from the most recent hooked output of the same size, the main path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from padlab.analysis.uneven import even_sizes
from padlab.torch.layers import PaddedConv2d

__all__ = ["Audit", "LayerAudit", "audit"]


@dataclass(frozen=True)
class LayerAudit:
    """One layer of :func:`audit` (sizes along height; the width is audited the same way)."""

    name: str
    kind: str
    kernel: int
    stride: int
    padding: tuple[int, int]
    rule: str
    input: int
    output: int
    unread_padding: int
    dropped_input: int
    receptive_field: int
    border_rows: tuple[int, int]

    @property
    def uneven(self) -> bool:
        """True if some padded rows after the input are never read."""
        return self.unread_padding > 0


@dataclass(frozen=True)
class Audit:
    """The result of :func:`audit`."""

    input_size: tuple[int, ...]
    layers: tuple[LayerAudit, ...]
    even_sizes: tuple[int, ...]

    @property
    def strided(self) -> tuple[LayerAudit, ...]:
        """The layers with a stride above 1."""
        return tuple(layer for layer in self.layers if layer.stride > 1)

    @property
    def uneven(self) -> int:
        """How many layers leave padded rows unread."""
        return sum(layer.uneven for layer in self.layers)

    def table(self) -> str:
        """The audit as a terminal table."""
        name_w = max([len("layer"), *(len(layer.name) for layer in self.layers)])
        head = (
            f"{'layer'.ljust(name_w)}  {'type':7s} {'k/s':>5} {'pad':>5} {'rule':10s} "
            f"{'in->out':>11} {'unread':>6} {'RF':>5} {'border rows':>11}"
        )
        lines = [f"audit at input {'x'.join(map(str, self.input_size))}", head]
        for layer in self.layers:
            lines.append(
                f"{layer.name.ljust(name_w)}  {layer.kind:7s} {layer.kernel:>2}/{layer.stride:<2} "
                f"{layer.padding[0]:>2},{layer.padding[1]:<2} {layer.rule:10s} "
                f"{layer.input:>5}->{layer.output:<5} {layer.unread_padding:>6} "
                f"{layer.receptive_field:>5} {layer.border_rows[0]:>5},{layer.border_rows[1]:<5}"
                + ("  <- uneven" if layer.uneven else "")
                + (f"  ({layer.dropped_input} input rows dropped)" if layer.dropped_input else "")
            )
        strided = self.strided
        lines.append(
            f"{sum(layer.uneven for layer in strided)} of {len(strided)} strided layers pad "
            f"unevenly (padded rows after the input never read)"
        )
        if self.even_sizes:
            lines.append(
                "input sizes near this one that pad evenly: " + ", ".join(map(str, self.even_sizes))
            )
        lines.append(
            "unread: padded rows at the bottom (and columns at the right) that no window reads; "
            "RF: receptive field in input pixels; border rows: output rows at the top and "
            "bottom whose receptive field reaches into padding"
        )
        return "\n".join(lines)


def _spec(module: nn.Module, height: int, width: int):
    """(kind, kernel, stride, dilation, (pad before, pad after), rule) along the height."""
    if isinstance(module, PaddedConv2d):
        g = module.geometry(height, width)
        return ("conv", module.kernel_size[0], module.stride[0], module.dilation[0], g.pads[0],
                module.rule.name)  # fmt: skip
    if isinstance(module, nn.Conv2d):
        k, s, d = module.kernel_size[0], module.stride[0], module.dilation[0]
        if isinstance(module.padding, str):
            total = d * (k - 1) if module.padding == "same" else 0
            pads = (total // 2, total - total // 2)
        else:
            pads = (module.padding[0], module.padding[0])
        return ("conv", k, s, d, pads, module.padding_mode)
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
        k = _first(module.kernel_size)
        s = _first(module.stride) if module.stride is not None else k
        p = _first(module.padding)
        d = _first(getattr(module, "dilation", 1))
        return (kind, k, s, d, (p, p), "-inf" if kind == "maxpool" else "zeros")
    return None


def _first(value) -> int:
    return int(value[0]) if isinstance(value, tuple | list) else int(value)


def audit(model: nn.Module, input_size: tuple[int, ...] = (3, 224, 224)) -> Audit:
    """Audit the padding of every Conv2d and 2-D pooling layer of ``model``.

    Parameters
    ----------
    model : nn.Module
    input_size : (C, H, W)
        One input, without the batch axis.

    Returns
    -------
    Audit
        Per layer (in execution order): kernel, stride, padding, rule, sizes, unread padding,
        receptive field, border rows depending on padding; the count of uneven strided layers
        and the nearest input heights that pad evenly. ``print(result.table())`` shows it.

    Examples
    --------
    >>> from torch import nn
    >>> from padlab.torch import audit
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
    >>> result = audit(net, (3, 224, 224))
    >>> [layer.unread_padding for layer in result.layers], result.uneven
    ([1, 1], 2)
    >>> audit(net, (3, 225, 225)).uneven
    0
    """
    records: list[tuple[str, nn.Module, torch.Size, torch.Size]] = []
    hooks = []
    for name, module in model.named_modules():
        if _spec(module, 8, 8) is not None:

            def hook(mod, args, out, name=name):
                records.append((name, mod, args[0].shape, out.shape))

            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    size = int(input_size[-2])
    layers = []
    # receptive field, jump (stride product) and top offset of the tensors seen, by height
    seen: dict[int, tuple[int, int, int]] = {size: (1, 1, 0)}
    for name, module, in_shape, out_shape in records:
        n, out = int(in_shape[-2]), int(out_shape[-2])
        kind, k, s, d, (before, after), rule = _spec(module, n, int(in_shape[-1]))
        span = (k - 1) * d + 1
        unread = max(0, n + before + after - span) - (out - 1) * s
        rf, jump, offset = seen.get(n, (1, 1, 0))
        rf_out = rf + (span - 1) * jump
        offset_out = offset + before * jump
        jump_out = jump * s
        top = min(out, -(-offset_out // jump_out)) if offset_out > 0 else 0
        last_clean = (size - rf_out + offset_out) // jump_out  # last row not reaching the bottom
        bottom = max(0, min(out, out - 1 - last_clean))
        layers.append(
            LayerAudit(
                name=name or "(model)",
                kind=kind,
                kernel=k,
                stride=s,
                padding=(before, after),
                rule=rule,
                input=n,
                output=out,
                unread_padding=min(after, unread),
                dropped_input=max(0, unread - after),
                receptive_field=rf_out,
                border_rows=(top, bottom),
            )
        )
        if out not in seen or seen[out][0] <= rf_out:
            seen[out] = (rf_out, jump_out, offset_out)
    # the padded strided layers form the main path's chain (a ResNet's 1x1 shortcuts have no
    # padding and give the same sizes), so they decide which input sizes pad evenly
    strided = [
        (layer.kernel, layer.stride, layer.padding[0])
        for layer in layers
        if layer.stride > 1 and layer.padding[1] > 0
    ]
    nearby = tuple(even_sizes(strided, size)) if strided else ()
    return Audit(tuple(int(v) for v in input_size), tuple(layers), nearby)
