"""The test suite's own rules: a missing oracle library stops the run with a failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ORACLES, missing_oracles

ROOT = Path(__file__).resolve().parents[1]


def test_every_oracle_is_installed_here():
    assert missing_oracles() == []
    assert missing_oracles({"padlab_no_such_module": "a test"}) == [
        "padlab_no_such_module (a test)"
    ]


@pytest.mark.slow
def test_a_missing_oracle_fails_the_session_before_any_test():
    """Hide cv2 from the import system: the session must fail (exit 1), naming it."""
    assert "cv2" in ORACLES
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'cv2' else real(name, *a)\n"
        "import pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_readme.py']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "missing test dependencies" in result.stdout + result.stderr
    assert "cv2 (OpenCV" in result.stdout + result.stderr
    assert "passed" not in result.stdout
