"""The Dask side of the CLI: ``padlab compare --dataset`` and ``padlab filter --chunks``.

Kept apart from the in-memory commands: Dask is imported only when these options are used,
and a missing Dask is a one-line error naming the extra to install.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from padlab.errors import PadlabDependencyError

__all__ = ["add_compare_arguments", "add_filter_arguments", "run_compare", "run_filter"]


def _dask():
    try:
        import padlab.dask
    except ImportError as err:
        raise PadlabDependencyError(
            f"this option needs Dask ({err}); install it with: pip install 'padlab[dask]'"
        ) from None
    return padlab.dask


class Progress:
    """One progress bar on stderr (a line per step when stderr is not a terminal)."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        line = f"{self.what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.tty:
            print("\r" + line, end="\n" if done == total else "", file=self.stream, flush=True)
        elif done == total or done * 10 // max(total, 1) != self.last:
            self.last = done * 10 // max(total, 1)
            print(line, file=self.stream, flush=True)


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset GLOB`` and ``--scheduler ADDRESS`` for ``padlab compare``."""
    group = parser.add_argument_group("datasets (needs padlab[dask])")
    group.add_argument(
        "--dataset",
        metavar="GLOB",
        help="measure every image matching GLOB (quote it), one task per image on a local "
        "cluster (one process per core, 127.0.0.1) or on --scheduler; prints per-rule "
        "aggregates and the files that failed",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://HOST:8786 (default: a local cluster)",
    )
    group.add_argument(
        "--workers", type=int, default=None, help="local cluster processes (default: cores)"
    )


def run_compare(args: argparse.Namespace) -> int:
    """``padlab compare --dataset``: aggregates per rule, failures listed; 1 if any failed."""
    from padlab.errors import PadlabValueError

    pdd = _dask()
    if args.image is not None:
        raise PadlabValueError("give either IMAGE or --dataset GLOB, not both")
    from padlab.cli.common import split_modes

    modes = split_modes(args.mode, args.mode_default)
    bar = Progress("images")
    report = pdd.compare_dataset(
        args.dataset,
        args.kernel,
        modes,
        args.scheduler,
        depth=args.depth,
        gray=not args.colour,  # as padlab compare on one image: the luma unless --colour
        n_workers=args.workers,
        progress=lambda done, total, _: bar(done, total),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        n = len(report.images) + len(report.failed)
        print(f"dataset {args.dataset}: {len(report.images)} of {n} images measured, "
              f"kernel {report.kernel}")  # fmt: skip
        print(report.table())
    return 1 if report.failed else 0


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--chunks N`` (and ``--scheduler``) for ``padlab filter``."""
    group = parser.add_argument_group("images larger than memory (needs padlab[dask])")
    group.add_argument(
        "--chunks",
        type=int,
        default=None,
        metavar="N",
        help="filter chunk by chunk (N x N samples per chunk) with padlab.dask; input TIFF, "
        "zarr or OME-Zarr, output -o OUT.zarr or OUT.tif, written block by block",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="with --chunks: a running Dask scheduler (default: threads in this process)",
    )


def run_filter(args: argparse.Namespace) -> int:
    """``padlab filter BIG --chunks N -o OUT.zarr``: chunk by chunk, one progress bar."""
    from pathlib import Path

    from padlab.errors import PadlabValueError
    from padlab.kernels.registry import parse_kernel

    pdd = _dask()
    from padlab.dask.files import open_image, save

    if len(args.images) != 1:
        raise PadlabValueError(
            f"--chunks filters one image (TIFF, zarr or OME-Zarr), got {len(args.images)}"
        )
    if not args.output or Path(args.output).suffix.lower() not in (".zarr", ".tif", ".tiff"):
        raise PadlabValueError("--chunks needs -o OUT.zarr or -o OUT.tif")
    if args.chunks < 1:
        raise PadlabValueError(f"--chunks must be at least 1, got {args.chunks}")
    label, kernel = parse_kernel(args.kernel)
    padding: int | str = args.padding
    try:
        padding = int(args.padding)
    except ValueError:
        pass
    if args.scheduler is None:
        from padlab._threads import limit_heaps

        limit_heaps()  # the peak memory stays flat however many chunks the image has
    image, channel_axis = open_image(args.images[0], chunks=args.chunks)
    if args.gray and channel_axis is not None:
        raise PadlabValueError("--gray is not available with --chunks; filter the channels")
    result = pdd.correlate(
        image,
        kernel,
        mode=args.mode,
        padding=padding,
        stride=args.stride,
        channel_axis=channel_axis,
    )
    bar = Progress("blocks")
    save(result, args.output, scheduler=args.scheduler, progress=bar)
    shape = "x".join(map(str, image.shape))
    out_shape = "x".join(map(str, result.shape))
    print(
        f"{args.images[0]} ({shape}) -> {args.output} ({out_shape}, {result.dtype}), kernel "
        f"{label}, rule {args.mode}, chunks {args.chunks}: raw responses, not mapped to pixels"
    )
    return 0
