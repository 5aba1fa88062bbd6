"""
Choosing a rule with padlab.compare
===================================

Which padding rule suits this image and this kernel? :func:`padlab.compare` measures it instead of
guessing: it filters an inner window of the photo as if it were the whole image, and compares with
the same region filtered inside the whole photo. Beyond the window's edge the photo supplies the
truth, so the difference, the *context error*, is exactly what each rule invented. The rules are
ranked by it; the table also gives the false-edge ratio, the distribution shift between border and
interior, and more (:doc:`/guide/measuring`).
"""

import matplotlib.pyplot as plt
import numpy as np

import padlab

photo = padlab.to_float(padlab.sample_image(gray=True))[::2, ::2]  # 300x256, for speed
kernel = padlab.get_kernel("outline")
result = padlab.compare(photo, kernel, ["zeros", "reflect", "symmetric", "replicate", "partial"])
print(result.table())
print("lowest context error:", result.records[0].mode)

# %%
# The context error and the false-edge ratio of each rule, side by side.

names = [r.mode for r in result.records]
rmse = [r.context_error_rmse for r in result.records]
edges = [r.false_edge_ratio for r in result.records]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
axes[0].barh(names, rmse, color="tab:blue")
axes[0].set_xlabel("context error (RMS over the border band)")
axes[0].invert_yaxis()
axes[1].barh(names, edges, color="tab:orange")
axes[1].axvline(1.0, color="k", lw=1)
axes[1].set_xlabel("false-edge ratio (1 = no false edge)")
axes[1].invert_yaxis()
fig.suptitle("outline kernel on the sample photo")
plt.show()

# %%
# One rule at a time, :func:`padlab.context_error` also returns the error map: zero everywhere
# except in a band one kernel radius wide along the window's edge.
error = padlab.context_error(photo, kernel, "zeros")
print(f"zeros: RMS {error.rmse:.4f} and max {error.max_abs:.4f} in a band of {error.band} px")
print(f"largest error farther in: {error.interior_max_abs}")
fig, ax = plt.subplots(figsize=(4, 4.4), layout="constrained")
lim = np.abs(error.error).max()
ax.imshow(error.error, cmap="coolwarm", vmin=-lim, vmax=lim)
ax.set_title("context error map, zeros")
ax.set_xticks([])
ax.set_yticks([])
plt.show()
