"""``PaddedConv2d``: ``nn.Conv2d`` with every padlab padding rule and 'same' at any stride.

Two implementations of the padding, one result:

- the *traceable path*, used whenever it applies (pads no wider than the rule allows, the usual
  case in a CNN) and always under ``torch.compile``, ``torch.export``, ``torch.fx`` and
  ``torch.jit.trace``/the ONNX exporters: ``F.pad`` where torch has the rule (zeros, constant,
  reflect, replicate, circular), the convolution's own zero padding for zeros and ``partial``,
  and slices, flips and ``cat`` for the rules torch lacks. It reads sizes only through
  ``x.size(axis)``, so traced graphs stay valid for other input sizes (dynamic height and
  width), and it keeps no cache, so nothing created under tracing outlives the trace;
- the *general path* for eager calls with pads wider than the input: padlab's own index tables
  (:func:`padlab.modes.index.index_table`) and the chunked odd reflections of
  :func:`padlab.pad`, so every width gives what :func:`padlab.pad` gives.

``partial`` is NVIDIA's partial convolution (Liu et al. 2018) with the per-pixel ratio of window
taps to real taps, computed on the fly from a convolution of a ones mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from padlab._validate import normalize_widths
from padlab.errors import PadlabTypeError, PadlabValueError
from padlab.geometry import Geometry, resolve_convention
from padlab.modes.index import INDEX_CODES, index_table
from padlab.modes.padding import straight_runs
from padlab.modes.registry import Rule, check_rule_options, resolve_mode

__all__ = ["PaddedConv2d", "pad_tensor"]

TORCH_ZEROS = resolve_mode("zeros")
REPLICATE = resolve_mode("replicate")

#: padlab rule -> F.pad mode, for the rules torch pads itself
TORCH_PAD_MODES = {
    "zeros": "constant",
    "constant": "constant",
    "partial": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def is_tracing() -> bool:
    """True under ``torch.compile``/``torch.export`` (dynamo) or ``torch.jit.trace``."""
    return bool(torch.compiler.is_compiling() or torch.jit.is_tracing())


def pad_tensor(
    x: torch.Tensor,
    pads: tuple[tuple[int, int], ...],
    mode: str | Rule = "zeros",
    *,
    value: float = 0.0,
    end_values: float = 0.0,
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
        The constant of ``mode='constant'`` (refused with any other rule, as :func:`padlab.pad`).
    end_values : float
        The end value of ``mode='linear_ramp'`` (refused with any other rule).

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
    >>> pad_tensor(torch.zeros(3), ((1, 1),), "reflect", value=5)
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: value=5 is only used by mode='constant', but the rule is reflect
    """
    rule = resolve_mode(mode)
    check_rule_options([rule], value=value, end_values=end_values)
    if not isinstance(x, torch.Tensor):
        raise PadlabTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(pads, tuple | list) or not pads:
        raise PadlabTypeError(
            f"pads must be one (before, after) pair per trailing axis, got {pads!r}"
        )
    widths = normalize_widths(pads, len(pads))
    if len(widths) > x.dim():
        raise PadlabValueError(
            f"pads {pads!r} pad {len(widths)} axes, but the tensor has only {x.dim()}"
        )
    fill = float(end_values) if rule.kind == "ramp" else float(value)
    return pad_axes(x, widths, rule, fill)


def pad_axes(
    x: torch.Tensor, pads: tuple[tuple[Any, Any], ...], rule: Rule, fill: float
) -> torch.Tensor:
    """Pad the trailing axes (already validated): the traceable path where it applies.

    ``fill`` is the constant of ``constant`` or the end value of ``linear_ramp``.
    """
    first = -len(pads)
    traced = (
        is_tracing()
        or isinstance(x, torch.fx.Proxy)
        or not all(type(v) is int for pair in pads for v in pair)
    )
    if rule.name in ("symmetric", "symmetric_odd") and all(
        type(v) is int and v in (0, 1) for pair in pads for v in pair
    ):
        rule = REPLICATE  # identical at widths 0 and 1, and torch pads it in one pass
    if not traced and rule.name in TORCH_PAD_MODES and len(pads) == 2 and x.dim() in (3, 4):
        if fits_torch_pad(x, pads, rule):
            return torch_pad2d(x, pads, rule, fill)
    if traced and rule.name in TORCH_PAD_MODES and len(pads) == 2:
        symbolic = not all(type(v) is int for pair in pads for v in pair)
        if not (symbolic and rule.name == "reflect"):  # inductor fails on that (torch 2.13)
            return torch_pad2d(x, pads, rule, fill)
    for i, (before, after) in enumerate(pads):
        axis = first + i
        if not traced and before == 0 and after == 0:
            continue
        if traced or _fits_slices(x.shape[axis], before, after, rule):
            x = _slice_pad_axis(x, axis, before, after, rule, fill)
        else:
            x = _general_pad_axis(x, axis, before, after, rule, fill)
    return x


