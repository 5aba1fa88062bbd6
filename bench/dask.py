"""padlab.dask against dask-image: zarr in, zarr out, threads and local clusters.

Usage::

    python bench/dask.py                     # the table (4096^2 float32, 1024^2 chunks)
    python bench/dask.py --size 8192         # the issue's size (slower)
    python bench/dask.py --memory            # peak memory vs image size, 8192^2 -> 24576^2
    python bench/dask.py --graph             # graph construction time for 10,000 blocks
    python bench/dask.py --single            # one thread: chunked job vs in-memory job
    python bench/dask.py --single --threads 2  # the same on two threads, alternating
    python bench/dask.py --wrong             # what dask-image and dask.array.pad get wrong

Every configuration runs in a fresh process (so peak RSS is its own) and is timed on its
second run (the first pays one-time costs: zarr's event loop, new files), padlab and dask-image
alternate, and the 1-minute load average is printed before and after. For each run: wall time,
CPU seconds per Mpixel (client plus workers, user + sys), the peak RSS of every process
(``ru_maxrss``, through ``client.run`` for workers), and the largest difference from the
in-memory result on a corner tile (padlab: in-memory ``padlab.correlate``, bitwise for the
same engine; dask-image: ``scipy.ndimage.correlate``). Two references for the overhead
ratio: the in-memory engine's CPU s/Mpixel (padlab.correlate on the whole array, same engine,
median of 3), and the in-memory job (the zarr array read whole, filtered, written as zarr with
the same chunks: the same work as the chunked runs, done in one piece).

``--single`` isolates padlab.dask's own cost from what running two threads at once costs on
the machine: in one process with one engine thread (``PADLAB_NUM_THREADS=1``), the chunked job
on dask's synchronous scheduler and the in-memory job alternate, 6 rounds (the first
untimed), and the medians of their CPU seconds are compared. ``--single --threads 2`` does the
same on two threads, 11 rounds (a single round's ratio moves by +-30%): the chunked job on
dask's threaded scheduler with two workers against the in-memory job on two engine threads,
alternating in one process, so that both meet the same moments of a shared machine (the
table's runs are single runs in separate processes).

padlab is given the zarr array itself (its blocks read their windows from the store, so its
memory does not grow with the image); dask-image is given ``da.from_array`` of it, as its
documentation does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this file is named like the library it measures: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import numpy as np  # noqa: E402

RULES = {"reflect": "mirror", "circular": "wrap"}  # padlab rule -> scipy / dask-image mode


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_input(folder: Path, size: int, chunk: int) -> Path:
    import dask.array as da

    path = folder / f"in-{size}-{chunk}.zarr"
    if not path.exists():
        x = da.random.default_rng(0).standard_normal((size, size), dtype=np.float32, chunks=chunk)
        _to_zarr(x, path)
    return path


def _to_zarr(x, path: Path) -> None:
    import dask.array as da
    import zarr

    store = zarr.create_array(
        str(path), shape=x.shape, chunks=x.chunksize, dtype=x.dtype, compressors=None
    )
    da.store(x, store, lock=False)


def _output_store(target: object, src: object, shape: tuple, dtype: object):
    """An uncompressed zarr array at ``target`` with ``src``'s chunks (replacing any)."""
    import zarr

    return zarr.create_array(
        str(target), shape=shape, chunks=src.chunks, dtype=dtype, compressors=None,
        overwrite=True,
    )  # fmt: skip


def _in_memory_job(src: object, w: np.ndarray, rule: str, method: str, target: object) -> int:
    """The chunked runs' work done in one piece: read the zarr array whole, filter it, write
    it as zarr with the same chunks. Returns the samples filtered."""
    import padlab

    whole = src[:]
    y = padlab.correlate(whole, w, mode=rule, method=method)
    _output_store(target, src, y.shape, y.dtype)[:] = y
    return whole.size


