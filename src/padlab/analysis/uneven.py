"""Uneven padding: strided layers whose bottom/right padding is never read.

A layer with input ``n``, kernel ``k``, stride ``s`` and padding ``p`` per side reads its input
at ``0, s, 2s, ...`` in the padded coordinates. When ``(n + 2p - k) mod s`` is not 0, the last
``(n + 2p - k) mod s`` padded rows and columns are never read: the layer pads the top/left but
effectively not the bottom/right, and the learned kernels grow asymmetric (Alsallakh et al.,
"Mind the Pad", ICLR 2021).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from padlab._validate import as_index
from padlab.errors import PadlabValueError

__all__ = ["Layer", "UnevenPadding", "even_sizes", "uneven_padding"]


@dataclass(frozen=True)
class Layer:
    """One strided layer of the audit.

    Attributes
    ----------
    kernel, stride, padding : int
    input, output : int
        Sizes along one axis.
    unused : int
        Padded rows (and columns) after the input that are never read: ``(n + 2p - k) mod s``.
    """

    kernel: int
    stride: int
    padding: int
    input: int
    output: int
    unused: int

    @property
    def even(self) -> bool:
        """True when every padded row is read."""
        return self.unused == 0


@dataclass(frozen=True)
class UnevenPadding:
    """The audit of a stack of layers; see :func:`uneven_padding`."""

    size: int
    layers: tuple[Layer, ...]

    @property
    def uneven(self) -> int:
        """How many layers leave padding unread."""
        return sum(not layer.even for layer in self.layers)

    def table(self) -> str:
        """A readable table, one line per layer."""
        lines = [f"input {self.size}: {self.uneven} of {len(self.layers)} layers pad unevenly"]
        lines.append("  layer  kernel/stride/pad   in -> out  unused padded rows")
        for i, layer in enumerate(self.layers, 1):
            mark = "" if layer.even else "   <- uneven"
            lines.append(
                f"  {i:5d}  {layer.kernel:>6}/{layer.stride}/{layer.padding:<5}  "
                f"{layer.input:4d} -> {layer.output:<4d} {layer.unused}{mark}"
            )
        return "\n".join(lines)


def uneven_padding(size: int, layers: Sequence[Sequence[int]]) -> UnevenPadding:
    """Audit a stack of (kernel, stride, padding) layers for padding that is never read.

    Parameters
    ----------
    size : int
        Input size along one axis (the same holds for the other axis of a square input).
    layers : sequence of (kernel, stride, padding)
        In order; each layer's output is the next one's input.

    Returns
    -------
    UnevenPadding
        Per layer: input and output size and the unread padding ``(n + 2p - k) mod s``.

    Examples
    --------
    >>> from padlab import uneven_padding
    >>> resnet = [(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1)]
    >>> uneven_padding(224, resnet).uneven, uneven_padding(225, resnet).uneven
    (5, 0)
    >>> [layer.output for layer in uneven_padding(224, resnet).layers]
    [112, 56, 28, 14, 7]
    """
    n = as_index(size, "size")
    if n < 1:
        raise PadlabValueError(f"size must be at least 1, got {n}")
    out = []
    for spec in layers:
        if len(spec) != 3:
            raise PadlabValueError(f"each layer is (kernel, stride, padding), got {tuple(spec)!r}")
        k, s, p = (
            as_index(v, name) for v, name in zip(spec, ("kernel", "stride", "padding"), strict=True)
        )
        if k < 1 or s < 1 or p < 0:
            raise PadlabValueError(
                f"layer {tuple(spec)}: kernel and stride must be >= 1, padding >= 0"
            )
        span = n + 2 * p - k
        if span < 0:
            raise PadlabValueError(
                f"layer {tuple(spec)}: kernel {k} is larger than the padded input {n + 2 * p}"
            )
        layer = Layer(k, s, p, n, span // s + 1, span % s)
        out.append(layer)
        n = layer.output
    return UnevenPadding(as_index(size, "size"), tuple(out))


def even_sizes(layers: Sequence[Sequence[int]], near: int, count: int = 2) -> list[int]:
    """Input sizes near ``near`` for which every layer pads evenly (``count`` below and above).

    Examples
    --------
    >>> from padlab.analysis.uneven import even_sizes
    >>> even_sizes([(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1)], 224)
    [161, 193, 225, 257]
    """
    below: list[int] = []
    above: list[int] = []
    n = near
    while len(below) < count and n > 1:
        n -= 1
        if _fits(n, layers) and uneven_padding(n, layers).uneven == 0:
            below.append(n)
    n = near - 1
    while len(above) < count:
        n += 1
        if _fits(n, layers) and uneven_padding(n, layers).uneven == 0:
            above.append(n)
    return sorted(below) + above


def _fits(n: int, layers: Sequence[Sequence[int]]) -> bool:
    try:
        uneven_padding(n, layers)
    except PadlabValueError:
        return False
    return True
