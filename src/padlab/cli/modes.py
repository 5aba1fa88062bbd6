"""``padlab modes``: the rules, their diagrams, and each library's names for them."""

from __future__ import annotations

import argparse
import json

from padlab.cli.common import new_parser
from padlab.modes.registry import LIBRARIES, RULES, library_names, resolve_mode

_NONE = "none"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``padlab modes``."""
    parser = new_parser(
        sub,
        "modes",
        help="list the padding rules and every library's names for them",
        description=(
            "List padlab's padding rules with their diagrams (signal a b c d, three samples "
            "of padding each side) and the name each library uses for them."
        ),
    )
    parser.add_argument(
        "--translate",
        metavar="MODE",
        help="show one rule's name in every library, e.g. scipy:reflect or cv2:BORDER_WRAP",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the table of rules, or one rule's translations."""
    if args.translate is not None:
        print(render_translation(args.translate, as_json=args.json))
    else:
        print(render_table(as_json=args.json))
    return 0


def render_table(*, as_json: bool = False) -> str:
    """The table ``padlab modes`` prints.

    Examples
    --------
    >>> print(render_table().splitlines()[3])  # doctest: +NORMALIZE_WHITESPACE
    zeros  0 0 0 | a b c d | 0 0 0  constant  constant  fill  BORDER_CONSTANT  zeros  CONSTANT
    constant
    """
    if as_json:
        return json.dumps(
            [
                {
                    "rule": rule.name,
                    "pattern": rule.pattern,
                    "summary": rule.summary,
                    "names": library_names(rule.name),
                }
                for rule in RULES
            ],
            indent=2,
            ensure_ascii=False,
        )
    header = ["rule", "pattern (a b c d, 3 each side)", *LIBRARIES]
    rows = [
        [rule.name, rule.pattern, *(n or "-" for n in library_names(rule.name).values())]
        for rule in RULES
        if rule.kind != "partial"
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [
        "padlab padding rules. Foreign names need their library: 'scipy:reflect', "
        "'cv2:BORDER_WRAP', 'numpy:edge'.",
        "",
        line(header),
        *(line(r) for r in rows),
        "",
        "What each rule invents:",
    ]
    name_width = max(len(rule.name) for rule in RULES)
    out += [f"  {rule.name.ljust(name_width)}  {rule.summary}" for rule in RULES]
    partial = next(rule for rule in RULES if rule.kind == "partial")
    out += ["", f"'{partial.name}' pattern: {partial.pattern}"]
    out += [
        "",
        "Columns:",
        *(f"  {lib.key.ljust(12)}  {lib.where}" for lib in LIBRARIES.values()),
        "'+odd' in numpy's column means reflect_type='odd'; torch's 'zeros' is nn.Conv2d's "
        "padding_mode (F.pad calls it 'constant'). '-' means the library has no such rule.",
        "Translate one name: padlab modes --translate scipy:reflect",
    ]
    return "\n".join(out)


def render_translation(mode: str, *, as_json: bool = False) -> str:
    """What ``padlab modes --translate MODE`` prints.

    Examples
    --------
    >>> print(render_translation("cv2:BORDER_REFLECT_101"))  # doctest: +NORMALIZE_WHITESPACE
    cv2:BORDER_REFLECT_101 is padlab 'reflect': d c b | a b c d | c b a
    mirror about the edge sample, which is not repeated (whole-sample symmetric, period 2n-2)
    <BLANKLINE>
      padlab        reflect
      numpy         reflect             (numpy.pad(mode=...))
      scipy         mirror              (scipy.ndimage.correlate/convolve/..._filter(mode=...))
      scipy.signal  none                (scipy.signal.convolve2d/correlate2d(boundary=...))
      cv2           BORDER_REFLECT_101  (cv2.filter2D/copyMakeBorder(borderType=...))
      torch         reflect             (F.pad(mode=...) / nn.Conv2d(padding_mode=...))
      tf            REFLECT             (tf.pad(mode=...))
      onnx          reflect             (the ONNX Pad operator's mode attribute)
    """
    rule = resolve_mode(mode)
    names = library_names(rule.name)
    if as_json:
        return json.dumps(
            {"input": mode, "rule": rule.name, "pattern": rule.pattern, "names": names},
            indent=2,
            ensure_ascii=False,
        )
    width = max(len(n or _NONE) for n in names.values())
    lines = [
        f"{mode} is padlab '{rule.name}': {rule.pattern}",
        rule.summary,
        "",
        f"  {'padlab'.ljust(12)}  {rule.name}",
    ]
    for key, name in names.items():
        cell = (name or _NONE).ljust(width)
        lines.append(f"  {key.ljust(12)}  {cell}  ({LIBRARIES[key].where})")
    return "\n".join(lines)
