"""The one registry of padding rules, their diagrams, and every library's names for them.

padlab speaks one vocabulary. A *rule* (``mode=``) says what the invented pixels beyond the edge
are; it never says how big the output is (that is ``padding=``, the geometry). Each rule carries a
diagram on the signal ``a b c d`` padded by three samples each side, because the bare word
"reflect" means opposite things in numpy (``d c b | a b c d | c b a``) and in scipy.ndimage
(``c b a | a b c d | d c b``).

Other libraries' names are accepted only when qualified by their library (``"scipy:reflect"``,
``"cv2:BORDER_REFLECT_101"``, ``"numpy:edge"``), so ported code is never ambiguous. Everything
downstream sees only canonical names: :func:`resolve_mode` is the single place where a user's
word becomes a :class:`Rule`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

import numpy as np

from padlab.errors import PadlabTypeError, PadlabValueError

__all__ = [
    "LIBRARIES",
    "RULES",
    "Library",
    "Mode",
    "ModeName",
    "Modes",
    "Rule",
    "check_rule_options",
    "describe",
    "library_names",
    "resolve_mode",
    "rule_names",
    "translate",
]

#: The canonical rule names, for type checkers. A test keeps it equal to the registry.
ModeName = Literal[
    "zeros",
    "constant",
    "reflect",
    "symmetric",
    "replicate",
    "circular",
    "reflect_odd",
    "symmetric_odd",
    "linear_ramp",
    "mean",
    "median",
    "minimum",
    "maximum",
    "partial",
]

# How a rule invents samples. The kind decides which keyword options apply and how the
# engine realises the rule; the index rules share one index map (padlab.modes.index).
Kind = Literal["constant", "index", "odd", "ramp", "statistic", "partial"]


@dataclass(frozen=True)
class Library:
    """A library whose padding names padlab understands.

    Attributes
    ----------
    key : str
        The qualifier padlab prints (``"cv2"`` in ``"cv2:BORDER_WRAP"``).
    title : str
        What the qualifier refers to, for people.
    aliases : tuple of str
        Other qualifiers accepted for the same library (``"opencv"`` for ``"cv2"``).
    where : str
        The argument that takes these names in that library.
    """

    key: str
    title: str
    aliases: tuple[str, ...]
    where: str


LIBRARIES: Mapping[str, Library] = {
    lib.key: lib
    for lib in (
        Library("numpy", "NumPy", ("np",), "numpy.pad(mode=...)"),
        Library(
            "scipy",
            "scipy.ndimage filters",
            ("scipy.ndimage", "ndimage"),
            "scipy.ndimage.correlate/convolve/..._filter(mode=...)",
        ),
        Library(
            "scipy.signal",
            "scipy.signal 2-D convolution",
            ("signal",),
            "scipy.signal.convolve2d/correlate2d(boundary=...)",
        ),
        Library("cv2", "OpenCV", ("opencv",), "cv2.filter2D/copyMakeBorder(borderType=...)"),
        Library(
            "torch",
            "PyTorch",
            ("pytorch",),
            "F.pad(mode=...) / nn.Conv2d(padding_mode=...)",
        ),
        Library("tf", "TensorFlow", ("tensorflow",), "tf.pad(mode=...)"),
        Library("onnx", "ONNX", (), "the ONNX Pad operator's mode attribute"),
    )
}


@dataclass(frozen=True)
class Rule:
    """One padding rule: its canonical name, its diagram, and its names elsewhere.

    Attributes
    ----------
    name : str
        The canonical padlab name.
    pattern : str
        The rule applied to the signal ``a b c d`` with three samples each side.
    summary : str
        One line on what the rule invents.
    kind : str
        ``"constant"``, ``"index"`` (every padded sample copies one real sample), ``"odd"``
        (point reflection: ``2 * edge - mirror``), ``"ramp"``, ``"statistic"`` or
        ``"partial"`` (a convolution rule, not a padding of the array).
    names : mapping of str to tuple of str
        For each library key, the names that library uses for this rule; the first is the
        one :func:`translate` prints. A library missing here has no such rule.
    """

    name: str
    pattern: str
    summary: str
    kind: Kind
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options of :func:`padlab.pad` this rule uses."""
        return {
            "constant": ("value",) if self.name == "constant" else (),
            "ramp": ("end_values",),
            "statistic": ("stat_length",),
        }.get(self.kind, ())

    def __str__(self) -> str:
        return f"{self.name} ({self.pattern})"


