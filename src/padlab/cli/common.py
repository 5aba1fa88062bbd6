"""What every ``padlab`` command shares: option names, lists, progress, exit codes, help style.

A command calls :func:`add_common_arguments` for the options it has (``-k/--kernel``,
``-m/--mode``, ``--json``, ``-q/--quiet``, ``-v/--verbose``) so the same option has the same
name, syntax and default wording everywhere; other options are added next to them as usual.
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import sys
import time
from collections.abc import Sequence

from padlab.errors import PadlabValueError

__all__ = [
    "EXIT_CODES",
    "Formatter",
    "Progress",
    "add_common_arguments",
    "command_line",
    "new_parser",
    "split_kernels",
    "split_modes",
]

#: The exit statuses of every command, printed at the end of each ``--help``.
EXIT_CODES = (
    "exit status: 0 done; 1 some inputs of a batch failed (the rest were written); "
    "2 bad input or arguments (one line on stderr, nothing written); 130 interrupted; "
    "141 output closed early (e.g. piped into head)."
)

_TEXT_KERNEL = re.compile(r"[-+0-9./eE\s,;]+")


class Formatter(argparse.HelpFormatter):
    """Help that keeps the description's paragraphs and shows every option's default."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            super(Formatter, self)._fill_text(p, width, indent) for p in text.split("\n")
        )

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and "default" not in text.lower() and action.option_strings:
            text += " (default: %(default)s)"
        return text


def new_parser(sub: argparse._SubParsersAction, name: str, **options) -> argparse.ArgumentParser:
    """A subcommand parser with padlab's help style and the exit codes in its epilog."""
    return sub.add_parser(name, formatter_class=Formatter, epilog=EXIT_CODES, **options)


def add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    kernel: str | None = None,
    kernels: Sequence[str] | None = None,
    mode: str | None = None,
    modes: Sequence[str] | None = None,
    json: bool = False,
    verbosity: bool = True,
) -> None:
    """Add the options shared by padlab's commands; give a default to get each option.

    ``kernel``/``mode``: one value. ``kernels``/``modes``: one or a comma list, repeatable (the
    parsed value is a list, see :func:`split_kernels`/:func:`split_modes`).
    """
    kernel_help = (
        "a named kernel (padlab kernels), a text kernel like '0,-1,0;-1,5,-1;0,-1,0' or a "
        ".npy/.txt file"
    )
    if kernel is not None:
        parser.add_argument("-k", "--kernel", default=kernel, help=kernel_help)
    if kernels is not None:
        parser.add_argument(
            "-k",
            "--kernel",
            "--kernels",
            dest="kernel",
            action="append",
            metavar="KERNELS",
            help=kernel_help + "; several: a comma list or -k again. A text kernel alone keeps "
            "its commas; in a list, quote it: -k 'outline,\"1,2,1\"'. Default: "
            + ",".join(kernels),
        )
        parser.set_defaults(kernel_default=list(kernels))
    if mode is not None:
        parser.add_argument("-m", "--mode", default=mode, help="padding rule (padlab modes)")
    if modes is not None:
        parser.add_argument(
            "-m",
            "--mode",
            "--modes",
            dest="mode",
            action="append",
            metavar="MODES",
            help="padding rules (padlab modes): a comma list or -m again. Default: "
            + ",".join(modes),
        )
        parser.set_defaults(mode_default=list(modes))
    if json:
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    if verbosity:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "-q", "--quiet", action="store_true", help="print only errors and the result"
        )
        group.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="print more detail (timings, what each step does)",
        )


def split_kernels(values: Sequence[str] | None, default: Sequence[str] = ()) -> list[str]:
    """Kernel options as a list: each value is one text kernel, or a comma list with quotes.

    Examples
    --------
    >>> split_kernels(["outline,blur", "0,-1,0;-1,5,-1;0,-1,0"])
    ['outline', 'blur', '0,-1,0;-1,5,-1;0,-1,0']
    >>> split_kernels(['outline,"1,2,1"'])
    ['outline', '1,2,1']
    >>> split_kernels(None, ["sharpen"])
    ['sharpen']
    """
    if values is None:
        return list(default)
    items: list[str] = []
    for value in values:
        if _TEXT_KERNEL.fullmatch(value) and value.strip():
            items.append(value.strip())  # one text kernel: its commas are its own
            continue
        items += _split(value, "kernel", "padlab kernels")
    return items


def split_modes(values: Sequence[str] | None, default: Sequence[str] = ()) -> list[str]:
    """Rule options as a list (comma lists, repeatable).

    Examples
    --------
    >>> split_modes(["zeros, reflect", "partial"])
    ['zeros', 'reflect', 'partial']
    """
    if values is None:
        return list(default)
    items: list[str] = []
    for value in values:
        items += _split(value, "padding rule", "padlab modes")
    return items


def _split(value: str, what: str, where: str) -> list[str]:
    try:
        row = next(csv.reader([value], skipinitialspace=True), [])
    except csv.Error as err:
        raise PadlabValueError(f"cannot read the list {value!r}: {err}") from None
    items = [item.strip() for item in row]
    if not items or any(not item for item in items):
        raise PadlabValueError(
            f"empty {what} in {value!r}; name one or more, separated by commas (see {where})"
        )
    return items


def command_line(argv: Sequence[str]) -> str:
    """The command as a shell would re-run it.

    Examples
    --------
    >>> command_line(["report", "my photo.png", "-k", "1,2,1"])
    "padlab report 'my photo.png' -k 1,2,1"
    """
    return shlex.join(["padlab", *argv])


class Progress:
    """padlab's one progress style: ``[  1.2 s] message`` on stderr, silent with ``--quiet``.

    Examples
    --------
    >>> import io
    >>> stream = io.StringIO()
    >>> Progress(stream=stream).step("measuring")
    >>> stream.getvalue().endswith("s] measuring\\n")
    True
    """

    def __init__(self, *, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream
        self.started = time.perf_counter()

    def step(self, message: str) -> None:
        """Say what happens next, with the time since the start."""
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.started
        print(f"[{elapsed:5.1f} s] {message}", file=self.stream or sys.stderr, flush=True)

    def __call__(self, message: str) -> None:
        self.step(message)
