"""How each oracle library pads, observed by running it.

Each function returns the padded array the library itself produces for a padlab rule's name in
that library, so tests compare padlab with the libraries, never with padlab's own tables.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import scipy.ndimage as ndi
import scipy.signal
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def numpy_pad(x: np.ndarray, widths, name: str) -> np.ndarray:
    """numpy.pad with numpy's name ('reflect+odd' means reflect_type='odd')."""
    if name.endswith("+odd"):
        return np.pad(x, widths, mode=name[:-4], reflect_type="odd")
    return np.pad(x, widths, mode=name)


def ndimage_extension(x: np.ndarray, widths, name: str) -> np.ndarray:
    """The extension scipy.ndimage's filters use, observed through delta-kernel correlations.

    ``correlate(x, w, origin=o)[i] = sum_j w[j] x[i + j - (len(w) // 2 + o)]``, so a kernel
    whose only nonzero tap sits at one end, with the origin pushed to the other end, shows the
    extension shifted by ``s`` (``|s| + 1`` taps). Each call shows ``n`` consecutive samples,
    so a few calls cover the whole padded array, however wide the padding.
    """
    widths = [tuple(w) for w in widths]
    x = np.asarray(x, dtype=np.float64)
    out_shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths, strict=True))
    out = np.full(out_shape, np.nan)
    shifts_per_axis = [range(-b, n + a, n) for n, (b, a) in zip(x.shape, widths, strict=True)]
    for shifts in itertools.product(*shifts_per_axis):
        sizes = [abs(s) + 1 for s in shifts]
        kernel = np.zeros(sizes)
        kernel[tuple(size - 1 if s >= 0 else 0 for s, size in zip(shifts, sizes, strict=True))] = 1
        origin = [
            -(size // 2) if s >= 0 else (size - 1) // 2
            for s, size in zip(shifts, sizes, strict=True)
        ]
        seen = ndi.correlate(x, kernel, mode=name, origin=origin)  # seen[i] = ext[i + s]
        src = []
        dst = []
        for s, n, (b, a) in zip(shifts, x.shape, widths, strict=True):
            count = min(n, n + a - s)
            src.append(slice(0, count))
            dst.append(slice(s + b, s + b + count))
        out[tuple(dst)] = seen[tuple(src)]
    assert not np.isnan(out).any()
    return out


def signal_extension(x: np.ndarray, widths, name: str) -> np.ndarray:
    """The boundary extension of scipy.signal.correlate2d, observed on a 2-D array.

    correlate2d(x, k, 'same') with an odd kernel of size 2c+1 reads ``ext[i + j - c]``, so a
    delta at ``c + o`` shows the extension shifted by ``o``.
    """
    (top, bottom), (left, right) = widths
    h, w = x.shape
    out = np.full((h + top + bottom, w + left + right), np.nan)
    c = top + bottom + left + right + h + w
    k = np.zeros((2 * c + 1, 2 * c + 1))
    for oy in range(-top, h + bottom, h):
        for ox in range(-left, w + right, w):
            k[:] = 0
            k[c + oy, c + ox] = 1.0
            seen = scipy.signal.correlate2d(np.asarray(x, float), k, mode="same", boundary=name)
            ch = min(h, h + bottom - oy)
            cw = min(w, w + right - ox)
            out[oy + top : oy + top + ch, ox + left : ox + left + cw] = seen[:ch, :cw]
    assert not np.isnan(out).any()
    return out


def cv2_pad(x: np.ndarray, widths, name: str) -> np.ndarray:
    """cv2.copyMakeBorder on a 1-D (as a row) or 2-D array, or a 3-D (H, W, C) image."""
    border = getattr(cv2, name)
    if x.ndim == 1:
        ((left, right),) = widths
        return cv2.copyMakeBorder(x[None, :], 0, 0, left, right, border, value=0)[0]
    (top, bottom), (left, right) = widths[:2]
    out = cv2.copyMakeBorder(x, top, bottom, left, right, border, value=(0,) * 4)
    if x.ndim == 3 and out.ndim == 2:  # a 1-channel (H, W, 1) image comes back as (H, W)
        out = out[..., None]
    return out


def torch_pad(x: np.ndarray, widths, name: str) -> np.ndarray:
    """torch.nn.functional.pad (name 'zeros' observed through Conv with padding_mode)."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if name == "zeros":
        return _torch_conv_zeros(x, widths)
    flat = [w for pair in reversed(widths) for w in pair]  # last axis first
    batch = t[None, None]  # F.pad's non-constant modes want (N, C, ...) input
    return F.pad(batch, flat, mode=name)[0, 0].numpy()


def _torch_conv_zeros(x: np.ndarray, widths) -> np.ndarray:
    nd = x.ndim
    conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[nd]
    pads = [b for b, a in widths]
    assert all(b == a for b, a in widths)
    layer = conv(1, 1, 1, padding=pads, padding_mode="zeros", bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        return layer(torch.from_numpy(np.asarray(x, np.float64))[None, None])[0, 0].numpy()


def onnx_pad(x: np.ndarray, widths, name: str) -> np.ndarray:
    """The ONNX Pad operator (opset 21) run by onnx's reference evaluator."""
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode=name)
    graph = helper.make_graph(
        [node],
        "pad",
        [
            helper.make_tensor_value_info("x", TensorProto.DOUBLE, None),
            helper.make_tensor_value_info("pads", TensorProto.INT64, None),
        ],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    pads = np.array([b for b, _ in widths] + [a for _, a in widths], dtype=np.int64)
    (y,) = ReferenceEvaluator(model).run(None, {"x": np.asarray(x, np.float64), "pads": pads})
    return y
