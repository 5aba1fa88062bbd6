"""``padlab audit``: the padding of every conv and pooling layer of a PyTorch model."""

from __future__ import annotations

import argparse
import importlib
import sys

from padlab.errors import PadlabValueError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab audit``."""
    parser = sub.add_parser(
        "audit",
        help="audit the padding of a PyTorch model's conv and pooling layers (needs torch)",
        description=(
            "Build a model with PKG.MODULE:FACTORY (a callable returning an nn.Module, or a "
            "module attribute that is one), run it on a zero input, and list every conv and "
            "pooling layer: kernel, stride, padding, rule, sizes, padded rows never read, "
            "receptive field, border rows depending on padding; then the input sizes nearby "
            "that pad evenly."
        ),
    )
    parser.add_argument("factory", metavar="PKG.MODULE:FACTORY")
    parser.add_argument("--input", default="3x224x224", help="CxHxW (default: 3x224x224)")
    parser.set_defaults(run=run)


def _size(text: str) -> tuple[int, ...]:
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 3 or min(size) < 1:
        raise PadlabValueError(
            f"--input {text!r}: expected CxHxW with positive integers, e.g. 3x224x224"
        )
    return size


def load_model(spec: str):
    """The model named by ``PKG.MODULE:FACTORY``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise PadlabValueError(f"{spec!r}: expected PKG.MODULE:FACTORY, e.g. mymodels.nets:resnet")
    sys.path.insert(0, "")  # allow modules in the current directory
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PadlabValueError(f"{spec!r}: cannot import {module_name!r} ({err})") from None
    finally:
        sys.path.pop(0)
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise PadlabValueError(f"{spec!r}: {module_name} has no attribute {attribute!r}") from None
    from torch import nn

    model = target if isinstance(target, nn.Module) else target()
    if not isinstance(model, nn.Module):
        raise PadlabValueError(f"{spec!r} gave {type(model).__name__}, not a torch nn.Module")
    return model


def run(args: argparse.Namespace) -> int:
    """Print the audit table."""
    size = _size(args.input)
    from padlab.torch.audit import audit  # first: says so if PyTorch is missing

    model = load_model(args.factory)

    print(audit(model, size).table())
    return 0
