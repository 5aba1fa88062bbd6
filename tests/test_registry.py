"""The registry of rules: resolution of names, errors, and translation between libraries.

That each library really does what the registry says is checked in test_pad_oracles.py, by
running the libraries.
"""

from __future__ import annotations

from typing import get_args

import pytest

import padlab
from padlab.modes import LIBRARIES, RULES, ModeName, resolve_mode, rule_names, translate

FOREIGN = [
    (lib, name, rule.name) for rule in RULES for lib, names in rule.names.items() for name in names
]


def test_literal_mode_names_follow_the_registry():
    assert get_args(ModeName) == rule_names()


def test_the_issue_vocabulary_is_canonical():
    assert rule_names() == (
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
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_has_a_diagram_on_a_b_c_d(rule):
    left, middle, right = (part.strip() for part in rule.pattern.split(",")[0].split("|"))
    assert middle == "a b c d"
    assert len(left.split()) == len(right.split()) == 3


@pytest.mark.parametrize(
    ("spelled", "expected"),
    [
        ("reflect", "reflect"),
        ("REFLECT", "reflect"),
        (" symmetric ", "symmetric"),
        ("linear-ramp", "linear_ramp"),
        ("reflect-odd", "reflect_odd"),
        ("numpy:edge", "replicate"),
        ("np:wrap", "circular"),
        ("numpy:reflect", "reflect"),
        ("numpy:symmetric", "symmetric"),
        ("numpy:reflect+odd", "reflect_odd"),
        ("numpy:constant", "constant"),
        ("scipy:reflect", "symmetric"),
        ("scipy:mirror", "reflect"),
        ("scipy:nearest", "replicate"),
        ("scipy:grid-wrap", "circular"),
        ("scipy:grid-mirror", "symmetric"),
        ("scipy.ndimage:wrap", "circular"),
        ("scipy.signal:symm", "symmetric"),
        ("scipy.signal:fill", "constant"),
        ("cv2:BORDER_REFLECT_101", "reflect"),
        ("cv2:BORDER_REFLECT101", "reflect"),
        ("cv2:BORDER_DEFAULT", "reflect"),
        ("opencv:BORDER_REFLECT", "symmetric"),
        ("OpenCV:border_wrap", "circular"),
        ("torch:circular", "circular"),
        ("torch:zeros", "zeros"),
        ("pytorch:reflect", "reflect"),
        ("tf:SYMMETRIC", "symmetric"),
        ("tensorflow:reflect", "reflect"),
        ("onnx:edge", "replicate"),
        ("onnx:wrap", "circular"),
    ],
)
def test_names_resolve_to_canonical_rules(spelled, expected):
    assert resolve_mode(spelled).name == expected


@pytest.mark.parametrize(("lib", "name", "rule"), FOREIGN)
def test_every_listed_foreign_name_resolves_back(lib, name, rule):
    expected = "constant" if rule == "zeros" and lib != "torch" else rule
    assert resolve_mode(f"{lib}:{name}").name == expected


@pytest.mark.parametrize(
    ("word", "qualified", "meaning"),
    [
        ("edge", "'numpy:edge'", "replicate"),
        ("mirror", "'scipy:mirror'", "reflect"),
        ("nearest", "'scipy:nearest'", "replicate"),
        ("wrap", "'numpy:wrap'", "circular"),
        ("grid-wrap", "'scipy:grid-wrap'", "circular"),
        ("symm", "'scipy.signal:symm'", "symmetric"),
        ("fill", "'scipy.signal:fill'", "constant"),
        ("BORDER_REFLECT", "'cv2:BORDER_REFLECT'", "symmetric"),
        ("BORDER_REFLECT_101", "'cv2:BORDER_REFLECT_101'", "reflect"),
    ],
)
def test_unqualified_foreign_names_are_refused_with_the_qualified_alternative(
    word, qualified, meaning
):
    with pytest.raises(padlab.PadlabValueError) as info:
        resolve_mode(word)
    message = str(info.value)
    assert repr(word) in message
    assert qualified in message
    assert f"padlab '{meaning}'" in message


def test_unknown_names_suggest_the_closest_rule():
    with pytest.raises(padlab.PadlabValueError, match=r"'refelct'; did you mean 'reflect'\?"):
        resolve_mode("refelct")


def test_unknown_library_lists_the_known_ones():
    with pytest.raises(padlab.PadlabValueError, match=r"unknown library 'matlab'.*cv2 \(opencv\)"):
        resolve_mode("matlab:symmetric")


def test_a_library_without_the_name_lists_its_names():
    with pytest.raises(padlab.PadlabValueError, match=r"PyTorch has no padding rule 'symmetric'"):
        resolve_mode("torch:symmetric")


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        ("numpy:empty", "uninitialised"),
        ("cv2:BORDER_TRANSPARENT", "not a padding rule"),
        ("cv2:BORDER_ISOLATED", "BORDER_CONSTANT"),
    ],
)
def test_foreign_names_padlab_refuses_say_why(mode, match):
    with pytest.raises(padlab.PadlabValueError, match=match):
        resolve_mode(mode)