def child(cfg: dict) -> dict:
    """One configuration, in this (fresh) process."""
    import dask
    import dask.array as da
    import zarr

    import padlab
    import padlab.dask as pdd

    src = zarr.open_array(cfg["input"], mode="r")
    x = da.from_array(src, chunks=src.chunks)
    k = np.random.default_rng(1).standard_normal((cfg["k"], cfg["k"])).astype(np.float32)
    out = Path(cfg["output"])
    client = cluster = None
    if cfg["where"] != "threads":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=cfg["workers"],
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
        )
        client = Client(cluster)
        client.run(_warm)  # numba's compiled engines load once per worker, not timed
    else:
        _warm()
    if cfg["who"] == "padlab":
        # the zarr array itself: every block reads its window from the store (bounded memory)
        y = pdd.correlate(src, k, mode=cfg["rule"], method=cfg["method"])
    elif cfg["who"] == "copy":  # no filtering: what reading and writing the zarr costs
        y = x
    else:
        from dask_image import ndfilters

        y = ndfilters.correlate(x, k, mode=RULES[cfg["rule"]])

    def run(target: Path) -> None:
        store = _output_store(target, src, y.shape, y.dtype)
        if client:
            da.store(y, store, lock=False, scheduler=client)
        else:
            with dask.config.set(scheduler="threads", num_workers=2):
                da.store(y, store, lock=False)

    # once untimed: the first store of a process pays one-time costs (zarr's event loop and
    # codecs, new files, first-touch pages) that a long job does not; the timed run is the
    # steady state, as the in-memory reference (whose zarr read is warm) is
    warm = out.with_name(out.name + ".warm")
    run(warm)
    shutil.rmtree(warm, ignore_errors=True)
    worker_cpu0 = sum(client.run(_cpu).values()) if client else 0.0
    cpu0, t0 = _cpu(), time.perf_counter()
    run(out)
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    workers_cpu = (sum(client.run(_cpu).values()) - worker_cpu0) if client else 0.0
    peaks = {"client": _peak_mb()}
    if client:
        for i, v in enumerate(client.run(_peak_mb).values()):
            peaks[f"worker{i}"] = v
        client.close()
        cluster.close()
    mpix = x.size / 1e6
    # exactness against the in-memory result (after the peak RSS was read)
    err = None
    if cfg.get("check", True) and cfg["who"] != "copy":
        whole = np.asarray(src[:])
        if cfg["who"] == "padlab":
            ref = padlab.correlate(whole, k, mode=cfg["rule"], method=cfg["method"])
        else:
            import scipy.ndimage as ndi

            ref = ndi.correlate(whole, k, mode=RULES[cfg["rule"]])
        err = float(np.abs(zarr.open_array(str(out), mode="r")[:] - ref).max())
    shutil.rmtree(out, ignore_errors=True)
    return {
        **cfg,
        "wall_s": wall,
        "cpu_s_per_mpix": (cpu + workers_cpu) / mpix,
        "peak_mb": peaks,
        "corner_err": err,
    }


def cli_child(cfg: dict) -> dict:
    """``padlab filter IN.zarr --chunks N -o OUT.zarr`` in this (fresh) process: peak RSS."""
    from padlab.cli.main import main

    t0, cpu0 = time.perf_counter(), _cpu()
    code = main(["filter", cfg["input"], "-k", "box-3", "-m", "reflect", "--chunks",
                 str(cfg["chunk"]), "-o", cfg["output"], "--quiet"])  # fmt: skip
    shutil.rmtree(cfg["output"], ignore_errors=True)
    return {"code": code, "wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - cpu0,
            "peak_mb": _peak_mb()}  # fmt: skip


def _warm() -> None:
    import padlab

    padlab.correlate(np.ones((64, 64), np.float32), np.ones((3, 3), np.float32), method="direct")
    padlab.correlate(np.ones((64, 64), np.float32), np.ones((31, 31), np.float32), method="fft")