#: One padding rule as a caller writes it: a canonical name (completed by editors), any other
#: accepted spelling (an alias or a qualified foreign name such as ``"scipy:reflect"``), or a
#: :class:`Rule`.
Mode = ModeName | str | Rule
#: One rule for every axis, or one per axis.
Modes = Mode | Sequence[Mode]

_CONSTANT_NAMES = {
    "numpy": ("constant",),
    "scipy": ("constant", "grid-constant"),
    "scipy.signal": ("fill", "pad"),
    "cv2": ("BORDER_CONSTANT",),
    "tf": ("CONSTANT",),
    "onnx": ("constant",),
}

RULES: tuple[Rule, ...] = (
    Rule(
        "zeros",
        "0 0 0 | a b c d | 0 0 0",
        "zeros beyond the edge (the default almost everywhere; a black frame on a photo)",
        "constant",
        {**_CONSTANT_NAMES, "torch": ("zeros",)},
    ),
    Rule(
        "constant",
        "v v v | a b c d | v v v",
        "one constant value v beyond the edge (value=v; 0 by default)",
        "constant",
        {**_CONSTANT_NAMES, "torch": ("constant",)},
    ),
    Rule(
        "reflect",
        "d c b | a b c d | c b a",
        "mirror about the edge sample, which is not repeated (whole-sample symmetric, period 2n-2)",
        "index",
        {
            "numpy": ("reflect",),
            "scipy": ("mirror",),
            "cv2": ("BORDER_REFLECT_101", "BORDER_REFLECT101", "BORDER_DEFAULT"),
            "torch": ("reflect",),
            "tf": ("REFLECT",),
            "onnx": ("reflect",),
        },
    ),
    Rule(
        "symmetric",
        "c b a | a b c d | d c b",
        "mirror about the edge itself, so the edge sample is repeated (half-sample symmetric, "
        "period 2n)",
        "index",
        {
            "numpy": ("symmetric",),
            "scipy": ("reflect", "grid-mirror"),
            "scipy.signal": ("symm", "symmetric"),
            "cv2": ("BORDER_REFLECT",),
            "tf": ("SYMMETRIC",),
        },
    ),
    Rule(
        "replicate",
        "a a a | a b c d | d d d",
        "repeat the edge sample",
        "index",
        {
            "numpy": ("edge",),
            "scipy": ("nearest",),
            "cv2": ("BORDER_REPLICATE",),
            "torch": ("replicate",),
            "onnx": ("edge",),
        },
    ),
    Rule(
        "circular",
        "b c d | a b c d | a b c",
        "wrap around: the signal repeats with period n",
        "index",
        {
            "numpy": ("wrap",),
            "scipy": ("wrap", "grid-wrap"),
            "scipy.signal": ("wrap", "circular"),
            "cv2": ("BORDER_WRAP",),
            "torch": ("circular",),
            "onnx": ("wrap",),
        },
    ),
    Rule(
        "reflect_odd",
        "2a-d 2a-c 2a-b | a b c d | 2d-c 2d-b 2d-a",
        "point reflection through the edge sample, which is not repeated (keeps the slope; "
        "numpy's reflect with reflect_type='odd')",
        "odd",
        {"numpy": ("reflect+odd",)},
    ),
    Rule(
        "symmetric_odd",
        "2a-c 2a-b a | a b c d | d 2d-c 2d-b",
        "point reflection through the edge, which is repeated "
        "(numpy's symmetric with reflect_type='odd')",
        "odd",
        {"numpy": ("symmetric+odd",)},
    ),
    Rule(
        "linear_ramp",
        "0 a/3 2a/3 | a b c d | 2d/3 d/3 0",
        "a straight ramp from end_values (0 here) at the outer edge to the edge sample",
        "ramp",
        {"numpy": ("linear_ramp",)},
    ),
    Rule(
        "mean",
        "μ μ μ | a b c d | μ μ μ",
        "the mean of the signal (or of the stat_length samples nearest each edge)",
        "statistic",
        {"numpy": ("mean",)},
    ),
    Rule(
        "median",
        "m m m | a b c d | m m m",
        "the median of the signal (or of the stat_length samples nearest each edge)",
        "statistic",
        {"numpy": ("median",)},
    ),
    Rule(
        "minimum",
        "▼ ▼ ▼ | a b c d | ▼ ▼ ▼",
        "the minimum of the signal (or of the stat_length samples nearest each edge)",
        "statistic",
        {"numpy": ("minimum",)},
    ),
    Rule(
        "maximum",
        "▲ ▲ ▲ | a b c d | ▲ ▲ ▲",
        "the maximum of the signal (or of the stat_length samples nearest each edge)",
        "statistic",
        {"numpy": ("maximum",)},
    ),
    Rule(
        "partial",
        "0 0 0 | a b c d | 0 0 0, then output × taps / real taps",
        "partial-convolution padding (Liu et al. 2018): zero padding, then each output is "
        "rescaled by the taps in its window over the taps that fell on real samples; "
        "a convolution rule, not a padding of the array",
        "partial",
        {},
    ),
)

_BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in RULES}

# Names other libraries use that padlab deliberately does not accept, with the reason.
_REFUSED: Mapping[tuple[str, str], str] = {
    ("numpy", "empty"): "numpy's 'empty' leaves the padding uninitialised; padlab has no such rule",
    ("cv2", "border_transparent"): "OpenCV's BORDER_TRANSPARENT keeps the destination's "
    "pixels and is not a padding rule (copyMakeBorder raises on it too)",
    ("cv2", "border_isolated"): "OpenCV's BORDER_ISOLATED is a flag about ROIs, not a rule; "
    "it acts as BORDER_CONSTANT on its own: use 'cv2:BORDER_CONSTANT'",
}

_CV2_CODES = {
    0: "BORDER_CONSTANT",
    1: "BORDER_REPLICATE",
    2: "BORDER_REFLECT",
    3: "BORDER_WRAP",
    4: "BORDER_REFLECT_101",
    5: "BORDER_TRANSPARENT",
    16: "BORDER_ISOLATED",
}


def _key(name: str) -> str:
    return name.strip().lower()


def _canonical_key(name: str) -> str:
    return _key(name).replace("-", "_")


def _qualifier_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for lib in LIBRARIES.values():
        for q in (lib.key, *lib.aliases):
            out[q.lower()] = lib.key
    return out


def _foreign_lookup() -> dict[tuple[str, str], str]:
    """(library, lower-case name) -> canonical rule; 'constant' wins over 'zeros' on a clash."""
    out: dict[tuple[str, str], str] = {}
    for rule in sorted(RULES, key=lambda r: r.name != "constant"):
        for lib, names in rule.names.items():
            for name in names:
                out.setdefault((lib, _key(name)), rule.name)
    return out


_QUALIFIERS = _qualifier_map()
_FOREIGN = _foreign_lookup()
_CANONICAL_KEYS = {_canonical_key(rule.name): rule.name for rule in RULES}


def rule_names() -> tuple[str, ...]:
    """The canonical padlab rule names, in registry order.

    Examples
    --------
    >>> from padlab import rule_names
    >>> rule_names()[:6]
    ('zeros', 'constant', 'reflect', 'symmetric', 'replicate', 'circular')
    """
    return tuple(rule.name for rule in RULES)


def _library_key(qualifier: str, spelled: str) -> str:
    try:
        return _QUALIFIERS[qualifier.strip().lower()]
    except KeyError:
        known = ", ".join(
            f"{lib.key} ({', '.join(lib.aliases)})" if lib.aliases else lib.key
            for lib in LIBRARIES.values()
        )
        raise PadlabValueError(
            f"unknown library {qualifier!r} in mode {spelled!r}; known libraries: {known}"
        ) from None


def _unqualified_hint(name: str) -> str | None:
    """If ``name`` is some library's word, say which rule it means there, qualified."""
    meanings: dict[str, list[str]] = {}
    for (lib, foreign), canonical in _FOREIGN.items():
        if foreign == _key(name):
            spelled = next(n for n in _BY_NAME[canonical].names[lib] if _key(n) == foreign)
            meanings.setdefault(canonical, []).append(f"'{lib}:{spelled}'")
    if not meanings:
        return None
    parts = [
        f"{' or '.join(quals)} means padlab '{canonical}' ({_BY_NAME[canonical].pattern})"
        for canonical, quals in meanings.items()
    ]
    return (
        f"{name!r} is not a padlab rule name but another library's: "
        + "; ".join(parts)
        + ". Write the padlab name or the qualified name."
    )


