"""Feature bias: mean activation maps and border-distance profiles of a model's layers.

"Mind the Pad" (Alsallakh et al., ICLR 2021) found padding artifacts by averaging feature maps
over many inputs: a model without spatial bias gives flat mean maps; lines and frames near the
border are the padding's trace. This module computes those means for chosen layers over probe
inputs (noise, a constant image, photos) and the profile by distance to the border, reusing
:func:`padlab.border_profile`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from padlab.analysis.metrics import BorderProfile, border_profile
from padlab.errors import PadlabValueError

__all__ = ["FeatureBias", "feature_bias", "probe_inputs"]


@dataclass(frozen=True)
class FeatureBias:
    """Mean activation of one layer over a set of probe inputs."""

    layer: str
    inputs: str
    mean_map: np.ndarray
    profile: BorderProfile
    note: str = ""

    @property
    def border_over_interior(self) -> float:
        """Mean activation on the outermost ring over the interior's (1 = no border bias).

        NaN when the map has no interior (every position touches the border); ``note`` says so.
        """
        if self.note:
            return float("nan")
        inside = self.profile.mean[-1]
        return float(self.profile.mean[0] / inside) if inside else float("inf")


def probe_inputs(kind: str, count: int, size: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """Probe batches: 'noise' (uniform), 'constant' (0.5 gray), 'photos' (sample photo crops).

    Examples
    --------
    >>> probe_inputs("constant", 2, (3, 8, 8)).shape
    torch.Size([2, 3, 8, 8])
    """
    generator = np.random.default_rng(seed)
    c, h, w = size
    if kind == "noise":
        data = generator.random((count, c, h, w))
    elif kind == "constant":
        data = np.full((count, c, h, w), 0.5)
    elif kind == "photos":
        from padlab.io.images import resize, sample_image, to_float

        photo = to_float(sample_image())
        crops = []
        for _ in range(count):
            top = int(generator.integers(0, photo.shape[0] - h // 2))
            left = int(generator.integers(0, photo.shape[1] - w // 2))
            crop = photo[top : top + max(h // 2, 8), left : left + max(w // 2, 8)]
            crop = resize(crop, (h, w))
            crops.append(np.moveaxis(crop[..., :c] if c <= 3 else crop, -1, 0))
        data = np.stack(crops)
    else:
        raise PadlabValueError(f"unknown probe {kind!r}; allowed: noise, constant, photos")
    return torch.as_tensor(data, dtype=torch.float32)


def feature_bias(
    model: nn.Module,
    layers: list[str] | None = None,
    *,
    inputs: tuple[str, ...] = ("noise", "constant", "photos"),
    count: int = 8,
    size: tuple[int, int, int] = (3, 64, 64),
    max_distance: int | None = None,
) -> list[FeatureBias]:
    """Mean activation maps and border profiles of ``layers`` over probe inputs.

    Parameters
    ----------
    model : nn.Module
    layers : list of str, optional
        Names from ``model.named_modules()``; by default every Conv2d.
    inputs : tuple of str
        Probe kinds, see :func:`probe_inputs`.
    count : int
        Images per probe kind.
    size : (C, H, W)
    max_distance : int, optional
        Profile length; distances beyond it are pooled as the interior.

    Returns
    -------
    list of FeatureBias
        One per layer and probe kind: the mean map (over channels and images) and its profile.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from padlab.torch import feature_bias
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.fill_(1.0)
    >>> bias = feature_bias(net, inputs=("constant",), count=1, size=(3, 16, 16))
    >>> round(bias[0].border_over_interior, 4)  # edges read 6 of 9 taps, corners 4
    0.6519
    """
    names = layers or [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise PadlabValueError(
            f"unknown layer(s) {missing}; layers are named as in model.named_modules()"
        )
    results = []
    was_training = model.training
    model.eval()
    try:
        for kind in inputs:
            batch = probe_inputs(kind, count, size)
            captured: dict[str, torch.Tensor] = {}
            hooks = [
                modules[n].register_forward_hook(
                    lambda mod, args, out, n=n, store=captured: store.__setitem__(n, out.detach())
                )
                for n in names
            ]
            try:
                with torch.no_grad():
                    model(batch)
            finally:
                for h in hooks:
                    h.remove()
            for n in names:
                mean_map = captured[n].mean(dim=(0, 1)).double().cpu().numpy()
                side = min(mean_map.shape)
                note = ""
                distance = max_distance
                if side < 3:
                    note = f"the {mean_map.shape[0]}x{mean_map.shape[1]} map has no interior"
                elif distance is None:  # a ring and an interior even on small maps
                    distance = max(2, min(side // 4, (side - 1) // 2 + 1))
                profile = border_profile(mean_map, max_distance=distance)
                results.append(FeatureBias(n, kind, mean_map, profile, note))
    finally:
        model.train(was_training)
    return results
