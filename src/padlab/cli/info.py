"""``padlab info``: version, threads, engines, compiled-kernel cache and dependency versions."""

from __future__ import annotations

import argparse

from padlab._config import show_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab info``."""
    parser = sub.add_parser(
        "info",
        help="show padlab's configuration (like numpy.show_config())",
        description="Print the padlab version, the worker threads and where that number came "
        "from (PADLAB_NUM_THREADS, NUMBA_NUM_THREADS, OMP_NUM_THREADS, the cgroup CPU quota "
        "or the CPU affinity), the engines, numba's cache of compiled kernels and the versions "
        "of the dependencies.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the configuration."""
    show_config("json" if args.json else "stdout")
    return 0