def resolve_mode(mode: object) -> Rule:
    """Turn a user's word for a padding rule into the registry's :class:`Rule`.

    This is the only place where mode names are interpreted. It accepts a canonical name
    (case and ``-``/``_`` are forgiven), a qualified foreign name ``"library:name"``, or a
    :class:`Rule`.

    Parameters
    ----------
    mode : str or Rule
        ``"reflect"``, ``"scipy:mirror"``, ``"cv2:BORDER_REFLECT_101"``, ...

    Returns
    -------
    Rule
        The registry entry.

    Raises
    ------
    PadlabTypeError
        If ``mode`` is not a string.
    PadlabValueError
        If the name is unknown, belongs to another library but is not qualified, or names a
        library padlab does not know. The message names the bad value and what is allowed.

    Examples
    --------
    >>> from padlab.modes import resolve_mode
    >>> resolve_mode("scipy:reflect").name
    'symmetric'
    >>> resolve_mode("cv2:BORDER_REFLECT_101").pattern
    'd c b | a b c d | c b a'
    >>> resolve_mode("edge")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: 'edge' is not a padlab rule name but another library's: \
'numpy:edge' or 'onnx:edge' means padlab 'replicate' (a a a | a b c d | d d d). Write the \
padlab name or the qualified name.
    """
    if isinstance(mode, Rule):
        return mode
    if isinstance(mode, str):
        return _resolve_name(mode)
    hint = ""
    if isinstance(mode, int) and not isinstance(mode, bool) and mode in _CV2_CODES:
        hint = f" (an OpenCV border code? write 'cv2:{_CV2_CODES[mode]}')"
    raise PadlabTypeError(
        f"mode must be a str, a padlab rule name or 'library:name', "
        f"got {type(mode).__name__} {mode!r}{hint}"
    )


