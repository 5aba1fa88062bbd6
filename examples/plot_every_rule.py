"""
Every rule on one image
=======================

A toy image padded by its own size on every side, with each padding rule: the middle ninth of
each panel is the image, everything around it is invented by the rule. Wide padding shows the
pattern each rule repeats (the style of scikit-image's edge-modes figure). The diagram in each
title is the rule applied to the signal ``a b c d``; :doc:`/rules` lists every rule's name in
every library. All panels share one colour scale, 0 (black) to 1 (white): the odd reflections
invent values outside the image's range, which show clipped.
"""

import matplotlib.pyplot as plt
import numpy as np

import padlab

size = 12
y, x = np.mgrid[:size, :size]
image = (x + 2 * y).astype(float) / (3 * (size - 1))  # a ramp ...
image[3:6, 6:10] = 1.0  # ... with a bright block near one corner

rules = [rule for rule in padlab.RULES if rule.kind != "partial"]  # partial pads nothing
cols = 4
rows = -(-len(rules) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(12, 3.3 * rows), layout="constrained")
for ax in axes.ravel():
    ax.set_axis_off()
for ax, rule in zip(axes.ravel(), rules, strict=False):
    padded = padlab.pad(image, size, rule.name)
    ax.imshow(padded, cmap="magma", vmin=0, vmax=1)
    ax.add_patch(plt.Rectangle((size - 0.5, size - 0.5), size, size, fill=False, color="cyan"))
    ax.set_title(f"{rule.name}\n{rule.pattern}", fontsize=8, family="monospace")
    ax.set_axis_on()
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %%
# ``partial`` is a convolution rule, not a padding: it reads zeros and rescales each window by
# how many of its taps were real. A box filter of a constant image shows it: zero padding darkens
# the border, partial padding does not.
constant = np.full((6, 6), 1.0)
box = np.ones((3, 3)) / 9
print("zeros:  ", padlab.correlate(constant, box, mode="zeros")[0].round(3))
print("partial:", padlab.correlate(constant, box, mode="partial")[0].round(3))
