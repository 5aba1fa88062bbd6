"""Time padlab.pad against numpy.pad, in one process, on the same arrays.

Usage::

    python bench/pad.py                     # 4096 x 4096 float32, every rule, widths 1/16/128
    python bench/pad.py --size 2048 --repeat 9 --json bench/results/pad.json

The two functions are timed alternately (padlab, numpy, padlab, numpy, ...) so that a noisy,
shared machine slows both alike; the table reports medians and the ratio
numpy time / padlab time (above 1 means padlab is faster), as the median of the ratios of
adjacent pairs of runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import padlab
from padlab.modes import RULES


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def run(size: int, widths: list[int], repeat: int) -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.random((size, size), dtype=np.float32)
    rows = []
    for rule in RULES:
        if "numpy" not in rule.names:
            continue
        name = rule.names["numpy"][0]
        kwargs = {"reflect_type": "odd"} if name.endswith("+odd") else {}
        numpy_mode = name.removesuffix("+odd")
        for width in widths:
            ours = functools.partial(padlab.pad, x, width, rule.name)
            theirs = functools.partial(np.pad, x, width, mode=numpy_mode, **kwargs)
            np.testing.assert_allclose(ours(), theirs(), rtol=1e-6)  # same work, same answer
            t_ours, t_theirs = [], []
            for _ in range(repeat):  # interleave, so both see the same machine load
                t_ours += _time(ours, 1)
                t_theirs += _time(theirs, 1)
            med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
            # the ratio of each adjacent pair, then its median: robust to load that drifts
            ratio = statistics.median(b / a for a, b in zip(t_ours, t_theirs, strict=True))
            rows.append(
                {
                    "rule": rule.name,
                    "numpy_mode": name,
                    "width": width,
                    "padlab_ms": med_ours * 1e3,
                    "numpy_ms": med_theirs * 1e3,
                    "speedup": ratio,
                }
            )
            print(
                f"{rule.name:14s} w={width:<4d} padlab {med_ours * 1e3:8.2f} ms   "
                f"numpy.pad {med_theirs * 1e3:8.2f} ms   ratio {ratio:5.2f}x",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 16, 128])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    print(
        f"padlab {padlab.__version__}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.size}x{args.size} float32, median of {args.repeat}"
    )
    rows = run(args.size, args.widths, args.repeat)
    slowest = min(rows, key=lambda r: r["speedup"])
    print(
        f"\nslowest ratio: {slowest['speedup']:.2f}x ({slowest['rule']}, w={slowest['width']}); "
        f"median ratio {statistics.median(r['speedup'] for r in rows):.2f}x"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "size": args.size,
            "dtype": "float32",
            "repeat": args.repeat,
            "numpy": np.__version__,
            "padlab": padlab.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        }
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
