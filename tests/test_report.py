"""``padlab report``: files, self-containment, the browser test, and clean failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import padlab
from padlab._files import MARKER
from padlab.cli.main import main
from padlab.report.build import build_report

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"  # git-ignored; CI prints where the screenshots are
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _drawn_photo() -> np.ndarray:
    """A photo drawn here: a lit gradient, a bright disc cut by the top edge, dark bars."""
    h, w = 180, 220
    y, x = np.mgrid[0:h, 0:w]
    image = 0.25 + 0.5 * x / w + 0.1 * np.sin(y / 7.0)
    image[(x - 120) ** 2 + (y - 10) ** 2 < 45**2] = 0.95  # a disc touching the top border
    image[120:160, 20:60:8] = 0.05  # bars
    rgb = np.stack([image, image * 0.9, image * 0.8], axis=-1)
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def drawn_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "drawn"
    report = build_report(
        _drawn_photo(),
        image_name="drawn test photo",
        kernels=("outline", "blur"),
        modes=("zeros", "reflect", "symmetric", "partial"),
        pad_width=12,
        depth=2,
        out_dir=out,
        command="(test) build_report(drawn photo)",
    )
    return report


@pytest.mark.slow
def test_report_files(drawn_report):
    directory = drawn_report.directory
    html = (directory / "index.html").read_text()
    pngs = sorted(p.name for p in directory.glob("*.png"))
    assert "classic-zeros.png" in pngs and "responses.png" in pngs and "coverage.png" in pngs
    # self-contained: every image embedded, nothing fetched from anywhere
    assert html.count('src="data:image/png;base64,') == len(pngs)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["modes"] == ["zeros", "reflect", "symmetric", "partial"]
    assert set(metrics["comparisons"]) == {"outline", "blur"}
    assert metrics["recommendation"]["mode"] in metrics["modes"]
    assert "(test) build_report(drawn photo)" in html  # the command, for reproduction
    assert f"padlab {padlab.__version__}" in html
    assert not list(directory.parent.glob(".drawn.*"))  # no temporary directory left


@pytest.mark.slow
def test_recommendation_follows_the_measurements(drawn_report):
    best = drawn_report.recommendation.split()[1]
    scores = {}
    for comparison in drawn_report.comparisons.values():
        for record in comparison.records:
            scores.setdefault(record.mode, []).append(record.context_error_relative)
    assert best == min(scores, key=lambda m: np.mean(scores[m]))
    assert best != "zeros"


def _browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390], ids=["laptop", "phone"])
def test_report_renders_in_headless_chromium(drawn_report, width):
    ARTIFACTS.mkdir(exist_ok=True)
    driver = _browser()
    try:
        driver.set_window_size(width, 1600)
        driver.get((drawn_report.directory / "index.html").as_uri())
        loaded = driver.execute_script(
            "return Array.from(document.images)"
            ".map(i => [i.complete && i.naturalWidth > 0, i.naturalWidth])"
        )
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        shot = ARTIFACTS / f"report-{width}px.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert len(loaded) == len(list(drawn_report.directory.glob("*.png")))
    assert all(ok for ok, _ in loaded), loaded
    assert errors == []
    assert overflow <= 0  # nothing wider than the screen (wide tables scroll inside their box)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20  # not a blank page
    assert (pixels < 128).mean() > 0.02  # there is dark content: text and figures


@pytest.mark.slow
def test_cli_report_on_the_sample_photo(tmp_path, capsys):
    out = tmp_path / "sample"
    status = main(
        ["report", "-k", "outline", "-m", "zeros,reflect", "--depth", "1", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "grace_hopper.jpg (sample photo) (600x512x3)" in captured.out
    assert f"report: {out / 'index.html'}" in captured.out
    assert "Use reflect" in captured.out
    assert "[" in captured.err and "classic figure: zeros" in captured.err  # progress
    assert (out / "metrics.json").exists()


@pytest.mark.slow
def test_a_new_report_replaces_an_old_one_only_when_complete(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "old.txt").write_text("old report")
    (out / MARKER).write_text("")  # an earlier padlab report
    build_report(_drawn_photo(), image_name="x", kernels=("blur",), modes=("zeros", "reflect"),
                 depth=1, out_dir=out)  # fmt: skip
    assert not (out / "old.txt").exists() and (out / "index.html").exists()
    with pytest.raises(padlab.PadlabValueError):
        build_report(_drawn_photo(), image_name="x", kernels=("blurr",), out_dir=out)
    assert (out / "index.html").exists()  # the complete report is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["missing.jpg"], "missing.jpg: no such file"),
        (["-k", "outline,blurr"], "unknown kernel 'blurr'"),
        (["-m", "zeros,mirror"], "'scipy:mirror'"),
        (["--pad-width", "0"], "pad width must be at least 1"),
        (["-o", "afile/report"], "does not exist"),
        (["-o", "afile"], "exists and is not a directory"),
    ],
)
def test_bad_arguments_give_one_line_and_no_partial_report(
    tmp_path, monkeypatch, capsys, args, match
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a directory")
    status = main(["report", *args])
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert status == 2
    assert len(err) == 1 and match in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing else written
