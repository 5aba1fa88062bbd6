"""Shared test setup.

The oracle libraries are imported here, unconditionally: a missing backend fails the run
instead of skipping tests. A skipped test also fails the run (see pytest_sessionfinish).
"""

from __future__ import annotations

import os

import cv2  # noqa: F401  (oracle; must be installed)
import hypothesis
import numpy as np
import pytest
import scipy.ndimage  # noqa: F401  (oracle)
import torch  # noqa: F401  (oracle)

hypothesis.settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("PADLAB_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    print_blob=True,
)
hypothesis.settings.load_profile("ci")

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passed test: fail the run and say which were skipped."""
    if _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\n{len(_skipped)} test(s) skipped, which this project counts as failures:")
        for nodeid in _skipped:
            print(f"  {nodeid}")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
