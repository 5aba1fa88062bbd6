"""The reference implementation: slide the window, multiply, sum.

This is the classic from-scratch convolution loop, generalised to every geometry and rule, and
written to be obviously right rather than fast. It is the oracle the fast engines are tested
against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from padlab._validate import allocate
from padlab.geometry import Geometry
from padlab.modes.padding import pad
from padlab.modes.registry import Rule

__all__ = ["correlate_reference"]


def correlate_reference(
    image: np.ndarray,
    kernel: np.ndarray,
    geometry: Geometry,
    rules: Sequence[Rule],
    *,
    value: float = 0.0,
    stat_length: object = None,
    end_values: object = 0,
) -> np.ndarray:
    """Correlate one array (no channel or batch axis) with a kernel of the same ndim.

    Parameters
    ----------
    image, kernel : ndarray
        Same number of dimensions, already in the compute dtype.
    geometry : Geometry
        Pads, strides and dilations (see :class:`padlab.geometry.Geometry`).
    rules : sequence of Rule
        One padding rule per axis.
    value, stat_length, end_values
        Options of the rules, as in :func:`padlab.pad`.

    Returns
    -------
    ndarray
        ``out[o] = sum(window(o) * kernel)``, where ``window(o)`` starts at ``o * stride`` in the
        padded image and takes every ``dilation``-th sample. With the ``partial`` rule, each
        output is then multiplied by (taps in the window) / (taps on real samples), or set to 0
        if no tap is on a real sample.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.modes import resolve_mode
    >>> g = Geometry.resolve((5,), (3,), "same")
    >>> correlate_reference(np.arange(1.0, 6.0), np.array([1.0, 2.0, 3.0]), g,
    ...                     [resolve_mode("zeros")])
    array([ 8., 14., 20., 26., 14.])
    """
    partial = [rule.kind == "partial" for rule in rules]
    padded_rules = ["zeros" if p else rule.name for rule, p in zip(rules, partial, strict=True)]
    padded = pad(
        image, geometry.pads, padded_rules, **_options(rules, value, stat_length, end_values)
    )
    # 1 where a sample is real along every partial axis, 0 on the padding of those axes
    real = np.ones(padded.shape)
    for axis, is_partial in enumerate(partial):
        if is_partial:
            before, after = geometry.pads[axis]
            real[(slice(None),) * axis + (slice(0, before),)] = 0
            real[(slice(None),) * axis + (slice(padded.shape[axis] - after, None),)] = 0

    out = allocate(geometry.out_shape, image.dtype, "the output")
    for o in np.ndindex(*geometry.out_shape):
        window = tuple(
            slice(i * s, i * s + (k - 1) * d + 1, d)
            for i, s, k, d in zip(
                o, geometry.strides, geometry.kernel_shape, geometry.dilations, strict=True
            )
        )
        out[o] = np.sum(padded[window] * kernel)
        if any(partial):
            on_image = real[window].sum()
            out[o] = out[o] * (kernel.size / on_image) if on_image else 0
    return out


def _options(rules: Sequence[Rule], value: float, stat_length: object, end_values: object):
    used = {opt for rule in rules for opt in rule.options}
    options: dict[str, object] = {}
    if "value" in used:
        options["value"] = value
    if "stat_length" in used:
        options["stat_length"] = stat_length
    if "end_values" in used:
        options["end_values"] = end_values
    return options
