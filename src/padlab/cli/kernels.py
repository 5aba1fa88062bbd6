"""``padlab kernels``: the named kernels, what they do, their sum and separability."""

from __future__ import annotations

import argparse
import json

import numpy as np

from padlab.cli.common import new_parser
from padlab.kernels.registry import KERNELS, describe_kernel, get_kernel


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab kernels``."""
    parser = new_parser(
        sub,
        "kernels",
        help="list the named kernels",
        description="List the named kernels: size, sum, separability, use.",
    )
    parser.add_argument("--show", metavar="NAME", help="print one kernel's weights")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the table, or one kernel."""
    if args.json:
        names = [args.show] if args.show else [entry.name for entry in KERNELS.values()]
        table = []
        for name in names:
            kernel = get_kernel(name)
            table.append({"name": name, **describe_kernel(kernel), "weights": kernel.tolist()})
        print(json.dumps(table[0] if args.show else table, indent=2))
        return 0
    if args.show:
        kernel = get_kernel(args.show)
        info = describe_kernel(kernel)
        print(f"{args.show}: shape {info['shape']}, sum {info['sum']:g}, "
              f"{'separable' if info['separable'] else 'not separable'}")  # fmt: skip
        with np.printoptions(precision=4, suppress=True):
            print(kernel)
        return 0
    print(f"{'kernel':12s} {'size':5s} {'sum':>7s} {'separable':9s}  what it does")
    for entry in KERNELS.values():
        info = describe_kernel(get_kernel(entry.name))
        size = "x".join(map(str, info["shape"]))
        sep = "yes" if info["separable"] else "no"
        same = f" (= {entry.equivalent})" if entry.equivalent else ""
        print(f"{entry.name:12s} {size:5s} {info['sum']:7.3g} {sep:9s}  {entry.what}{same}")
    print("\nAlso: box-N, gaussian-N, gaussian-N-SIGMA, identity-N; text '0,-1,0;-1,5,-1;0,-1,0';")
    print("or a .npy / .txt file. Kernels are correlation kernels, as cv2.filter2D applies them.")
    return 0
