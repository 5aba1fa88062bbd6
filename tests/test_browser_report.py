"""The report in headless Chromium at 1280 px and 390 px: nothing overflows its column, the
numbers the advice quotes are on screen, every image loads, no console error.

Screenshots are written to ``artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from padlab.report.build import build_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _photo() -> np.ndarray:
    h, w = 170, 210
    y, x = np.mgrid[0:h, 0:w]
    image = 0.2 + 0.6 * x / w + 0.1 * np.cos(y / 5.0)
    image[(x - 60) ** 2 + (y - 8) ** 2 < 30**2] = 0.9
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "report"
    build_report(_photo(), image_name="drawn photo", out_dir=out, depth=2,
                 command="padlab report drawn.png")  # fmt: skip
    return out / "index.html"


@pytest.fixture(scope="module")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()


# every table, figure and image, with how far it reaches past its column (px)
OVERFLOW = """
const main = document.querySelector('main');
const column = main.getBoundingClientRect();
const padding = parseFloat(getComputedStyle(main).paddingRight);
const right = column.right - padding + 0.5;
return Array.from(document.querySelectorAll('table, figure, img, pre, p, h1, ul')).map(e => {
  const box = e.getBoundingClientRect();
  return [e.tagName, e.id || e.className, box.right - right, e.scrollWidth - e.clientWidth];
}).filter(([tag, name, past, inner]) => past > 0 || (tag !== 'IMG' && inner > 1));
"""

# the text and on-screen position of every element that shows a quoted number
QUOTED = """
const shown = e => { const b = e.getBoundingClientRect(); const s = getComputedStyle(e);
  return b.width > 0 && b.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
         && b.left >= 0 && b.right <= window.innerWidth; };
const cells = Array.from(document.querySelectorAll(
  '#recommendation, #scores li, table.ranking td.num, #false-edges td.num'));
return cells.map(e => [e.textContent.trim(), shown(e)]);
"""


@pytest.mark.parametrize("width", [1280, 390], ids=["laptop", "phone"])
def test_report_fits_and_shows_its_numbers(page, driver, width):
    driver.set_window_size(width, 1000)
    driver.get(page.as_uri())
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    overflowing = driver.execute_script(OVERFLOW)
    quoted = driver.execute_script(QUOTED)
    loaded = driver.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    )
    page_overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{width}px.png"
    driver.save_screenshot(str(shot))
    assert overflowing == []
    assert page_overflow <= 0
    assert loaded and all(loaded) and len(loaded) == len(list(page.parent.glob("*.png")))
    assert errors == []
    # the advice's numbers: each percentage it quotes is on screen, in the advice or the scores
    advice = quoted[0][0]
    visible = " ".join(text for text, on_screen in quoted if on_screen)
    assert quoted[0][1]
    for number in re.findall(r"\d+(?:\.\d+)?%", advice):
        assert number in visible
    assert all(on_screen for _, on_screen in quoted), [t for t, s in quoted if not s]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.02  # a page, not a blank
    # figures are drawn at the size they are shown on a laptop: not scaled below 95%
    if width == 1280:
        scale = driver.execute_script(
            "return Array.from(document.images).map(i => i.clientWidth / i.naturalWidth)"
        )
        assert min(scale) > 0.95, scale