def in_memory_cpu(path: Path, k: int, rule: str, method: str, out: str) -> dict:
    """CPU s/Mpixel of the in-memory path: the engine alone (padlab.correlate on the whole
    array, median of 3), and the whole job (read the zarr array into memory, filter it, write
    the result as zarr with the same chunks and codecs as the chunked runs)."""
    import statistics

    import zarr

    import padlab

    src = zarr.open_array(str(path), mode="r")
    x = src[:]
    w = np.random.default_rng(1).standard_normal((k, k)).astype(np.float32)
    _warm()
    engine = []
    for _ in range(3):
        cpu0 = _cpu()
        padlab.correlate(x, w, mode=rule, method=method)
        engine.append(_cpu() - cpu0)
    del x
    for _ in range(2):  # timed the second time, as the chunked runs are
        cpu0, t0 = _cpu(), time.perf_counter()
        samples = _in_memory_job(src, w, rule, method, out)
        job_wall, job_cpu = time.perf_counter() - t0, _cpu() - cpu0
        shutil.rmtree(out, ignore_errors=True)
    mpix = samples / 1e6
    return {
        "cpu_s_per_mpix": statistics.median(engine) / mpix,
        "job_wall_s": job_wall,
        "job_cpu_s_per_mpix": job_cpu / mpix,
    }


