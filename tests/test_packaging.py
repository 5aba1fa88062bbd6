"""Packaging: the license is what pyproject.toml declares, and ``python -m build`` makes a wheel
and an sdist without a warning, the sdist holding what it takes to run the tests and build the
docs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import padlab

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SKIP = (".git", ".venv", "build", "dist", "artifacts", "_build", "generated", "auto_examples",
        "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache",
        "sg_execution_times.rst", "padlab-report")  # fmt: skip


def test_license_is_the_declared_bsd_3_clause():
    project = PYPROJECT["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "padlab developers" in text
    assert "Neither the name of the copyright holder" in text  # the third clause


def test_python_versions_are_the_tested_ones():
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = PYPROJECT["project"]
    assert project["requires-python"] == f">={tested}"
    assert f"Programming Language :: Python :: {tested}" in project["classifiers"]


@pytest.mark.slow
def test_build_makes_a_wheel_and_a_complete_sdist_without_warnings(tmp_path):
    source = tmp_path / "src-tree"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
         str(source)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    warnings = [line for line in log.splitlines() if "warning" in line.lower()]
    assert warnings == []
    version = padlab.__version__
    wheel = tmp_path / "dist" / f"padlab-{version}-py3-none-any.whl"
    sdist = tmp_path / "dist" / f"padlab-{version}.tar.gz"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"padlab-{version}.dist-info/METADATA").decode()
    assert {"padlab/py.typed", "padlab/report/templates/report.html.j2"} <= names
    assert f"padlab-{version}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: BSD-3-Clause" in metadata
    assert not any(n.startswith(("tests/", "docs/")) for n in names)
    with tarfile.open(sdist) as tf:
        files = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    for needed in ("LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "tests/conftest.py",
                   "tests/oracles.py", "docs/conf.py", "docs/_ext/padlab_rules.py",
                   "examples/GALLERY_HEADER.rst", "tools/test.sh", "bench/filters.py"):  # fmt: skip
        assert needed in files, needed
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