@lru_cache(maxsize=256)
def _resolve_name(mode: str) -> Rule:
    """The string half of :func:`resolve_mode`, cached (errors are not cached)."""
    if ":" in mode:
        qualifier, _, foreign = mode.partition(":")
        lib = _library_key(qualifier, mode)
        found = _FOREIGN.get((lib, _key(foreign)))
        if found is not None:
            return _BY_NAME[found]
        refused = _REFUSED.get((lib, _key(foreign)))
        if refused is not None:
            raise PadlabValueError(f"mode {mode!r}: {refused}")
        known = sorted({n for rule in RULES for n in rule.names.get(lib, ())}, key=str.lower)
        raise PadlabValueError(
            f"{LIBRARIES[lib].title} has no padding rule {foreign!r} (in mode {mode!r}); "
            f"its names padlab understands: {', '.join(known)}"
        )
    found = _CANONICAL_KEYS.get(_canonical_key(mode))
    if found is not None:
        return _BY_NAME[found]
    hint = _unqualified_hint(mode)
    if hint is not None:
        raise PadlabValueError(hint)
    close = difflib.get_close_matches(_canonical_key(mode), list(_CANONICAL_KEYS), n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    raise PadlabValueError(
        f"unknown padding rule {mode!r}{suggestion} padlab rules: {', '.join(rule_names())}; "
        "another library's name needs its library, e.g. 'numpy:edge', 'scipy:reflect', "
        "'cv2:BORDER_REFLECT_101'"
    )


def describe(mode: Mode) -> Rule:
    """The registry entry of a rule: its diagram, summary and names elsewhere.

    Parameters
    ----------
    mode : str
        Any name :func:`resolve_mode` accepts.

    Returns
    -------
    Rule

    Examples
    --------
    >>> from padlab import describe
    >>> rule = describe("numpy:symmetric")
    >>> print(rule.name, "|", rule.pattern)
    symmetric | c b a | a b c d | d c b
    >>> rule.names["cv2"][0]
    'BORDER_REFLECT'
    """
    return resolve_mode(mode)


def library_names(mode: Mode) -> dict[str, str | None]:
    """Each library's name for a rule, or None where the library has no such rule.

    Parameters
    ----------
    mode : str
        Any name :func:`resolve_mode` accepts.

    Returns
    -------
    dict
        Library key to name (the first name of :attr:`Rule.names`), in :data:`LIBRARIES` order.

    Examples
    --------
    >>> from padlab import library_names
    >>> library_names("scipy:reflect")["torch"] is None
    True
    >>> library_names("reflect")["scipy"]
    'mirror'
    """
    rule = resolve_mode(mode)
    return {key: rule.names[key][0] if key in rule.names else None for key in LIBRARIES}


def translate(mode: Mode, to: str | None = None) -> str:
    """Translate a padding rule's name into another library's vocabulary.

    Parameters
    ----------
    mode : str
        A padlab name or a qualified foreign name such as ``"scipy:reflect"``.
    to : str, optional
        A library (``"numpy"``, ``"scipy"``, ``"scipy.signal"``, ``"cv2"``/``"opencv"``,
        ``"torch"``, ``"tf"``, ``"onnx"``) or ``None``/``"padlab"`` for the canonical name.

    Returns
    -------
    str
        The name to pass to that library. For torch, ``zeros`` translates to ``"zeros"`` (the
        ``padding_mode`` of ``nn.Conv2d``; ``F.pad`` calls it ``"constant"``). numpy spells the
        odd reflections with an option; padlab writes them ``"reflect+odd"`` and
        ``"symmetric+odd"``, meaning ``mode='reflect', reflect_type='odd'``.

    Raises
    ------
    PadlabValueError
        If the target library has no such rule (torch has no ``symmetric``), or a name is
        unknown.

    Examples
    --------
    >>> import padlab
    >>> padlab.translate("scipy:reflect", to="numpy")
    'symmetric'
    >>> padlab.translate("numpy:reflect", to="scipy")
    'mirror'
    >>> padlab.translate("cv2:BORDER_REFLECT")
    'symmetric'
    >>> padlab.translate("scipy:reflect", to="torch")
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: PyTorch has no rule equal to padlab 'symmetric' \
(c b a | a b c d | d c b); PyTorch's rules: zeros, constant, reflect (d c b | a b c d | c b a), \
replicate (a a a | a b c d | d d d), circular (b c d | a b c d | a b c)
    """
    rule = resolve_mode(mode)
    if to is None or to.strip().lower() == "padlab":
        return rule.name
    lib = _library_key(to, to)
    names = rule.names.get(lib)
    if names:
        return names[0]
    available = dict.fromkeys(
        r.names[lib][0] + (f" ({r.pattern})" if r.kind == "index" else "")
        for r in RULES
        if lib in r.names
    )
    title = LIBRARIES[lib].title
    raise PadlabValueError(
        f"{title} has no rule equal to padlab '{rule.name}' ({rule.pattern}); "
        f"{title}'s rules: {', '.join(available)}"
    )


def _is_zero(value: object) -> bool:
    """True for a scalar number equal to 0 (the defaults of value= and end_values=)."""
    return isinstance(value, int | float | complex | np.number) and value == 0


def check_rule_options(
    rules: Sequence[Rule], *, value: object = 0, stat_length: object = None, end_values: object = 0
) -> None:
    """Refuse an option that none of the chosen rules uses (a typo or a wrong rule).

    Examples
    --------
    >>> from padlab.modes import check_rule_options, resolve_mode
    >>> check_rule_options([resolve_mode("reflect")], value=5)
    Traceback (most recent call last):
    ...
    padlab.errors.PadlabValueError: value=5 is only used by mode='constant', but the rule is reflect
    """
    if _is_zero(value) and stat_length is None and _is_zero(end_values):
        return  # the defaults: nothing to check
    used = {opt for rule in rules for opt in rule.options}
    names = ", ".join(dict.fromkeys(r.name for r in rules))

    def refuse(option: str, given: object, needs: str) -> PadlabValueError:
        return PadlabValueError(
            f"{option}={given!r} is only used by mode={needs}, but the rule is {names}"
        )

    if "value" not in used and not _is_zero(value):
        raise refuse("value", value, "'constant'")
    if "stat_length" not in used and stat_length is not None:
        raise refuse("stat_length", stat_length, "'mean', 'median', 'minimum' or 'maximum'")
    if "end_values" not in used and not _is_zero(end_values):
        raise refuse("end_values", end_values, "'linear_ramp'")


# Keep the static Literal honest: the registry is the source of truth.
assert get_args(ModeName) == rule_names(), "ModeName must list the registry's rules in order"
