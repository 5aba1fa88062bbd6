"""``padlab report``: the main job. Measure and show every rule on a photo, as one HTML page."""

from __future__ import annotations

import argparse
import json
import sys

from padlab.analysis.comparison import DEFAULT_MODES, percent
from padlab.cli.common import (
    Progress,
    add_common_arguments,
    command_line,
    new_parser,
    split_kernels,
    split_modes,
)
from padlab.io.images import read_image, sample_image
from padlab.ops.warmup import notice
from padlab.report.build import DEFAULT_KERNELS, build_report

SAMPLE = "grace_hopper.jpg (sample photo)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab report``."""
    parser = new_parser(
        sub,
        "report",
        help="write an HTML report of what each padding rule does to a photo (the main job)",
        description=(
            "Filter IMAGE (default: the built-in sample photo) with each kernel under each "
            "padding rule, measure what the padding did, and write DIR/index.html (one "
            "self-contained page), the figures as PNG and metrics.json.\n"
            "The photo is measured as grayscale (BT.601 luma) unless --colour; an alpha channel "
            "is composited over white, with a warning. Takes a few seconds (more on a large "
            "photo or at a larger --depth); progress goes to stderr."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="the photo (default: sample)")
    add_common_arguments(parser, kernels=DEFAULT_KERNELS, modes=DEFAULT_MODES, json=True)
    parser.add_argument(
        "--pad-width",
        type=int,
        default=None,
        help="padding of the classic figure in px (default: 5%% of the shorter side)",
    )
    parser.add_argument(
        "--depth", type=int, default=2, help="filter applied 1..DEPTH times for the context error"
    )
    parser.add_argument(
        "--colour",
        "--color",
        action="store_true",
        help="measure the R, G, B channels together instead of the luma",
    )
    parser.add_argument("-o", "--output", default="padlab-report", help="report directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, showing progress on stderr; print a summary and the path."""
    progress = Progress(quiet=args.quiet)
    kernels = split_kernels(args.kernel, args.kernel_default)
    modes = split_modes(args.mode, args.mode_default)
    if args.image is None:
        image, name = sample_image(), SAMPLE
    else:
        image, name = read_image(args.image), args.image
    notice()
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    report = build_report(
        image,
        image_name=name,
        kernels=kernels,
        modes=modes,
        pad_width=args.pad_width,
        depth=args.depth,
        colour=args.colour,
        out_dir=args.output,
        command=command_line(argv),
        argv=argv,
        progress=progress,
    )
    page = report.directory / "index.html"
    if args.json:
        summary = json.loads((report.directory / "metrics.json").read_text())
        summary["report"] = str(page)
        summary["seconds"] = round(report.seconds, 2)
        print(json.dumps(summary, indent=2))
        return 0
    h, w = image.shape[:2]
    for warning in report.warnings:
        print(f"padlab report: warning: {warning}", file=sys.stderr)
    measured = next(iter(report.comparisons.values()))
    print(
        f"padlab report on {name} ({w}x{h}, measured as "
        f"{'colour' if args.colour else 'grayscale'}, depth {args.depth})"
    )
    if not args.quiet:
        for kernel, comparison in report.comparisons.items():
            ranking = ", ".join(
                f"{r.mode} {percent(r.context_error_relative)}" for r in comparison.records
            )
            print(f"  {kernel}: error against the true context, best first: {ranking}")
    if args.verbose:
        print(f"  rules: {', '.join(measured.modes)}")
    print(f"\n{report.advice.sentence}")
    print(f"\nreport: {page} ({report.seconds:.1f} s)")
    return 0
