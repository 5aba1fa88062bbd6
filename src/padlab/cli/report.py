"""``padlab report``: the main job. Measure and show every rule on a photo, as one HTML page."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from padlab.analysis.compare import DEFAULT_MODES
from padlab.ops.warmup import notice
from padlab.io.images import read_image, sample_image
from padlab.report.build import DEFAULT_KERNELS, build_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab report``."""
    parser = sub.add_parser(
        "report",
        help="write an HTML report of what each padding rule does to a photo (the main job)",
        description=(
            "Filter IMAGE (default: the built-in sample photo) with each kernel under each "
            "padding rule, measure what the padding did, and write DIR/index.html (one "
            "self-contained page), the figures as PNG and metrics.json."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE")
    parser.add_argument(
        "-k",
        "--kernels",
        default=",".join(DEFAULT_KERNELS),
        help=f"comma-separated kernels (default: {','.join(DEFAULT_KERNELS)})",
    )
    parser.add_argument(
        "-m",
        "--modes",
        default=",".join(DEFAULT_MODES),
        help=f"comma-separated rules (default: {','.join(DEFAULT_MODES)})",
    )
    parser.add_argument("--pad-width", type=int, default=24, help="padding of the classic figure")
    parser.add_argument("--depth", type=int, default=2, help="deepest stacking for the curves")
    parser.add_argument("-o", "--output", default="padlab-report", help="report directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, showing progress on stderr; print a summary and the path."""
    started = time.perf_counter()
    if args.image is None:
        image, name = sample_image(), "grace_hopper.jpg (sample photo)"
    else:
        image, name = read_image(args.image, alpha="drop"), args.image
    kernels = tuple(k.strip() for k in args.kernels.split(",") if k.strip())
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    notice()
    steps = {"n": 0}

    def progress(message: str) -> None:
        steps["n"] += 1
        elapsed = time.perf_counter() - started
        print(f"[{elapsed:5.1f} s] {message}", file=sys.stderr, flush=True)

    command = (
        "padlab " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if sys.argv[1:2] == ["report"]
        else "padlab report"
    )
    report = build_report(
        image,
        image_name=name,
        kernels=kernels,
        modes=modes,
        pad_width=args.pad_width,
        depth=args.depth,
        out_dir=args.output,
        command=command,
        progress=progress,
    )
    print(f"padlab report on {name} ({'x'.join(map(str, image.shape))})")
    for kernel, comparison in report.comparisons.items():
        ranking = ", ".join(
            f"{r.mode} {100 * r.context_error_relative:.2f}%" for r in comparison.records
        )
        print(f"  {kernel:10s} context error (relative RMSE, best first): {ranking}")
    print(f"\n{report.recommendation}")
    print(f"\nreport: {report.directory / 'index.html'} ({report.seconds:.1f} s)")
    return 0
