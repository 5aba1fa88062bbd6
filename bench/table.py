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
    stacks, copies = data.get("stacks", []), data.get("copies", [])
    load = ", ".join(f"{v:.1f}" for v in meta.get("load_before", ()))
    date = meta.get("date", "an unrecorded date")
    command = meta.get("command", "python bench/filters.py")
    print(
        f"Measured on {date} by `{command}` on a {meta['cpus']}-core {meta['machine']} machine "
        f"({meta.get('cpu', '')}; shared with "
        f"other jobs, load average {load} at the start), numpy {meta['numpy']}, scipy "
        f"{meta['scipy']}, OpenCV {meta['opencv']} ({meta['threads']['cv2']} threads), torch "
        f"{meta['torch']} ({meta['threads']['torch']} threads). float32 images, 'same' output; "
        "each cell is the median over the three rules (zeros, reflect, replicate) of *peer time "
        "/ padlab time* (above 1: padlab is faster), every contender timed alternately in one "
        "process.\n"
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
    matrix = [r for r in rows if r["size"] >= 512]
    cells = {}
    for r in matrix:
        cells.setdefault((r["size"], r["kernel"], r["separable"]), []).append(r["ratio_best_peer"])
    medians = [statistics.median(v) for v in cells.values()]
    groups = {
        "512-4096, every kernel, vs the best peer (floor 1.0 on every cell)": (
            matrix,
            "ratio_best_peer",
        ),
        "256x256 vs cv2 (floor 0.8)": ([r for r in rows if r["size"] == 256], "ratio_cv2"),
        "vs scipy.ndimage.correlate (floor 5, every case)": (rows, "ratio_ndimage"),
    }
    for r in rows:
        r["ratio_cv2"] = r["ratio_sepFilter2D"] if r["separable"] else r["ratio_filter2D"]
    print("| group | median | min | cases |\n|---|---|---|---|")
    for name, (group, key) in groups.items():
        values = [r[key] for r in group if r[key] is not None]
        if values:
            print(
                f"| {name} | x{statistics.median(values):.2f} | x{min(values):.2f} | "
                f"{len(values)} |"
            )
    if medians:
        below = sum(m < 1 for m in medians)
        print(
            f"| matrix cells (median over rules) at or above 1.0x the best peer | "
            f"{len(medians) - below} of {len(medians)} | x{min(medians):.2f} | {len(medians)} |"
        )
    small = [r for r in rows if r["size"] == 64 and r["kernel"] == 3]
    if small:
        per_call = [r["padlab_ms"] * 1e3 for r in small]
        print(
            f"| 64x64 3x3, time per call (floor 20 us) | {statistics.median(per_call):.1f} us "
            f"| {min(per_call):.1f} us | {len(per_call)} |"
        )
    for c in copies:
        print(
            f"| 2048x2048 3x3 {c['rule']}: throughput / np.copyto's (floor 0.6) | "
            f"x{c['ratio_copy']:.2f} ({c['padlab_mpix_per_s']:.0f} vs {c['copy_mpix_per_s']:.0f} "
            f"Mpx/s; into a reused output x{c['ratio_copy_out']:.2f}; cv2.filter2D "
            f"{c['filter2D_mpix_per_s']:.0f}) | | 1 |"
        )
    for st in stacks:
        print(
            f"| {st['case']} vs {st['best_peer']} | x{st['ratio_best_peer']:.2f} "
            f"({st['padlab_ms']:.1f} ms; x{st['ratio_ndimage']:.1f} vs ndimage) | | 1 |"
        )
    if cnn:
        print(
            f"| CNN batch, {cnn['case']} vs torch conv2d (floor 1.0) | x{cnn['ratio_torch']:.2f} "
            f"({cnn['padlab_ms']:.0f} ms vs {cnn['torch_ms']:.0f} ms) | | 1 |"
        )
    matrix = matrix or rows
    picked = sum(r["auto_picked"] == r["fastest_engine"] for r in matrix)
    timed = [r for r in matrix if "engines_ms" in r]
    slowdowns = [r["engines_ms"][r["auto_picked"]] / min(r["engines_ms"].values()) for r in timed]
    worst = (
        f"over the {len(timed)} cases whose engines were all timed, its worst pick took "
        f"{max(slowdowns):.2f} times the fastest engine's time (floor 1.2)"
        if timed
        else "the time of each pick against the fastest was not recorded in this run"
    )
    print(
        f"\nThe automatic engine choice picked the fastest engine in {picked} of {len(matrix)} "
        f"cases of the 512-4096 matrix measured (floor 88 of 90); {worst}."
    )


if __name__ == "__main__":
    main()
