"""
The zero-padded photo, its Laplacian and its histogram
======================================================

The classic figure of border effects. Pad a photo with zeros and it gains a black frame; the
Laplacian, an edge detector, fires on that frame, where the photo has no edge; and the histogram
of the padded photo grows a spike at 0. The photo is Grace Hopper, from matplotlib's sample data
(:func:`matplotlib.cbook.get_sample_data`).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cbook

import padlab

with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = plt.imread(f)  # (600, 512, 3) uint8
gray = padlab.to_float(padlab.to_gray(photo))  # luma in [0, 1]

width = 16
padded = padlab.pad(gray, width, "zeros")
laplacian = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
response = padlab.correlate(padded, laplacian, padding="valid")  # the padded photo's Laplacian

# the photo's own border, 2 px wide, inside the frame: where the frame's false edge is
inner = np.abs(response[width - 1 : -(width - 1), width - 1 : -(width - 1)])
band = np.zeros(inner.shape, bool)
band[:2], band[-2:], band[:, :2], band[:, -2:] = True, True, True, True
print(f"mean |Laplacian| on the photo's outermost 2 px: {inner[band].mean():.3f}")
print(f"mean |Laplacian| inside:                        {inner[~band].mean():.3f}")
print(f"share of pixels exactly 0, photo:  {np.mean(gray == 0):.4f}")
print(f"share of pixels exactly 0, padded: {np.mean(padded == 0):.4f}")

# %%
layout = [["pad", "lap"], ["hist", "hist"]]
fig, axes = plt.subplot_mosaic(layout, figsize=(8, 8), layout="constrained")
axes["pad"].imshow(padded, cmap="gray", vmin=0, vmax=1)
axes["pad"].set_title(f"padded with zeros ({width} px)")
strength = np.abs(response)
axes["lap"].imshow(strength, cmap="gray", vmin=0, vmax=np.percentile(strength, 99.5))
axes["lap"].set_title("|Laplacian| of the padded photo:\nthe frame's edge is the strongest")
for name in ("pad", "lap"):
    axes[name].set_xticks([])
    axes[name].set_yticks([])
bins = np.linspace(0, 1, 65)
axes["hist"].hist(padded.ravel(), bins=bins, histtype="step", lw=2, label="zero-padded photo")
axes["hist"].hist(gray.ravel(), bins=bins, histtype="step", lw=2, label="photo")
axes["hist"].set_yscale("log")
axes["hist"].set_xlabel("gray level")
axes["hist"].set_ylabel("pixels (log)")
axes["hist"].set_title("histogram: the padding is a spike at 0")
axes["hist"].legend()
plt.show()
