"""``padlab filter``: filter one photo or a batch with a named kernel and a padding rule."""

from __future__ import annotations

import argparse
import glob
import sys
import threading
import time
from pathlib import Path

import numpy as np

from padlab.engine.warmup import notice
from padlab.errors import PadlabError, PadlabFileError, PadlabValueError
from padlab.io.images import FORMATS, from_float, read_image, sample_image, write_image
from padlab.io.mapping import MAPPINGS, display
from padlab.kernels.registry import parse_kernel
from padlab.modes.registry import Rule, resolve_mode
from padlab.ops.images import ALPHA, filter_image

SAMPLE_NAME = "grace_hopper"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab filter``."""
    parser = sub.add_parser(
        "filter",
        help="filter images with a kernel and a padding rule",
        description=(
            "Filter one image, several, a directory or a glob with a kernel and a padding rule; "
            "colour images are filtered channel by channel. Without IMAGE, the built-in sample "
            "photo is used."
        ),
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="files, directories or globs")
    parser.add_argument(
        "-k",
        "--kernel",
        default="outline",
        help="a named kernel (padlab kernels), text like '0,-1,0;-1,5,-1;0,-1,0', or a .npy/.txt "
        "file (default: outline)",
    )
    parser.add_argument("-m", "--mode", default="zeros", help="padding rule (padlab modes)")
    parser.add_argument(
        "--padding", default="same", help="same, valid, full or an int (default: same)"
    )
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument(
        "--map",
        dest="mapping",
        choices=MAPPINGS,
        default="clip",
        help="how signed responses become pixels (default: clip)",
    )
    parser.add_argument("--gray", action="store_true", help="convert to grayscale first")
    parser.add_argument(
        "--alpha", choices=ALPHA, default="keep", help="RGBA: what to do with alpha"
    )
    parser.add_argument(
        "-o",
        "--output",
        help="output file (one image) or directory (several); default: next to the current "
        "directory, named IMAGE-KERNEL-MODE.png",
    )
    # --- padlab.dask hook (images larger than memory): padlab/cli/dask_cli.py ---
    from padlab.cli.dask_cli import add_filter_arguments

    add_filter_arguments(parser)
    # --- end of padlab.dask hook ---
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Filter the images; one line per failure, a summary, status 1 if any failed."""
    # --- padlab.dask hook ---
    if getattr(args, "chunks", None) is not None:
        from padlab.cli.dask_cli import run_filter

        return run_filter(args)
    # --- end of padlab.dask hook ---
    label, kernel = parse_kernel(args.kernel)
    rule = resolve_mode(args.mode)
    # numba loads (0.4 s of imports) in the background while the first image is decoded
    preload = threading.Thread(target=notice, name="padlab-preload", daemon=True)
    preload.start()
    try:
        return _run(args, label, kernel, rule)
    finally:
        preload.join()  # never exit while it may still be printing


def _run(args: argparse.Namespace, label: str, kernel: np.ndarray, rule: Rule) -> int:
    padding = _padding(args.padding)
    inputs, batch = _expand(args.images)
    targets = _targets(inputs, batch, args.output, label, rule.name)
    failures: list[str] = []
    start = time.perf_counter()
    progress = _Progress(len(inputs)) if batch else None
    for index, (source, target) in enumerate(zip(inputs, targets, strict=True), 1):
        name = SAMPLE_NAME if source is None else str(source)
        try:
            image = sample_image() if source is None else read_image(source)
            response = filter_image(
                image,
                kernel,
                mode=rule.name,
                padding=padding,
                stride=args.stride,
                gray=args.gray,
                alpha=args.alpha,
            )
            pixels, summary = _to_pixels(response, image, args.mapping, target)
            write_image(target, pixels)
        except PadlabError as err:
            failures.append(f"{name}: {err}")
            print(f"padlab filter: error: {err}", file=sys.stderr)
            if progress:
                progress.update(index, name)
            continue
        shape = "x".join(map(str, image.shape[:2]))
        out_shape = "x".join(map(str, pixels.shape[:2]))
        line = (
            f"{name} ({shape}) -> {target} ({out_shape}); kernel {label}, rule {rule.name} "
            f"({rule.pattern}), padding {args.padding}, stride {args.stride}; {summary}"
        )
        if progress:
            progress.update(index, name)
        else:
            print(line)
    elapsed = time.perf_counter() - start
    if batch:
        if progress:
            progress.done()
        ok = len(inputs) - len(failures)
        print(f"filtered {ok} of {len(inputs)} images into {targets[0].parent} in {elapsed:.1f} s")
        for failure in failures:
            print(f"  failed: {failure}")
    return 1 if failures else 0


def _padding(text: str) -> object:
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def _expand(items: list[str]) -> tuple[list[Path | None], bool]:
    """Files, directories and globs as a list of paths; whether this is a batch."""
    if not items:
        return [None], False
    paths: list[Path] = []
    batch = len(items) > 1
    for item in items:
        if any(ch in item for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(item))
            if not matches:
                raise PadlabFileError(f"{item}: no file matches")
            paths += matches
            batch = True
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).iterdir() if p.suffix.lower() in FORMATS)
            if not found:
                raise PadlabFileError(f"{item}: no image files ({', '.join(FORMATS)})")
            paths += found
            batch = True
        else:
            paths.append(Path(item))
    return paths, batch


def _targets(
    inputs: list[Path | None], batch: bool, output: str | None, kernel: str, rule: str
) -> list[Path]:
    tag = f"{_slug(kernel)}-{rule}"
    if not batch:
        stem = SAMPLE_NAME if inputs[0] is None else inputs[0].stem
        return [Path(output) if output else Path(f"{stem}-{tag}.png")]
    directory = Path(output or "padlab-filtered")
    if directory.suffix.lower() in FORMATS:
        raise PadlabValueError(f"{directory}: several images need an output directory, not a file")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PadlabFileError(f"{directory}: cannot create the output directory ({err})") from None
    targets, seen = [], set()
    for source in inputs:
        stem = source.stem if source is not None else SAMPLE_NAME
        name, n = f"{stem}-{tag}.png", 1
        while name in seen:
            n += 1
            name = f"{stem}-{n}-{tag}.png"
        seen.add(name)
        targets.append(directory / name)
    return targets


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _to_pixels(
    response: np.ndarray, image: np.ndarray, mapping: str, target: Path
) -> tuple[np.ndarray, str]:
    """Map the response for display and quantise: 16 bits for 16-bit grayscale to PNG/TIFF."""
    mapped = display(response, mapping)
    sixteen = (
        image.dtype == np.uint16
        and mapped.pixels.ndim == 2
        and FORMATS.get(target.suffix.lower()) in ("PNG", "TIFF")
    )
    return from_float(mapped.pixels, np.uint16 if sixteen else np.uint8), mapped.summary


class _Progress:
    """A one-line progress bar on stderr (one line per image when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()

    def update(self, done: int, name: str) -> None:
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "-" * (width - filled)
        text = f"[{bar}] {done}/{self.total} {name}"
        if self.tty:
            print(f"\r{text[:100]:100s}", end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)
