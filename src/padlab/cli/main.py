"""Entry point of the ``padlab`` command.

Every subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
the options they share come from :mod:`padlab.cli.common`. Errors padlab raises on purpose become
one line on stderr and exit status 2; a closed output pipe (``padlab modes | head -1``) ends
quietly with status 141.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import warnings
from collections.abc import Sequence

from padlab import __version__
from padlab.cli import audit as audit_cmd
from padlab.cli import compare as compare_cmd
from padlab.cli import experiment as experiment_cmd
from padlab.cli import filter as filter_cmd
from padlab.cli import info as info_cmd
from padlab.cli import kernels as kernels_cmd
from padlab.cli import modes as modes_cmd
from padlab.cli import report as report_cmd
from padlab.cli.common import EXIT_CODES
from padlab.errors import PadlabError

_COMMANDS = (
    report_cmd,
    filter_cmd,
    compare_cmd,
    modes_cmd,
    kernels_cmd,
    audit_cmd,
    experiment_cmd,
    info_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``padlab`` command."""
    parser = argparse.ArgumentParser(
        prog="padlab",
        description="See and fix what padding does to convolutions.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"padlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``padlab`` command and return its exit status.

    Examples
    --------
    >>> main(["modes", "--translate", "scipy:reflect"])  # doctest: +ELLIPSIS
    scipy:reflect is padlab 'symmetric': c b a | a b c d | d c b
    ...
    0
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded by commands that write results (shlex-quoted)
    try:
        with warnings.catch_warnings():  # warnings as one line each, restored afterwards
            warnings.showwarning = _one_line_warning
            return int(args.run(args) or 0)
    except PadlabError as err:
        print(f"padlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("padlab: interrupted", file=sys.stderr)
        return 130


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"padlab: warning: {message}", file=sys.stderr if file is None else file)


def _silence_stdout() -> None:
    """The reader of stdout went away: send the rest (and the final flush) to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to flush
        pass


def entry() -> None:
    """The ``padlab`` console script: :func:`main`, then exit.

    The objects numba creates while it loads the kernels make the interpreter's final garbage
    collection take 0.2 to 0.4 s; freezing them first skips it (the files are closed already).
    """
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        status = 141
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
