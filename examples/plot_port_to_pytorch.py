"""
Porting a scipy or OpenCV filter to PyTorch
===========================================

A filter written with scipy.ndimage or OpenCV pads with that library's rule, and the names do not
carry over: scipy's ``"reflect"`` is numpy's ``"symmetric"``, and PyTorch has no such rule at all.
:func:`padlab.translate` says what a name means in another library, or that it has no equal, and
:class:`padlab.torch.PaddedConv2d` runs any padlab rule inside a PyTorch model.
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

import padlab
from padlab.torch import PaddedConv2d

rng = np.random.default_rng(0)
image = rng.random((32, 32))
kernel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])  # Sobel-y

# %%
# scipy.ndimage's default rule is ``"reflect"``. In padlab's words:
print("scipy:reflect is padlab", padlab.translate("scipy:reflect"))
print("scipy:mirror is torch", padlab.translate("scipy:mirror", to="torch"))
try:
    padlab.translate("scipy:reflect", to="torch")
except padlab.PadlabValueError as err:
    print("error:", err)

# %%
# The naive port, ``F.pad(mode="reflect")``, silently changes the rule: the border differs.
expected = ndi.correlate(image, kernel, mode="reflect")
t = torch.from_numpy(image)[None, None]
w = torch.from_numpy(kernel)[None, None]
naive = F.conv2d(F.pad(t, (1, 1, 1, 1), mode="reflect"), w)[0, 0].numpy()
print("naive torch port, max difference:", np.abs(naive - expected).max())

# %%
# With padlab: the same rule, by name, in a layer that is an ``nn.Conv2d``.
conv = PaddedConv2d(1, 1, 3, padding="same", padding_mode="scipy:reflect", bias=False).double()
with torch.no_grad():
    conv.weight.copy_(w)
    ported = conv(t)[0, 0].numpy()
print("PaddedConv2d, max difference:", np.abs(ported - expected).max())
direct = padlab.correlate(image, kernel, mode="scipy:reflect")
print("padlab.correlate, max difference:", np.abs(direct - expected).max())

# %%
# Where the naive port differs: only on the outermost ring, where the two rules invent different
# samples. Inside, every window reads real pixels and the results agree.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
lim = np.abs(naive - expected).max()
panels = {
    "naive F.pad(mode='reflect') - scipy": naive - expected,
    "PaddedConv2d('scipy:reflect') - scipy": ported - expected,
}
for ax, (title, diff) in zip(axes, panels.items(), strict=True):
    im = ax.imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes, shrink=0.8, label="difference")
plt.show()

# %%
# OpenCV's default border, ``BORDER_REFLECT_101``, is padlab's ``reflect``, which PyTorch has:
print("cv2:BORDER_REFLECT_101 is torch", padlab.translate("cv2:BORDER_REFLECT_101", to="torch"))
