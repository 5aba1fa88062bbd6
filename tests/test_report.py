"""``padlab report``: files, escaping, warnings, reproduction, the advice, clean failures.

One report is built per module through the command line (the slow part); the tests read it. Its
inputs are hostile on purpose: an RGBA photo and a kernel file whose names hold HTML, ``&`` and
quotes, a 1x1 text kernel, repeated ``-k``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex

import numpy as np
import pytest
from markupsafe import escape
from PIL import Image

import padlab
from padlab._files import MARKER
from padlab.cli.main import main
from padlab.report.build import build_report, name_kernels, prepare_image

pytestmark = pytest.mark.slow  # each module builds whole reports

HOSTILE = "<img src=x onerror=alert(1)> & \"q\" 'k'"


def drawn_photo(alpha: bool = False) -> np.ndarray:
    """A photo drawn here: a lit gradient, a bright disc cut by the top edge, dark bars."""
    h, w = 150, 180
    y, x = np.mgrid[0:h, 0:w]
    image = 0.25 + 0.5 * x / w + 0.1 * np.sin(y / 7.0)
    image[(x - 100) ** 2 + (y - 10) ** 2 < 40**2] = 0.95  # a disc touching the top border
    image[100:140, 20:60:8] = 0.05  # bars
    rgb = np.stack([image, image * 0.9, image * 0.8], axis=-1)
    pixels = np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if not alpha:
        return pixels
    opaque = np.full((h, w, 1), 255, np.uint8)
    opaque[:, :30] = 0  # a transparent band along the left edge: black pixels, alpha 0
    pixels[:, :30] = 0
    return np.concatenate([pixels, opaque], axis=-1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``padlab report`` on an RGBA photo with a hostile name and a hostile kernel file."""
    folder = tmp_path_factory.mktemp("report")
    photo = folder / f"{HOSTILE}.png"
    Image.fromarray(drawn_photo(alpha=True), "RGBA").save(photo)
    kernel = folder / f"{HOSTILE}.npy"
    np.save(kernel, np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]))
    out = folder / "out"
    argv = ["report", str(photo), "-k", "outline", "-k", "2", "-k", str(kernel),
            "-m", "zeros,reflect,partial", "--depth", "2", "-o", str(out)]  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(argv)
    return {
        "status": status,
        "argv": argv,
        "out": out,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "html": (out / "index.html").read_text(encoding="utf-8"),
        "metrics": json.loads((out / "metrics.json").read_text()),
        "kernel": kernel,
    }


def test_report_files(run):
    assert run["status"] == 0, run["stderr"]
    directory, page = run["out"], run["html"]
    pngs = sorted(p.name for p in directory.glob("*.png"))
    assert {"overview-errors.png", "overview-photo.png", "classic.png", "rules.png"} <= set(pngs)
    assert {"responses.png", "coverage.png", "context-1.png", "context-3.png"} <= set(pngs)
    # self-contained: every image embedded, nothing fetched from anywhere
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert not re.search(r'src="(https?:)?//', page)
    assert "<script" not in page
    # every figure is shown at the size it was drawn, and links to its full-size file
    for name in pngs:
        with Image.open(directory / name) as figure:
            width, height = figure.size
        assert f'<a href="{name}"' in page
        assert f'width="{width}" height="{height}"' in page
    metrics = run["metrics"]
    assert metrics["modes"] == ["zeros", "reflect", "partial"]
    assert len(metrics["comparisons"]) == 3  # outline, the 1x1 kernel, the file
    assert metrics["image"]["size"] == "180x150"
    assert metrics["environment"]["packages"]["padlab"] == padlab.__version__
    assert f"padlab {padlab.__version__}" in page
    assert not list(directory.parent.glob(".out.*"))  # no temporary directory left


def test_names_are_escaped_everywhere(run):
    page = run["html"]
    # nothing the user typed becomes markup: no live tag, no broken attribute
    assert "<img src=x" not in page
    assert "onerror=alert(1)>" not in page.replace("&gt;", "")
    escaped = str(escape(HOSTILE))
    assert "&amp;" in escaped and "&#34;q&#34;" in escaped and "&#39;k&#39;" in escaped
    assert escaped in page  # the photo's name, the kernel's name and the command, escaped
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 3
    assert (
        str(escape(shlex.quote(str(run["kernel"])))) in page
    )  # the file, in the command  # the kernel file in the command
    # the page parses as the template wrote it: as many <img> tags as figures
    assert page.count("<img ") == len(list(run["out"].glob("*.png")))


