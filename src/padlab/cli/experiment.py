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
    position.add_argument(
        "--protocol",
        choices=("padlab", "paper"),
        default="padlab",
        help=(
            "padlab (default): both boxes on one row, shuffled batches, best validation "
            "accuracy, every padlab rule; paper: Kayhan & van Gemert's red_and_green.py (their "
            "box layout, batches in order, lowest validation loss, valid/same/full zeros and "
            "circular of width 2, 10 seeds)"
        ),
    )
    position.add_argument(
        "--seeds", type=int, default=None, help="networks per rule (default 3; paper: 10)"
    )
    position.add_argument("--epochs", type=int, default=50, help="at most this many (default 50)")
    position.add_argument("--patience", type=int, default=8, help="early stopping (default 8)")
    position.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    position.add_argument(
        "--test", type=int, default=1000, help="test and val images (default 1000)"
    )
    position.add_argument("-o", "--output", default="padlab-position", help="results directory")
    position.set_defaults(run=run)


#: what a run writes (results.json, table.txt, a ~100 kB figure), with a wide margin
NEEDED_BYTES = 16 * 2**20


def run(args: argparse.Namespace) -> int:
    """Train, print the table, write results.json, table.txt and accuracy.png."""
    import shutil
    from pathlib import Path

    from padlab._files import check_output_directory
    from padlab.errors import PadlabFileError, PadlabValueError
    from padlab.torch.experiment import position_experiment, save

    if args.seeds is None:
        args.seeds = 10 if args.protocol == "paper" else 3
    for name in ("seeds", "epochs", "patience", "train", "test"):
        if getattr(args, name) < 1:
            raise PadlabValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    check_output_directory(args.output)
    output = Path(args.output).resolve()
    free = shutil.disk_usage(output.parent).free
    if free < NEEDED_BYTES:  # before hours of training, not after
        raise PadlabFileError(
            f"{output.parent}: only {free // 1024} kB free; the results need about "
            f"{NEEDED_BYTES // 2**20} MB"
        )
    checkpoint = output.parent / f"{output.name}.partial.json"
    _keep_heap_memory()
    result = position_experiment(
        seeds=args.seeds,
        epochs=args.epochs,
        patience=args.patience,
        train=args.train,
        val=args.test,
        test=args.test,
        protocol=args.protocol,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        checkpoint=checkpoint,
    )
    print(result.table())
    out = save(result, args.output)
    checkpoint.unlink(missing_ok=True)
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
