"""
Does padding teach a CNN where things are?
==========================================

The Red-Green experiment of Kayhan & van Gemert (CVPR 2020): two 4x4 boxes on a black image;
class 0 is red left of green in the top band, class 1 green left of red in the bottom band. On the
"dissimilar" test set each class sits in the other band, so a network that learned *where* the
boxes are, instead of their colour order, fails there. The only way to know where is the border,
through the padding.

This is a very small run, so that the gallery builds quickly: 24x24 images instead of 32x32, 300
training images, four epochs of Adam, one seed, three padding variants. Its numbers are noisy.
The README has the full run (32x32, 2000 training images, three seeds, eight variants, the
paper's optimiser); ``padlab experiment position`` reproduces it with
:func:`padlab.torch.position_experiment`.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from padlab.torch.experiment import make_dataset, red_green_net

torch.set_num_threads(2)
SIZE = 24
train = make_dataset(300, 1, size=SIZE)
similar = make_dataset(200, 3, size=SIZE)
dissimilar = make_dataset(200, 4, dissimilar=True, size=SIZE)

# %%
# Two images of each test set: the classes differ by colour order and by band; on the dissimilar
# set the bands are swapped.
fig, axes = plt.subplots(1, 4, figsize=(8, 2.4), layout="constrained")
shown = [(similar, 0), (similar, 1), (dissimilar, 0), (dissimilar, 1)]
for ax, ((images, labels), i) in zip(axes, shown, strict=True):
    ax.imshow(images[i].numpy().transpose(1, 2, 0))
    name = "similar" if images is similar[0] else "dissimilar"
    ax.set_title(f"{name}, class {int(labels[i])}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()


# %%
# The network of the experiment (:func:`padlab.torch.experiment.red_green_net`: four 3x3
# convolutions, the last three strided, global max pooling), with every convolution padded by
# the rule under test: none ('valid'), zeros ('same'), or circular (no border at all).
def accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        return float((model(images).argmax(dim=1) == labels).float().mean())


results = {}
for name, rule, padding in [("valid", "zeros", 0), ("zeros, same", "zeros", 1),
                            ("circular", "circular", 1)]:  # fmt: skip
    torch.manual_seed(0)
    model = red_green_net(rule, padding)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    images, labels = train
    for _epoch in range(4):
        model.train()
        for batch in torch.randperm(len(images)).split(50):
            optimiser.zero_grad()
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimiser.step()
    results[name] = (accuracy(model, *similar), accuracy(model, *dissimilar))
    print(f"{name:12s} similar {results[name][0]:6.1%}   dissimilar {results[name][1]:6.1%}")

# %%
# Without padding the network can only learn the position, so it fails on the dissimilar set;
# with circular padding it cannot see the border, and learns the colour order.
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
names = list(results)
x = np.arange(len(names))
ax.bar(x - 0.2, [results[n][0] for n in names], 0.4, label="similar test")
ax.bar(x + 0.2, [results[n][1] for n in names], 0.4, label="dissimilar test")
ax.set_xticks(x, names)
ax.set_ylabel("accuracy")
ax.set_ylim(0, 1.05)
ax.legend(loc="lower left")
plt.show()
