"""``padlab.dask.compare_dataset``: :func:`padlab.compare` on every image of a dataset, on a
cluster, one task per image.

By default padlab starts a local cluster (one single-threaded worker process per core, on
127.0.0.1 only, no dashboard) and stops it at the end; ``scheduler="tcp://HOST:PORT"`` (or a
``distributed.Client``) uses a running cluster instead. A file that cannot be read or measured
becomes a failure with its reason and the rest finishes; a worker that dies is replaced and its
tasks are run again by Dask's scheduler.
"""

from __future__ import annotations

import glob
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from padlab.analysis.comparison import DEFAULT_MODES
from padlab.errors import PadlabTypeError, PadlabValueError
from padlab.modes.registry import resolve_mode

__all__ = ["DatasetReport", "compare_dataset", "measure_image"]


def measure_image(
    path: str, kernel: np.ndarray, modes: Sequence[str], depth: int, value: float, gray: bool
) -> dict[str, object]:
    """The task run for one image: its :func:`padlab.compare` records, or its failure.

    Never raises: an unreadable or unmeasurable file is returned as
    ``{"path": ..., "error": "Type: message"}`` so one bad file cannot fail the dataset.
    """
    from padlab.analysis.comparison import compare
    from padlab.io.images import read_image
    from padlab.report.build import prepare_image  # what padlab compare and report measure

    try:
        image = prepare_image(read_image(path), colour=not gray, name=path).pixels
        result = compare(image, kernel, list(modes), depth=depth, value=value, image_name=path)
        return {"path": path, "records": result.to_dict()["records"]}
    except Exception as err:  # a bad file is a row of the report, not a crash
        return {"path": path, "error": f"{type(err).__name__}: {err}"}


@dataclass
class DatasetReport:
    """Per-rule aggregates over the images measured, and every failure with its reason.

    Attributes
    ----------
    kernel : str
    modes : list of str
    images : list of str
        The files measured successfully.
    failed : list of (str, str)
        ``(path, reason)`` of every file that could not be measured.
    rules : list of dict
        Per rule: ``mode``, ``images``, ``context_rmse_mean``, ``context_rmse_sd``,
        ``context_rmse_median``, ``false_edge_ratio_median``, ``times_first`` (how often the
        rule had the smallest context error, ties counted for each), ordered by mean error.
    per_image : dict
        ``path -> records`` as returned by :func:`padlab.compare` (``to_dict()["records"]``).
    """

    kernel: str
    modes: list[str]
    images: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    rules: list[dict[str, object]] = field(default_factory=list)
    per_image: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: kernel, modes, images, failed (path + reason), rules, per_image."""
        return {
            "kernel": self.kernel,
            "modes": self.modes,
            "images": self.images,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "rules": self.rules,
            "per_image": self.per_image,
        }

    def table(self) -> str:
        """A readable table, lowest mean context error first, then the failures."""
        lines = [
            f"{'rule':10s} {'images':>6} {'mean RMSE':>10} {'sd':>9} {'median':>9} "
            f"{'ranked 1st':>10} {'false edge (median)':>20}"
        ]
        for r in self.rules:
            lines.append(
                f"{r['mode']!s:10s} {r['images']:6d} {_num(r['context_rmse_mean']):>10} "
                f"{_num(r['context_rmse_sd']):>9} {_num(r['context_rmse_median']):>9} "
                f"{r['times_first']:10d} {_num(r['false_edge_ratio_median']):>20}"
            )
        if self.failed:
            lines.append(f"\n{len(self.failed)} file(s) failed:")
            lines += [f"  {p}: {reason}" for p, reason in self.failed]
        return "\n".join(lines)


def _num(value: object) -> str:
    return "-" if value is None else f"{float(value):.5f}"  # type: ignore[arg-type]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _aggregate(modes: Sequence[str], per_image: dict[str, list[dict]]) -> list[dict[str, object]]:
    rows = []
    for mode in modes:
        errors, edges, first = [], [], 0
        for records in per_image.values():
            for r in records:
                if r["mode"] != mode:
                    continue
                errors.append(float(r["context_error_rmse"]))
                if r["false_edge_ratio"] is not None:
                    edges.append(float(r["false_edge_ratio"]))
                first += r["rank"] == 1
        e = np.asarray(errors)
        rows.append(
            {
                "mode": mode,
                "images": len(errors),
                "context_rmse_mean": _finite_or_none(e.mean()) if e.size else None,
                "context_rmse_sd": _finite_or_none(e.std(ddof=1)) if e.size > 1 else None,
                "context_rmse_median": _finite_or_none(np.median(e)) if e.size else None,
                "false_edge_ratio_median": _finite_or_none(np.median(edges)) if edges else None,
                "times_first": int(first),
            }
        )
    rows.sort(key=lambda r: (r["context_rmse_mean"] is None, r["context_rmse_mean"] or 0.0))
    return rows


def expand_paths(paths_or_glob: object) -> list[str]:
    """A glob pattern, one path, or a sequence of paths (globs expanded), as a sorted list.

    Examples
    --------
    >>> expand_paths(["b.png", "a.png"])
    ['b.png', 'a.png']
    """
    if isinstance(paths_or_glob, str | os.PathLike):
        items = [os.fspath(paths_or_glob)]
    elif isinstance(paths_or_glob, Sequence):
        items = [os.fspath(p) for p in paths_or_glob]
    else:
        raise PadlabTypeError(
            "paths must be a glob pattern, a path or a sequence of paths, got "
            f"{type(paths_or_glob).__name__}"
        )
    out: list[str] = []
    for item in items:
        if glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise PadlabValueError(f"no file matches {item!r}")
            out += [m for m in matches if not os.path.isdir(m)]
        else:
            out.append(item)
    if not out:
        raise PadlabValueError(f"no image to measure in {paths_or_glob!r}")
    return out


def local_cluster(n_workers: int | None = None):
    """A loopback-only local cluster: one single-threaded worker process per core."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
        silence_logs=logging.ERROR,
    )
    return Client(cluster)


