"""padlab.dask on disk: TIFF / zarr / OME-Zarr in, zarr / TIFF out, atomically; the CLI."""

from __future__ import annotations

import os

import dask
import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

import padlab
from padlab.cli.main import main
from padlab.dask.files import open_image, save

pytestmark = pytest.mark.dask


def _tiff(path, shape=(70, 90), tile=None):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 65535, shape, dtype=np.uint16)
    tifffile.imwrite(path, image, tile=tile)
    return image


@pytest.mark.parametrize("tile", [None, (32, 48)])
def test_cli_filter_tiff_to_zarr_equals_in_memory(tmp_path, capsys, tile):
    image = _tiff(tmp_path / "big.tif", tile=tile)
    out = tmp_path / "out.zarr"
    code = main(
        ["filter", str(tmp_path / "big.tif"), "-k", "blur", "-m", "reflect", "--chunks", "16",
         "-o", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "blocks [" in captured.err and "raw responses" in captured.out
    written = zarr.open(str(out), mode="r")
    assert written.chunks == (16, 16)
    expected = padlab.correlate(image, padlab.get_kernel("blur"), mode="reflect")
    np.testing.assert_array_equal(written[:], expected)
    # the output directory can be replaced by a new run (padlab's marker is kept)
    assert ".padlab-output" in os.listdir(out)
    assert (
        main(["filter", str(tmp_path / "big.tif"), "-k", "blur", "--chunks", "32", "-o", str(out)])
        == 0
    )
    assert zarr.open(str(out), mode="r").chunks == (32, 32)


def test_zarr_and_ome_zarr_in_tiff_out(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.standard_normal((3, 41, 37)).astype(np.float32)  # c, y, x
    group = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w")
    arr = group.create_array("0", shape=(1, 3, 1, 41, 37), chunks=(1, 1, 1, 16, 16), dtype="f4")
    arr[:] = image[None, :, None]
    group.attrs["multiscales"] = [
        {"version": "0.4", "axes": [{"name": a} for a in "tczyx"], "datasets": [{"path": "0"}]}
    ]
    x, channel_axis = open_image(tmp_path / "img.ome.zarr", chunks=10)
    assert x.shape == (3, 41, 37) and channel_axis == 0 and x.chunks[1] == (10, 10, 10, 10, 1)
    k = padlab.get_kernel("sobel-x")
    result = padlab.dask.correlate(x, k, mode="circular", channel_axis=channel_axis)
    save(result, tmp_path / "out.tif")
    expected = padlab.correlate(image, k, mode="circular", channel_axis=0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), expected)
    # a plain zarr array
    zarr.save_array(str(tmp_path / "plain.zarr"), image[0])
    y, ca = open_image(tmp_path / "plain.zarr", chunks=8)
    np.testing.assert_array_equal(y.compute(), image[0])
    assert ca is None


class _Boom(Exception):
    pass


def _boom_late(block, block_info=None):
    if block_info[0]["chunk-location"] == (2, 2):
        raise _Boom("failed in the middle")
    return block


@pytest.mark.parametrize("name", ["out.zarr", "out.tif"])
def test_a_failure_leaves_nothing_and_keeps_the_old_output(tmp_path, name):
    target = tmp_path / name
    good = da.ones((40, 40), chunks=10, dtype=np.float32)
    save(good, target)
    before = sorted(os.listdir(tmp_path))
    bad = good.map_blocks(_boom_late, dtype=np.float32) * 2
    with dask.config.set(scheduler="threads"), pytest.raises(_Boom):
        save(bad, target)
    assert sorted(os.listdir(tmp_path)) == before  # no temporary left behind
    reread = (
        zarr.open(str(target), mode="r")[:] if name.endswith("zarr") else tifffile.imread(target)
    )
    np.testing.assert_array_equal(reread, 1)  # the previous output is untouched


def test_cli_filter_chunks_errors_are_one_line(tmp_path, capsys):
    _tiff(tmp_path / "a.tif", (20, 20))
    cases = [
        (
            ["filter", str(tmp_path / "a.tif"), "--chunks", "8", "-o", str(tmp_path / "o.png")],
            ".zarr",
        ),
        (
            ["filter", str(tmp_path / "a.tif"), "--chunks", "0", "-o", str(tmp_path / "o.zarr")],
            "at least 1",
        ),
        (
            ["filter", str(tmp_path / "nope.tif"), "--chunks", "8", "-o", str(tmp_path / "o.zarr")],
            "no such file",
        ),
        (
            [
                "filter",
                str(tmp_path / "a.tif"),
                "-m",
                "bogus",
                "--chunks",
                "8",
                "-o",
                str(tmp_path / "o.zarr"),
            ],
            "bogus",
        ),
    ]
    for argv, words in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("padlab filter: error:") and words in err and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["a.tif"]


def test_a_tiff_is_opened_once_per_reading_thread(tmp_path, monkeypatch):
    """Every block reads its window from the TIFF; the file is opened about once per reading
    thread (the open costs more than the read), not once per read; at most _IDLE_MAX idle
    handles stay open over all files; a pickled copy (a cluster worker's) opens its own."""
    import pickle
    import threading

    from padlab.dask import files

    image = _tiff(tmp_path / "a.tif", (64, 80), tile=(16, 16))
    opened = []
    real = tifffile.imread

    def counting(*args, **kwargs):
        opened.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(tifffile, "imread", counting)
    x, _ = open_image(tmp_path / "a.tif", chunks=16)
    result = padlab.dask.correlate(x, np.ones((3, 3)), mode="reflect")
    with dask.config.set(scheduler="threads", num_workers=2):
        got = result.compute()
    np.testing.assert_array_equal(got, padlab.correlate(image, np.ones((3, 3)), mode="reflect"))
    # 20 blocks, each reading a window from the file: opened by at most the 2 threads at once
    # and the opening call, not per read (131 opens before)
    assert len(opened) <= 3, opened
    regions = files._TiffRegions(tmp_path / "a.tif")
    copy = pickle.loads(pickle.dumps(regions))
    np.testing.assert_array_equal(copy[3:9, 5:7], image[3:9, 5:7])
    before = len(opened)
    np.testing.assert_array_equal(regions[:2, :2], image[:2, :2])
    assert len(opened) == before  # its idle handle, reused
    for i in range(files._IDLE_MAX + 3):  # many files: the oldest idle handles close
        _tiff(tmp_path / f"m{i}.tif", (8, 8))
        files._TiffRegions(tmp_path / f"m{i}.tif")[:1, :1]
    assert len(files._IDLE) == files._IDLE_MAX
    np.testing.assert_array_equal(regions[:2, :2], image[:2, :2])
    assert len(opened) == before + files._IDLE_MAX + 3 + 1  # its handle was closed: opened again