def fits_torch_pad(x: torch.Tensor, pads: tuple[tuple[int, int], ...], rule: Rule) -> bool:
    """True if ``F.pad`` can pad ``x`` by ``pads`` with ``rule`` (torch limits the widths)."""
    for (before, after), n in zip(pads, x.shape[-len(pads) :], strict=True):
        widest = max(before, after)
        if rule.name == "reflect" and widest >= n:
            return False
        if rule.name == "circular" and widest > n:
            return False
    return True


def torch_pad2d(
    x: torch.Tensor, pads: tuple[tuple[Any, Any], ...], rule: Rule, fill: float
) -> torch.Tensor:
    """``F.pad`` of the last two axes (3-D or 4-D input) with the rule's torch mode."""
    (top, bottom), (left, right) = pads
    mode = TORCH_PAD_MODES[rule.name]
    if mode == "constant":
        return F.pad(x, (left, right, top, bottom), value=fill if rule.name == "constant" else 0.0)
    return F.pad(x, (left, right, top, bottom), mode=mode)


def _fits_slices(n: int, before: int, after: int, rule: Rule) -> bool:
    """True if one round of slices pads this axis (no wider than the rule's period)."""
    widest = max(before, after)
    if rule.kind in ("constant", "partial", "ramp", "statistic"):
        return True
    if rule.name == "replicate":
        return True
    if rule.name in ("symmetric", "circular", "symmetric_odd"):
        return widest <= n
    return widest < n  # reflect, reflect_odd


def _narrow(x: torch.Tensor, axis: int, start: Any, length: Any) -> torch.Tensor:
    return x.narrow(axis, start, length)


def _slice_pad_axis(
    x: torch.Tensor, axis: int, before: Any, after: Any, rule: Rule, fill: float
) -> torch.Tensor:
    """Pad one axis with slices, flips and ``cat``; sizes read only through ``x.size``.

    Traceable with symbolic sizes and pads; needs pads no wider than :func:`_fits_slices` allows.
    """
    n = x.size(axis)
    name = rule.name
    if rule.kind in ("constant", "partial"):
        widths = [0, 0] * (-axis - 1) + [before, after]
        return F.pad(x, widths, value=fill if name == "constant" else 0.0)
    if name == "reflect":
        left = _narrow(x, axis, 1, before).flip(axis)
        right = _narrow(x, axis, n - 1 - after, after).flip(axis)
    elif name == "circular":
        left = _narrow(x, axis, n - before, before)
        right = _narrow(x, axis, 0, after)
    elif name == "replicate":
        left = _repeat_edge(_narrow(x, axis, 0, 1), axis, before)
        right = _repeat_edge(_narrow(x, axis, n - 1, 1), axis, after)
    elif name == "symmetric":
        left = _narrow(x, axis, 0, before).flip(axis)
        right = _narrow(x, axis, n - after, after).flip(axis)
    elif rule.kind == "odd":
        offset = 0 if name == "symmetric_odd" else 1
        first, last = _narrow(x, axis, 0, 1), _narrow(x, axis, n - 1, 1)
        left = 2 * first - _narrow(x, axis, offset, before).flip(axis)
        right = 2 * last - _narrow(x, axis, n - after - offset, after).flip(axis)
    elif rule.kind == "ramp":
        left = _ramp_piece(_narrow(x, axis, 0, 1), axis, before, fill).flip(axis)
        right = _ramp_piece(_narrow(x, axis, n - 1, 1), axis, after, fill)
    else:
        stat = _statistic(x, axis, name)
        left, right = _repeat_edge(stat, axis, before), _repeat_edge(stat, axis, after)
    return torch.cat([left, x, right], dim=axis)


def _repeat_edge(edge: torch.Tensor, axis: int, count: Any) -> torch.Tensor:
    """A size-1 slice repeated ``count`` times along ``axis`` (``count`` may be symbolic)."""
    if isinstance(edge, torch.fx.Proxy):  # torch.fx.symbolic_trace: no shapes to expand to
        return edge.repeat_interleave(count, dim=axis)
    shape = list(edge.shape)
    shape[axis] = count
    return edge.expand(shape)


