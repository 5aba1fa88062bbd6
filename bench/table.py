"""Render bench/results/filters.json (from bench/filters.py) as the README's Markdown tables.

Usage::

    python bench/table.py bench/results/filters.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main() -> None:
    data = json.loads(
        Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/filters.json").read_text()
    )
    rows, meta, cnn = data["filters"], data["meta"], data["cnn"]
    print(
        f"Measured by `python bench/filters.py` on a {meta['cpus']}-core {meta['machine']} machine "
        f"(shared, noisy): numpy {meta['numpy']}, scipy {meta['scipy']}, OpenCV {meta['opencv']} "
        f"({meta['threads']['cv2']} threads), torch {meta['torch']} "
        f"({meta['threads']['torch']} threads). float32 images, 'same' output; each cell is the "
        "median over the three rules (zeros, reflect, replicate) of *peer time / padlab time* "
        "(above 1: padlab is faster), every contender timed alternately in one process.\n"
    )
    sizes = sorted({r["size"] for r in rows})
    kernels = sorted({r["kernel"] for r in rows})
    for separable in (False, True):
        kind = "separable (rank-1) kernels" if separable else "random (non-separable) kernels"
        peer = "cv2.sepFilter2D" if separable else "cv2.filter2D"
        key = "ratio_sepFilter2D" if separable else "ratio_filter2D"
        print(f"**{kind}**: padlab Mpixel/s, and x vs {peer} / best peer / scipy.ndimage\n")
        print("| kernel | " + " | ".join(f"{s}x{s}" for s in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for k in kernels:
            cells = []
            for s in sizes:
                group = [
                    r
                    for r in rows
                    if r["size"] == s and r["kernel"] == k and r["separable"] == separable
                ]
                if not group:
                    cells.append("")
                    continue
                mpx = statistics.median(r["mpix_per_s"] for r in group)
                vs_peer = statistics.median(r[key] for r in group)
                vs_best = statistics.median(r["ratio_best_peer"] for r in group)
                vs_ndi = statistics.median(r["ratio_ndimage"] for r in group)
                cells.append(f"{mpx:.0f} Mpx/s, x{vs_peer:.2f} / x{vs_best:.2f} / x{vs_ndi:.0f}")
            print(f"| {k}x{k} | " + " | ".join(cells) + " |")
        print()
    random = [r for r in rows if not r["separable"]]
    groups = {
        "3x3 vs cv2.filter2D (floor 0.8)": (
            [r for r in rows if r["kernel"] == 3],
            "ratio_filter2D",
        ),
        "5x5 to 15x15 random vs cv2.filter2D (floor 1.0)": (
            [r for r in random if 5 <= r["kernel"] <= 15],
            "ratio_filter2D",
        ),
        "separable vs cv2.sepFilter2D (floor 1.0)": (
            [r for r in rows if r["separable"] and r["ratio_sepFilter2D"] is not None],
            "ratio_sepFilter2D",
        ),
        "31x31 vs the best peer (floor 0.8)": (
            [r for r in rows if r["kernel"] == 31],
            "ratio_best_peer",
        ),
        "vs scipy.ndimage.correlate (floor 5, every case)": (rows, "ratio_ndimage"),
    }
    print("| group | median | min | cases |\n|---|---|---|---|")
    for name, (group, key) in groups.items():
        values = [r[key] for r in group]
        print(f"| {name} | x{statistics.median(values):.2f} | x{min(values):.2f} | {len(values)} |")
    if cnn:
        print(
            f"| CNN batch, {cnn['case']} vs torch conv2d (floor 1.0) | x{cnn['ratio_torch']:.2f} "
            f"({cnn['padlab_ms']:.0f} ms vs {cnn['torch_ms']:.0f} ms) | | 1 |"
        )
    picked = sum(r["auto_picked"] == r["fastest_engine"] for r in rows)
    worst = max(r["engines_ms"][r["auto_picked"]] / min(r["engines_ms"].values()) for r in rows)
    print(
        f"\nThe automatic engine choice picked the fastest engine in {picked} of {len(rows)} "
        f"cases; its worst pick took {worst:.2f} times the fastest engine's time."
    )


if __name__ == "__main__":
    main()