def compare_dataset(
    paths_or_glob: object,
    kernel: object,
    modes: Sequence[str] = DEFAULT_MODES,
    scheduler: object = None,
    *,
    depth: int = 1,
    value: float = 0,
    gray: bool = False,
    n_workers: int | None = None,
    progress: Callable[[int, int, dict[str, object]], None] | None = None,
) -> DatasetReport:
    """Run :func:`padlab.compare` on every image of a dataset, one task per image.

    Parameters
    ----------
    paths_or_glob : str or sequence of str
        A glob pattern (``"photos/*.jpg"``), or paths.
    kernel : str or array_like
        A kernel name or array (see :func:`padlab.kernels.parse_kernel`).
    modes : sequence of str
        The rules compared.
    scheduler : None, str or distributed.Client
        None: a local cluster (one single-threaded process per core, 127.0.0.1), started and
        stopped here. ``"tcp://HOST:PORT"``: a running scheduler. A ``Client``: used as is.
    depth, value, gray
        As in :func:`padlab.compare` (``gray`` measures the grayscale image).
    n_workers : int, optional
        Worker processes of the local cluster (default: one per core).
    progress : callable, optional
        Called as ``progress(done, total, result)`` after each image.

    Returns
    -------
    DatasetReport

    Examples
    --------
    >>> import padlab.dask
    >>> padlab.dask.compare_dataset("no/such/*.png", "outline")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: no file matches 'no/such/*.png'
    """
    from padlab.kernels.registry import parse_kernel

    paths = expand_paths(paths_or_glob)
    label, weights = parse_kernel(kernel)
    names = [resolve_mode(m).name for m in modes]
    if not names:
        raise PadlabValueError("modes is empty; give at least one rule")
    from distributed import Client, as_completed

    own = scheduler is None
    if own:
        client = local_cluster(n_workers)
    elif isinstance(scheduler, Client):
        client = scheduler
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as err:
            raise PadlabValueError(f"cannot reach the scheduler {scheduler!r}: {err}") from None
        own = True
    else:
        raise PadlabTypeError(
            "scheduler must be None, an address such as 'tcp://127.0.0.1:8786' or a "
            f"distributed.Client, got {type(scheduler).__name__}"
        )
    report = DatasetReport(kernel=label, modes=names)
    try:
        futures = client.map(
            measure_image,
            paths,
            kernel=weights,
            modes=tuple(names),
            depth=depth,
            value=value,
            gray=gray,
            pure=False,
        )
        results: dict[str, dict[str, object]] = {}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results[str(result["path"])] = result
            future.release()
            if progress is not None:
                progress(done, len(paths), result)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    for path in paths:
        result = results[path]
        if "error" in result:
            report.failed.append((path, str(result["error"])))
        else:
            report.images.append(path)
            report.per_image[path] = result["records"]  # type: ignore[assignment]
    report.rules = _aggregate(names, report.per_image)
    return report
