"""``conv_nd``: the CNN layer's operation, with channel mixing, groups and every padding rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from padlab._validate import as_index, as_numeric_array
from padlab.errors import PadlabValueError
from padlab.geometry import Convention, Geometry, Padding, partial_scale
from padlab.modes.registry import Modes, check_rule_options, resolve_mode
from padlab.ops.dtypes import compute_dtype
from padlab.ops.filtering import (
    Casting,
    check_output,
    output_argument,
    prepare,
    rules_per_axis,
    run_problem,
)

__all__ = ["CONV_METHODS", "ConvMethod", "conv_nd"]

#: The engines :func:`conv_nd` can be forced to use with ``method=``.
ConvMethod = Literal["auto", "direct", "gemm", "reference"]
CONV_METHODS: tuple[ConvMethod, ...] = get_args(ConvMethod)


def conv_nd(
    input: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: Padding = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    mode: Modes = "zeros",
    value: float = 0,
    convention: Convention = "tf",
    method: ConvMethod = "auto",
    out: np.ndarray | None = None,
    output: np.ndarray | npt.DTypeLike | None = None,
    casting: Casting = "same_kind",
) -> np.ndarray:
    """CNN-style convolution with channel mixing and groups, like ``torch.nn.functional.conv2d``.

    ``out[n, o] = bias[o] + sum over c in o's group of correlate(input[n, c], weight[o, c])``.
    Like torch's ``conv1d``/``conv2d``/``conv3d`` this is a cross-correlation (the kernel is not
    flipped); unlike them, it takes every padlab padding rule, 'same' with any stride, and even
    kernels under a named convention.

    Parameters
    ----------
    input : array_like, shape (N, C, ...) or (C, ...)
        1, 2 or 3 spatial dimensions after the channels; without the batch axis the result has
        none either.
    weight : array_like, shape (O, C // groups, ...)
        One kernel per output and input channel of its group, with the input's spatial axes.
    bias : array_like, shape (O,), optional
    stride, dilation : int or sequence of int, default 1
    padding : 'valid', 'same', 'full', int or pairs, default 0
        As in :func:`padlab.correlate`; the default 0 is torch's.
    groups : int, default 1
        Input and output channels are split into this many groups, convolved separately.
    mode : str or sequence of str, default 'zeros'
        Any padlab rule. With ``'partial'`` every output is scaled by taps in the window /
        taps on real pixels before the bias is added, and outputs whose window holds no real
        pixel are 0 (as NVIDIA's reference PartialConv2d).
    value : float
        The constant of ``mode='constant'``.
    convention : str
        Where 'same' puts an odd extra padding sample: 'tf' (after) or 'scipy' (before).
    method : {'auto', 'direct', 'gemm', 'reference'}
        'direct' sums taps over all channels in one multi-threaded pass (best with few
        channels, such as a first layer); 'gemm' gathers patches through the padding rule
        (im2col) and multiplies matrices in BLAS (best with many channels); 'auto' picks one
        of them (see :func:`padlab.engine.choose.pick_conv`); 'reference' is the window loop.
    out : ndarray, optional
        An array of the result's shape to write into (and return). C-contiguous in the compute
        dtype, it receives the engine's output directly (no temporary of its size); otherwise
        the result is copied in.
    output : ndarray or dtype, optional
        scipy.ndimage's name: an array is ``out``; a dtype casts the result to it.
    casting : str, default 'same_kind'
        numpy's casting rule from the compute dtype to ``out``/``output`` (see
        :func:`padlab.correlate`).

    Returns
    -------
    ndarray, shape (N, O, ...)
        ``out`` if given, else in the compute dtype of :mod:`padlab.ops.dtypes`.

    Examples
    --------
    >>> import numpy as np
    >>> import padlab
    >>> x = np.ones((1, 2, 4, 4), dtype=np.float32)
    >>> w = np.ones((3, 2, 3, 3), dtype=np.float32)
    >>> padlab.conv_nd(x, w, padding="same").shape
    (1, 3, 4, 4)
    >>> padlab.conv_nd(x, w, padding="same")[0, 0]
    array([[ 8., 12., 12.,  8.],
           [12., 18., 18., 12.],
           [12., 18., 18., 12.],
           [ 8., 12., 12.,  8.]], dtype=float32)
    >>> padlab.conv_nd(x, w, padding="same", mode="partial")[0, 0, 0]
    array([18., 18., 18., 18.], dtype=float32)
    >>> buffer = np.empty((1, 3, 4, 4), dtype=np.float32)
    >>> padlab.conv_nd(x, w, padding="same", out=buffer) is buffer
    True
    """
    x = as_numeric_array(input, "input")
    w = as_numeric_array(weight, "weight")
    target, cast = output_argument("conv_nd", out, output, casting)
    n_spatial = w.ndim - 2
    if not 1 <= n_spatial <= 3:
        raise PadlabValueError(
            f"conv_nd: weight must have shape (O, C // groups, *kernel) with 1 to 3 kernel "
            f"axes, got {w.shape}"
        )
    unbatched = x.ndim == n_spatial + 1
    if unbatched:
        x = x[None]
    if x.ndim != n_spatial + 2:
        raise PadlabValueError(
            f"conv_nd: input {x.shape if not unbatched else x.shape[1:]} does not match weight "
            f"{w.shape}: expected (N, C, *spatial) or (C, *spatial) with {n_spatial} spatial axes"
        )
    groups = as_index(groups, "groups")
    n, c = x.shape[:2]
    o = w.shape[0]
    if groups < 1 or c % groups or o % groups:
        raise PadlabValueError(
            f"conv_nd: groups={groups} must be at least 1 and divide both the input channels "
            f"({c}, input {x.shape}) and the output channels ({o}, weight {w.shape})"
        )
    if w.shape[1] != c // groups:
        raise PadlabValueError(
            f"conv_nd: channel mismatch: input {x.shape} has {c} channels, so with groups="
            f"{groups} weight {w.shape} needs {c // groups} input channels in axis 1, not "
            f"{w.shape[1]}"
        )
    if x.size == 0 or w.size == 0:
        raise PadlabValueError(
            f"conv_nd: cannot convolve empty arrays: input {x.shape}, weight {w.shape}"
        )
    dtype = compute_dtype(x.dtype, "input")
    compute_dtype(w.dtype, "weight")
    weights = np.ascontiguousarray(w, dtype=dtype)
    b = None
    if bias is not None:
        b = as_numeric_array(bias, "bias").astype(dtype)
        if b.shape != (o,):
            raise PadlabValueError(
                f"conv_nd: bias must have shape ({o},) for weight {w.shape}, got {b.shape}"
            )
    geometry = Geometry.resolve(x.shape[2:], w.shape[2:], padding, stride, dilation, convention)
    rules = rules_per_axis(mode, n_spatial)
    check_rule_options(rules, value=value)
    partial = tuple(r.kind == "partial" for r in rules)
    # partial scaling happens once, after channel mixing and before the bias
    plain = tuple(r if r.kind != "partial" else resolve_mode("zeros") for r in rules)

    xs = np.ascontiguousarray(x, dtype=dtype)
    shape = (n, o, *geometry.out_shape)
    direct = None
    check_output("conv_nd", target, shape[1:] if unbatched else shape, dtype, casting, cast)
    if target is not None:
        if target.dtype == dtype and target.flags.c_contiguous and target.flags.aligned:
            if not np.may_share_memory(target, x):
                direct = target.reshape(shape)
    if method == "reference":
        out = np.zeros(shape, dtype=dtype)
        per_group_in, per_group_out = c // groups, o // groups
        for oc in range(o):
            g = oc // per_group_out
            for ci in range(per_group_in):
                out[:, oc] += run_problem(
                    np.ascontiguousarray(xs[:, g * per_group_in + ci]),
                    weights[oc, ci],
                    geometry,
                    plain,
                    value=value,
                    method="reference",
                )
    elif method in ("auto", "direct", "gemm"):
        from padlab.engine.choose import pick_conv
        from padlab.engine.direct import conv_direct  # numba: import on first use
        from padlab.engine.gemm import conv_gemm
        from padlab.ops.warmup import ensure

        ensure()  # the first call on a machine compiles every kernel, saying so

        flat = xs.reshape(n * c, *xs.shape[2:])
        problem = prepare(flat, weights[0, 0], geometry, plain, value=value)
        px = problem.x.reshape(n, c, *problem.x.shape[1:])
        chosen = (
            pick_conv(c // groups, o // groups, weights[0, 0].size) if method == "auto" else method
        )
        engine = conv_gemm if chosen == "gemm" else conv_direct
        out = engine(px, weights, groups, problem.geometry, problem.codes, problem.value, direct)
        if direct is not None and out.ctypes.data != direct.ctypes.data:
            direct[...] = out  # an engine that does not write into ``out`` yet
            out = direct
    else:
        raise PadlabValueError(
            f"conv_nd: unknown method {method!r}; allowed: 'auto', 'direct', 'gemm', 'reference'"
        )
    if any(partial):
        scale = partial_scale(geometry, partial, dtype)
        out *= scale
    if b is not None:
        out += b.reshape((1, o) + (1,) * n_spatial)
        if any(partial):
            out *= scale > 0
    result = out[0] if unbatched else out
    if target is not None:
        if result.ctypes.data != target.ctypes.data:  # not written in place (reference, layout)
            np.copyto(target, result, casting=casting)
        return target
    if cast is not None:
        return result.astype(cast, casting=casting)
    return result
