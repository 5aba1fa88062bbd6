"""Time padlab.read_image against cv2.imread on a 16-bit RGB PNG, in one process.

Usage::

    python bench/png16.py                  # 1000 x 1500, written by cv2 (libpng's filters)
    python bench/png16.py --height 3000 --width 4000 --repeat 9

The two readers run alternately (padlab, cv2, padlab, cv2, ...) so a noisy, shared machine
slows both alike; printed: the medians and the median of the ratios padlab / cv2 of adjacent
runs (below 1 means padlab is faster), and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import padlab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : args.height, 0 : args.width]
    wave = 20000 * np.sin(x / 50.0) * np.cos(y / 40.0)
    rgb = 30000 + wave[..., None] + rng.normal(0, 500, (args.height, args.width, 3))
    rgb = rgb.clip(0, 65535).astype(np.uint16)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.png"
        cv2.imwrite(str(path), rgb[..., ::-1])
        padlab.read_image(path)  # numba loaded, the decoder compiled or read from the cache
        ours, theirs = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            got = padlab.read_image(path)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            theirs.append(time.perf_counter() - start)
        assert np.array_equal(got, rgb)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(
        f"{args.height}x{args.width} RGB uint16: padlab {statistics.median(ours):.3f} s, "
        f"cv2 {statistics.median(theirs):.3f} s, padlab/cv2 {statistics.median(ratios):.2f}; "
        f"load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
