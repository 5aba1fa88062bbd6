"""``audit``: every convolution and pooling layer of a model, and what its padding does.

The model runs once on a zero input of the given size, with the dtype and device of its own
parameters. Forward hooks record each conv and pooling layer's input and output size; for each
layer and each axis (height and width) the audit reports its kernel, stride and padding, the
padding rule, the padded rows (columns) after the input that no window reads (uneven padding,
Alsallakh et al. 2021) and the input rows it never reads at all (a 1x1 stride-2 shortcut
*drops* a row: it has no padding to be uneven), the receptive field, and how many output rows
at each border still depend on padding.

Receptive fields follow the tensors themselves: a :class:`~torch.overrides.TorchFunctionMode`
sees every torch operation of the forward pass. Element-wise operations (additions of a ResNet's
shortcut, activations, normalisations) join the fields of their inputs; a reduction to 1x1
(global pooling, the squeeze of a squeeze-and-excitation block) makes the field *global*, and
everything it scales afterwards is global too (it depends on the whole image); any other
operation that changes the size without being a known conv or pool (reshapes of attention,
interpolation) makes the field *unknown*, shown as ``?``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from padlab.analysis.uneven import even_sizes
from padlab.errors import PadlabTypeError, PadlabValueError
from padlab.torch.layers import PaddedConv2d

__all__ = ["Audit", "LayerAudit", "audit", "border_rows", "make_layer", "through", "union_fields"]

Pair = tuple[int, int]
GLOBAL = "global"  # a field that covers the whole input
UNKNOWN = "unknown"  # a field the audit cannot follow


@dataclass(frozen=True)
class LayerAudit:
    """One layer of :func:`audit`; every size is a (height, width) pair.

    Attributes
    ----------
    unread_padding : (int, int)
        Padded rows after the input (bottom) and columns (right) that no window reads: the
        layer pads unevenly.
    dropped_input : (int, int)
        Input rows (bottom) and columns (right) that no window reads at all.
    receptive_field : (int, int), "global" or "unknown"
    border_rows : ((top, bottom), (left, right)) or None
        Output rows and columns whose receptive field reaches past the input; None when the
        field is global or unknown.
    """

    name: str
    kind: str
    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: tuple[Pair, Pair]
    rule: str
    input: Pair
    output: Pair
    unread_padding: Pair
    dropped_input: Pair
    receptive_field: Pair | str
    border_rows: tuple[Pair, Pair] | None

    @property
    def strided(self) -> bool:
        """True if the stride is above 1 on some axis."""
        return max(self.stride) > 1

    @property
    def uneven(self) -> bool:
        """True if some padded rows or columns after the input are never read."""
        return max(self.unread_padding) > 0

    @property
    def drops(self) -> bool:
        """True if some input rows or columns are never read."""
        return max(self.dropped_input) > 0

    @property
    def effect(self) -> str:
        """'pads unevenly', 'drops input' or '' (both can hold on different axes)."""
        words = []
        if self.uneven:
            words.append("pads unevenly")
        if self.drops:
            words.append("drops input")
        return ", ".join(words)


@dataclass(frozen=True)
class Audit:
    """The result of :func:`audit`."""

    input_size: tuple[int, ...]
    dtype: str
    device: str
    layers: tuple[LayerAudit, ...]
    even_sizes: tuple[int, ...]
    even_widths: tuple[int, ...] = ()

    @property
    def strided(self) -> tuple[LayerAudit, ...]:
        """The layers with a stride above 1 on some axis."""
        return tuple(layer for layer in self.layers if layer.strided)

    @property
    def uneven(self) -> int:
        """How many layers leave padded rows or columns unread."""
        return sum(layer.uneven for layer in self.layers)

    @property
    def dropping(self) -> int:
        """How many layers never read some input rows or columns."""
        return sum(layer.drops for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json``), with each layer's ``uneven``, ``drops`` and ``effect``."""
        data = dataclasses.asdict(self)
        for entry, layer in zip(data["layers"], self.layers, strict=True):
            entry.update(uneven=layer.uneven, drops=layer.drops, effect=layer.effect)
        data.update(uneven=self.uneven, dropping=self.dropping, strided=len(self.strided))
        return data

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def _summary(self) -> list[str]:
        """The lines under the table: counts, nearby even sizes, the legend."""
        strided = self.strided
        lines = []
        lines.append(
            f"{sum(layer.uneven for layer in strided)} of {len(strided)} strided layers pad "
            "unevenly (padded rows/columns after the input never read); "
            f"{sum(layer.drops for layer in strided)} drop input rows/columns they never read "
            "(no padding to be uneven, e.g. 1x1 stride-2 shortcuts)"
        )
        if self.even_sizes:
            lines.append(
                "input heights near this one that pad evenly: "
                + ", ".join(map(str, self.even_sizes))
            )
        if self.even_widths and self.even_widths != self.even_sizes:
            lines.append(
                "input widths near this one that pad evenly: "
                + ", ".join(map(str, self.even_widths))
            )
        lines.append(
            "unread: padded rows,columns at the bottom,right that no window reads; dropped: "
            "input rows,columns never read; RF: receptive field in input pixels (global: the "
            "whole image, through global pooling or SE; ?: not followed); border rows: output "
            "rows (top,bottom) and columns (left,right) whose receptive field reaches padding"
        )
        return lines

    def _repr_html_(self) -> str:
        """The audit as an HTML table, for Jupyter: one row per layer, the uneven and dropping
        layers marked, then the same summary lines as :meth:`table`."""
        from html import escape

        heads = ("layer", "type", "kernel", "stride", "pads t,b l,r", "rule", "in -> out",
                 "unread", "dropped", "RF", "effect")  # fmt: skip
        rows = []
        for layer in self.layers:
            (t, b), (left, right) = layer.padding
            rf = layer.receptive_field
            cells = (
                layer.name, layer.kind, _xy(layer.kernel), _xy(layer.stride),
                f"{t},{b} {left},{right}", layer.rule,
                f"{_xy(layer.input)} -> {_xy(layer.output)}",
                _xy(layer.unread_padding, ","), _xy(layer.dropped_input, ","),
                rf if isinstance(rf, str) else f"{rf[0]}x{rf[1]}", layer.effect,
            )  # fmt: skip
            style = ' style="background:#fde8e8"' if layer.effect else ""
            rows.append(
                f"<tr{style}>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"
            )
        summary = "".join(f"<p>{escape(line)}</p>" for line in self._summary())
        caption = escape(
            f"audit at input {'x'.join(map(str, self.input_size))} ({self.dtype}, {self.device})"
        )
        head = "".join(f"<th>{escape(h)}</th>" for h in heads)
        return f"<table><caption>{caption}</caption><tr>{head}</tr>{''.join(rows)}</table>{summary}"

    def table(self) -> str:
        """The audit as a terminal table."""
        name_w = max([len("layer"), *(len(layer.name) for layer in self.layers)])
        rule_w = max([len("rule"), *(len(layer.rule) for layer in self.layers)])
        head = (
            f"{'layer'.ljust(name_w)}  {'type':7s} {'kernel':>6} {'stride':>6} "
            f"{'pads t,b l,r':>12} {'rule'.ljust(rule_w)} {'in -> out':>17} {'unread':>6} "
            f"{'dropped':>7} {'RF':>9} {'border rows':>13}"
        )
        lines = [
            f"audit at input {'x'.join(map(str, self.input_size))} ({self.dtype}, {self.device})",
            head,
        ]
        for layer in self.layers:
            (t, b), (left, right) = layer.padding
            rf = layer.receptive_field
            rf_text = rf if isinstance(rf, str) else f"{rf[0]}x{rf[1]}"
            rf_text = {"global": "global", "unknown": "?"}.get(rf_text, rf_text)
            border = (
                "-"
                if layer.border_rows is None
                else f"{layer.border_rows[0][0]},{layer.border_rows[0][1]} "
                f"{layer.border_rows[1][0]},{layer.border_rows[1][1]}"
            )
            note = f"  <- {layer.effect}" if layer.effect else ""
            lines.append(
                f"{layer.name.ljust(name_w)}  {layer.kind:7s} {_xy(layer.kernel):>6} "
                f"{_xy(layer.stride):>6} {f'{t},{b} {left},{right}':>12} "
                f"{layer.rule.ljust(rule_w)} {_xy(layer.input) + ' -> ' + _xy(layer.output):>17} "
                f"{_xy(layer.unread_padding, ','):>6} {_xy(layer.dropped_input, ','):>7} "
                f"{rf_text:>9} {border:>13}{note}"
            )
        lines.extend(self._summary())
        return "\n".join(lines)


