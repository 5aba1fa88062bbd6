"""Time padlab's filtering against its peers, in one process, on the same work.

Usage::

    python bench/filters.py                      # everything (half an hour on 2 cores)
    python bench/filters.py --quick              # 512 and 2048, kernels 3/9/31, reflect
    python bench/filters.py --json bench/results/filters.json
    python bench/table.py bench/results/filters.json   # the README's tables

For every float32 image size, kernel size (random and separable kernels) and padding rule it
times ``padlab.correlate`` (method 'auto') against ``scipy.ndimage.correlate``,
``cv2.filter2D``, ``cv2.sepFilter2D`` (separable kernels), ``torch.nn.functional.conv2d`` after
``F.pad`` and ``scipy.signal.fftconvolve`` after ``numpy.pad``; a stack of 256 images of
128x128 (3x3 and 9x9, one call, the stack as ``channel_axis=0``) against the same peers on the
whole stack (cv2 image by image); for the CNN batch case (64x3x224x224 to 16 channels, 3x3),
``padlab.conv_nd`` against ``torch.nn.functional.conv2d``. Small images (64x64, 256x256) show
the per-call overhead; at 2048x2048 the 3x3 throughput is compared with a plain ``np.copyto``
of the same image (the memory bound), with padlab writing a fresh output (as every peer does)
and writing into a reused one (the engine's ``out=``).
All contenders are first checked to give the same result. They then run alternately, so a noisy
machine slows them alike (a call faster than 1 ms is repeated within its timed sample, as
``timeit`` does, the same number of times in every round); the table shows medians, Mpixel/s
and the ratio ``best peer time / padlab time`` (above 1: padlab is faster). padlab's engines
are also timed one by one, to check that 'auto' picks the fastest, and padlab's peak memory
beyond its input and output is read from the kernel's high-water mark (``/proc/self/status`` VmHWM).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import scipy
import scipy.ndimage as ndi
import scipy.signal
import torch
import torch.nn.functional as F

import padlab
from padlab.engine.choose import pick, run
from padlab.geometry import Geometry
from padlab.kernels.rank import split_rank1
from padlab.ops.filtering import prepare, rules_per_axis

CV2_BORDER = {
    "zeros": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
}
NDIMAGE = {"zeros": "constant", "reflect": "mirror", "replicate": "nearest"}
TORCH = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}
NUMPY = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def _peak_extra(fn, input_bytes: int) -> tuple[object, float]:
    """Run fn; return its result and the peak resident memory it added beyond its output.

    Freed heap memory is first handed back to the kernel (malloc_trim), so that the output and
    any scratch memory show up as new resident pages; then the high-water mark is reset.
    """
    status = Path("/proc/self/status")
    if not status.exists():  # pragma: no cover - not Linux
        return fn(), float("nan")
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    result = fn()
    peak = _status_kib("VmHWM")
    out_bytes = getattr(result, "nbytes", 0)
    return result, max(0.0, (peak - before) * 1024 - out_bytes) / input_bytes


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)  # pragma: no cover


#: a timed sample lasts at least this long: a fast call (a 64x64 image) is repeated within the
#: sample, as ``timeit`` does, so that the sample measures the call, not the timer and the
#: caches the other contenders just evicted
SAMPLE_SECONDS = 1e-3
#: at most this many calls in one sample
SAMPLE_CALLS = 200


def _time_alternating(contenders: dict[str, object], budget: float) -> dict[str, float]:
    """Median seconds per call per contender, running them in turn until the budget or 15
    rounds. A sample of a call faster than :data:`SAMPLE_SECONDS` repeats it (the same count
    in every round: enough calls to last that long, at most :data:`SAMPLE_CALLS`)."""
    first = {}
    for name, fn in contenders.items():
        start = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - start
        for _ in range(3 if first[name] < 0.1 else 1 if first[name] < 1.0 else 0):
            # measured again, warm: first-call costs are not the call's, nor is a one-time
            # cost of a second or third call (padlab looks up its compiled function once)
            start = time.perf_counter()
            fn()
            first[name] = min(first[name], time.perf_counter() - start)
    calls = {
        name: int(min(SAMPLE_CALLS, max(1, math.ceil(SAMPLE_SECONDS / max(t, 1e-9)))))
        for name, t in first.items()
    }
    per_round = sum(first[name] * calls[name] for name in contenders)
    rounds = int(min(15, max(3, budget / max(per_round, 1e-9))))
    slow = sum(first.values()) > 20  # very slow peers (ndimage, 4096, 31x31): one more round
    rounds = 1 if slow else rounds
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            n = calls[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _kernel(k: int, separable: bool, rng: np.random.Generator) -> np.ndarray:
    if separable:
        return np.outer(rng.normal(size=k), rng.normal(size=k)).astype(np.float32)
    return rng.normal(size=(k, k)).astype(np.float32)


def filter_case(size: int, k: int, separable: bool, rule: str, budget: float) -> dict:
    rng = np.random.default_rng(size + k)
    x = rng.random((size, size), dtype=np.float32)
    w = _kernel(k, separable, rng)
    p = k // 2
    xt = torch.from_numpy(x)[None, None]
    wt = torch.from_numpy(w)[None, None]
    flipped = np.ascontiguousarray(w[::-1, ::-1])

    def torch_conv():
        with torch.no_grad():
            return F.conv2d(F.pad(xt, (p, p, p, p), mode=TORCH[rule]), wt)[0, 0].numpy()

    def fftconvolve():
        if rule == "zeros":
            return scipy.signal.fftconvolve(x, flipped, mode="same")
        return scipy.signal.fftconvolve(np.pad(x, p, mode=NUMPY[rule]), flipped, mode="valid")

    peers = {
        "ndimage": lambda: ndi.correlate(x, w, mode=NDIMAGE[rule]),
        "cv2.filter2D": lambda: cv2.filter2D(x, -1, w, borderType=CV2_BORDER[rule]),
        "torch": torch_conv,
        "fftconvolve": fftconvolve,
    }
    factors = split_rank1(w)
    if separable and factors is not None:
        col, row = factors
        peers["cv2.sepFilter2D"] = lambda: cv2.sepFilter2D(
            x, -1, row, col, borderType=CV2_BORDER[rule]
        )
    ours = {"padlab": lambda: padlab.correlate(x, w, mode=rule)}
    engines = {
        f"padlab[{m}]": (lambda m=m: padlab.correlate(x, w, mode=rule, method=m))
        for m in ("direct", "fft", *(("separable",) if factors is not None else ()))
    }
    # same work, same answer (float32 sums: tolerance relative to the output's scale)
    reference = ours["padlab"]()
    scale = float(np.abs(reference).max())
    for name, fn in {**peers, **engines}.items():
        got = np.asarray(fn())
        error = float(np.abs(got - reference).max()) / scale
        if error > 1e-3:
            raise AssertionError(f"{name} disagrees with padlab by {error:.2e} (relative)")
    times = _time_alternating({**ours, **peers, **engines}, budget)
    _, extra = _peak_extra(ours["padlab"], x.nbytes)
    problem = prepare(x[None], w, Geometry.resolve(x.shape, w.shape), rules_per_axis(rule, 2))
    engine_times = {name[7:-1]: t for name, t in times.items() if name.startswith("padlab[")}
    best_peer = min((t, name) for name, t in times.items() if name in peers)
    return {
        "size": size,
        "kernel": k,
        "separable": separable,
        "rule": rule,
        "padlab_ms": times["padlab"] * 1e3,
        "mpix_per_s": size * size / times["padlab"] / 1e6,
        "peers_ms": {name: times[name] * 1e3 for name in peers},
        "best_peer": best_peer[1],
        "ratio_best_peer": best_peer[0] / times["padlab"],
        "ratio_ndimage": times["ndimage"] / times["padlab"],
        "ratio_filter2D": times["cv2.filter2D"] / times["padlab"],
        "ratio_sepFilter2D": (
            times["cv2.sepFilter2D"] / times["padlab"] if "cv2.sepFilter2D" in times else None
        ),
        "engines_ms": {m: t * 1e3 for m, t in engine_times.items()},
        "auto_picked": pick(problem, factors),
        "fastest_engine": min(engine_times, key=engine_times.__getitem__),
        "peak_extra_fraction": extra,
    }


def stack_case(k: int, rule: str, budget: float) -> dict:
    """256 images of 128x128 in one call, against the peers on the same stack."""
    rng = np.random.default_rng(k)
    x = rng.random((256, 128, 128), dtype=np.float32)
    w = rng.normal(size=(k, k)).astype(np.float32)
    p = k // 2
    xt = torch.from_numpy(x)[:, None]
    wt = torch.from_numpy(w)[None, None]
    out = np.empty_like(x)

    def cv2_loop():
        for i in range(x.shape[0]):
            cv2.filter2D(x[i], -1, w, dst=out[i], borderType=CV2_BORDER[rule])
        return out

    def torch_conv():
        with torch.no_grad():
            return F.conv2d(F.pad(xt, (p, p, p, p), mode=TORCH[rule]), wt)[:, 0].numpy()

    peers = {
        "ndimage": lambda: ndi.correlate(x, w[None], mode=NDIMAGE[rule]),
        "cv2.filter2D": cv2_loop,
        "torch": torch_conv,
    }
    ours = {"padlab": lambda: padlab.correlate(x, w, mode=rule, channel_axis=0)}
    reference = ours["padlab"]()
    for name, fn in peers.items():
        error = float(np.abs(np.asarray(fn()) - reference).max()) / float(np.abs(reference).max())
        if error > 1e-3:
            raise AssertionError(f"{name} disagrees with padlab by {error:.2e} (relative)")
    times = _time_alternating({**ours, **peers}, budget)
    best_peer = min((t, name) for name, t in times.items() if name in peers)
    return {
        "case": f"stack 256x128x128, {k}x{k}, {rule}",
        "kernel": k,
        "rule": rule,
        "padlab_ms": times["padlab"] * 1e3,
        "peers_ms": {name: times[name] * 1e3 for name in peers},
        "best_peer": best_peer[1],
        "ratio_best_peer": best_peer[0] / times["padlab"],
        "ratio_ndimage": times["ndimage"] / times["padlab"],
        "ratio_filter2D": times["cv2.filter2D"] / times["padlab"],
    }


def copy_case(size: int, rule: str, budget: float) -> dict:
    """3x3 throughput at ``size`` against a plain np.copyto of the same image, in one process."""
    rng = np.random.default_rng(size)
    x = rng.random((size, size), dtype=np.float32)
    w = rng.normal(size=(3, 3)).astype(np.float32)
    dst = np.empty_like(x)
    problem = prepare(x[None], w, Geometry.resolve(x.shape, w.shape), rules_per_axis(rule, 2))
    out = np.empty(problem.out_shape, np.float32)
    np.testing.assert_array_equal(run(problem, out=out)[0], padlab.correlate(x, w, mode=rule))
    times = _time_alternating(
        {
            "copy": lambda: np.copyto(dst, x),
            "padlab": lambda: padlab.correlate(x, w, mode=rule),
            "padlab_out": lambda: run(problem, out=out),
            "cv2.filter2D": lambda: cv2.filter2D(x, -1, w, borderType=CV2_BORDER[rule]),
        },
        budget,
    )
    mpx = {name: size * size / t / 1e6 for name, t in times.items()}
    return {
        "size": size,
        "rule": rule,
        "copy_mpix_per_s": mpx["copy"],
        "padlab_mpix_per_s": mpx["padlab"],
        "padlab_out_mpix_per_s": mpx["padlab_out"],
        "filter2D_mpix_per_s": mpx["cv2.filter2D"],
        "ratio_copy": times["copy"] / times["padlab"],
        "ratio_copy_out": times["copy"] / times["padlab_out"],
    }


def cnn_case(budget: float) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((64, 3, 224, 224), dtype=np.float32)
    w = rng.normal(size=(16, 3, 3, 3)).astype(np.float32)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)

    def torch_conv():
        with torch.no_grad():
            return F.conv2d(xt, wt, padding=1).numpy()

    ours = lambda: padlab.conv_nd(x, w, padding=1)  # noqa: E731
    np.testing.assert_allclose(ours(), torch_conv(), rtol=1e-4, atol=1e-4)
    times = _time_alternating({"padlab": ours, "torch": torch_conv}, budget)
    _, extra = _peak_extra(ours, x.nbytes)
    return {
        "case": "conv_nd 64x3x224x224 -> 16, 3x3, zeros",
        "padlab_ms": times["padlab"] * 1e3,
        "torch_ms": times["torch"] * 1e3,
        "ratio_torch": times["torch"] / times["padlab"],
        "peak_extra_fraction": extra,
    }


def memory_only(args) -> None:
    """Peak memory beyond input and output of padlab.correlate (method auto) per case."""
    worst = 0.0
    for size in args.sizes:
        rng = np.random.default_rng(size)
        x = rng.random((size, size), dtype=np.float32)
        for k in args.kernels:
            for separable in (False, True):
                w = _kernel(k, separable, rng)
                for rule in args.rules:
                    padlab.correlate(x, w, mode=rule)  # warm up
                    _, extra = _peak_extra(lambda: padlab.correlate(x, w, mode=rule), x.nbytes)  # noqa: B023
                    worst = max(worst, extra)
                    kind = "sep " if separable else "rand"
                    print(f"{size:5d} {k:3d} {kind} {rule:9s} peak beyond input and output: "
                          f"{100 * extra:5.2f}% of the input", flush=True)  # fmt: skip
    print(f"worst: {100 * worst:.2f}% of the input")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown"


def _print_row(r: dict) -> None:
    kind = "sep" if r["separable"] else "rand"
    peers = "  ".join(f"{n} {t:8.2f}" for n, t in r["peers_ms"].items())
    print(
        f"{r['size']:5d} {r['kernel']:3d} {kind:4s} {r['rule']:9s} padlab {r['padlab_ms']:8.2f} ms "
        f"{r['mpix_per_s']:8.1f} Mpx/s | x{r['ratio_best_peer']:5.2f} vs {r['best_peer']:15s} "
        f"x{r['ratio_ndimage']:6.1f} vs ndimage | auto={r['auto_picked']:9s} "
        f"fastest={r['fastest_engine']:9s} mem+{100 * r['peak_extra_fraction']:4.1f}% | {peers}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 2048, 4096])
    parser.add_argument("--kernels", type=int, nargs="+", default=[3, 5, 9, 15, 31])
    parser.add_argument("--rules", nargs="+", default=["zeros", "reflect", "replicate"])
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per case and round")
    parser.add_argument("--quick", action="store_true", help="a small subset")
    parser.add_argument("--no-cnn", action="store_true")
    parser.add_argument("--no-extra", action="store_true", help="no stack and copy rows")
    parser.add_argument(
        "--extra-only", action="store_true", help="only the stack, copy and CNN rows"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--memory-only", action="store_true", help="only padlab's peak memory, no timing"
    )
    args = parser.parse_args()
    if args.memory_only:
        memory_only(args)
        return
    if args.quick:
        args.sizes, args.kernels, args.rules = [64, 512, 2048], [3, 9, 31], ["reflect"]
    meta = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "padlab": padlab.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "opencv": cv2.__version__,
        "torch": torch.__version__,
        "threads": {"cv2": cv2.getNumThreads(), "torch": torch.get_num_threads()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python bench/filters.py " + " ".join(sys.argv[1:]),
        "cpu": _cpu_name(),
        "load_before": os.getloadavg(),
    }
    print(json.dumps(meta))
    rows: list[dict] = []
    stacks: list[dict] = []
    copies: list[dict] = []
    cnn = None

    def save() -> None:  # after every case, so that an interrupted run keeps what it measured
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.json.with_suffix(".tmp")
            meta["load_after"] = os.getloadavg()
            document = {
                "meta": meta,
                "filters": rows,
                "stacks": stacks,
                "copies": copies,
                "cnn": cnn,
            }
            tmp.write_text(json.dumps(document, indent=2))
            tmp.replace(args.json)

    for size in [] if args.extra_only else args.sizes:
        for k in args.kernels:
            for separable in (False, True):
                for rule in args.rules:
                    row = filter_case(size, k, separable, rule, args.budget)
                    rows.append(row)
                    _print_row(row)
                    save()
    if not args.no_extra:
        for k in (3, 9):
            for rule in args.rules:
                stacks.append(stack_case(k, rule, args.budget))
                st = stacks[-1]
                print(
                    f"{st['case']}: padlab {st['padlab_ms']:.2f} ms | x{st['ratio_best_peer']:.2f} "
                    f"vs {st['best_peer']}, x{st['ratio_ndimage']:.1f} vs ndimage | "
                    + "  ".join(f"{n} {t:.2f}" for n, t in st["peers_ms"].items()),
                    flush=True,
                )
                save()
        for rule in args.rules:
            copies.append(copy_case(2048, rule, args.budget))
            c = copies[-1]
            print(
                f"2048 3x3 {rule}: copy {c['copy_mpix_per_s']:.0f} Mpx/s, padlab "
                f"{c['padlab_mpix_per_s']:.0f} ({100 * c['ratio_copy']:.0f}% of copy), into a "
                f"reused output {c['padlab_out_mpix_per_s']:.0f} ({100 * c['ratio_copy_out']:.0f}%)"
                f", cv2.filter2D {c['filter2D_mpix_per_s']:.0f}",
                flush=True,
            )
            save()
    cnn = None if args.no_cnn else cnn_case(args.budget)
    save()
    if cnn:
        print(
            f"CNN {cnn['case']}: padlab {cnn['padlab_ms']:.1f} ms, torch {cnn['torch_ms']:.1f} ms,"
            f" x{cnn['ratio_torch']:.2f}, mem+{100 * cnn['peak_extra_fraction']:.1f}%"
        )
    if rows:
        _summary(rows)


def _summary(rows: list[dict]) -> None:
    print("\nmedian ratios (best peer time / padlab time):")
    groups = {
        "3x3": [r for r in rows if r["kernel"] == 3],
        "5..15 random vs filter2D": [
            r for r in rows if 5 <= r["kernel"] <= 15 and not r["separable"]
        ],
        "separable vs sepFilter2D": [r for r in rows if r["separable"]],
        "31x31 vs best peer": [r for r in rows if r["kernel"] == 31],
    }
    for name, group in groups.items():
        if not group:
            continue
        key = {
            "3x3": "ratio_filter2D",
            "5..15 random vs filter2D": "ratio_filter2D",
            "separable vs sepFilter2D": "ratio_sepFilter2D",
            "31x31 vs best peer": "ratio_best_peer",
        }[name]
        values = [r[key] for r in group if r[key] is not None]
        print(f"  {name:26s} median x{statistics.median(values):.2f}  min x{min(values):.2f}")
    print(f"  {'vs ndimage (min)':26s} x{min(r['ratio_ndimage'] for r in rows):.1f}")
    worst_memory = max(r["peak_extra_fraction"] for r in rows)
    print(f"  {'peak extra memory (max)':26s} {100 * worst_memory:.1f}%")
    small = [r for r in rows if r["size"] == 64 and r["kernel"] == 3]
    if small:
        per_call = statistics.median(r["padlab_ms"] for r in small) * 1e3
        print(f"  {'64x64 3x3 per call':26s} {per_call:.1f} us (median over rules and kinds)")
    matrix = [r for r in rows if r["size"] >= 512]  # the 90 cases of the matrix
    matrix = matrix or rows
    picked_best = sum(r["auto_picked"] == r["fastest_engine"] for r in matrix)
    slowdown = [r["engines_ms"][r["auto_picked"]] / min(r["engines_ms"].values()) for r in matrix]
    print(
        f"  auto picked the fastest engine in {picked_best}/{len(matrix)} cases; worst pick "
        f"x{max(slowdown):.2f} of the fastest, geometric mean x"
        f"{math.exp(statistics.mean(math.log(s) for s in slowdown)):.3f}"
    )


if __name__ == "__main__":
    main()
