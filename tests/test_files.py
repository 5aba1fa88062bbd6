"""Atomic outputs: padlab replaces only directories it wrote, through symlinks, with normal modes."""

from __future__ import annotations

import os
import threading

import pytest

import padlab
from padlab._files import MARKER, atomic_directory, atomic_file, check_output_directory
from padlab.cli.main import main


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_directory_padlab_did_not_write_is_refused_before_any_work(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(padlab.PadlabFileError, match="did not write"):
        check_output_directory(mine)
    with pytest.raises(padlab.PadlabFileError, match="did not write"), atomic_directory(mine):
        pytest.fail("the block must not run")
    monkeypatch.chdir(mine)
    with pytest.raises(padlab.PadlabFileError, match="did not write"):
        check_output_directory(".")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_report_into_the_current_directory_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "-o", "."]) == 2
    assert "did not write" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_own_and_empty_directories_are_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    with atomic_directory(out) as work:
        (work / "a.txt").write_text("1")
    with atomic_directory(out) as work:  # padlab's own: replaced, stale files gone
        (work / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.txt"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left


def test_failure_inside_the_block_keeps_the_old_output(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out) as work:
        (work / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(out) as work:
        (work / "a.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert (out / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_symlinks_are_written_through(tmp_path):
    real = tmp_path / "real"
    with atomic_directory(real) as work:
        (work / "a.txt").write_text("1")
    (tmp_path / "link").symlink_to(real)
    with atomic_directory(tmp_path / "link") as work:
        (work / "b.txt").write_text("2")
    assert (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in real.iterdir()) == [MARKER, "b.txt"]
    (tmp_path / "file.bin").write_bytes(b"old")
    (tmp_path / "file-link").symlink_to(tmp_path / "file.bin")
    with atomic_file(tmp_path / "file-link") as handle:
        handle.write(b"new")
    assert (tmp_path / "file-link").is_symlink()
    assert (tmp_path / "file.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file-link", "file.bin", "link", "real"]


def test_files_get_the_umask_permissions_also_from_many_threads(tmp_path):
    def write(k: int) -> None:
        for j in range(20):
            with atomic_file(tmp_path / f"{k}-{j}.bin") as handle:
                handle.write(b"x")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    modes = {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {0o666 & ~_umask()}
    assert len(list(tmp_path.iterdir())) == 120
