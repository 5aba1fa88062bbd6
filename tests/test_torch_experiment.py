"""The position experiment, and padlab without PyTorch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from padlab.cli.main import main
from padlab.torch import position_experiment
from padlab.torch.experiment import make_dataset, red_green_net

pytestmark = pytest.mark.torch


# --- the position experiment -----------------------------------------------------------------


def test_red_green_data_and_net():
    x, y = make_dataset(10, 0)
    assert x.shape == (10, 3, 32, 32) and y.tolist() == [0, 1] * 5
    top = x[0].sum(dim=(0, 2)).nonzero()
    x_dis, _ = make_dataset(10, 0, dissimilar=True)
    # class 0 (red left of green) sits in the top half, or the bottom half when dissimilar
    rows = x[0].sum(dim=(0, 2)).nonzero().flatten()
    rows_dis = x_dis[0].sum(dim=(0, 2)).nonzero().flatten()
    assert rows.max() < 16 <= rows_dis.min()
    red_cols = x[0, 0].sum(dim=0).nonzero().flatten()
    green_cols = x[0, 1].sum(dim=0).nonzero().flatten()
    assert red_cols.max() < green_cols.min()
    assert len(top) > 0
    assert red_green_net("partial", 1)(x).shape == (10, 2)


@pytest.mark.slow
def test_position_experiment_small_end_to_end(tmp_path, capsys):
    result = position_experiment(seeds=1, epochs=2, train=200, val=100, test=100,
                                 variants=(("zeros same", "zeros", 1), ("circular", "circular", 1)))  # fmt: skip
    assert [v["name"] for v in result.variants] == ["zeros same", "circular"]
    for v in result.variants:
        assert 0 <= v["similar"][0] <= 1 and 0 <= v["dissimilar"][0] <= 1
    assert "± " in result.table()
    status = main(["experiment", "position", "--seeds", "1", "--epochs", "1", "--train", "200",
                   "--test", "100", "-o", str(tmp_path / "pos")])  # fmt: skip
    assert status == 0
    assert {p.name for p in (tmp_path / "pos").iterdir()} == {
        ".padlab-output",
        "results.json",
        "table.txt",
        "accuracy.png",
    }
    assert "partial" in capsys.readouterr().out


def test_position_experiment_output_checked_before_training(tmp_path, capsys, monkeypatch):
    import padlab.torch.experiment as experiment

    def no_training(**kwargs):
        raise AssertionError("trained although the output cannot be written")

    monkeypatch.setattr(experiment, "position_experiment", no_training)
    missing = tmp_path / "no" / "pos"
    assert main(["experiment", "position", "-o", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["experiment", "position", "-o", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_position_experiment_save_replaces_whole_directory(tmp_path):
    from padlab.torch.experiment import ExperimentResult, save

    result = ExperimentResult(
        [{"name": "valid", "rule": "zeros", "padding": 0, "similar": [1.0, 0.9],
          "dissimilar": [0.0, 0.1], "epochs": [3, 4]}],
        {"seeds": 2}, 1.0,
    )  # fmt: skip
    out = tmp_path / "pos"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    (out / ".padlab-output").write_text("")
    save(result, out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".padlab-output", "accuracy.png", "results.json", "table.txt",
    ]  # fmt: skip
    assert "95.0 ±  7.1%" in (out / "table.txt").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["pos"]  # no temporary left behind


def test_import_padlab_does_not_import_torch():
    code = "import sys, padlab; padlab.correlate([1.0, 2.0], [1.0]); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "position", "--seeds", "1"],
        ["audit", "torch.nn:Identity", "--input", "3x8x8"],
    ],
)
def test_commands_without_pytorch_say_so_in_one_line(argv):
    # a fresh interpreter in which `import torch` fails, as on an install without the extra
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from padlab.cli.main import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"padlab {argv[0]}: error: padlab.torch needs PyTorch: "
        "pip install 'padlab[torch]' (or torch itself)"
    ]


def test_paper_layout_as_the_published_generator():
    """Kayhan & van Gemert's layout: first box in columns [0, 10), second >= 5 columns to its
    right, rows 7 or 23 with jitter [-4, 3] per box; dissimilar = the same images moved 16 rows."""
    x, y = make_dataset(200, 5, layout="paper")
    xd, yd = make_dataset(200, 5, layout="paper", dissimilar=True)
    assert y.tolist() == yd.tolist()
    for image, moved, label in zip(x, xd, y.tolist(), strict=True):
        left = 0 if label == 0 else 1  # red (channel 0) left for class 0, green for class 1
        rows_l, cols_l = image[left].nonzero().T
        rows_r, cols_r = image[1 - left].nonzero().T
        assert 0 <= int(cols_l.min()) < 10 and int(cols_r.min()) >= int(cols_l.min()) + 5
        for rows in (rows_l, rows_r):
            assert int(rows.min()) - (7 if label == 0 else 23) in range(-4, 4)
        shift = 16 if label == 0 else -16
        assert torch.equal(torch.roll(image, shift, dims=1), moved)


def test_identical_rules_are_one_result():
    from padlab.torch.experiment import VARIANTS, identical_rules

    groups = identical_rules(VARIANTS)
    names = [" = ".join(n) for n, *_ in groups]
    assert "replicate = symmetric" in names  # equal at 3x3 with a pad of 1
    assert len(groups) == len(VARIANTS) - 1


def test_table_warns_when_a_run_did_not_learn():
    from padlab.torch.experiment import ExperimentResult

    result = ExperimentResult(
        [{"name": "valid", "rule": "zeros", "padding": 0, "similar": [0.5, 0.52],
          "dissimilar": [0.5, 0.49], "epochs": [3, 4]},
         {"name": "circular", "rule": "circular", "padding": 2, "similar": [1.0, 1.0],
          "dissimilar": [1.0, 0.99], "epochs": [3, 4]}],
        {"seeds": 2}, 1.0,
    )  # fmt: skip
    table = result.table()
    assert "valid" in table.splitlines()[1] and "<- did not learn" in table.splitlines()[1]
    assert "did not learn" not in table.splitlines()[2]
    assert "warning: valid stayed near chance" in table


@pytest.mark.slow
def test_position_experiment_paper_protocol_small(tmp_path):
    checkpoint = tmp_path / "partial.json"
    result = position_experiment(seeds=1, epochs=1, train=200, val=100, test=100,
                                 protocol="paper", checkpoint=checkpoint)  # fmt: skip
    assert [v["name"] for v in result.variants] == ["valid", "zeros same", "zeros full", "circular"]
    assert result.variants[3]["padding"] == 2
    assert result.config["protocol"] == "paper"
    import json

    assert len(json.loads(checkpoint.read_text())["variants"]) == 4


def test_position_experiment_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import pathlib

    import padlab
    from padlab.torch.experiment import ExperimentResult, save

    result = ExperimentResult(
        [{"name": "valid", "rule": "zeros", "padding": 0, "similar": [1.0],
          "dissimilar": [0.0], "epochs": [3]}], {"seeds": 1}, 1.0,
    )  # fmt: skip

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with pytest.raises(padlab.PadlabFileError, match="cannot write the output: No space left"):
        save(result, tmp_path / "pos")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    monkeypatch.undo()
    # the command checks the free space before training
    import shutil

    import padlab.torch.experiment as experiment

    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 4096, 4096)
    )
    monkeypatch.setattr(experiment, "position_experiment", lambda **kw: pytest.fail("trained"))
    assert main(["experiment", "position", "-o", str(tmp_path / "pos")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only 4 kB free" in err[0]
