"""``padlab experiment position``: the Red-Green position experiment (needs torch)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab experiment``."""
    parser = sub.add_parser(
        "experiment",
        help="run a padding experiment on CNNs (needs torch)",
        description="Experiments on what padding teaches a CNN.",
    )
    kinds = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    position = kinds.add_parser(
        "position",
        help="Red-Green (Kayhan & van Gemert, CVPR 2020): does the net learn absolute position?",
        description=(
            "Train the Red-Green network once per padding rule and seed, and report its "
            "accuracy on the usual test set and on the dissimilar one (each class in the other "
            "image band). Collapsing on the dissimilar set means the network learned where the "
            "boxes are, which only the border (through the padding) can tell it."
        ),
    )
    position.add_argument("--seeds", type=int, default=3, help="networks per rule (default 3)")
    position.add_argument("--epochs", type=int, default=50, help="at most this many (default 50)")
    position.add_argument("--patience", type=int, default=8, help="early stopping (default 8)")
    position.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    position.add_argument(
        "--test", type=int, default=1000, help="test and val images (default 1000)"
    )
    position.add_argument("-o", "--output", default="padlab-position", help="results directory")
    position.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, print the table, write results.json, table.txt and accuracy.png."""
    from padlab._files import check_output_directory
    from padlab.errors import PadlabValueError
    from padlab.torch.experiment import position_experiment, save

    for name in ("seeds", "epochs", "patience", "train", "test"):
        if getattr(args, name) < 1:
            raise PadlabValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    check_output_directory(args.output)
    _keep_heap_memory()
    result = position_experiment(
        seeds=args.seeds,
        epochs=args.epochs,
        patience=args.patience,
        train=args.train,
        val=args.test,
        test=args.test,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(result.table())
    out = save(result, args.output)
    print(f"\n{result.seconds:.0f} s; results in {out}/ (results.json, table.txt, accuracy.png)")
    return 0


def _keep_heap_memory() -> None:
    """Let glibc keep freed memory for reuse instead of unmapping it (this process only).

    Each training step allocates activations of tens of MB; by default glibc maps and unmaps
    them every time, and the kernel zeroes fresh pages at every step: measured here, 40% of
    the run was system time. Raising the mmap and trim thresholds makes training ~1.5x faster.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 512 * 2**20)
    libc.mallopt(m_trim_threshold, 1024 * 2**20)
