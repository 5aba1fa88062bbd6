"""The report's figures drawn in two processes (:mod:`padlab.report.drawing`).

Whichever process draws a figure, the PNG is the same; the helper never draws a figure that
filters (nor loads numba); a figure's error and warnings reach the caller; a helper that dies
leaves its figures to this process; an interrupted report leaves no helper running and no file
written after it.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import padlab
from padlab import _threads
from padlab.report import build, figures
from padlab.report import drawing as drawing_module
from padlab.report.drawing import Drawing

pytestmark = pytest.mark.slow  # starts helper processes (matplotlib, numba: about 2 s each)


def photo() -> np.ndarray:
    y, x = np.mgrid[0:90, 0:110]
    return (0.3 + 0.4 * x / 110 + 0.2 * np.sin(y / 5.0)).clip(0, 1)


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setenv("PADLAB_NUM_THREADS", "2")
    _threads.reset()
    yield
    monkeypatch.undo()
    _threads.reset()


def handed_to_helper(drawing: Drawing, job: int) -> None:
    """Wait until the helper has ``job`` (so that finish() cannot take it here)."""
    deadline = time.monotonic() + 120
    while drawing._jobs[job].state == "queued":
        assert drawing.helped and time.monotonic() < deadline
        time.sleep(0.005)


def test_the_helper_draws_the_same_pngs_as_this_process(tmp_path, two_threads, monkeypatch):
    pngs, drawings = {}, []
    for helper in (False, True):

        def recording(*, helper: bool = helper) -> Drawing:
            drawings.append(Drawing(helper=helper))
            return drawings[-1]

        monkeypatch.setattr(build, "Drawing", recording)
        out = tmp_path / str(helper)
        report = build.build_report(photo(), image_name="p", kernels=("outline", "blur"),
                                    modes=("zeros", "reflect"), depth=1, out_dir=out)  # fmt: skip
        pngs[helper] = {name: (out / name).read_bytes() for name in report.figures}
    alone, helped = drawings
    by_helper = [i for i in range(len(helped._jobs)) if helped.by_helper(i)]
    assert not any(alone.by_helper(i) for i in range(len(alone._jobs)))
    assert by_helper, "the helper drew nothing: the comparison would be empty"
    assert len(pngs[True]) >= 9
    assert pngs[False] == pngs[True]


def test_a_figure_is_drawn_from_its_arguments_as_they_were_submitted(tmp_path, two_threads):
    curves = {"zeros": [np.linspace(1.0, 0.1, 8)]}
    maps = {"zeros": np.linspace(0, 1, 40 * 50).reshape(40, 50)}
    with Drawing() as drawing:
        jobs = [drawing.submit(tmp_path / f"{i}.png", figures.context_figure, maps, curves,
                               kernel="k") for i in range(3)]  # fmt: skip
        assert drawing.helped
        maps["zeros"] *= 0  # changed at once: the figures above must not see it
        maps.clear()
        drawing.finish()
    assert drawing.by_helper(jobs[0])
    data = [(tmp_path / f"{i}.png").read_bytes() for i in range(3)]
    assert data[0] == data[1] == data[2]
    with Drawing(helper=False) as alone:
        alone.submit(tmp_path / "alone.png", figures.context_figure,
                     {"zeros": np.linspace(0, 1, 40 * 50).reshape(40, 50)}, curves, kernel="k")  # fmt: skip
        alone.finish()
    assert (tmp_path / "alone.png").read_bytes() == data[0]


@pytest.mark.parametrize("helper", [True, False])
def test_a_failing_figure_raises_its_own_error(tmp_path, two_threads, helper):
    with Drawing(helper=helper) as drawing:
        good = drawing.submit(tmp_path / "good.png", figures.coverage_figure, ["zeros"], (3, 3))
        bad = drawing.submit(tmp_path / "bad.png", figures.coverage_figure, ["nonsense"], (3, 3))
        assert drawing.helped is helper
        if helper:
            handed_to_helper(drawing, bad)
        with pytest.raises(padlab.PadlabValueError, match="nonsense"):
            drawing.finish()
    assert drawing.by_helper(bad) is helper and drawing.by_helper(good) is helper
    assert (tmp_path / "good.png").exists() and not (tmp_path / "bad.png").exists()
    assert figures.pyplot().get_fignums() == []  # the failed figure was closed too


def test_only_figures_of_the_report_are_drawn(tmp_path):
    with Drawing(helper=False) as drawing, pytest.raises(ValueError, match="not a figure"):
        drawing.submit(tmp_path / "x.png", print, "hello")


def test_warnings_met_by_the_helper_are_raised_here(tmp_path, two_threads):
    nan = {"zeros": np.full((30, 30), np.nan, np.float32)}
    with Drawing() as drawing:
        job = drawing.submit(tmp_path / "w.png", figures.histogram_figure, nan, kernel="k", width=2)
        handed_to_helper(drawing, job)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            drawing.finish()
    assert drawing.by_helper(job)
    with warnings.catch_warnings(record=True) as here:
        warnings.simplefilter("always")
        with Drawing(helper=False) as alone:
            alone.submit(tmp_path / "w2.png", figures.histogram_figure, nan, kernel="k", width=2)
            alone.finish()
    assert here, "the figure chosen for this test no longer warns: pick another"
    assert sorted(str(w.message) for w in caught) == sorted(str(w.message) for w in here)
    assert {w.category for w in caught} == {w.category for w in here}


def test_a_helper_that_dies_leaves_its_figures_to_this_process(tmp_path, two_threads):
    with Drawing() as drawing:
        first = drawing.submit(tmp_path / "0.png", figures.coverage_figure, ["zeros"], (3, 3))
        handed_to_helper(drawing, first)
        drawing._process.kill()  # as if the system had killed it, with a figure in hand
        for i in range(1, 4):
            drawing.submit(tmp_path / f"{i}.png", figures.coverage_figure, ["zeros"], (3, 3))
        drawing.finish()
        assert not drawing.helped and not drawing.by_helper(first)
    assert all((tmp_path / f"{i}.png").stat().st_size > 1000 for i in range(4))


def test_an_error_in_the_block_stops_the_helper_at_once(tmp_path, two_threads):
    with pytest.raises(KeyboardInterrupt), Drawing() as drawing:
        for i in range(6):
            drawing.submit(tmp_path / f"{i}.png", figures.coverage_figure, ["zeros"], (3, 3))
        process = drawing._process
        handed_to_helper(drawing, 0)
        raise KeyboardInterrupt
    assert process.poll() is not None  # no helper left running: it was killed, not waited for
    assert list(tmp_path.iterdir()) == []  # so it never drew the figure it had


def test_a_module_in_the_working_directory_does_not_run_in_the_helper(
    tmp_path, two_threads, monkeypatch
):
    (tmp_path / "padlab.py").write_text("open('SHADOWED', 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    with Drawing() as drawing:
        job = drawing.submit(tmp_path / "c.png", figures.coverage_figure, ["zeros"], (3, 3))
        handed_to_helper(drawing, job)
        drawing.finish()
    assert drawing.by_helper(job) and not (tmp_path / "SHADOWED").exists()


def test_matplotlib_settings_of_the_caller_keep_every_figure_here(tmp_path, two_threads):
    import matplotlib

    for changed in (True, False):
        with matplotlib.rc_context({"axes.facecolor": "#eeeeee"} if changed else {}):
            with Drawing() as drawing:
                job = drawing.submit(tmp_path / "c.png", figures.coverage_figure, ["zeros"], (3, 3))
                # a fresh helper would draw it without the caller's settings
                assert drawing.helped is not changed
                if not changed:
                    handed_to_helper(drawing, job)
                drawing.finish()
        assert drawing.by_helper(job) is not changed


def test_a_figure_with_large_arrays_is_drawn_here_without_a_helper(tmp_path, two_threads):
    big = {"zeros": np.ones((30, 30), np.float32)}  # 3600 bytes
    with Drawing() as drawing:
        drawing_module.QUEUE_BYTES, budget = 3000, drawing_module.QUEUE_BYTES
        try:
            job = drawing.submit(tmp_path / "p.png", figures.profile_figure, big, kernel="k")
        finally:
            drawing_module.QUEUE_BYTES = budget
        assert not drawing.helped and drawing._started is None  # not even started
        small = drawing.submit(tmp_path / "c.png", figures.coverage_figure, ["zeros"], (3, 3))
        assert drawing._started is None  # nor for the small figures after it: not worth it
        drawing.finish()
    assert not drawing.by_helper(job) and (tmp_path / "p.png").exists()
    assert not drawing.by_helper(small)


def test_one_thread_means_no_helper(tmp_path, monkeypatch):
    monkeypatch.setenv("PADLAB_NUM_THREADS", "1")
    _threads.reset()
    try:
        with Drawing() as drawing:
            assert not drawing.helped
            drawing.submit(tmp_path / "a.png", figures.rules_figure, ["zeros"])
            assert drawing.size(0)[0] > 100  # drawn at once, here
    finally:
        monkeypatch.undo()
        _threads.reset()


def test_the_helper_never_draws_a_figure_that_filters(tmp_path, two_threads):
    blur = np.ones((3, 3)) / 9
    with Drawing() as drawing:
        first = drawing.submit(tmp_path / "c.png", figures.coverage_figure, ["zeros"], (3, 3))
        handed_to_helper(drawing, first)  # the helper is there, and idle once it has drawn it
        rules = drawing.submit(tmp_path / "r.png", figures.rules_figure, ["zeros", "reflect"])
        assert drawing._jobs[rules].state == "done"  # drawn here at once, never queued
        shown = drawing.submit(
            tmp_path / "p.png", figures.photo_overview, photo(), blur, "b", "reflect"
        )
        assert drawing._jobs[shown].state == "done"
        drawing.finish()
    assert drawing.by_helper(first)
    assert not drawing.by_helper(rules) and not drawing.by_helper(shown)


def test_a_stuck_helper_is_stopped_and_its_figure_drawn_here(tmp_path, two_threads, monkeypatch):
    import signal

    monkeypatch.setattr(drawing_module, "HELPER_PATIENCE", 1.0)
    with Drawing() as drawing:
        job = drawing.submit(tmp_path / "c.png", figures.coverage_figure, ["zeros"], (3, 3))
        handed_to_helper(drawing, job)
        process = drawing._process
        process.send_signal(signal.SIGSTOP)  # alive, answering nothing
        drawing.finish()
        assert process.poll() is not None  # stopped for good
    assert not drawing.by_helper(job) and (tmp_path / "c.png").exists()


def test_a_queue_over_its_budget_is_drawn_here(tmp_path, two_threads, monkeypatch):
    curves = {"zeros": [np.linspace(1.0, 0.1, 8)]}
    maps = {"zeros": np.linspace(0, 1, 40 * 50).reshape(40, 50)}  # 16000 bytes
    monkeypatch.setattr(drawing_module, "QUEUE_BYTES", 40000)  # two fit, three do not
    with Drawing() as drawing:
        first = drawing.submit(
            tmp_path / "w0.png", figures.context_figure, maps, curves, kernel="k"
        )
        handed_to_helper(drawing, first)  # the helper, still starting, has it
        for i in range(1, 4):
            drawing.submit(tmp_path / f"w{i}.png", figures.context_figure, maps, curves, kernel="k")
        # two waited for the helper; the third pushed the oldest of them over, drawn here at once
        assert [job.state for job in drawing._jobs][1:] == ["done", "queued", "queued"]
        drawing.finish()
    assert not drawing.by_helper(1)
    monkeypatch.setattr(drawing_module, "QUEUE_BYTES", 20000)  # one fits, two do not
    with Drawing() as drawing:
        jobs = []
        for i in range(5):
            jobs.append(drawing.submit(tmp_path / f"{i}.png", figures.context_figure, maps,
                                       curves, kernel="k"))  # fmt: skip
            waiting = [job for job in drawing._jobs if job.state == "queued"]
            assert len(waiting) <= 1  # the oldest of two was drawn here at once
        assert drawing.helped
        drawing.finish()
    assert sum(not drawing.by_helper(job) for job in jobs) >= 2
    assert all((tmp_path / f"{i}.png").exists() for i in range(5))


FIGURE_CALLS = {
    "context_figure": "f.context_figure({'zeros': np.ones((20, 20))}, {'zeros': [np.ones(5)]}, "
    "kernel='k')",
    "error_overview": "f.error_overview({'zeros': 1.0}, {'k': {'zeros': 1.0}}, 'zeros')",
    "profile_figure": "f.profile_figure({'zeros': np.ones((30, 30), np.float32)}, kernel='k')",
    "histogram_figure": "f.histogram_figure({'zeros': np.ones((30, 30), np.float32)}, "
    "kernel='k', width=2)",
    "coverage_figure": "f.coverage_figure(['zeros', 'partial'], (3, 3))",
    "photo_overview": "f.photo_overview(np.ones((40, 50)), np.ones((3, 3)), 'k', 'reflect')",
    "classic_figure": "f.classic_figure(np.ones((40, 50)), 'zeros', pad_width=3, "
    "laplacian=np.ones((3, 3)))",
    "rules_figure": "f.rules_figure(['zeros'])",
    "response_grid": "f.response_grid(np.ones((40, 50)), {'k': np.ones((3, 3))}, ['zeros'], "
    "band={'k': 1}, window=(slice(0, 10), slice(0, 10)))",
}


@pytest.mark.parametrize("name", sorted(FIGURE_CALLS))
def test_filtering_lists_exactly_the_figures_that_load_numba(name, tmp_path):
    code = (
        "import sys; import numpy as np; from padlab.report import figures as f; f.pyplot()\n"
        f"{FIGURE_CALLS[name]}.savefig({str(tmp_path / 'x.png')!r})\n"
        "print('numba' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == str(name in figures.FILTERING)


def test_every_figure_of_the_report_is_in_that_test():
    drawn = {n for n in figures.__all__ if n.endswith(("_figure", "_overview", "_grid"))}
    assert drawn == set(FIGURE_CALLS)
