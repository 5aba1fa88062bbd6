"""
Sharpen, blur, outline
======================

Three classic kernels on the sample photo, with padlab's named kernels
(:func:`padlab.get_kernel`). Sharpen and blur keep the brightness (their weights sum to 1);
outline sums to 0, so its response is signed, and :func:`padlab.display` maps it to pixels
(here: its absolute value).
"""

import matplotlib.pyplot as plt

import padlab

photo = padlab.to_float(padlab.sample_image(gray=True)[:300, 100:400])  # the face, in [0, 1]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
axes[0].imshow(photo, cmap="gray", vmin=0, vmax=1)
axes[0].set_title("photo")
for ax, name in zip(axes[1:], ["sharpen", "blur", "outline"], strict=True):
    kernel = padlab.get_kernel(name)
    response = padlab.correlate(photo, kernel, mode="reflect")
    mapped = padlab.display(response, "abs" if name == "outline" else "clip")
    ax.imshow(mapped.pixels, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name}, reflect")
    print(f"{name}:\n{kernel}\n{mapped.summary}\n")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
