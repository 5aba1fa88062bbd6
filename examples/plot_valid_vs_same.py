"""
'valid' shrinks, 'same' invents
===============================

Without padding (``padding="valid"``) a 3x3 kernel fits only where the whole window lies on the
image: a 224x224 image gives 222x222, and every layer of a CNN loses a ring. ``padding="same"``
keeps the size by inventing one ring of samples around the image; the padding rule (``mode=``)
says what they are.
"""

import matplotlib.pyplot as plt
import numpy as np

import padlab

image = np.ones((224, 224))
box = np.ones((3, 3)) / 9
print("valid:", padlab.correlate(image, box, padding="valid").shape)
print("same: ", padlab.correlate(image, box, padding="same").shape)
print("full: ", padlab.correlate(image, box, padding="full").shape)

# five layers: the 'valid' output keeps shrinking
size = 224
for layer in range(1, 6):
    size = padlab.output_shape(size, 3, "valid")
    print(f"after {layer} valid 3x3 layers: {size} px")

# %%
# On a constant image the difference is visible: 'valid' is exact but smaller; 'same' with zero
# padding darkens the border ring (the box filter averages in zeros), 'same' with the reflect rule
# does not.

outputs = {
    "valid (222x222)": padlab.correlate(image, box, padding="valid"),
    "same, zeros": padlab.correlate(image, box, padding="same", mode="zeros"),
    "same, reflect": padlab.correlate(image, box, padding="same", mode="reflect"),
}
fig, axes = plt.subplots(1, 3, figsize=(9, 3.4), layout="constrained")
for ax, (title, out) in zip(axes, outputs.items(), strict=True):
    im = ax.imshow(out[:12, :12], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{title}\ntop-left 12x12")
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()
