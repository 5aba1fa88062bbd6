"""
Does padding teach a CNN where things are?
==========================================

The Red-Green experiment of Kayhan & van Gemert (CVPR 2020): two 4x4 boxes on black 32x32 images;
class 0 is red left of green in the top band, class 1 green left of red in the bottom band. On the
"dissimilar" test set each class sits in the other band, so a network that learned *where* the
boxes are, instead of their colour order, fails there. The only way to know where is the border,
through the padding.

This is a very small run (one seed, few images and epochs, three variants) so that the gallery
builds quickly: its numbers are noisy. The README has the full run (three seeds, 2000 training
images, eight variants); ``padlab experiment position`` reproduces it.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from padlab.torch.experiment import make_dataset, position_experiment

torch.set_num_threads(2)

# %%
# Two images of each set: the classes differ by colour order and by band; on the dissimilar
# set the bands are swapped.
similar, dissimilar = make_dataset(4, 3), make_dataset(4, 4, dissimilar=True)
fig, axes = plt.subplots(1, 4, figsize=(8, 2.4), layout="constrained")
for ax, (x, y), title in zip(
    axes,
    [(similar[0][i], similar[1][i]) for i in (0, 1)]
    + [(dissimilar[0][i], dissimilar[1][i]) for i in (0, 1)],
    ["similar", "similar", "dissimilar", "dissimilar"],
    strict=True,
):
    ax.imshow(np.asarray(x).transpose(1, 2, 0))
    ax.set_title(f"{title}, class {int(y)}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %%
# Train: no padding ('valid'), zero 'same' padding, and circular padding (no border at all).
variants = (("valid", "zeros", 0), ("zeros same", "zeros", 1), ("circular", "circular", 1))
result = position_experiment(
    seeds=1, epochs=6, patience=3, train=300, val=100, test=200, variants=variants
)
print(result.table())
print(f"{result.seconds:.1f} s")
