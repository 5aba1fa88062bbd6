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
    batch: np.ndarray,
    kernel: np.ndarray,
    geometry: Geometry,
    rules: Sequence[Rule],
    *,
    value: float = 0.0,
    stat_length: object = None,
    end_values: object = 0,
) -> np.ndarray:
    """Correlate every array of ``batch`` (B, *spatial) with a kernel of the spatial ndim.

    Parameters
    ----------
    batch, kernel : ndarray
        ``batch`` has one more axis than ``kernel`` (the first: images, channels), both already
        in the compute dtype.
    geometry : Geometry
        Pads, strides and dilations (see :class:`padlab.geometry.Geometry`).
    rules : sequence of Rule
        One padding rule per spatial axis.
    value, stat_length, end_values
        Options of the rules, as in :func:`padlab.pad`.

    Returns
    -------
    ndarray, shape (B, *geometry.out_shape)
        ``out[b, o] = sum(window(o) * kernel)``, where ``window(o)`` starts at ``o * stride`` in
        the padded array ``b`` and takes every ``dilation``-th sample. With the ``partial``
        rule, each output is then multiplied by (taps in the window) / (taps on real samples),
        or set to 0 if no tap is on a real sample.

    Notes
    -----
    The batch is padded at once, as the fast engines pad it (and as ``numpy.pad`` pads a
    stack with zero widths on its first axis): for the arithmetic rules numpy's results for a
    stack can differ from its results for each array alone in the last bits (``linear_ramp``'s
    ``linspace`` changes its formula for the whole stack when one ramp is flat), so padding
    item by item would make the reference differ from the engines it checks.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.modes import resolve_mode
    >>> g = Geometry.resolve((3,), (3,), "same")
    >>> correlate_reference(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]), np.ones(3), g,
    ...                     [resolve_mode("reflect")])
    array([[5., 6., 7.],
           [0., 1., 1.]])
    """
    partial = [rule.kind == "partial" for rule in rules]
    padded_rules = ["zeros" if p else rule.name for rule, p in zip(rules, partial, strict=True)]
    padded = pad(
        batch,
        geometry.pads,
        padded_rules,
        axes=tuple(range(1, batch.ndim)),
        **_options(rules, value, stat_length, end_values),
    )
    # 1 where a sample is real along every partial axis, 0 on the padding of those axes
    real = np.ones(padded.shape[1:])
    for axis, is_partial in enumerate(partial):
        if is_partial:
            before, after = geometry.pads[axis]
            real[(slice(None),) * axis + (slice(0, before),)] = 0
            real[(slice(None),) * axis + (slice(real.shape[axis] - after, None),)] = 0

    out = allocate((batch.shape[0], *geometry.out_shape), batch.dtype, "the output")
    for item in range(batch.shape[0]):
        for o in np.ndindex(*geometry.out_shape):
            window = tuple(
                slice(i * s, i * s + (k - 1) * d + 1, d)
                for i, s, k, d in zip(
                    o, geometry.strides, geometry.kernel_shape, geometry.dilations, strict=True
                )
            )
            at = (item, *o)
            out[at] = np.sum(padded[item][window] * kernel)
            if any(partial):
                on_image = real[window].sum()
                out[at] = out[at] * (kernel.size / on_image) if on_image else 0
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
