"""``padlab compare``: measure every padding rule on an image and a kernel, ranked."""

from __future__ import annotations

import argparse
import json
import sys

from padlab.analysis.comparison import DEFAULT_MODES, compare, recommend
from padlab.cli.common import Progress, add_common_arguments, new_parser, split_modes
from padlab.io.images import read_image, sample_image
from padlab.ops.warmup import notice
from padlab.report.build import name_kernels, prepare_image

SAMPLE = "grace_hopper.jpg (sample photo)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab compare``."""
    parser = new_parser(
        sub,
        "compare",
        help="measure what each padding rule does to an image, ranked",
        description=(
            "Filter IMAGE (default: the sample photo) with KERNEL under each rule and measure "
            "the error against the true context, false edges, distribution shift and "
            "translation equivariance. Rules are ranked by the relative context error, the "
            "criterion of padlab report's advice; the image is measured as grayscale (BT.601 "
            "luma) as in padlab report, or its colour channels with --colour. In --json output, "
            "an infinite ratio (a flat interior) is written as null."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="the image (default: sample)")
    add_common_arguments(parser, kernel="outline", modes=DEFAULT_MODES, json=True)
    parser.add_argument("--depth", type=int, default=1, help="stacked filterings")
    parser.add_argument(
        "--colour",
        "--color",
        action="store_true",
        help="measure the R, G, B channels together instead of the luma",
    )
    parser.add_argument("--gray", action="store_true", help=argparse.SUPPRESS)  # the default now
    # --- padlab.dask hook (datasets on a cluster): padlab/cli/dask_cli.py ---
    from padlab.cli.dask_cli import add_compare_arguments

    add_compare_arguments(parser)
    # --- end of padlab.dask hook ---
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the ranked table, or JSON."""
    # --- padlab.dask hook ---
    if getattr(args, "dataset", None):
        from padlab.cli.dask_cli import run_compare

        return run_compare(args)
    # --- end of padlab.dask hook ---
    progress = Progress(quiet=args.quiet or args.json)
    [(label, kernel)] = name_kernels([args.kernel]).items()
    modes = split_modes(args.mode, args.mode_default)
    if args.image is None:
        image, name = sample_image(), SAMPLE
    else:
        image, name = read_image(args.image), args.image
    prepared = prepare_image(image, colour=args.colour, name=name)
    h, w = image.shape[:2]
    notice()  # a first run compiles the kernels (about 15 s): say so before the pause
    progress.step(f"measuring {label} under {len(modes)} rules on {w}x{h} px")
    result = compare(
        prepared.pixels, kernel, modes, depth=args.depth, image_name=name, kernel_name=label
    )
    advice = recommend(result)
    warnings = [*prepared.warnings, *advice.warnings]
    if args.json:
        print(
            json.dumps(
                {
                    **result.to_dict(),
                    "measured_as": prepared.measured_as,
                    "recommendation": advice.to_dict(),
                    "warnings": warnings,
                },
                indent=2,
            )
        )
        return 0
    for warning in warnings:
        print(f"padlab compare: warning: {warning}", file=sys.stderr)
    size = "x".join(map(str, kernel.shape))
    print(
        f"image {name} ({w}x{h}, measured as {prepared.measured_as}), kernel {label} {size}, "
        f"depth {args.depth}"
    )
    print(result.table())
    print(f"\n{advice.sentence}")
    if args.verbose:
        print(
            "rel. error: RMS error against the true context in the border band over the "
            "response's RMS; false edge: mean |response| in the band over the interior's."
        )
    return 0
