"""``audit_onnx``: the padding audit read from an ONNX graph (from PyTorch, TensorFlow, Keras, JAX).

Conv, MaxPool and AveragePool nodes give kernel, strides, dilations and ``pads``; ``auto_pad``
``SAME_UPPER`` (TensorFlow, Keras: the extra row after) and ``SAME_LOWER`` (the extra row
before) are resolved for the audited input size. A ``Pad`` node feeding a convolution gives the
padding rule, named in padlab's vocabulary and ONNX's (``edge`` is padlab's ``replicate``,
``wrap`` its ``circular``). Sizes come from ONNX shape inference at the audited input size;
receptive fields follow the graph's tensors like :func:`padlab.torch.audit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from padlab.errors import PadlabDependencyError, PadlabFileError, PadlabValueError
from padlab.torch.audit import (
    GLOBAL,
    UNKNOWN,
    Audit,
    LayerAudit,
    Pair,
    even_nearby,
    make_layer,
    through,
    union_fields,
)

__all__ = ["audit_onnx"]

#: ONNX Pad mode -> padlab rule (constant is zeros or constant by its value)
ONNX_PAD_RULES = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def audit_onnx(path: str | Path, input_size: tuple[int, int, int] | None = None) -> Audit:
    """Audit the padding of every Conv and pooling node of an ONNX model, on both axes.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file whose first graph input is (N, C, H, W).
    input_size : (C, H, W), optional
        The size to audit at; by default the graph input's own (fixed) size.

    Returns
    -------
    Audit
        As :func:`padlab.torch.audit`; ``dtype`` is the input's ONNX element type and
        ``device`` is ``"onnx"``.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as err:
        raise PadlabDependencyError("auditing an ONNX model needs onnx: pip install onnx") from err
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise PadlabFileError(f"{str(path)!r}: no such file") from None
    except Exception as err:
        raise PadlabFileError(f"{str(path)!r} is not a readable ONNX model ({err})") from None
    graph = model.graph
    initial = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initial]
    if not inputs:
        raise PadlabValueError(f"{str(path)!r}: the graph has no input")
    first = inputs[0]
    dims = first.type.tensor_type.shape.dim
    if len(dims) != 4:
        raise PadlabValueError(
            f"{str(path)!r}: the first input {first.name!r} has {len(dims)} axes, not (N, C, H, W)"
        )
    if input_size is None:
        given = [d.dim_value for d in dims[1:]]
        if not all(given):
            raise PadlabValueError(
                f"{str(path)!r}: the input {first.name!r} has a dynamic size; give --input CxHxW"
            )
        size = tuple(int(v) for v in given)
    else:
        size = tuple(int(v) for v in input_size)
    for dim, value in zip(dims, (1, *size), strict=True):
        dim.Clear()
        dim.dim_value = value
    del graph.value_info[:]  # sizes recorded at export time: inferred again at this size
    for output in graph.output:
        output.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PadlabValueError(
            f"{str(path)!r} does not take an input of size {'x'.join(map(str, size))}: {first_line}"
        ) from None
    shapes: dict[str, tuple[int, ...]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        shapes[info.name] = tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
    constants: dict[str, np.ndarray] = {
        init.name: numpy_helper.to_array(init) for init in graph.initializer
    }
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    constants[node.output[0]] = numpy_helper.to_array(attr.t)
    computed = [
        node.input[1]
        for node in graph.node
        if node.op_type == "Pad" and len(node.input) > 1 and node.input[1] not in constants
    ]
    if computed:  # pads made by a chain of shape ops (the TorchScript exporter): evaluate them
        constants.update(_evaluate(inferred, computed, first.name, (1, *size)))
    elem = onnx.helper.tensor_dtype_to_np_dtype(first.type.tensor_type.elem_type)
    image = (size[1], size[2])
    fields: dict[str, Any] = {first.name: ((1, 1, 0), (1, 1, 0))}
    padded_by: dict[str, tuple[Any, str, str]] = {}  # Pad output -> (pads, rule, its input)
    layers: list[LayerAudit] = []
    for index, node in enumerate(graph.node):
        known = [fields[name] for name in node.input if name in fields]
        if not known:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        out_name = node.output[0]
        op = node.op_type
        name = node.name or f"{op}_{index}"
        if op == "Pad":
            pads, rule = _pad_node(node, attrs, constants, shapes)
            padded_by[out_name] = (pads, rule, node.input[0])
            fields[out_name] = through(known[0], (1, 1), (1, 1), (1, 1), (pads[0][0], pads[1][0]))
        elif op in ("Conv", "MaxPool", "AveragePool"):
            layer, field = _window_node(
                name, node, attrs, constants, shapes, fields, padded_by, image
            )
            layers.append(layer)
            fields[out_name] = field
        elif op in ("GlobalAveragePool", "GlobalMaxPool", "Flatten", "Gemm", "MatMul"):
            fields[out_name] = (
                GLOBAL if op.startswith("Global") else _spatial_or_global(node, shapes, known)
            )
        else:
            for output in node.output:
                fields[output] = _elementwise(node, output, shapes, known)
    nearby = even_nearby(layers, image)
    return Audit(size, str(np.dtype(elem)), "onnx", tuple(layers), *nearby)


def _evaluate(model, names: list[str], input_name: str, shape) -> dict[str, np.ndarray]:
    """Values of intermediate tensors (pads computed from shapes), by ONNX's reference runtime."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    elem = copy.graph.input[0].type.tensor_type.elem_type
    for name in names:
        copy.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None)
        )
    for item in copy.graph.input:
        if item.name == input_name:
            elem = item.type.tensor_type.elem_type
    x = np.zeros(shape, dtype=onnx.helper.tensor_dtype_to_np_dtype(elem))
    values = ReferenceEvaluator(copy).run(names, {input_name: x})
    return dict(zip(names, (np.asarray(v) for v in values), strict=True))


def _spatial_or_global(node, shapes, known) -> Any:
    ins = [shapes.get(n, ()) for n in node.input]
    if any(len(s) >= 4 and s[-2] * s[-1] > 1 for s in ins):
        return GLOBAL
    return union_fields(known)


def _elementwise(node, output: str, shapes, known) -> Any:
    out = shapes.get(output, ())
    ins = [(shapes.get(n, ()), n) for n in node.input]
    spatial = [s for s, _ in ins if len(s) == 4]
    if len(out) != 4:
        return GLOBAL if any(s[-2] * s[-1] > 1 for s in spatial) else union_fields(known)
    if out[-2:] == (1, 1) and any(s[-2:] != (1, 1) for s in spatial):
        return GLOBAL  # a reduction over the map (ReduceMean of a squeeze-and-excitation)
    if all(s[-2:] in (out[-2:], (1, 1)) for s in spatial):
        return union_fields(known)
    return UNKNOWN


def _ints(value: Any, default: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if value is not None else default


def _pad_node(node, attrs, constants, shapes) -> tuple[Any, str]:
    raw = attrs.get("mode", b"constant")
    mode = raw.decode() if isinstance(raw, bytes) else str(raw)
    if "pads" in attrs:  # opset < 11
        pads = list(attrs["pads"])
        value = float(attrs.get("value", 0.0))
    else:
        if node.input[1] not in constants:
            raise PadlabValueError(f"Pad node {node.name!r}: the pads are computed, not constant")
        pads = [int(v) for v in constants[node.input[1]].ravel()]
        fill = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        value = float(np.asarray(fill).ravel()[0]) if fill is not None else 0.0
        if len(node.input) > 3 and node.input[3]:  # axes
            axes = [int(a) for a in constants[node.input[3]].ravel()]
            rank = len(shapes.get(node.input[0], ())) or 4
            full = [0] * (2 * rank)
            for i, axis in enumerate(axes):
                axis %= rank
                full[axis], full[axis + rank] = pads[i], pads[i + len(axes)]
            pads = full
    rank = len(pads) // 2
    h, w = rank - 2, rank - 1
    pairs = ((pads[h], pads[h + rank]), (pads[w], pads[w + rank]))
    if mode == "constant":
        rule = "zeros" if value == 0 else f"constant {value:g}"
    else:
        rule = ONNX_PAD_RULES.get(mode, mode)
    return pairs, f"{rule} (onnx Pad mode={mode})"


def _window_node(name, node, attrs, constants, shapes, fields, padded_by, image):
    op = node.op_type
    source = node.input[0]
    if op == "Conv" and "kernel_shape" not in attrs:
        k = tuple(int(v) for v in constants[node.input[1]].shape[-2:])
    else:
        k = _ints(attrs.get("kernel_shape"), (1, 1))
    s = _ints(attrs.get("strides"), (1, 1))
    d = _ints(attrs.get("dilations"), (1, 1))
    n = shapes[source][-2:]
    out = shapes[node.output[0]][-2:]
    raw = attrs.get("auto_pad", b"NOTSET")
    auto = raw.decode() if isinstance(raw, bytes) else str(raw)
    pads: tuple[tuple[int, int], ...]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = []
        for size, kk, ss, dd in zip(n, k, s, d, strict=True):
            total = max((-(-size // ss) - 1) * ss + (kk - 1) * dd + 1 - size, 0)
            small, large = total // 2, total - total // 2
            pairs.append((small, large) if auto == "SAME_UPPER" else (large, small))
        pads = (pairs[0], pairs[1])
        where = "extra after" if auto == "SAME_UPPER" else "extra before"
        detail = f"auto_pad={auto}, {where}"
    elif auto == "VALID":
        pads, detail = ((0, 0), (0, 0)), "auto_pad=VALID"
    else:
        p = _ints(attrs.get("pads"), (0, 0, 0, 0))
        pads, detail = ((p[0], p[2]), (p[1], p[3])), ""
    if op == "Conv":
        kind, rule = "conv", "zeros"
    elif op == "MaxPool":
        kind, rule = "maxpool", "-inf"
    else:
        kind = "avgpool"
        rule = "zeros" if attrs.get("count_include_pad", 0) else "partial"
    field = fields.get(source)
    if source in padded_by and op == "Conv":  # an explicit Pad in front: its rule, both pads
        extra, pad_rule, pad_input = padded_by[source]
        pads = tuple((b + eb, a + ea) for (b, a), (eb, ea) in zip(pads, extra, strict=True))
        n = shapes[pad_input][-2:]
        field = fields.get(pad_input)
        rule = pad_rule
    elif detail:
        rule = f"{rule} ({detail})"
    # a 2-D window: make_layer's strict zips against the 2-D shapes check the lengths
    k2, s2, d2 = cast(Pair, k), cast(Pair, s), cast(Pair, d)
    return make_layer(name, kind, k2, s2, d2, pads, rule, n, out, field, image)
