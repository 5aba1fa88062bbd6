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
    position.add_argument("--seeds", type=int, default=5, help="networks per rule (default 5)")
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
    from padlab.errors import PadlabValueError
    from padlab.torch.experiment import position_experiment, save

    for name in ("seeds", "epochs", "patience", "train", "test"):
        if getattr(args, name) < 1:
            raise PadlabValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
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
