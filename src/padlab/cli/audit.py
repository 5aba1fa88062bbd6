"""``padlab audit``: the padding of every conv and pooling layer of a PyTorch or ONNX model."""

from __future__ import annotations

import argparse
import importlib
import sys

from padlab.errors import PadlabValueError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab audit``."""
    parser = sub.add_parser(
        "audit",
        help="audit the padding of a model's conv and pooling layers (PyTorch or ONNX)",
        description=(
            "Build a PyTorch model with PKG.MODULE:FACTORY (a callable returning an nn.Module, "
            "or a module attribute that is one) or read an ONNX file (MODEL.onnx, from "
            "PyTorch, TensorFlow, Keras or JAX), and list every conv and pooling layer on both "
            "axes: kernel, stride, padding, rule, sizes, padded rows never read (uneven "
            "padding), input rows never read (dropped), receptive field, border rows depending "
            "on padding; then the input sizes nearby that pad evenly."
        ),
    )
    parser.add_argument("model", metavar="PKG.MODULE:FACTORY | MODEL.onnx")
    parser.add_argument(
        "--input",
        default=None,
        help="CxHxW (default: 3x224x224, or an ONNX model's own fixed input size)",
    )
    parser.add_argument("--json", action="store_true", help="print the audit as JSON")
    parser.set_defaults(run=run)


def _size(text: str) -> tuple[int, int, int]:
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 3 or min(size) < 1:
        raise PadlabValueError(
            f"--input {text!r}: expected CxHxW with positive integers, e.g. 3x224x224"
        )
    return size[0], size[1], size[2]


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def load_model(spec: str):
    """The model named by ``PKG.MODULE:FACTORY``; any failure is one PadlabValueError line."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise PadlabValueError(
            f"{spec!r}: expected PKG.MODULE:FACTORY (e.g. mymodels.nets:resnet) or a .onnx file"
        )
    sys.path.insert(0, "")  # allow modules in the current directory
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, SyntaxError, or whatever the module raises
        raise PadlabValueError(
            f"{spec!r}: cannot import {module_name!r} ({_one_line(err)})"
        ) from None
    finally:
        sys.path.pop(0)
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise PadlabValueError(f"{spec!r}: {module_name} has no attribute {attribute!r}") from None
    from torch import nn

    if isinstance(target, nn.Module):
        return target
    if not callable(target):
        raise PadlabValueError(
            f"{spec!r} is a {type(target).__name__}, not an nn.Module or a factory returning one"
        )
    try:
        model = target()
    except Exception as err:  # a factory that needs arguments, or fails
        raise PadlabValueError(
            f"{spec!r}: calling {attribute}() failed ({_one_line(err)})"
        ) from None
    if not isinstance(model, nn.Module):
        raise PadlabValueError(f"{spec!r} gave {type(model).__name__}, not a torch nn.Module")
    return model


def run(args: argparse.Namespace) -> int:
    """Print the audit table (or JSON)."""
    size = _size(args.input) if args.input is not None else None
    if args.model.lower().endswith(".onnx"):
        from padlab.torch.onnx_audit import audit_onnx

        result = audit_onnx(args.model, size)
    else:
        from padlab.torch.audit import audit  # first: says so if PyTorch is missing

        model = load_model(args.model)
        result = audit(model, size or (3, 224, 224))
    print(result.to_json() if args.json else result.table())
    return 0
