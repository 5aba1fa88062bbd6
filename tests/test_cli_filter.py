"""``padlab filter`` end to end: one image, the sample photo, batches with bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import padlab
from padlab.cli.main import main


def _photo(path, shape=(224, 224), dtype=np.uint8, channels=0):
    rng = np.random.default_rng(sum(shape))
    top = np.iinfo(dtype).max
    image = rng.integers(0, top, size=shape + ((channels,) if channels else ()), dtype=dtype)
    Image.fromarray(image).save(path)
    return image


def test_one_image_same_keeps_the_size_valid_shrinks_it(tmp_path, capsys):
    _photo(tmp_path / "in.png")
    assert (
        main(
            ["filter", str(tmp_path / "in.png"), "-k", "sharpen", "-o", str(tmp_path / "same.png")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "in.png (224x224) ->" in out and "(224x224)" in out
    assert "rule symmetric (c b a | a b c d | d c b)" in out
    assert "clip:" in out  # the mapping says what it did
    assert padlab.read_image(tmp_path / "same.png").shape == (224, 224)
    assert (
        main(
            [
                "filter",
                str(tmp_path / "in.png"),
                "--padding",
                "valid",
                "-o",
                str(tmp_path / "valid.png"),
            ]
        )
        == 0
    )
    assert padlab.read_image(tmp_path / "valid.png").shape == (222, 222)


def test_output_pixels_are_the_mapped_response(tmp_path):
    image = _photo(tmp_path / "in.png", (40, 50))
    assert (
        main(
            [
                "filter",
                str(tmp_path / "in.png"),
                "-k",
                "outline",
                "-m",
                "reflect",
                "--map",
                "abs",
                "-o",
                str(tmp_path / "o.png"),
            ]
        )
        == 0
    )
    expected = padlab.display(
        padlab.correlate(padlab.to_float(image), padlab.get_kernel("outline"), mode="reflect"),
        "abs",
    ).pixels
    got = padlab.read_image(tmp_path / "o.png")
    np.testing.assert_array_equal(got, padlab.from_float(expected))


def test_colour_is_filtered_per_channel_and_alpha_kept(tmp_path):
    image = _photo(tmp_path / "rgba.png", (30, 20), channels=4)
    assert (
        main(
            [
                "filter",
                str(tmp_path / "rgba.png"),
                "-k",
                "blur",
                "-m",
                "replicate",
                "-o",
                str(tmp_path / "o.png"),
            ]
        )
        == 0
    )
    got = padlab.read_image(tmp_path / "o.png")
    assert got.shape == (30, 20, 4)
    np.testing.assert_array_equal(got[..., 3], image[..., 3])
    red = padlab.correlate(
        padlab.to_float(image[..., 0]), padlab.get_kernel("blur"), mode="replicate"
    )
    np.testing.assert_array_equal(got[..., 0], padlab.from_float(np.clip(red, 0, 1)))


def test_sixteen_bit_input_gives_sixteen_bit_png(tmp_path):
    _photo(tmp_path / "deep.png", (20, 20), np.uint16)
    assert (
        main(["filter", str(tmp_path / "deep.png"), "-k", "blur", "-o", str(tmp_path / "o.png")])
        == 0
    )
    assert padlab.read_image(tmp_path / "o.png").dtype == np.uint16


def test_no_argument_filters_the_sample_photo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "-k", "outline", "-m", "reflect"]) == 0
    assert "grace_hopper (512x600)" in capsys.readouterr().out
    assert padlab.read_image(tmp_path / "grace_hopper-outline-reflect.png").shape == (600, 512, 3)


def test_batch_with_one_bad_file_continues_and_reports(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.jpg", "c.tif"):
        _photo(folder / name, (32, 48), channels=3)
    (folder / "broken.png").write_bytes(b"not an image at all")
    full = tmp_path / "full.png"
    _photo(full, (64, 64), channels=3)
    data = full.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    out_dir = tmp_path / "out"
    status = main(
        ["filter", str(folder), "-k", "sobel-x", "--map", "symmetric", "-o", str(out_dir)]
    )
    captured = capsys.readouterr()
    assert status == 1
    errors = [
        line for line in captured.err.splitlines() if line.startswith("padlab filter: error:")
    ]
    assert len(errors) == 2
    assert any("broken.png: not an image" in line for line in errors)
    assert any("truncated.png: cannot read the image" in line for line in errors)
    assert "filtered 3 of 5 images" in captured.out
    made = sorted(p.name for p in out_dir.iterdir())
    assert made == ["a-sobel-x-symmetric.png", "b-sobel-x-symmetric.png", "c-sobel-x-symmetric.png"]


def test_glob_and_several_files(tmp_path, capsys):
    for name in ("x1.png", "x2.png", "y.png"):
        _photo(tmp_path / name, (16, 16))
    assert main(["filter", str(tmp_path / "x*.png"), "-o", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "x1-outline-symmetric.png",
        "x2-outline-symmetric.png",
    ]
    assert "filtered 2 of 2 images" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["missing.png"], "missing.png: no such file"),
        (["-k", "blurr"], "unknown kernel 'blurr'"),
        (["-m", "edge"], "'numpy:edge'"),
        (["--padding", "half"], "unknown padding 'half'"),
        (["nothing*.png"], "no file matches"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, monkeypatch, capsys, args, match):
    monkeypatch.chdir(tmp_path)
    status = main(["filter", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(err) == 1 and match in err[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unwritable_output_leaves_nothing(tmp_path, capsys):
    _photo(tmp_path / "in.png", (10, 10))
    status = main(["filter", str(tmp_path / "in.png"), "-o", str(tmp_path / "nope" / "o.png")])
    assert status == 1
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


@pytest.mark.slow
def test_compile_notice_printed_when_the_kernels_are_not_cached(tmp_path, monkeypatch, capsys):
    import padlab.ops.warmup as warmup

    # a process with an empty numba cache knows it will compile (the compilation itself, with
    # its notice, is tested in test_compile.py)
    code = "from padlab.ops.warmup import cached; print(cached())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "empty-cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False"
    # this process has run the kernels, so they are cached
    padlab.correlate(np.ones((8, 8), np.float32), np.ones((3, 3), np.float32), method="direct")
    assert warmup.cached()
    # padlab filter prints the notice (from its preload thread) before it finishes
    monkeypatch.setattr(warmup, "cached", lambda: False)
    monkeypatch.setattr(warmup, "warm", lambda *args, **kwargs: 0)
    monkeypatch.setitem(warmup._state, "ready", False)
    assert main(["filter", "-k", "outline", "-o", str(tmp_path / "out.png")]) == 0
    assert "compiling its kernels" in capsys.readouterr().err


def test_filter_never_overwrites_its_input(tmp_path, capsys):
    original = _photo(tmp_path / "in.png")
    before = (tmp_path / "in.png").read_bytes()
    assert main(["filter", str(tmp_path / "in.png"), "-o", str(tmp_path / "in.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would overwrite the input" in err[0]
    assert (tmp_path / "in.png").read_bytes() == before
    np.testing.assert_array_equal(padlab.read_image(tmp_path / "in.png"), original)
    # through another name of the same file, and inside a batch
    os.link(tmp_path / "in.png", tmp_path / "alias.png")
    assert main(["filter", str(tmp_path / "in.png"), "-o", str(tmp_path / "alias.png")]) == 2
    assert (tmp_path / "in.png").read_bytes() == before


def test_filter_defaults_to_a_rule_without_a_black_frame(tmp_path, capsys):
    flat = np.full((20, 20), 200, np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    assert main(["filter", str(tmp_path / "flat.png"), "-k", "blur", "-o",
                 str(tmp_path / "out.png")]) == 0  # fmt: skip
    out = padlab.read_image(tmp_path / "out.png")
    np.testing.assert_array_equal(out, flat)  # zero padding would darken the border
    assert "rule symmetric" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["filter", "--help"])
    text = capsys.readouterr().out
    assert "The default rule is symmetric" in text and "(default: symmetric)" in text
    assert "exit status: 0 done; 1 some inputs" in text


def test_filter_json_and_quiet(tmp_path, capsys):
    _photo(tmp_path / "a.png", (12, 16))
    assert main(["filter", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "symmetric" and data["images"][0]["size"] == "16x12"
    assert main(["filter", str(tmp_path / "a.png"), "-o", str(tmp_path / "c.png"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