def _ramp_piece(
    edge: torch.Tensor, axis: int, count: Any, end: float, width: int | None = None
) -> torch.Tensor:
    """numpy's linear_ramp beside ``edge``, ordered away from it: edge side first, ``end`` last.

    Sample ``j`` (0 next to the edge) is ``end + (edge - end) * (count - 1 - j) / count``;
    ``width`` (default ``count``) samples are made, so a symbolic ``count`` can enter only the
    arithmetic while the shape stays fixed (the samples beyond ``count`` are cropped later).
    """
    steps = torch.arange(count if width is None else width, dtype=edge.dtype, device=edge.device)
    t = ((count - 1) - steps) / count
    t = t.view([-1] + [1] * (-axis - 1))
    return end + (edge - end) * t


def _statistic(x: torch.Tensor, axis: int, name: str) -> torch.Tensor:
    if name == "mean":
        return x.mean(dim=axis, keepdim=True)
    if name == "minimum":
        return x.amin(dim=axis, keepdim=True)
    if name == "maximum":
        return x.amax(dim=axis, keepdim=True)
    # numpy's median: the mean of the two middle values for an even count (torch's median is
    # the lower one). Traced: picked by a mask, so no size check enters the graph and ONNX
    # (which has no median) gets Sort, Equal and ReduceSum.
    n = x.size(axis)
    ordered = x.sort(dim=axis).values
    if type(n) is int and not is_tracing():
        return (ordered.narrow(axis, (n - 1) // 2, 1) + ordered.narrow(axis, n // 2, 1)) / 2
    position = torch.arange(n, device=x.device)
    weight = ((position == (n - 1) // 2).to(x.dtype) + (position == n // 2).to(x.dtype)) / 2
    return (ordered * weight.view([-1] + [1] * (-axis - 1))).sum(dim=axis, keepdim=True)


def _general_pad_axis(
    x: torch.Tensor, axis: int, before: int, after: int, rule: Rule, fill: float
) -> torch.Tensor:
    """Any width (eager only): index tables for the copying rules, chunked odd reflections."""
    n = x.shape[axis]
    if rule.kind == "index" or (rule.kind == "odd" and n == 1):
        code = INDEX_CODES.get(rule.name, INDEX_CODES["replicate"])
        return _gather_runs(x, axis, n, before, after, code)
    return _odd(x, axis, before, after, rule.name == "symmetric_odd")


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

    Works under ``torch.compile`` (``fullgraph=True``), ``torch.export``,
    ``torch.fx.symbolic_trace`` and both ONNX exporters, with dynamic height and width; for
    ``torch.jit.script`` (deprecated by PyTorch) see :meth:`__prepare_scriptable__`.

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
        check_rule_options([rule], value=value)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, "zeros",
            device, dtype,
        )  # fmt: skip
        self.rule = rule
        self.padlab_padding = _freeze(padding)
        self.same_convention = resolve_convention(same_convention)
        self.value = float(value)
        spans = [(k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True)]
        probe = max(spans) + 2 * max(self.stride) + 64
        pads = self.geometry(probe, probe).pads  # checks the padding now, not at the first call
        self._spans = tuple(spans)
        # pads that do not depend on the input size; None on an axis with 'same' and stride > 1
        self._static_pads = tuple(
            None if self.padlab_padding == "same" and s > 1 else pair
            for pair, s in zip(pads, self.stride, strict=True)
        )
        # partial: a window with no real tap exists only if some pad reaches a whole span
        self._empty_windows = any(
            max(pair) >= span for pair, span in zip(pads, spans, strict=True) if pair is not None
        )

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

    def pads(self, input: torch.Tensor) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """``((top, bottom), (left, right))`` for this input, read from its size symbolically.

        'same' at a stride above 1 depends on the input size: the pads are computed with
        arithmetic on ``input.size(axis)``, which tracers record, so a traced or exported
        graph pads correctly at every size.
        """
        out = []
        for i, pair in enumerate(self._static_pads):
            if pair is not None:
                out.append(pair)
                continue
            n, s, span = input.size(i - 2), self.stride[i], self._spans[i]
            # (ceil(n / s) - 1) * s + span - n, written without a negative operand of % for
            # symbolic sizes (inductor evaluates the expression at n = 0)
            total = span - 1 - (n + s - 1) % s
            if span < s:  # the window can fall short of the input: no negative padding
                total = _at_least_zero(total)
            small = total // 2
            large = total - small
            out.append((small, large) if self.same_convention == "tf" else (large, small))
        return (out[0], out[1])

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = pads = self.pads(input)
        rule = self.rule
        conv_padding: Any = 0
        static = all(p is not None for p in self._static_pads)
        if rule.name in ("zeros", "partial") and static and top == bottom and left == right:
            x = input  # the convolution pads with zeros itself: the fastest path
            conv_padding = (top, left)
        elif static:
            x = pad_axes(input, pads, rule, self.value)
        else:
            x = self._pad_widest_then_crop(input, pads)
        if rule.kind != "partial":
            return F.conv2d(
                x, self.weight, self.bias, self.stride, conv_padding, self.dilation, self.groups
            )
        out = F.conv2d(x, self.weight, None, self.stride, conv_padding, self.dilation, self.groups)
        ratio = self.partial_ratio(input, pads)
        if self._empty_windows:
            out = out * ratio
            if self.bias is not None:
                out = (out + self.bias.view(-1, 1, 1)) * (ratio > 0)
            return out
        if self.bias is None:
            return out * ratio
        return torch.addcmul(self.bias.view(-1, 1, 1), out, ratio)

    def _pad_widest_then_crop(
        self, x: torch.Tensor, pads: tuple[tuple[Any, Any], ...], rule: Rule | None = None
    ) -> torch.Tensor:
        """'same' at stride > 1: pad by the widest pads any size needs, crop to this size's.

        The pads are then fixed numbers and only the crop depends on the input size, which
        every exporter handles (ONNX exports of symbolic, possibly empty pads are wrong in
        onnxscript 0.x and inductor fails on symbolic reflection pads). Exact for every rule
        whose padded values do not depend on the pad width (all but linear_ramp).
        """
        widest = tuple(
            pair if pair is not None else self._widest_same(i)
            for i, pair in enumerate(self._static_pads)
        )
        rule = rule or self.rule
        if rule.kind == "ramp":  # values depend on the true width: ramp over it, then crop
            for i, pair in enumerate(widest):
                axis = i - 2
                edge_first, edge_last = x.narrow(axis, 0, 1), x.narrow(axis, x.size(axis) - 1, 1)
                before, after = pads[i]
                left = _ramp_piece(edge_first, axis, before, self.value, pair[0]).flip(axis)
                right = _ramp_piece(edge_last, axis, after, self.value, pair[1])
                x = torch.cat([left, x, right], dim=axis)
        else:
            x = pad_axes(x, widest, rule, self.value)
        for i, static in enumerate(self._static_pads):
            if static is None:
                axis = i - 2
                before, after = pads[i]
                start = widest[i][0] - before
                length = x.size(axis) - widest[i][0] - widest[i][1] + before + after
                if type(start) is int and not is_tracing():
                    x = x.narrow(axis, start, length)
                else:  # a gather: no bounds check, so no guard an exporter cannot prove
                    index = torch.arange(length, device=x.device) + start
                    x = x.index_select(axis, index)
        return x

    def _widest_same(self, i: int) -> tuple[int, int]:
        """The largest 'same' pads before and after on axis ``i`` over all input sizes."""
        total = self._spans[i] - 1
        small, large = total // 2, total - total // 2
        return (small, large) if self.same_convention == "tf" else (large, small)

    def partial_ratio(self, input: torch.Tensor, pads: tuple[tuple[Any, Any], ...]) -> torch.Tensor:
        """Window taps over real taps for every output (0 where no tap is real), as a tensor.

        A ones mask of the input's size, zero padded and convolved with a ones kernel: NVIDIA's
        partial convolution, computed on every call (it costs one small convolution) so no
        cache can keep a tensor made under tracing.
        """
        (top, bottom), (left, right) = pads
        mask = torch.ones_like(input.narrow(-3, 0, 1))
        ones = torch.ones_like(self.weight.narrow(0, 0, 1).narrow(1, 0, 1))
        taps = self.kernel_size[0] * self.kernel_size[1]
        if all(p is not None for p in self._static_pads):
            mask = F.pad(mask, (left, right, top, bottom))
        else:
            mask = self._pad_widest_then_crop(mask, pads, TORCH_ZEROS)
        count = F.conv2d(mask, ones, None, self.stride, 0, self.dilation)
        return torch.where(count > 0, taps / count.clamp(min=1), 0.0)


def _at_least_zero(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clamp(min=0)
    if isinstance(value, int):
        return max(value, 0)
    return torch.sym_max(value, 0)


def _freeze(padding: object) -> object:
    if isinstance(padding, list | tuple):
        return tuple(_freeze(p) for p in padding)
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, int | np.integer) and not isinstance(padding, bool):
        return int(padding)
    raise PadlabTypeError(
        f"padding {padding!r}: use an int, a pair, 'valid', 'same', 'full' or "
        "((top, bottom), (left, right))"
    )