def run_child(cfg: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        return {**cfg, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "?"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(size: int, chunk: int, kernels: list[int], folder: Path) -> None:
    path = make_input(folder, size, chunk)
    print(f"# {size}x{size} float32, chunks {chunk}x{chunk}, zarr (uncompressed) -> zarr")
    print(f"# load average at start: {_load()}")
    head = ["kernel", "rule", "who", "where", "wall s", "CPU s/Mpix", "vs in-memory",
            "vs in-memory job"]  # fmt: skip
    print("| " + " | ".join([*head, "peak RSS MB", "max err"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for where, workers in (("threads", 2), ("cluster", 1), ("cluster", 2)):
        cfg = dict(input=str(path), output=str(folder / "out-copy.zarr"), k=3, rule="reflect",
                   who="copy", where=where, workers=workers, method="direct")  # fmt: skip
        r = run_child(cfg)
        label = "threads (2)" if where == "threads" else f"LocalCluster {workers}x1"
        peaks = ", ".join(f"{v:.0f}" for v in r.get("peak_mb", {}).values())
        print(f"| - | - | zarr copy, no filter | {label} | {r.get('wall_s', 0):.2f} | "
              f"{r.get('cpu_s_per_mpix', 0):.3f} | | | {peaks} | |", flush=True)  # fmt: skip
    for k in kernels:
        method = "direct" if k <= 15 else "fft"
        for rule in RULES:
            ref = json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--inmem",
                     json.dumps([str(path), k, rule, method, str(folder / "out-inmem.zarr")])],
                    capture_output=True, text=True, check=True,
                ).stdout.strip().splitlines()[-1]
            )  # fmt: skip
            print(f"| {k}x{k} | {rule} | padlab in memory ({method}) | 1 process | "
                  f"| {ref['cpu_s_per_mpix']:.3f} | 1.00 | | | |")  # fmt: skip
            job = ref["job_cpu_s_per_mpix"]
            print(f"| {k}x{k} | {rule} | padlab in memory, zarr read and written | 1 process | "
                  f"{ref['job_wall_s']:.2f} | {job:.3f} | "
                  f"{job / ref['cpu_s_per_mpix']:.2f} | 1.00 | | |")  # fmt: skip
            for where, workers in (("threads", 2), ("cluster", 1), ("cluster", 2)):
                for who in ("padlab", "dask-image"):
                    cfg = dict(
                        input=str(path),
                        output=str(folder / f"out-{who}.zarr"),
                        k=k,
                        rule=rule,
                        who=who,
                        where=where,
                        workers=workers,
                        method=method,
                    )
                    r = run_child(cfg)
                    label = "threads (2)" if where == "threads" else f"LocalCluster {workers}x1"
                    if "error" in r:
                        print(f"| {k}x{k} | {rule} | {who} | {label} | error: {r['error']} |")
                        continue
                    peaks = ", ".join(f"{v:.0f}" for v in r["peak_mb"].values())
                    err = "-" if r["corner_err"] is None else f"{r['corner_err']:.1e}"
                    print(f"| {k}x{k} | {rule} | {who} | {label} | {r['wall_s']:.2f} | "
                          f"{r['cpu_s_per_mpix']:.3f} | "
                          f"{r['cpu_s_per_mpix'] / ref['cpu_s_per_mpix']:.2f} | "
                          f"{r['cpu_s_per_mpix'] / job:.2f} | {peaks} | {err} |",
                          flush=True)  # fmt: skip
    print(f"# load average at end: {_load()}")


def memory(folder: Path, sizes: list[int], chunk: int) -> None:
    print(f"# peak RSS vs image size, 3x3 reflect, chunks {chunk}, threads (2), zarr -> zarr")
    print(f"# load average at start: {_load()}")
    print("| image | who | wall s | peak RSS MB |")
    print("|---|---|---|---|")
    for size in sizes:
        path = make_input(folder, size, chunk)
        cli = subprocess.run(
            [sys.executable, __file__, "--cli", json.dumps(
                {"input": str(path), "output": str(folder / "out-cli.zarr"), "chunk": chunk})],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if cli.returncode:
            print(f"| {size}^2 | padlab filter --chunks | error: {cli.stderr.strip()[-200:]} |")
        else:
            r = json.loads(cli.stdout.strip().splitlines()[-1])
            mib = size * size * 4 / 2**20
            print(f"| {size}^2 ({mib:.0f} MiB) | padlab filter --chunks {chunk} (CLI) | "
                  f"{r['wall_s']:.1f} | {r['peak_mb']:.0f} |", flush=True)  # fmt: skip
        for who in ("padlab", "dask-image"):
            cfg = dict(
                input=str(path),
                output=str(folder / f"out-{who}.zarr"),
                k=3,
                check=False,
                rule="reflect",
                who=who,
                where="threads",
                workers=2,
                method="direct",
            )
            r = run_child(cfg)
            if "error" in r:
                print(f"| {size}^2 | {who} | error: {r['error']} |")
                continue
            print(f"| {size}^2 ({size * size * 4 / 2**20:.0f} MiB) | {who} | {r['wall_s']:.1f} | "
                  f"{r['peak_mb']['client']:.0f} |", flush=True)  # fmt: skip
        shutil.rmtree(path, ignore_errors=True)
    print(f"# load average at end: {_load()}")


def single_child(cfg: dict) -> dict:
    """Chunked and in-memory jobs alternating in this process: the median CPU seconds of each
    over ``cfg["rounds"]`` timed rounds (after an untimed one). One thread (``cfg["threads"]``
    1, run with one engine thread): dask's synchronous scheduler; more: its threaded scheduler
    with that many workers."""
    import statistics

    import dask
    import dask.array as da
    import zarr

    import padlab.dask as pdd

    src = zarr.open_array(cfg["input"], mode="r")
    w = np.random.default_rng(1).standard_normal((cfg["k"], cfg["k"])).astype(np.float32)
    target = cfg["output"]

    def chunked() -> None:
        y = pdd.correlate(src, w, mode=cfg["rule"], method=cfg["method"])
        threads = cfg.get("threads", 1)
        where = {"scheduler": "synchronous"} if threads == 1 else {
            "scheduler": "threads", "num_workers": threads}  # fmt: skip
        with dask.config.set(where):
            da.store(y, _output_store(target, src, y.shape, y.dtype), lock=False)

    def whole() -> None:
        _in_memory_job(src, w, cfg["rule"], cfg["method"], target)

    times: dict[str, list[float]] = {"chunked": [], "job": []}
    walls: dict[str, list[float]] = {"chunked": [], "job": []}
    for i in range(cfg.get("rounds", 5) + 1):
        for name, fn in (("chunked", chunked), ("job", whole)):
            cpu0, t0 = _cpu(), time.perf_counter()
            fn()
            if i:
                times[name].append(_cpu() - cpu0)
                walls[name].append(time.perf_counter() - t0)
    shutil.rmtree(target, ignore_errors=True)
    mpix = src.size / 1e6
    return {
        **{k: statistics.median(v) / mpix for k, v in times.items()},
        **{f"{k}_wall": statistics.median(v) for k, v in walls.items()},
        "ratios": sorted(a / b for a, b in zip(times["chunked"], times["job"], strict=True)),
    }


def single(size: int, chunk: int, kernels: list[int], folder: Path, threads: int = 1) -> None:
    path = make_input(folder, size, chunk)
    where = (
        "one engine thread, dask's synchronous scheduler"
        if threads == 1
        else f"dask's threaded scheduler with {threads} workers against {threads} engine threads"
    )
    print(f"# {size}x{size} float32, chunks {chunk}x{chunk}, zarr -> zarr, {where}, "
          f"alternating; load average at start: {_load()}")  # fmt: skip
    print("| kernel | rule | engine | padlab.dask CPU s/Mpix | in-memory job CPU s/Mpix | ratio "
          "| ratio per round | wall s (chunked, job) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    env = {**os.environ, "PADLAB_NUM_THREADS": str(threads)}
    for k in kernels:
        method = "direct" if k <= 15 else "fft"
        for rule in RULES:
            cfg = dict(input=str(path), output=str(folder / "out-single.zarr"), k=k, rule=rule,
                       method=method, threads=threads,
                       rounds=5 if threads == 1 else 10)  # fmt: skip
            out = subprocess.run(
                [sys.executable, __file__, "--single-child", json.dumps(cfg)],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rounds = ", ".join(f"{v:.2f}" for v in r["ratios"])
            print(f"| {k}x{k} | {rule} | {method} | {r['chunked']:.4f} | {r['job']:.4f} | "
                  f"{r['chunked'] / r['job']:.2f} | {rounds} | "
                  f"{r['chunked_wall']:.2f}, {r['job_wall']:.2f} |", flush=True)  # fmt: skip
    print(f"# load average at end: {_load()}")


def graph_time() -> None:
    import dask.array as da

    import padlab.dask as pdd

    x = da.zeros((10000, 10000), chunks=100, dtype=np.float32)
    for rule in ("reflect", "circular", "partial", "mean"):
        t0 = time.perf_counter()
        y = pdd.correlate(x, np.ones((3, 3), np.float32), mode=rule, method="direct")
        print(f"graph of {np.prod(y.numblocks)} blocks, {rule}: {time.perf_counter() - t0:.2f} s "
              f"(load {_load()})")  # fmt: skip


def wrong() -> None:
    """The table of what dask-image and dask.array.pad get wrong, next to padlab (measured)."""
    import dask
    import dask.array as da
    import scipy.ndimage as ndi
    from dask_image import ndfilters

    import padlab
    import padlab.dask as pdd

    dask.config.set(scheduler="synchronous")
    rng = np.random.default_rng(0)
    img = rng.random((256, 256)).astype(np.float32)
    chunked = da.from_array(img, chunks=64)
    print("| case | truth (in memory) | dask-image / dask | padlab.dask |")
    print("|---|---|---|---|")
    delta = np.zeros(17, np.float32)
    delta[8] = 1
    g = ndi.gaussian_filter1d(delta, 2, mode="constant")
    box = np.full((5, 5), 1 / 25, np.float32)
    sobel = np.outer([-1, 0, 1], [1, 2, 1]).astype(np.float32)
    for name, theirs, truth, ours in [
        (
            "gaussian_filter sigma=2, wrap, 256^2 in 64^2 chunks",
            ndfilters.gaussian_filter(chunked, 2, mode="wrap"),
            ndi.gaussian_filter(img, 2, mode="wrap"),
            pdd.correlate(chunked, np.outer(g, g), mode="circular"),
        ),
        (
            "uniform_filter 5, wrap",
            ndfilters.uniform_filter(chunked, 5, mode="wrap"),
            ndi.uniform_filter(img, 5, mode="wrap"),
            pdd.correlate(chunked, box, mode="circular", convention="scipy"),
        ),
        (
            "sobel axis 0, wrap",
            ndfilters.sobel(chunked, axis=0, mode="wrap"),
            ndi.sobel(img, axis=0, mode="wrap"),
            pdd.correlate(chunked, sobel, mode="circular"),
        ),
    ]:
        t, o = theirs.compute(), ours.compute()
        bad = np.abs(t - truth) > 1e-4
        print(f"| {name} | - | max err {np.abs(t - truth).max():.3g}, {100 * bad.mean():.1f}% of "
              f"pixels wrong | max err {np.abs(o - truth).max():.1g} |")  # fmt: skip
    x = np.arange(1.0, 6.0)
    cx = da.from_array(x, chunks=2)
    for width, mode, kw, rule, rkw in [
        (7, "reflect", {}, "reflect", {}),
        (6, "symmetric", {}, "symmetric", {}),
        (6, "wrap", {}, "circular", {}),
        (2, "reflect", {"reflect_type": "odd"}, "reflect_odd", {}),
        (2, "mean", {"stat_length": 7}, "mean", {"stat_length": 7}),
    ]:
        truth = np.pad(x, width, mode, **kw)
        theirs = da.pad(cx, width, mode, **kw).compute()
        ours = pdd.pad(cx, width, rule, **rkw).compute()
        verdict = (
            f"shape {theirs.shape[0]} (numpy {truth.shape[0]})"
            if theirs.shape != truth.shape
            else f"max err {np.abs(theirs - truth).max():.3g}"
        )
        print(f"| dask.array.pad n=5 chunks 2, {mode} {kw or ''} width {width} | shape "
              f"{truth.shape[0]} | {verdict} | shape {ours.shape[0]}, max err "
              f"{np.abs(ours - truth).max():.1g} |")  # fmt: skip
    try:
        da.pad(cx, 3, "median")
        med = "ok"
    except NotImplementedError:
        med = "NotImplementedError"
    ok = np.array_equal(pdd.pad(cx, 3, "median").compute(), np.pad(x, 3, "median"))
    print(f"| dask.array.pad median | - | {med} | equal to numpy: {ok} |")
    y = da.from_array(np.arange(8.0), chunks=(3, 3, 2))
    merged = y.map_overlap(lambda b: b, depth=4, boundary="reflect").chunks
    ours = pdd.correlate(y, np.ones(9), mode="symmetric").chunks
    print(f"| map_overlap depth 4 on chunks (3,3,2) | - | output chunks {merged[0]} | {ours[0]} |")
    ok = np.array_equal(
        pdd.correlate(y, np.ones(9), mode="symmetric").compute(),
        padlab.correlate(np.arange(8.0), np.ones(9), mode="symmetric"),
    )
    print(f"| (padlab result equals in-memory, bitwise) | | | {ok} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--inmem")
    parser.add_argument("--cli")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--kernels", default="3,15,31")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--sizes", default="8192,16384,24576")
    parser.add_argument("--graph", action="store_true")
    parser.add_argument("--wrong", action="store_true")
    parser.add_argument("--folder", default=None)
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--single-child")
    parser.add_argument("--threads", type=int, default=1, help="with --single")
    args = parser.parse_args()
    if args.single_child:
        print(json.dumps(single_child(json.loads(args.single_child))))
        return
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.cli:
        print(json.dumps(cli_child(json.loads(args.cli))))
        return
    if args.inmem:
        print(json.dumps(in_memory_cpu(*json.loads(args.inmem))))
        return
    if args.graph:
        graph_time()
        return
    if args.wrong:
        wrong()
        return
    folder = Path(args.folder or tempfile.mkdtemp(prefix="padlab-bench-"))
    try:
        if args.memory:
            memory(folder, [int(s) for s in args.sizes.split(",")], 2048)
        elif args.single:
            kernels = [int(k) for k in args.kernels.split(",")]
            single(args.size, args.chunk, kernels, folder, args.threads)
        else:
            table(args.size, args.chunk, [int(k) for k in args.kernels.split(",")], folder)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