def test_rgba_warning_on_the_page_and_in_the_cli(run):
    assert "alpha channel: it was composited over white" in run["stderr"]
    assert "padlab report: warning:" in run["stderr"]
    assert 'class="warning"' in run["html"]
    assert "composited over white" in run["html"]
    assert any("alpha channel" in w for w in run["metrics"]["warnings"])
    # the transparent band is measured as white, not black: no 0-valued pixels appear
    prepared = prepare_image(drawn_photo(alpha=True))
    assert float(prepared.pixels[:, :30].min()) == pytest.approx(1.0)


def test_a_one_pixel_kernel_ties_every_rule(run):
    records = run["metrics"]["comparisons"]["2"]["records"]
    assert {r["rank"] for r in records} == {1}
    assert all(r["context_error_rmse"] == 0 for r in records)


def test_recorded_command_reruns_to_the_same_numbers(run, capsys):
    metrics = run["metrics"]
    assert metrics["argv"] == run["argv"]
    assert metrics["command"] == shlex.join(["padlab", *run["argv"]])
    assert str(escape(metrics["command"])) in run["html"]
    words = shlex.split(metrics["command"])
    assert words[:2] == ["padlab", "report"]
    assert main(words[1:]) == 0  # the same command, as a shell would split it
    capsys.readouterr()
    again = json.loads((run["out"] / "metrics.json").read_text())
    assert again["comparisons"] == metrics["comparisons"]
    assert again["recommendation"] == metrics["recommendation"]


def test_the_advice_comes_from_analysis_and_quotes_its_numbers(run):
    metrics = run["metrics"]
    comparisons = {
        name: [r["context_error_relative"] for r in sorted(c["records"], key=lambda r: r["mode"])]
        for name, c in metrics["comparisons"].items()
    }
    modes = sorted(metrics["modes"])
    mean = dict(zip(modes, np.mean(list(comparisons.values()), axis=0), strict=True))
    best = metrics["recommendation"]["mode"]
    assert best == min(mean, key=mean.__getitem__) and best != "zeros"
    why = metrics["recommendation"]["why"]
    assert why.startswith(f"Use {best} (")
    assert padlab.analysis.comparison.percent(mean[best]) in why
    assert why in run["stdout"] and str(escape(why)) in run["html"]
    assert len(set(why.split(". "))) == len(why.split(". "))  # no sentence twice


def test_recommend_is_the_one_rule_of_api_cli_and_report(capsys):
    photo = padlab.sample_image(gray=True)[:120, :140]
    one = padlab.compare(photo, padlab.get_kernel("outline"), ["zeros", "reflect", "replicate"])
    assert one.best().mode == padlab.recommend(one).mode == one.records[0].mode
    flat = padlab.compare(np.full((40, 40), 0.5), padlab.get_kernel("blur"), ["reflect", "zeros"])
    advice = padlab.recommend(flat)
    assert advice.mode == "reflect" and advice.runner_up == "zeros"  # zeros darkens a flat field
    tie = padlab.compare(photo, padlab.get_kernel("identity-1"), ["zeros", "reflect"])
    advice = padlab.recommend(tie)
    assert advice.runner_up is None and "no difference" in advice.sentence
    assert advice.warnings and "All rules tie" in advice.warnings[0]
    assert main(["compare", "-k", "identity-1", "-m", "zeros,reflect"]) == 0
    captured = capsys.readouterr()
    assert "All rules tie" in captured.err and "no difference" in captured.out
    html_table = one._repr_html_()
    assert html_table.startswith("<table>") and "reflect" in html_table