def _xy(pair: Pair, sep: str = "x") -> str:
    return f"{pair[0]}{sep}{pair[1]}" if pair[0] != pair[1] or sep == "," else str(pair[0])


def _pair(value: Any) -> Pair:
    if isinstance(value, tuple | list):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def layer_spec(module: nn.Module, height: int, width: int):
    """(kind, kernel, stride, dilation, pads per axis, rule) of a conv or pool module, or None."""
    if isinstance(module, PaddedConv2d):
        g = module.geometry(height, width)
        return ("conv", _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation),
                g.pads, module.rule.name)  # fmt: skip
    if isinstance(module, nn.Conv2d):
        k, s, d = _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation)
        if isinstance(module.padding, str):
            pads = []
            for kk, dd in zip(k, d, strict=True):
                total = dd * (kk - 1) if module.padding == "same" else 0
                pads.append((total // 2, total - total // 2))
            padding = (pads[0], pads[1])
        else:
            ph, pw = _pair(module.padding)
            padding = ((ph, ph), (pw, pw))
        return ("conv", k, s, d, padding, module.padding_mode)
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
        k = _pair(module.kernel_size)
        s = _pair(module.stride) if module.stride is not None else k
        ph, pw = _pair(module.padding)
        d = _pair(getattr(module, "dilation", 1))
        if kind == "maxpool":
            rule = "-inf"
        else:
            rule = "zeros" if module.count_include_pad else "partial"
        return (kind, k, s, d, ((ph, ph), (pw, pw)), rule)
    return None


# --- receptive fields ------------------------------------------------------------------------

Field = Any  # tuple of (rf, jump, start) per axis, GLOBAL or UNKNOWN


def through(field: Field, kernel: Pair, stride: Pair, dilation: Pair, before: Pair) -> Field:
    if isinstance(field, str):
        return field
    out = []
    for (rf, jump, start), k, s, d, b in zip(field, kernel, stride, dilation, before, strict=True):
        out.append((rf + (k - 1) * d * jump, jump * s, start - b * jump))
    return tuple(out)


def union_fields(fields: list[Field]) -> Field:
    if any(f == GLOBAL for f in fields):
        return GLOBAL
    if any(f == UNKNOWN for f in fields):
        return UNKNOWN
    out = []
    for axis in zip(*fields, strict=True):
        if len({jump for _, jump, _ in axis}) > 1:
            return UNKNOWN
        start = min(s for _, _, s in axis)
        end = max(s + rf - 1 for rf, _, s in axis)
        out.append((end - start + 1, axis[0][1], start))
    return tuple(out)


class _Fields(TorchFunctionMode):
    """Follows the receptive field of every tensor computed from the input."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[int, tuple[torch.Tensor, Field]] = {}
        self.pads_seen: list[list[tuple[Pair, Pair]]] = []  # F.pad calls per open layer

    def get(self, tensor: Any) -> Field | None:
        entry = self.fields.get(id(tensor))
        return entry[1] if entry is not None and entry[0] is tensor else None

    def set(self, tensor: torch.Tensor, field: Field) -> None:
        self.fields[id(tensor)] = (tensor, field)  # the reference keeps the id unique

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        known = [(t, f) for t in inputs if (f := self.get(t)) is not None]
        if not known:
            return out
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        for result in outputs:
            self.set(result, self._field(func, args, kwargs, known, result))
        return out

    def _field(self, func, args, kwargs, known, result) -> Field:
        first, first_field = known[0]
        if func in (F.pad, torch._C._nn.pad) and first is args[0] and first.dim() >= 3:
            widths = [*(args[1] if len(args) > 1 else kwargs["pad"]), 0, 0, 0, 0]
            before = (int(widths[2]), int(widths[0]))
            if self.pads_seen:
                self.pads_seen[-1].append(((widths[2], widths[3]), (widths[0], widths[1])))
            return through(first_field, (1, 1), (1, 1), (1, 1), before)
        if func in (F.conv2d, torch.conv2d) and first is args[0] and first.dim() >= 3:
            weight = args[1]

            def get(i, key, default):
                return args[i] if len(args) > i else kwargs.get(key, default)

            padding = get(4, "padding", 0)
            if isinstance(padding, str):
                return UNKNOWN
            return through(first_field, tuple(weight.shape[-2:]), _pair(get(3, "stride", 1)),
                            _pair(get(5, "dilation", 1)), _pair(padding))  # fmt: skip
        if result.dim() < 3:  # flattened or pooled to vectors: global if a map was reduced
            if any(t.dim() >= 3 and t.shape[-2:].numel() > 1 for t, _ in known):
                return GLOBAL
            return union_fields([f for _, f in known])
        size = tuple(result.shape[-2:])
        spatial = [(t, f) for t, f in known if t.dim() >= 3]
        if not spatial:  # e.g. a vector made 1x1 again (an SE block's excitation)
            return union_fields([f for _, f in known])
        if size == (1, 1) and any(tuple(t.shape[-2:]) != (1, 1) for t, _ in spatial):
            return GLOBAL  # a reduction over the whole map
        same = [f for t, f in spatial if tuple(t.shape[-2:]) == size]
        broadcast = [f for t, f in spatial if tuple(t.shape[-2:]) == (1, 1) and size != (1, 1)]
        if same and len(same) + len(broadcast) == len(spatial):
            return union_fields(same + broadcast)
        return UNKNOWN


def border_rows(field: Field, size: Pair, out: Pair) -> tuple[Pair, Pair] | None:
    if isinstance(field, str):
        return None
    rows = []
    for (rf, jump, start), n, count in zip(field, size, out, strict=True):
        top = min(count, (-start + jump - 1) // jump) if start < 0 else 0
        first_bad = (n - rf - start) // jump + 1  # the first output reaching past the end
        bottom = max(0, min(count, count - first_bad))
        rows.append((top, bottom))
    return (rows[0], rows[1])


def _layer_audit(
    name: str,
    module: nn.Module,
    n: Pair,
    out: Pair,
    field: Field | None,
    pads_seen: list,
    image: Pair,
) -> tuple[LayerAudit, Field]:
    """One module's audit and the receptive field of its output."""
    kind, k, s, d, pads, rule = layer_spec(module, n[0], n[1])
    span = tuple((kk - 1) * dd + 1 for kk, dd in zip(k, d, strict=True))
    predicted = tuple((size + b + a - sp) // ss + 1
                      for size, (b, a), sp, ss in zip(n, pads, span, s, strict=True))  # fmt: skip
    if predicted != out and len(pads_seen) == 1:  # padded inside its own forward (TF 'same')
        extra = pads_seen[0]
        pads = tuple((b + eb, a + ea) for (b, a), (eb, ea) in zip(pads, extra, strict=True))
        rule = f"{rule} (padded in forward)"
    return make_layer(name, kind, k, s, d, pads, rule, n, out, field, image)


def make_layer(
    name: str,
    kind: str,
    k: Pair,
    s: Pair,
    d: Pair,
    pads: Any,
    rule: str,
    n: Pair,
    out: Pair,
    field: Field | None,
    image: Pair,
) -> tuple[LayerAudit, Field]:
    """A layer's audit from its geometry, and the receptive field of its output."""
    span = tuple((kk - 1) * dd + 1 for kk, dd in zip(k, d, strict=True))
    unread, dropped = [], []
    for size, (b, a), sp, ss, o in zip(n, pads, span, s, out, strict=True):
        leftover = size + b + a - ((o - 1) * ss + sp)
        unread.append(max(0, min(a, leftover)))
        dropped.append(max(0, leftover - a))
    field_out = through(UNKNOWN if field is None else field, k, s, d, (pads[0][0], pads[1][0]))
    rf = field_out if isinstance(field_out, str) else (field_out[0][0], field_out[1][0])
    layer = LayerAudit(
        name=name or "(model)", kind=kind, kernel=k, stride=s, dilation=d,
        padding=(tuple(pads[0]), tuple(pads[1])), rule=rule, input=n, output=out,
        unread_padding=(unread[0], unread[1]), dropped_input=(dropped[0], dropped[1]),
        receptive_field=rf, border_rows=border_rows(field_out, image, out),
    )  # fmt: skip
    return layer, field_out


def even_nearby(layers: list[LayerAudit], image: Pair) -> list[tuple[int, ...]]:
    """Input heights and widths near ``image`` at which every padded strided layer is even.

    The padded strided layers form the main chain (1x1 shortcuts have no padding and give the
    same sizes), so they decide which input sizes pad evenly, per axis.
    """
    nearby = []
    for axis in (0, 1):
        chain = [
            (layer.kernel[axis], layer.stride[axis], layer.padding[axis][0])
            for layer in layers
            if layer.stride[axis] > 1 and layer.padding[axis][1] > 0
        ]
        nearby.append(tuple(even_sizes(chain, image[axis])) if chain else ())
    return nearby


def _example_parameter(model: nn.Module) -> torch.Tensor | None:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor
    return None


def audit(model: nn.Module, input_size: tuple[int, ...] = (3, 224, 224)) -> Audit:
    """Audit the padding of every Conv2d and 2-D pooling layer of ``model``, on both axes.

    Parameters
    ----------
    model : nn.Module
    input_size : (C, H, W)
        One input, without the batch axis. The probe input takes the dtype and device of the
        model's first floating-point parameter (float32 on the CPU if it has none).

    Returns
    -------
    Audit
        Per layer (in execution order): kernel, stride, padding, rule, sizes, unread padding,
        dropped input, receptive field, border rows depending on padding; the nearest input
        heights (and widths) that pad evenly. ``print(result.table())`` shows it;
        ``result.to_json()`` gives it as JSON.

    Examples
    --------
    >>> from torch import nn
    >>> from padlab.torch import audit
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
    >>> result = audit(net, (3, 224, 224))
    >>> [layer.unread_padding for layer in result.layers], result.uneven
    ([(1, 1), (1, 1)], 2)
    >>> audit(net, (3, 225, 224)).layers[0].unread_padding  # height even, width not
    (0, 1)
    """
    if not isinstance(model, nn.Module):
        raise PadlabTypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    size = tuple(input_size)
    if len(size) != 3 or not all(isinstance(v, int) and v >= 1 for v in size):
        raise PadlabValueError(
            f"input_size {input_size!r}: expected (C, H, W) with positive integers"
        )
    example = _example_parameter(model)
    dtype = example.dtype if example is not None else torch.float32
    device = example.device if example is not None else torch.device("cpu")
    records: list[tuple[LayerAudit, Field]] = []
    image = (size[1], size[2])
    tracker = _Fields()
    opened: list[tuple[Field, list]] = []
    hooks = []
    for name, module in model.named_modules():
        if layer_spec(module, 8, 8) is None:
            continue

        def pre(mod, args, tracker=tracker, opened=opened):
            tracker.pads_seen.append([])
            opened.append((tracker.get(args[0]), tracker.pads_seen[-1]))

        def post(mod, args, out, name=name, tracker=tracker, opened=opened):
            field, pads_seen = opened.pop()
            tracker.pads_seen.pop()
            n, o = tuple(args[0].shape[-2:]), tuple(out.shape[-2:])
            layer, field_out = _layer_audit(name, mod, n, o, field, pads_seen, image)
            tracker.set(out, field_out)
            records.append((layer, field_out))

        hooks.append(module.register_forward_pre_hook(pre))
        hooks.append(module.register_forward_hook(post))
    was_training = model.training
    model.eval()
    x = torch.zeros(1, *size, dtype=dtype, device=device)
    try:
        with torch.no_grad(), tracker:
            tracker.set(x, ((1, 1, 0), (1, 1, 0)))
            try:
                model(x)
            except Exception as err:  # the model's own error, as one line
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise PadlabValueError(
                    f"the model does not run on an input of shape {tuple(x.shape)} "
                    f"({dtype}, {device}): {type(err).__name__}: {first}"
                ) from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    layers = [layer for layer, _ in records]
    nearby = even_nearby(layers, image)
    return Audit(size, str(dtype).replace("torch.", ""), str(device), tuple(layers), *nearby)
