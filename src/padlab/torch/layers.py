"""``PaddedConv2d``: ``nn.Conv2d`` with every padlab padding rule and 'same' at any stride.

The padding is built with differentiable torch operations from padlab's own definitions: the
copying rules gather through :func:`padlab.modes.index.index_table` (so symmetric padding, which
torch lacks, and pads wider than the input work), the constant rules fill, the odd reflections,
ramps and statistics follow :func:`padlab.pad` axis by axis, and ``partial`` zero-pads and
rescales each output by its own ratio of taps to real taps (NVIDIA's partial convolution), not by
one global ratio.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from padlab.geometry import Geometry, partial_scale, resolve_convention
from padlab.modes.index import INDEX_CODES, index_table
from padlab.modes.padding import straight_runs
from padlab.modes.registry import Rule, resolve_mode

__all__ = ["PaddedConv2d", "pad_tensor"]


def pad_tensor(
    x: torch.Tensor,
    pads: tuple[tuple[int, int], ...],
    mode: str | Rule = "zeros",
    *,
    value: float = 0.0,
) -> torch.Tensor:
    """Pad the last ``len(pads)`` axes of a tensor with a padlab rule, differentiably.

    Parameters
    ----------
    x : Tensor
        Any shape; the trailing axes are padded (first pair for the first of them).
    pads : tuple of (before, after)
        One pair per trailing axis, numpy order (unlike ``F.pad``'s last-axis-first).
    mode : str
        A padlab rule (``partial`` pads with zeros here; its rescaling belongs to the conv).
    value : float
        The constant of ``mode='constant'``.

    Returns
    -------
    Tensor
        Equal to :func:`padlab.pad` on the same data, for every rule and width.

    Examples
    --------
    >>> import torch
    >>> from padlab.torch import pad_tensor
    >>> pad_tensor(torch.tensor([1.0, 2.0, 3.0, 4.0]), ((3, 3),), "symmetric")
    tensor([3., 2., 1., 1., 2., 3., 4., 4., 3., 2.])
    """
    rule = resolve_mode(mode)
    first = x.dim() - len(pads)
    for i, (before, after) in enumerate(pads):
        if before or after:
            x = _pad_axis(x, first + i, before, after, rule, value)
    return x


def _pad_axis(x: torch.Tensor, axis: int, before: int, after: int, rule: Rule, value: float):
    n = x.shape[axis]
    if rule.kind in ("constant", "partial"):
        fill = value if rule.name == "constant" else 0.0
        shape = list(x.shape)
        pieces = []
        if before:
            shape[axis] = before
            pieces.append(x.new_full(shape, fill))
        pieces.append(x)
        if after:
            shape[axis] = after
            pieces.append(x.new_full(shape, fill))
        return torch.cat(pieces, dim=axis)
    if rule.kind == "index" or (rule.kind == "odd" and n == 1):
        code = INDEX_CODES.get(rule.name, INDEX_CODES["replicate"])
        return _gather_runs(x, axis, n, before, after, code)
    if rule.kind == "odd":
        return _odd(x, axis, before, after, rule.name == "symmetric_odd")
    if rule.kind == "ramp":
        return _ramp(x, axis, before, after, value)
    return _statistic(x, axis, before, after, rule.name)


def _gather_runs(x: torch.Tensor, axis: int, n: int, before: int, after: int, code: int):
    """``x`` read through the index table, as slices, flips and repeats joined by ``cat``.

    Every copying rule's table is made of straight runs (step +1, -1 or 0), so this is a few
    views instead of a gather (``index_select`` along a spatial axis is slow on the CPU). Very
    wide pads of tiny axes (many runs) fall back to ``index_select``.
    """
    table = index_table(n, before, after, code)
    runs = straight_runs(table)
    if runs is None:
        index = torch.as_tensor(np.array(table), dtype=torch.long, device=x.device)
        return x.index_select(axis, index)
    pieces = []
    for first, stop, step in runs:
        length, start = stop - first, int(table[first])
        if step == 1:
            pieces.append(x.narrow(axis, start, length))
        elif step == -1:
            pieces.append(x.narrow(axis, start - length + 1, length).flip(axis))
        else:
            shape = list(x.shape)
            shape[axis] = length
            pieces.append(x.narrow(axis, start, 1).expand(shape))
    return torch.cat(pieces, dim=axis)


def _odd(x: torch.Tensor, axis: int, before: int, after: int, include_edge: bool) -> torch.Tensor:
    """Point reflection ``2 * edge - mirror``, chunk by chunk as :func:`padlab.pad` does.

    Each round reflects at most the samples already defined (whole periods), both sides from
    the same state, so wide pads compound exactly as numpy's odd reflection.
    """
    n = x.shape[axis]
    period = n if include_edge else n - 1
    offset = 0 if include_edge else 1
    left, right = before, after
    while left or right:
        defined = x.shape[axis]
        chunk = (defined // period if include_edge else (defined - 1) // period) * period
        pieces = [x]
        if left:
            size = min(chunk, left)
            edge = x.narrow(axis, 0, 1)
            pieces.insert(0, 2 * edge - x.narrow(axis, offset, size).flip(axis))
            left -= size
        if right:
            size = min(chunk, right)
            edge = x.narrow(axis, defined - 1, 1)
            pieces.append(2 * edge - x.narrow(axis, defined - size - offset, size).flip(axis))
            right -= size
        x = torch.cat(pieces, dim=axis)
    return x


def _ramp(x: torch.Tensor, axis: int, before: int, after: int, end: float) -> torch.Tensor:
    """numpy's linear_ramp: from ``end`` (included) to the edge sample (excluded)."""
    n = x.shape[axis]
    pieces = []
    view = [1] * x.dim()
    if before:
        edge = x.narrow(axis, 0, 1)
        t = torch.arange(before, dtype=x.dtype, device=x.device) / before
        view[axis] = before
        pieces.append(end + (edge - end) * t.view(view))
    pieces.append(x)
    if after:
        edge = x.narrow(axis, n - 1, 1)
        t = torch.arange(after, dtype=x.dtype, device=x.device) / after
        view[axis] = after
        pieces.append((end + (edge - end) * t.view(view)).flip(axis))
    return torch.cat(pieces, dim=axis)


def _statistic(x: torch.Tensor, axis: int, before: int, after: int, name: str) -> torch.Tensor:
    if name == "mean":
        stat = x.mean(dim=axis, keepdim=True)
    elif name == "median":
        stat = _median(x, axis)
    elif name == "minimum":
        stat = x.amin(dim=axis, keepdim=True)
    else:
        stat = x.amax(dim=axis, keepdim=True)
    shape = list(x.shape)
    pieces = []
    if before:
        shape[axis] = before
        pieces.append(stat.expand(shape))
    pieces.append(x)
    if after:
        shape[axis] = after
        pieces.append(stat.expand(shape))
    return torch.cat(pieces, dim=axis)


def _median(x: torch.Tensor, axis: int) -> torch.Tensor:
    """numpy's median: the mean of the two middle values for an even count (torch takes one)."""
    n = x.shape[axis]
    ordered = x.sort(dim=axis).values
    lo = ordered.narrow(axis, (n - 1) // 2, 1)
    hi = ordered.narrow(axis, n // 2, 1)
    return (lo + hi) / 2


class PaddedConv2d(nn.Conv2d):
    """``nn.Conv2d`` with any padlab padding rule, and 'same' at any stride.

    Same parameters, ``state_dict`` and gradients as ``nn.Conv2d`` (it is one), plus:

    - ``padding_mode``: any padlab rule, including ``symmetric`` (torch has none), the odd
      reflections, ``partial`` (partial-convolution padding with the per-pixel ratio) and
      qualified foreign names such as ``"scipy:reflect"``; pads of any width;
    - ``padding``: an int or pair (torch-style, symmetric per axis), 'valid', 'full', 'same'
      (with any stride, computed from each input's size) or explicit ``((top, bottom),
      (left, right))``;
    - ``same_convention``: where 'same' puts an odd extra padding row, 'tf' (after) or 'scipy'
      (before);
    - ``value``: the constant of ``padding_mode='constant'``.

    Examples
    --------
    >>> import torch
    >>> from padlab.torch import PaddedConv2d
    >>> conv = PaddedConv2d(3, 8, 3, stride=2, padding="same", padding_mode="symmetric")
    >>> conv(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 8, 112, 112])
    >>> sorted(conv.state_dict())
    ['bias', 'weight']
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: object = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: object = None,
        dtype: object = None,
        *,
        same_convention: str = "tf",
        value: float = 0.0,
    ) -> None:
        rule = resolve_mode(padding_mode)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, "zeros",
            device, dtype,
        )  # fmt: skip
        self.rule = rule
        self.padlab_padding = _freeze(padding)
        self.same_convention = resolve_convention(same_convention)
        self.value = float(value)
        if rule.name != "constant" and value != 0:
            raise ValueError(f"value={value} is only used by padding_mode='constant'")

    def extra_repr(self) -> str:
        base = super().extra_repr().replace(", padding=(0, 0)", "")
        return (
            f"{base}, padding={self.padlab_padding!r}, padding_mode={self.rule.name!r} "
            f"({self.rule.pattern})"
        )

    def geometry(self, height: int, width: int) -> Geometry:
        """The explicit pads and output size for an input of this size."""
        padding = self.padlab_padding
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        elif (
            isinstance(padding, tuple)
            and len(padding) == 2
            and all(isinstance(p, int) for p in padding)
        ):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))  # torch: (pH, pW)
        return Geometry.resolve(
            (height, width), self.kernel_size, padding, self.stride, self.dilation,
            self.same_convention,
        )  # fmt: skip

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        g = self.geometry(input.shape[-2], input.shape[-1])
        (top, bottom), (left, right) = g.pads
        if self.rule.name == "zeros" and top == bottom and left == right:
            # plain zero padding: let the convolution pad (the fastest path)
            return F.conv2d(
                input, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups
            )
        padded = pad_tensor(input, g.pads, self.rule, value=self.value)
        out = F.conv2d(padded, self.weight, None, self.stride, 0, self.dilation, self.groups)
        if self.rule.kind == "partial":
            scale = _partial_scale(g, str(out.device), out.dtype)
            out = out * scale
            if self.bias is not None:
                out = (out + self.bias.view(-1, 1, 1)) * (scale > 0)
            return out
        if self.bias is not None:
            out = out + self.bias.view(-1, 1, 1)
        return out


@lru_cache(maxsize=64)
def _partial_scale(geometry: Geometry, device: str, dtype: torch.dtype) -> torch.Tensor:
    scale = partial_scale(geometry, (True, True), np.dtype(np.float64))
    return torch.as_tensor(scale, dtype=dtype, device=device)


def _freeze(padding: object) -> object:
    if isinstance(padding, list | tuple):
        return tuple(_freeze(p) for p in padding)
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, int) and not isinstance(padding, bool):
        return padding
    raise ValueError(f"padding {padding!r}: use an int, a pair, 'valid', 'same', 'full' or pairs")
