"""``padlab filter``: filter one photo or a batch with a named kernel and a padding rule."""

from __future__ import annotations

import argparse
import glob
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from padlab._files import same_file
from padlab.cli.common import Progress, add_common_arguments, new_parser
from padlab.errors import PadlabError, PadlabFileError, PadlabValueError
from padlab.geometry import Geometry
from padlab.io.images import (
    FORMATS,
    from_float,
    read_image,
    sample_image,
    stores_16_bit,
    write_image,
)
from padlab.io.mapping import MAPPINGS, display
from padlab.kernels.registry import parse_kernel
from padlab.modes.registry import Rule, resolve_mode
from padlab.ops.images import ALPHA, filter_image
from padlab.ops.warmup import notice

SAMPLE_NAME = "grace_hopper"

#: The rule ``padlab filter`` uses unless told: scipy.ndimage's default ('reflect' there), it
#: invents no black frame (zeros, the usual default elsewhere, does: see ``padlab report``).
DEFAULT_MODE = "symmetric"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab filter``."""
    parser = new_parser(
        sub,
        "filter",
        help="filter images with a kernel and a padding rule",
        description=(
            "Filter one image, several, a directory or a glob with a kernel and a padding rule; "
            "colour images are filtered channel by channel. Without IMAGE, the built-in sample "
            f"photo is used.\nThe default rule is {DEFAULT_MODE} (c b a | a b c d | d c b, "
            "scipy.ndimage's 'reflect'): it invents no black frame. Use -m zeros for the zero "
            "padding of most CNNs and cv2.filter2D-free tutorials, knowing it adds a false edge. "
            "An output never replaces its own input."
        ),
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="files, directories or globs")
    add_common_arguments(parser, kernel="outline", mode=DEFAULT_MODE, json=True)
    parser.add_argument("--padding", default="same", help="same, valid, full or an int")
    parser.add_argument("--stride", type=int, default=1, help="step between outputs")
    parser.add_argument(
        "--map",
        dest="mapping",
        choices=MAPPINGS,
        default="clip",
        help="how signed responses become pixels",
    )
    parser.add_argument("--gray", action="store_true", help="convert to grayscale first")
    parser.add_argument(
        "--alpha", choices=ALPHA, default="keep", help="RGBA: what to do with alpha"
    )
    parser.add_argument(
        "-o",
        "--output",
        help="output file (one image) or directory (several; default padlab-filtered); "
        "default for one image: IMAGE-KERNEL-MODE.png in the current directory",
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
    # --padding and --stride checked once, before any file is read or written
    Geometry.resolve(kernel.shape, kernel.shape, _padding(args.padding), args.stride)
    inputs, batch = _expand(args.images)
    targets = _targets(inputs, batch, args.output, label, rule.name)
    _refuse_overwriting_inputs(inputs, targets)  # before anything is compiled, read or written
    # numba loads (0.4 s of imports) in the background while the first image is decoded
    preload = threading.Thread(target=notice, name="padlab-preload", daemon=True)
    preload.start()
    try:
        return _run(args, label, kernel, rule, inputs, batch, targets)
    finally:
        preload.join()  # never exit while it may still be printing


def _run(
    args: argparse.Namespace,
    label: str,
    kernel: np.ndarray,
    rule: Rule,
    inputs: list[Path | None],
    batch: bool,
    targets: list[Path],
) -> int:
    padding = _padding(args.padding)
    failures: list[str] = []
    results: list[dict[str, object]] = []
    start = time.perf_counter()
    progress = Progress(quiet=args.quiet or args.json or not batch)
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
            results.append({"input": name, "error": str(err)})
            print(f"padlab filter: error: {err}", file=sys.stderr)
            progress.step(f"{index}/{len(inputs)} {name}: failed")
            continue
        size, out_size = _size(image), _size(pixels)
        results.append(
            {
                "input": name,
                "output": str(target),
                "size": size,
                "output_size": out_size,
                "mapping": summary,
            }
        )
        line = (
            f"{name} ({size}) -> {target} ({out_size}); kernel {label}, rule {rule.name} "
            f"({rule.pattern}), padding {args.padding}, stride {args.stride}; {summary}"
        )
        progress.step(f"{index}/{len(inputs)} {name}")
        if args.json or args.quiet:
            continue
        if not batch or args.verbose:
            print(line)
    elapsed = time.perf_counter() - start
    if args.json:
        print(
            json.dumps(
                {
                    "kernel": label,
                    "mode": rule.name,
                    "padding": args.padding,
                    "stride": args.stride,
                    "images": results,
                    "failed": len(failures),
                    "seconds": round(elapsed, 3),
                },
                indent=2,
            )
        )
    elif batch:
        ok = len(inputs) - len(failures)
        print(
            f"filtered {ok} of {len(inputs)} images into {targets[0].parent} in {elapsed:.1f} s "
            f"(kernel {label}, rule {rule.name})"
        )
        for failure in failures:
            print(f"  failed: {failure}")
    return 1 if failures else 0


def _size(image: np.ndarray) -> str:
    """Width x height, as image sizes are written."""
    return f"{image.shape[1]}x{image.shape[0]}"


def _refuse_overwriting_inputs(inputs: list[Path | None], targets: list[Path]) -> None:
    """An output must never replace an input (checked before any image is read)."""
    sources = [p for p in inputs if p is not None]
    for target in targets:
        for source in sources:
            if same_file(target, source):
                raise PadlabValueError(
                    f"{target}: this output would overwrite the input {source}; padlab filter "
                    "never replaces its input, choose another -o"
                )


def _padding(text: str) -> int | str:
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def _expand(items: list[str]) -> tuple[list[Path | None], bool]:
    """Files, directories and globs as a list of paths; whether this is a batch."""
    if not items:
        return [None], False
    paths: list[Path | None] = []
    batch = len(items) > 1
    for item in items:
        if any(ch in item for ch in "*?["):
            matches = _regular(sorted(Path(p) for p in glob.glob(item)))
            if not matches:
                raise PadlabFileError(f"{item}: no file matches")
            paths += matches
            batch = True
        elif Path(item).is_dir():
            found = _regular(sorted(p for p in Path(item).iterdir() if p.suffix.lower() in FORMATS))
            if not found:
                raise PadlabFileError(f"{item}: no image files ({', '.join(FORMATS)})")
            paths += found
            batch = True
        else:
            paths.append(Path(item))
    return paths, batch


def _regular(paths: list[Path]) -> list[Path]:
    """The regular files among ``paths``; FIFOs, devices, sockets, directories skipped, said."""
    for path in paths:
        if not path.is_file():
            print(f"padlab filter: skipping {path}: not a regular file", file=sys.stderr)
    return [path for path in paths if path.is_file()]


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
    """Map the response for display and quantise: 16 bits for a 16-bit image, if the target
    format stores them (:func:`padlab.io.images.stores_16_bit`)."""
    mapped = display(response, mapping)
    channels = mapped.pixels.shape[2] if mapped.pixels.ndim == 3 else 1
    sixteen = image.dtype == np.uint16 and stores_16_bit(target, channels)
    return from_float(mapped.pixels, np.uint16 if sixteen else np.uint8), mapped.summary
