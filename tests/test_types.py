"""Types: mypy over the package, and the Literal types kept equal to what padlab accepts."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

import padlab
from padlab.geometry import CONVENTIONS, ConventionName, PaddingName
from padlab.modes import ModeName, rule_names
from padlab.ops.filtering import METHODS, Method

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_finds_no_error_in_the_package() -> None:
    # the configuration is pyproject.toml's [tool.mypy]: it checks all of src/padlab
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode in (0, 1), run.stderr or run.stdout  # 2: mypy itself failed
    errors = [line for line in run.stdout.splitlines() if re.match(r"^\S+\.py:\d+: error:", line)]
    assert errors == [], "\n".join(errors)
    assert run.returncode == 0, run.stdout  # no error line, yet mypy failed: say what it said


def test_mode_name_lists_the_registry_rules() -> None:
    assert get_args(ModeName) == rule_names()


def test_padding_and_convention_names_are_the_accepted_words() -> None:
    assert set(get_args(PaddingName)) == {"valid", "same", "full"}
    for word in get_args(PaddingName):
        padlab.output_shape(8, 3, padding=word)
    assert set(get_args(ConventionName)) == set(CONVENTIONS.values())
    assert get_args(Method) == METHODS


def _strings(annotation: object) -> set[str]:
    """Every string literal inside a (nested) type annotation."""
    found: set[str] = set()
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item)
        else:
            stack.extend(get_args(item))
    return found


@pytest.mark.parametrize(
    "function",
    [padlab.pad, padlab.correlate, padlab.convolve, padlab.filter_image],
    ids=lambda f: f.__name__,
)
def test_public_signatures_offer_the_rule_names(function: Callable[..., object]) -> None:
    mode = inspect.get_annotations(function, eval_str=True)["mode"]
    assert ModeName in get_args(mode)  # editors complete the canonical names
    assert set(rule_names()) <= _strings(mode)
