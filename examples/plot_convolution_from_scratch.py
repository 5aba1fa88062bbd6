"""
Convolution from scratch
========================

A 2-D correlation is a window sliding over the image: each output is the sum of the window's
samples, each multiplied by the kernel's weight at that place. Written as two loops, on a small
image, and checked against :func:`padlab.correlate` (no padding: ``padding="valid"``).
A *convolution* is the same with the kernel flipped (:func:`padlab.convolve`).
"""

import matplotlib.pyplot as plt
import numpy as np

import padlab

rng = np.random.default_rng(0)
image = rng.integers(0, 10, size=(6, 8)).astype(float)
kernel = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])  # the Laplacian

kh, kw = kernel.shape
out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
for i in range(out.shape[0]):
    for j in range(out.shape[1]):
        window = image[i : i + kh, j : j + kw]
        out[i, j] = np.sum(window * kernel)

print("by hand:\n", out)
same = np.allclose(out, padlab.correlate(image, kernel, padding="valid"))
print("padlab.correlate agrees:", same)
flipped = kernel[::-1, ::-1]
print(
    "convolve = correlate with the flipped kernel:",
    np.allclose(
        padlab.convolve(image, kernel, padding="valid"),
        padlab.correlate(image, flipped, padding="valid"),
    ),
)

# %%
# The window of output (1, 2), drawn on the image: the 3x3 samples it multiplies by the kernel.

fig, axes = plt.subplots(1, 3, figsize=(9, 3), layout="constrained")
axes[0].imshow(image, cmap="gray")
axes[0].add_patch(plt.Rectangle((2 - 0.5, 1 - 0.5), 3, 3, fill=False, color="tab:red", lw=2))
axes[0].set_title(f"image {image.shape}")
axes[1].imshow(kernel, cmap="coolwarm", vmin=-4, vmax=4)
for (r, c), w in np.ndenumerate(kernel):
    axes[1].text(c, r, f"{w:g}", ha="center", va="center")
axes[1].set_title("kernel (Laplacian)")
axes[2].imshow(out, cmap="coolwarm")
axes[2].add_patch(plt.Rectangle((2 - 0.5, 1 - 0.5), 1, 1, fill=False, color="tab:red", lw=2))
axes[2].set_title(f"output {out.shape}: 'valid'")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