def test_report_and_compare_measure_the_same_thing(capsys):
    assert main(["compare", "-k", "blur", "-m", "zeros,reflect", "--depth", "2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    photo = padlab.sample_image()
    api = padlab.compare(prepare_image(photo).pixels, padlab.get_kernel("blur"),
                         ["zeros", "reflect"], depth=2)  # fmt: skip
    assert [r["context_error_rmse"] for r in cli["records"]] == [
        r.context_error_rmse for r in api.records
    ]
    assert cli["measured_as"] == "grayscale (BT.601 luma)"


def test_kernel_names_stay_apart(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "k.npy", np.ones((3, 3)))
    np.save(tmp_path / "b" / "k.npy", np.eye(3))
    named = name_kernels([str(tmp_path / "a" / "k.npy"), str(tmp_path / "b" / "k.npy")])
    assert len(named) == 2 and {k.sum() for k in named.values()} == {9.0, 3.0}
    with pytest.raises(padlab.PadlabValueError, match="given twice"):
        name_kernels(["blur", "blur"])
    assert list(name_kernels(["0,-1,0;-1,5,-1;0,-1,0", "1,2,1"])) == [
        "0,-1,0;-1,5,-1;0,-1,0",
        "1,2,1",
    ]


def test_cli_report_on_the_sample_photo(tmp_path, capsys):
    out = tmp_path / "sample"
    status = main(
        ["report", "-k", "outline", "-m", "zeros,reflect", "--depth", "1", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "grace_hopper.jpg (sample photo) (512x600, measured as grayscale" in captured.out
    assert f"report: {out / 'index.html'}" in captured.out
    assert "Use reflect" in captured.out
    assert "s] measuring outline under 2 rules" in captured.err  # progress
    assert (out / "metrics.json").exists()


def test_a_new_report_replaces_an_old_one_only_when_complete(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "old.txt").write_text("old report")
    (out / MARKER).write_text("")  # an earlier padlab report
    build_report(drawn_photo(), image_name="x", kernels=("blur",), modes=("zeros", "reflect"),
                 depth=1, out_dir=out)  # fmt: skip
    assert not (out / "old.txt").exists() and (out / "index.html").exists()
    with pytest.raises(padlab.PadlabValueError):
        build_report(drawn_photo(), image_name="x", kernels=("blurr",), out_dir=out)
    assert (out / "index.html").exists()  # the complete report is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["missing.jpg"], "missing.jpg: no such file"),
        (["-k", "outline,blurr"], "unknown kernel 'blurr'"),
        (["-m", "zeros,mirror"], "'scipy:mirror'"),
        (["-m", ""], "empty padding rule in ''"),
        (["-k", ""], "empty kernel in ''"),
        (["-k", "outline,"], "empty kernel in 'outline,'"),
        (["-k", "blur", "-k", "blur"], "kernel 'blur' is given twice"),
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


def test_notebook_helpers_clip_at_a_stated_percentile_and_title_the_rule():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    edges = rng.normal(0, 0.1, (64, 64))
    edges[0, 0] = 50.0  # one outlier would make everything else white if scaled to the max
    fig = padlab.show_image(edges)
    image = fig.axes[0].images[0]
    low, high = image.get_clim()
    assert low == -high and high == pytest.approx(np.percentile(np.abs(edges), 99.5))
    assert "99.5th pct" in fig.axes[1].get_ylabel()  # the colour bar states the clipping
    colour = np.stack([edges, edges / 2, -edges], axis=-1)
    fig2 = padlab.show_pair(np.zeros((64, 64, 3)), colour, kernel="outline", mode="replicate")
    title = fig2.axes[1].get_title()
    assert title.startswith("outline, replicate (a a a | a b c d | d d d), same: 64x64 -> 64x64")
    assert "0 = mid-gray" in title
    shown = fig2.axes[1].images[0].get_array()
    # one scale for the three channels: the second is half as far from mid-gray as the first
    inside = np.abs(colour[..., 0]) < np.percentile(np.abs(colour), 99.5)
    first, second = shown[..., 0][inside] - 0.5, shown[..., 1][inside] - 0.5
    assert np.allclose(second, first / 2, atol=1e-6)
    plt.close("all")


def test_placed_pixels_are_what_figimage_draws():
    """The photo overview draws its 8-bit pixels straight to the renderer (no float copies of
    the photo); the picture is the one ``figimage(origin="upper")`` drew."""
    from padlab.report import figures

    plt = figures.pyplot()
    rng = np.random.default_rng(0)
    rgba = figures._gray_pixels(rng.random((37, 53)), 1.0)
    assert rgba.dtype == np.uint8 and rgba.shape == (37, 53, 4) and (rgba[..., 3] == 255).all()
    drawn = []
    for place in ("figimage", "renderer"):
        fig = plt.figure(figsize=(1.2, 0.9), dpi=100)
        if place == "figimage":
            fig.figimage(rgba[..., :3], xo=11, yo=7, origin="upper")
        else:
            figures._place_pixels(fig, rgba, 11, 7)
        fig.canvas.draw()
        drawn.append(np.asarray(fig.canvas.buffer_rgba()).copy())
        plt.close(fig)
    assert (drawn[0] != 255).any()  # something was drawn
    np.testing.assert_array_equal(drawn[0], drawn[1])
