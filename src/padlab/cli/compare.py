"""``padlab compare``: measure every padding rule on an image and a kernel, ranked."""

from __future__ import annotations

import argparse
import json

from padlab.analysis.compare import DEFAULT_MODES, compare
from padlab.io.images import read_image, sample_image, to_gray
from padlab.kernels.registry import parse_kernel


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab compare``."""
    parser = sub.add_parser(
        "compare",
        help="measure what each padding rule does to an image, ranked",
        description=(
            "Filter IMAGE (default: the sample photo) with KERNEL under each rule and measure "
            "the error against the true context, false edges, distribution shift and "
            "translation equivariance. Rules are ranked by context error. In --json output, "
            "an infinite ratio (a flat interior) is written as null."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE")
    parser.add_argument("-k", "--kernel", default="outline", help="kernel (default: outline)")
    parser.add_argument(
        "-m",
        "--modes",
        default=",".join(DEFAULT_MODES),
        help=f"comma-separated rules (default: {','.join(DEFAULT_MODES)})",
    )
    parser.add_argument("--depth", type=int, default=1, help="stacked filterings (default: 1)")
    parser.add_argument("--gray", action="store_true", help="measure the grayscale image")
    parser.add_argument("--json", action="store_true", help="print JSON")
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
    label, kernel = parse_kernel(args.kernel)
    if args.image is None:
        image, name = sample_image(), "grace_hopper (sample photo)"
    else:
        image, name = read_image(args.image, alpha="drop"), args.image
    if args.gray:
        image = to_gray(image)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    result = compare(image, kernel, modes, depth=args.depth, image_name=name, kernel_name=label)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    shape = "x".join(map(str, image.shape))
    print(f"image {name} ({shape}), kernel {label} {kernel.shape[0]}x{kernel.shape[1]}, "
          f"depth {args.depth}")  # fmt: skip
    print(result.table())
    best = result.best()
    print(f"\nsmallest error against the true context: {best.mode} ({best.pattern})")
    return 0
