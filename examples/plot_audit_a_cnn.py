"""
Auditing a CNN's padding
========================

A strided convolution pads evenly only if ``(n + 2p - k) mod s == 0``; otherwise its bottom and
right padding is never read, and the network treats the top-left and bottom-right borders
differently. :func:`padlab.torch.audit` lists every convolution and pooling layer of a model with
its padding, whether any of it goes unread, and its receptive field.
:func:`padlab.torch.convert_padding` then gives every convolution another rule, keeping the
weights. The model here is a tiny ResNet-like stem, built on the spot (no download).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import padlab
from padlab.torch import audit, convert_padding

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 16, 7, stride=2, padding=3),  # the ResNet stem
    nn.ReLU(),
    nn.MaxPool2d(3, stride=2, padding=1),
    nn.Conv2d(16, 32, 3, stride=2, padding=1),
    nn.ReLU(),
    nn.Conv2d(32, 64, 3, stride=2, padding=1),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(64, 10),
)

report = audit(model, (3, 224, 224))
print(report.table())

# %%
# At 224 px every strided layer leaves a row and a column of padding unread; at 225 px none does.
print("uneven strided layers at 224 px:", report.uneven)
print("uneven strided layers at 225 px:", audit(model, (3, 225, 225)).uneven)
# the same from the sizes alone: (kernel, stride, padding) per strided layer
stack = [(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1)]
sizes = np.arange(200, 260)
unread = np.array([[layer.unused for layer in padlab.uneven_padding(int(n), stack).layers]
                   for n in sizes])  # fmt: skip
for size in (224, 225):
    print(size, "px: unread padding per layer", unread[sizes == size][0].tolist())

# %%
# Which input sizes pad evenly? Those where no strided layer leaves padding unread: here one size
# in 16 (n = 1 mod 16, since four layers halve it).
fig, ax = plt.subplots(figsize=(8, 2.6), layout="constrained")
ax.bar(sizes, (unread > 0).sum(axis=1), color="tab:red", width=0.8)
ax.set_xlabel("input size (px)")
ax.set_ylabel("layers with\nunread padding")
ax.set_yticks(range(len(stack) + 1))
plt.show()

# %%
# Convert every convolution to partial-convolution padding: same weights, same output shape.
converted = convert_padding(model, "partial").model
x = torch.rand(1, 3, 224, 224)
with torch.no_grad():
    before, after = model(x), converted(x)
print("output shapes:", tuple(before.shape), tuple(after.shape))
print("largest change of a logit:", float((after - before).abs().max()))
