"""The documentation site builds with warnings as errors, and renders in a browser.

The build runs Sphinx on a copy of ``docs/`` and ``examples/`` (so nothing is written into the
checkout): the API reference from the docstrings, the rules page from the registry, and every
gallery example, executed. The browser test opens the built index and a gallery page in headless
Chromium and checks that they render: a title, images that loaded, nothing wider than the screen.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"  # git-ignored; tools/test.sh prints where the screenshots are
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
GENERATED = ("_build", "generated", "auto_examples", "sg_execution_times.rst", "__pycache__")

pytestmark = [pytest.mark.slow, pytest.mark.docs]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site into a temporary directory; return the HTML directory."""
    work = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns(*GENERATED))
    shutil.copytree(ROOT / "examples", work / "examples")
    html = work / "html"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(work / "docs"), str(html)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return html


def test_the_site_builds_with_every_page(site):
    for page in ("index.html", "install.html", "rules.html", "api.html", "guide/padding.html",
                 "generated/padlab.correlate.html", "auto_examples/index.html"):  # fmt: skip
        assert (site / page).is_file(), page
    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    built = sorted(p.stem for p in (site / "auto_examples").glob("plot_*.html"))
    assert examples and built == examples  # every example ran and has its page


def test_the_rules_page_is_generated_from_the_registry(site):
    from padlab.modes.registry import LIBRARIES, RULES

    html = (site / "rules.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    text = " ".join(text.replace("&#8217;", "'").split())
    for rule in RULES:
        assert f'id="rule-{rule.name.replace("_", "-")}"' in html
        assert " ".join(rule.pattern.split()) in text, rule.name
        for lib in LIBRARIES.values():
            for name in rule.names.get(lib.key, ()):
                assert name in text, (rule.name, lib.key, name)
    assert "none" in text  # libraries without a rule say so


def test_the_api_reference_comes_from_the_docstrings(site):
    import padlab

    page = (site / "generated" / "padlab.correlate.html").read_text()
    first_line = padlab.correlate.__doc__.strip().splitlines()[0]
    assert first_line.split(",")[0] in page
    assert "Parameters" in page and "Examples" in page


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--hide-scrollbars"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("index.html", "padlab"),
        ("auto_examples/plot_zero_padded_photo.html", "The zero-padded photo"),
    ],
    ids=["index", "gallery"],
)
@pytest.mark.parametrize("width", [1280, 390], ids=["laptop", "phone"])
def test_the_site_renders_in_headless_chromium(site, page, title, width):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    driver = _browser()
    try:
        driver.set_window_size(width, 1400)
        driver.get((site / page).as_uri())
        heading = driver.execute_script("return document.querySelector('h1').textContent")
        images = driver.execute_script(
            "return Array.from(document.querySelectorAll('article img'))"
            ".map(i => [i.complete && i.naturalWidth > 0, i.getAttribute('src')])"
        )
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        shot = ARTIFACTS / f"docs-{Path(page).stem}-{width}px.png"
        driver.save_screenshot(str(shot))
        page_title = driver.title
    finally:
        driver.quit()
    assert heading.startswith(title) and page_title.startswith(title)
    assert images and all(ok for ok, _ in images), images  # at least one figure, all loaded
    assert errors == []
    assert overflow <= 0  # wide tables and code scroll inside their box, never the page
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20  # not a blank page
