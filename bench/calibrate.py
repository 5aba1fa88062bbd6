"""Fit the cost model of padlab's automatic engine choice to this machine's timings.

Usage::

    python bench/calibrate.py            # prints the fitted constants and how often 'auto' wins

Each padlab engine (direct, separable, fft) is forced on a grid of float32 images, kernels,
strides and batch sizes; its median time is fitted as ``time = a * work + b * rows + c``, with the
work measure the model in ``padlab.engine.choose`` uses. The fitted constants go into
``padlab/engine/choose.py`` by hand (the machine, date and command belong in the commit message,
not in the code); the script then reports, for every grid case, whether the model with the
*current* constants picks the fastest engine, and how it would do with the fitted ones.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

import padlab
from padlab.engine import choose
from padlab.geometry import Geometry
from padlab.kernels.rank import split_rank1
from padlab.ops.filtering import prepare, rules_per_axis


def _median_time(fn, budget: float = 0.5) -> float:
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 15):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def grid(quick: bool = False):
    sizes = (64, 256, 512, 1024, 2048) if quick else (64, 128, 256, 512, 1024, 2048, 4096)
    kernels = (3, 5, 9, 15, 31) if quick else (3, 5, 7, 9, 13, 17, 25, 31, 45)
    for size in sizes:
        for k in kernels:
            for separable in (False, True):
                for stride in (1, 2):
                    if size >= 4096 and k >= 25 and not separable:
                        continue  # minutes of direct work for one point
                    yield size, k, separable, stride


def measure(quick: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for size, k, separable, stride in grid(quick):
        x = rng.random((size, size), dtype=np.float32)
        if separable:
            w = np.outer(rng.normal(size=k), rng.normal(size=k)).astype(np.float32)
        else:
            w = rng.normal(size=(k, k)).astype(np.float32)
        geometry = Geometry.resolve(x.shape, w.shape, "same", stride)
        problem = prepare(x[None], w, geometry, rules_per_axis("reflect", 2))
        factors = split_rank1(w)
        times = {}
        for method in ("direct", "fft", *(("separable",) if factors is not None else ())):
            run = functools.partial(
                padlab.correlate, x, w, mode="reflect", stride=stride, method=method
            )
            times[method] = _median_time(run)
        estimates = choose.estimate(problem, factors)
        picked = min(estimates, key=estimates.__getitem__)
        best = min(times, key=times.__getitem__)
        row = {
            "size": size,
            "k": k,
            "separable": separable,
            "stride": stride,
            "times": times,
            "features": choose.features(problem, factors, all_engines=True),
            "picked": picked,
            "best": best,
            "slowdown": times[picked] / times[best],
        }
        rows.append(row)
        print(
            f"{size:5d} k={k:2d} {'sep ' if separable else 'rand'} s={stride} "
            + "  ".join(f"{m} {t * 1e3:8.2f}" for m, t in times.items())
            + f"  | model picks {picked:9s} fastest {best:9s} x{row['slowdown']:.2f}",
            flush=True,
        )
    return rows


def fit(rows: list[dict], method: str) -> tuple[float, float, float]:
    """Least squares on relative error: time ~ a * work + b * rows + c (nanoseconds)."""
    data = [
        (r["features"][method], r["times"][method] * 1e9)
        for r in rows
        if method in r["times"] and method in r["features"]
    ]
    a_matrix = np.array([[f["work"], f["rows"], 1.0] for f, _ in data])
    t = np.array([t for _, t in data])
    weights = 1.0 / t  # relative error
    coef, *_ = np.linalg.lstsq(a_matrix * weights[:, None], t * weights, rcond=None)
    return tuple(float(c) for c in coef)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--quick", action="store_true", help="a smaller grid (sizes to 2048)")
    parser.add_argument("--fit-only", type=Path, help="refit from an earlier --json file")
    args = parser.parse_args()
    if args.fit_only:
        rows = json.loads(args.fit_only.read_text())
    else:
        rows = measure(args.quick)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    print("\nfitted nanoseconds: time = a * work + b * rows + c")
    fitted = {}
    for method in ("direct", "separable", "fft"):
        a, b, c = fitted[method] = fit(rows, method)
        print(f"  {method:9s} a={a:.4g}  b={b:.4g}  c={c:.4g}")
    refit = []
    for r in rows:
        costs = {
            m: fitted[m][0] * f["work"] + fitted[m][1] * f["rows"] + fitted[m][2]
            for m, f in r["features"].items()
            if m in r["times"]
        }
        pick = min(costs, key=costs.__getitem__)
        refit.append(r["times"][pick] / min(r["times"].values()))
    print(
        f"fitted model: picks the fastest in {sum(s == 1 for s in refit)}/{len(rows)}; worst "
        f"x{max(refit):.2f}"
    )
    wins = sum(r["picked"] == r["best"] for r in rows)
    slow = [r["slowdown"] for r in rows]
    print(
        f"\ncurrent model: picked the fastest engine in {wins}/{len(rows)} cases; worst x"
        f"{max(slow):.2f}, geometric mean x{math.exp(statistics.mean(map(math.log, slow))):.3f}"
    )


if __name__ == "__main__":
    main()
