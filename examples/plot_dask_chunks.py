"""
Chunked filtering without seams: padlab.dask vs dask-image
==========================================================

A 256 x 256 periodic texture is split into 64 x 64 chunks and blurred with a Gaussian
(sigma = 2) under circular padding ("wrap"): the right answer treats the image as a torus.

dask-image filters every chunk with ``scipy.ndimage`` and lets scipy pad each chunk by itself.
That is right at the chunk seams (dask gives each chunk a halo of its neighbours) but wrong at
the image border for ``mode='wrap'``: each border chunk is wrapped onto *itself* instead of onto
the opposite side of the image, and a seam appears around the frame.

``padlab.dask.correlate`` builds one virtual padded image for the whole array: seams read the
neighbouring chunks, and the border reads the opposite side of the image, whatever the chunking.
Its result is the in-memory result.
"""

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import scipy.ndimage as ndi
from dask_image import ndfilters

import padlab.dask

dask.config.set(scheduler="threads")

# %%
# A periodic texture (a torus has no border), in 64 x 64 chunks
n = 256
y, x = np.mgrid[0:n, 0:n] / n
texture = (np.sin(2 * np.pi * 3 * x) * np.cos(2 * np.pi * 5 * y)).astype(np.float32)
chunked = da.from_array(texture, chunks=64)

# %%
# The truth (scipy in memory), dask-image on chunks, padlab.dask on chunks
sigma = 2
truth = ndi.gaussian_filter(texture, sigma, mode="wrap")
theirs = ndfilters.gaussian_filter(chunked, sigma, mode="wrap").compute()

# scipy's Gaussian kernel (radius 4 sigma), as a 2-D array for padlab
delta = np.zeros(8 * sigma + 1, np.float32)
delta[4 * sigma] = 1
g = ndi.gaussian_filter1d(delta, sigma, mode="constant")
ours = padlab.dask.correlate(chunked, np.outer(g, g), mode="circular").compute()

err_theirs = np.abs(theirs - truth)
err_ours = np.abs(ours - truth)
print(f"dask-image: max error {err_theirs.max():.3f}, "
      f"{100 * (err_theirs > 1e-4).mean():.1f}% of pixels wrong")  # fmt: skip
print(f"padlab.dask: max error {err_ours.max():.1e}")

# %%
# Where the errors are: a frame around the image, as deep as the Gaussian's radius
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), constrained_layout=True)
axes[0].imshow(texture, cmap="gray")
axes[0].set_title("input, 64 x 64 chunks")
for k in range(64, n, 64):
    axes[0].axhline(k - 0.5, color="tab:orange", lw=0.8)
    axes[0].axvline(k - 0.5, color="tab:orange", lw=0.8)
vmax = float(err_theirs.max())
im = axes[1].imshow(err_theirs, cmap="magma", vmin=0, vmax=vmax)
axes[1].set_title(f"dask-image wrap: |error|, max {vmax:.2f}")
axes[2].imshow(err_ours, cmap="magma", vmin=0, vmax=vmax)
axes[2].set_title(f"padlab.dask circular: |error|, max {err_ours.max():.0e}")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes[1:], shrink=0.8, label="|result - scipy in memory|")
plt.show()