def test_an_opencv_integer_code_gets_a_hint():
    with pytest.raises(padlab.PadlabTypeError, match=r"'cv2:BORDER_REFLECT_101'"):
        resolve_mode(4)


@pytest.mark.parametrize("bad", [None, 1.5, ["reflect"], b"reflect"])
def test_non_string_modes_are_type_errors(bad):
    with pytest.raises(padlab.PadlabTypeError, match="mode must be a str"):
        resolve_mode(bad)


def test_translate_examples_from_the_issue():
    assert padlab.translate("scipy:reflect", to="numpy") == "symmetric"
    with pytest.raises(padlab.PadlabValueError, match=r"PyTorch has no rule equal to padlab"):
        padlab.translate("scipy:reflect", to="torch")


@pytest.mark.parametrize(
    ("mode", "to", "expected"),
    [
        ("numpy:reflect", "scipy", "mirror"),
        ("numpy:reflect", "cv2", "BORDER_REFLECT_101"),
        ("scipy:mirror", "torch", "reflect"),
        ("cv2:BORDER_REFLECT", "scipy", "reflect"),
        ("cv2:BORDER_REFLECT", "scipy.signal", "symm"),
        ("torch:replicate", "numpy", "edge"),
        ("torch:replicate", "onnx", "edge"),
        ("numpy:wrap", "opencv", "BORDER_WRAP"),
        ("zeros", "torch", "zeros"),
        ("constant", "torch", "constant"),
        ("tf:SYMMETRIC", None, "symmetric"),
        ("tf:SYMMETRIC", "padlab", "symmetric"),
        ("reflect_odd", "numpy", "reflect+odd"),
    ],
)
def test_translate(mode, to, expected):
    assert translate(mode, to=to) == expected


@pytest.mark.parametrize("rule", [r for r in RULES if r.kind != "partial"], ids=lambda r: r.name)
@pytest.mark.parametrize("lib", list(LIBRARIES))
def test_translation_round_trips_or_says_none(rule, lib):
    if lib in rule.names:
        back = resolve_mode(f"{lib}:{translate(rule.name, to=lib)}").name
        assert back == rule.name or {back, rule.name} == {"constant", "zeros"}
    else:
        with pytest.raises(
            padlab.PadlabValueError, match=f"has no rule equal to padlab '{rule.name}'"
        ):
            translate(rule.name, to=lib)


def test_translate_to_unknown_library():
    with pytest.raises(padlab.PadlabValueError, match="unknown library 'matlab'"):
        translate("reflect", to="matlab")


def test_library_names_marks_missing_rules_none():
    names = padlab.library_names("symmetric")
    assert names == {
        "numpy": "symmetric",
        "scipy": "reflect",
        "scipy.signal": "symm",
        "cv2": "BORDER_REFLECT",
        "torch": None,
        "tf": "SYMMETRIC",
        "onnx": None,
    }
